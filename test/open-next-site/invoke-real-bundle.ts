import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { InvokeCommand, InvokeCommandInput, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { FakeAws } from './fake-aws';
import { DeployedFunction, HandlerRun, runHandler } from './lambda-runner';
import { OpenNextSite } from '../../src';

/** The names that a synthesized site's resources stand in for when its bundles run against FakeAws. */
export const SITE_NAMES = {
  secret: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:origin-verify-AbCdEf',
  table: 'site-tag-cache',
  cache: 'site-cache',
  assets: 'site-assets',
  queue: 'https://sqs.eu-west-1.amazonaws.com/111111111111/revalidation.fifo',
  server: 'site-server',
};

/** Logical id to stand-in name (SITE_NAMES) of `site`'s resources, for `deployedFunction`. */
export function siteStandInNames(stack: Stack, site: OpenNextSite): Record<string, string> {
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as any);
  return {
    [id(site.tagCacheTable!)]: SITE_NAMES.table,
    [id(site.cacheBucket)]: SITE_NAMES.cache,
    [id(site.assetsBucket)]: SITE_NAMES.assets,
    [id(site.revalidationQueue!)]: SITE_NAMES.queue,
    [id(site.serverFunction)]: SITE_NAMES.server,
    [id(site.originVerifySecret)]: SITE_NAMES.secret,
  };
}

/** A site synthesized into a cloud assembly of its own, and the FakeAws its bundles call. */
export interface SiteAgainstFakeAws {
  readonly outdir: string;
  readonly stack: Stack;
  readonly site: OpenNextSite;
  readonly fake: FakeAws;
}

/**
 * Synthesizes an OpenNextSite of `openNextPath` (asset metadata on, so each function's staged
 * bundle can be found) and starts a FakeAws holding the site's origin-verify secret.
 */
export async function synthesizeSiteAgainstFakeAws(stackName: string, openNextPath: string, warmerConcurrency: number): Promise<SiteAgainstFakeAws> {
  const outdir = mkdtempSync(join(tmpdir(), 'open-next-invoked-'));
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  const stack = new Stack(app, stackName, { env: { account: '111111111111', region: 'eu-west-1' } });
  const site = new OpenNextSite(stack, 'Web', { openNextPath, warmerConcurrency });
  app.synth();
  const fake = new FakeAws();
  await fake.start();
  fake.secrets.set(SITE_NAMES.secret, { AWSCURRENT: 'current-value', currentCreated: new Date() });
  return { outdir, stack, site, fake };
}

/** The SiteDeployment custom resource's event for a site whose stand-in names are given. */
export function siteDeploymentEvent(requestType: 'Create' | 'Update', site: { buildId: string; assetsBucket: string; cacheBucket: string; seedFunction: string }): CloudFormationCustomResourceEvent {
  return {
    RequestType: requestType,
    ServiceToken: 'arn',
    ResponseURL: 'https://example.com',
    StackId: 'stack',
    RequestId: 'req-1',
    LogicalResourceId: 'SiteDeployment',
    ResourceType: 'Custom::OpenNextSiteDeployment',
    PhysicalResourceId: 'sd',
    OldResourceProperties: {},
    ResourceProperties: {
      ServiceToken: 'arn',
      BuildId: site.buildId,
      AssetsBucket: site.assetsBucket,
      AssetsPrefix: '_assets',
      DeploymentsPrefix: '_deployments',
      CacheBucket: site.cacheBucket,
      CachePrefix: '_cache',
      DistributionId: 'E1',
      InvalidationPaths: ['/*'],
      RetentionDays: '30',
      SeedFunction: site.seedFunction,
    },
  } as CloudFormationCustomResourceEvent;
}

/** The AWS clients a SiteDeployment calls, mocked (aws-sdk-client-mock). */
export interface DeploymentClients {
  readonly s3: AwsClientStub<S3Client>;
  readonly cloudfront: AwsClientStub<CloudFrontClient>;
  readonly lambda: AwsClientStub<LambdaClient>;
}

/**
 * A SiteDeployment's AWS calls answered as on a first deploy (no earlier build in S3, writes
 * accepted, an invalidation made), and Lambda's Invoke API routed to the real seed bundle:
 * the only boundary replaced between the deployment function and OpenNext's code.
 */
export function answerDeploymentCalls(clients: DeploymentClients, seed: DeployedFunction, env: Record<string, string>, invoked: string[]): void {
  clients.s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'none', $metadata: {} }));
  clients.s3.on(PutObjectCommand).resolves({});
  clients.cloudfront.on(CreateInvalidationCommand).resolves({ Invalidation: { Id: 'I1' } as any });
  clients.lambda.on(InvokeCommand).callsFake(invokeRealBundle(seed, env, invoked));
}

/**
 * An answer for a mocked Lambda Invoke call that runs `fn`'s real bundle on the payload and
 * answers as Lambda does (an error as `FunctionError`), recording each call in `invoked` as
 * "<function name> <payload>". Only the Invoke API is replaced, never the bundle.
 */
export function invokeRealBundle(fn: DeployedFunction, env: Record<string, string>, invoked: string[] = []) {
  return async (input: InvokeCommandInput) => {
    const payload = Buffer.from(input.Payload as Uint8Array).toString('utf8');
    invoked.push(`${input.FunctionName} ${payload}`);
    try {
      const r = (await runHandler(fn, [JSON.parse(payload)], env)).results[0];
      if (r.error) return { StatusCode: 200, FunctionError: 'Unhandled', Payload: Buffer.from(JSON.stringify({ errorMessage: r.error.message })) };
      return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(r.result)) };
    } catch (e) {
      return { StatusCode: 200, FunctionError: 'Unhandled', Payload: Buffer.from(JSON.stringify({ errorType: 'Runtime.ExitError', errorMessage: (e as Error).message })) };
    }
  };
}

/**
 * Runs an image optimization bundle on this machine. The bundle ships sharp for linux-arm64
 * (synth checks it); this machine may be x64, so a copy gets the same sharp version's native
 * packages for this CPU from the fixture app's install (`appDir`/node_modules/@img).
 */
export async function runImageBundleOnThisCpu(
  image: DeployedFunction, appDir: string, events: unknown[], env: Record<string, string>,
): Promise<HandlerRun> {
  const dir = mkdtempSync(join(tmpdir(), 'image-fn-'));
  try {
    cpSync(image.dir, dir, { recursive: true, dereference: true });
    const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
    const fixtureModules = join(appDir, 'node_modules', '@img');
    for (const pkg of readdirSync(fixtureModules).filter((p) => p.endsWith(`linux-${arch}`))) {
      if (!existsSync(join(dir, 'node_modules', '@img', pkg))) symlinkSync(join(fixtureModules, pkg), join(dir, 'node_modules', '@img', pkg));
    }
    return await runHandler({ ...image, dir }, events, env);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
