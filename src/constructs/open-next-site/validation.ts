import { Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { PlannedBehavior } from './behaviors';
import type { OpenNextBuild } from './open-next-output';
import { CLOUDFRONT_MAX_BEHAVIORS, OpenNextSiteProps } from './open-next-site-props';
import { failer } from '../../internal/validation-error';

const fail = (scope: IConstruct) => failer('OpenNextSite', scope);

/** Checks the props before anything is read or built. */
export function validateProps(scope: IConstruct, props: OpenNextSiteProps) {
  if (props.domainNames && props.domainNames.length > 0 && !props.certificate) {
    fail(scope)(`domainNames (${props.domainNames.join(', ')}) need a certificate from us-east-1 that covers them. Pass certificate, or leave domainNames out.`);
  }
  if (props.certificate && !(props.domainNames && props.domainNames.length > 0)) {
    fail(scope)('a certificate without domainNames is never used. Pass the domain names it covers, e.g. domainNames: ["www.example.com"].');
  }
  for (const [env, name] of Object.entries(props.secretParameters ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
      fail(scope)(`secretParameters key "${env}" is not an environment variable name. Use e.g. CLERK_SECRET_KEY.`);
    }
    if (!Token.isUnresolved(name) && !/^(\/[a-zA-Z0-9_.-]+)+$/.test(name)) {
      fail(scope)(`secretParameters.${env} = "${name}" is not an absolute SSM parameter name. Use e.g. "/<service>/<env>/clerk-secret-key".`);
    }
    if (props.environment && env in props.environment) {
      fail(scope)(`${env} is both in environment and secretParameters. Keep secrets in secretParameters only.`);
    }
  }
  const concurrency = props.warmerConcurrency ?? 0;
  if (!Number.isInteger(concurrency) || concurrency < 0 || concurrency > 100) {
    fail(scope)(`warmerConcurrency must be a whole number from 0 to 100 (got ${concurrency}).`);
  }
  const rotation = props.originVerifyRotation;
  if (rotation && !rotation.isUnresolved() && (rotation.toHours({ integral: false }) < 4 || rotation.toDays({ integral: false }) > 1000)) {
    fail(scope)(`originVerifyRotation must be from 4 hours to 1000 days (Secrets Manager's limits; got ${rotation.toHumanString()}).`);
  }
  const max = props.maxBehaviors ?? CLOUDFRONT_MAX_BEHAVIORS;
  if (!Number.isInteger(max) || max < 3) {
    fail(scope)(`maxBehaviors must be a whole number of at least 3 (got ${max}); CloudFront's default quota is 25.`);
  }
}

/**
 * Fails when the distribution would need more than `maxBehaviors` behaviours, naming what
 * takes them (public files, split functions' patterns) and how to need fewer.
 */
export function checkBehaviorCount(
  scope: IConstruct, build: OpenNextBuild, maxBehaviors: number, count: number, what: string, plan?: PlannedBehavior[],
) {
  if (count > maxBehaviors) {
    const split = (plan ?? []).filter((b) => b.target.kind === 'server' && b.target.origin !== 'default');
    fail(scope)(`${what} needs ${count} CloudFront cache behaviours, more than maxBehaviors (${maxBehaviors}, CloudFront's quota). ` +
      `Public files: ${build.publicItems.map((i) => i.name + (i.isDirectory ? '/' : '')).join(', ')}. ` +
      (split.length > 0 ? `Split server functions: ${split.length} pattern(s) (${split.map((b) => '/' + b.pattern).join(', ')}). ` : '') +
      'Move top-level files of public/ into a few folders (each folder is one behaviour)' +
      (split.length > 0 ? ', give split functions fewer patterns in open-next.config.ts' : '') +
      ', or raise the quota with AWS and set maxBehaviors.');
  }
}

/**
 * The pattern of a behaviour added with `addBehavior`, without its leading slashes; fails for
 * the default pattern and for one that is routed already.
 */
export function checkAddedPattern(scope: IConstruct, pathPattern: string, existing: readonly string[]): string {
  const pattern = pathPattern.replace(/^\/+/, '');
  if (pattern === '' || pattern === '*') {
    fail(scope)(`"${pathPattern}" is the default behaviour, which serves the Next.js server; add a more specific pattern such as "/backend/*".`);
  }
  if (existing.includes(pattern)) {
    fail(scope)(`a behaviour for "/${pattern}" exists already (${existing.map((p) => '/' + p).join(', ')}). Use another path pattern.`);
  }
  return pattern;
}
