import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, linkSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { DockerImage, Duration, FileSystem, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OpenNextBuild, ResolvedFunction } from './open-next-output';
import { OpenNextSiteProps } from './open-next-site-props';
import { ORIGIN_VERIFY_HEADER } from './origin-verify';
import { functionLogging } from '../../internal/function-logging';
import { suppressNag } from '../../internal/nag';

/** The wrapper handler file copied beside OpenNext's server bundle. */
const ORIGIN_VERIFY_FILE = 'shtetl-origin-verify';
/** How long a server instance caches the secret's values (a miss re-reads at most every 10 s). */
const ORIGIN_VERIFY_CACHE = Duration.minutes(5);

/** What a server function reads and writes besides its bundle. */
export interface ServerFunctionResources {
  readonly build: OpenNextBuild;
  readonly cacheBucket: s3.IBucket;
  readonly originVerifySecret: secretsmanager.ISecret;
  readonly revalidationQueue?: sqs.IQueue;
  readonly tagCacheTable?: dynamodb.ITable;
}

/** A function of the OpenNext build (its folder as it is), arm64, with its own role and log group. */
export function openNextFunction(scope: Construct, id: string, fn: ResolvedFunction, options: Partial<lambda.FunctionProps>): lambda.Function {
  const { role, logGroup } = functionLogging(scope, id);
  const f = new lambda.Function(scope, `${id}Function`, {
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    handler: fn.handler,
    code: lambda.Code.fromAsset(fn.dir),
    role,
    logGroup,
    ...options,
  });
  f.addEnvironment('NODE_OPTIONS', '--enable-source-maps');
  return f;
}

/**
 * A server function: OpenNext's bundle plus the origin-verify handler that wraps it, with
 * the ISR cache, queue and tag cache environment and grants.
 */
export function createServerFunction(
  scope: Construct, id: string, fn: ResolvedFunction, props: OpenNextSiteProps, what: string, resources: ServerFunctionResources,
): lambda.Function {
  const { build, cacheBucket, originVerifySecret, revalidationQueue, tagCacheTable } = resources;
  const region = Stack.of(scope).region;
  const environment: Record<string, string> = {
    ...props.environment,
    CACHE_BUCKET_NAME: cacheBucket.bucketName,
    CACHE_BUCKET_KEY_PREFIX: build.cacheKeyPrefix,
    CACHE_BUCKET_REGION: region,
    ORIGIN_VERIFY_SECRET_ID: originVerifySecret.secretArn,
    ORIGIN_VERIFY_HEADER: ORIGIN_VERIFY_HEADER,
    ORIGIN_VERIFY_CACHE_SECONDS: String(ORIGIN_VERIFY_CACHE.toSeconds()),
    ORIGIN_VERIFY_HANDLER: fn.handler,
  };
  if (revalidationQueue) {
    environment.REVALIDATION_QUEUE_URL = revalidationQueue.queueUrl;
    environment.REVALIDATION_QUEUE_REGION = region;
  }
  if (tagCacheTable) environment.CACHE_DYNAMO_TABLE = tagCacheTable.tableName;
  const source = fn.dir;
  const wrapper = join(__dirname, 'origin-verify-handler.mjs');
  const f = openNextFunction(scope, id, fn, {
    description: `${what} of ${scope.node.path} (OpenNext)`,
    memorySize: props.serverMemorySize ?? 1024,
    timeout: props.serverTimeout ?? Duration.seconds(30),
    environment,
    handler: `${ORIGIN_VERIFY_FILE}.handler`,
    // OpenNext's bundle as it is, with the wrapper file beside it (copied, never built).
    code: lambda.Code.fromAsset(source, {
      // The asset hash covers the bundle and the wrapper's content.
      assetHash: FileSystem.fingerprint(source, { extraHash: createHash('sha256').update(readFileSync(wrapper)).digest('hex') }),
      bundling: {
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/busybox:stable'),
        local: {
          tryBundle(outputDir: string) {
            linkTree(source, outputDir);
            copyFileSync(wrapper, join(outputDir, `${ORIGIN_VERIFY_FILE}.mjs`));
            return true;
          },
        },
      },
    }),
  });
  cacheBucket.grantReadWrite(f);
  revalidationQueue?.grantSendMessages(f);
  tagCacheTable?.grantReadWriteData(f);
  originVerifySecret.grantRead(f);
  return f;
}

/**
 * Secrets as SSM parameter names: a layer loads them into `process.env` at cold start, the
 * functions may read exactly those parameters.
 */
export function addSecretParameters(scope: Construct, fns: lambda.Function[], secrets: Record<string, string>) {
  const entries = Object.entries(secrets);
  if (entries.length === 0) return;
  const stack = Stack.of(scope);
  const layer = new lambda.LayerVersion(scope, 'SsmEnvLayer', {
    code: lambda.Code.fromAsset(join(__dirname, 'ssm-env-layer')),
    compatibleRuntimes: [lambda.Runtime.NODEJS_24_X],
    compatibleArchitectures: [lambda.Architecture.ARM_64],
    description: 'Loads SSM SecureString parameters into process.env before the handler (names in SSM_ENV_PARAMETERS)',
  });
  for (const fn of fns) {
    fn.addLayers(layer);
    fn.addEnvironment('NODE_OPTIONS', '--enable-source-maps --import /opt/ssm-env.mjs');
    fn.addEnvironment('SSM_ENV_PARAMETERS', entries.map(([env, name]) => `${env}=${name}`).join(','));
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParameters'],
      resources: entries.map(([, name]) => stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.replace(/^\//, '') })),
    }));
  }
}

/** The function that writes the build's tags into the DynamoDB tag cache (run by the SiteDeployment). */
export function createTagCacheSeedFunction(scope: Construct, build: OpenNextBuild, table: dynamodb.ITable | undefined): lambda.Function | undefined {
  if (!build.initialization || !table) return undefined;
  const init = openNextFunction(scope, 'TagCacheSeed', build.initialization, {
    description: `Seeds the tag cache of ${scope.node.path} (OpenNext)`,
    memorySize: 256,
    timeout: Duration.minutes(5),
    environment: { CACHE_DYNAMO_TABLE: table.tableName },
  });
  table.grantWriteData(init);
  return init;
}

/** The warmer of the server functions and its schedule, when `warmerConcurrency` asks for one and the build has one. */
export function createWarmer(scope: Construct, build: OpenNextBuild, props: OpenNextSiteProps, servers: lambda.Function[]) {
  const concurrency = props.warmerConcurrency ?? 0;
  if (concurrency === 0 || !build.warmer) return;
  const warmer = openNextFunction(scope, 'Warmer', build.warmer, {
    description: `Keeps ${concurrency} instance(s) of the server of ${scope.node.path} warm (OpenNext)`,
    memorySize: 128,
    timeout: Duration.minutes(1),
    environment: {
      WARM_PARAMS: JSON.stringify(servers.map((f) => ({ concurrency, function: f.functionName }))),
    },
  });
  for (const f of servers) f.grantInvoke(warmer);
  new events.Rule(scope, 'WarmerSchedule', {
    description: `Warms ${scope.node.path}`,
    schedule: events.Schedule.rate(props.warmerInterval ?? Duration.minutes(5)),
    targets: [new targets.LambdaFunction(warmer, { retryAttempts: 0 })],
  });
}

/**
 * The aws-cdk-lib grants (grantReadWrite, grantReadWriteData, grantInvoke) scope every
 * statement to this site's own buckets, table and functions, but use object, index and
 * version wildcards inside them; cdk-nag flags those.
 */
export function suppressGrantWildcards(scope: Construct, splitServerKeys: string[]) {
  const reasons: Record<string, string> = {
    Server: 'Reads and writes ISR cache objects (keys known at run time) in this site\'s cache bucket and items of its tag cache table and indexes.',
    Image: 'Reads any static asset under the _assets/ prefix of this site\'s assets bucket (the image to optimise is chosen by the request).',
    TagCacheSeed: 'Writes tag items of this build into this site\'s tag cache table (grantWriteData includes its indexes).',
    SiteDeployment: 'Lists and deletes files of replaced builds in this site\'s own buckets (keys known at run time) and invokes the seed function (any version).',
    Revalidation: 'Receives from this site\'s revalidation queue only.',
    Warmer: 'Invokes this site\'s server functions (any version).',
  };
  for (const key of splitServerKeys) reasons[serverFunctionId(key)] = reasons.Server;
  for (const [id, reason] of Object.entries(reasons)) {
    const policy = scope.node.tryFindChild(`${id}Role`)?.node.tryFindChild('DefaultPolicy');
    if (!policy) continue;
    suppressNag(policy, [{
      id: 'AwsSolutions-IAM5',
      reason,
      appliesTo: [
        'Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*', 'Action::s3:DeleteObject*', 'Action::s3:Abort*',
        { regex: '/^Resource::<[A-Za-z0-9]*(Assets|Cache)[0-9A-F]{8}\\.Arn>\\/.*$/g' } as unknown as string,
        { regex: '/^Resource::<[A-Za-z0-9]*TagCache[0-9A-F]{8}\\.Arn>\\/index\\/\\*$/g' } as unknown as string,
        { regex: '/^Resource::<[A-Za-z0-9]*(TagCacheSeed|Server[A-Za-z0-9]*)Function[0-9A-F]{8}\\.Arn>:\\*$/g' } as unknown as string,
      ],
    }]);
  }
}

/** The construct id of a split server function: `api-v2` -> `ServerApiV2`. */
export function serverFunctionId(key: string): string {
  return `Server${key.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('')}`;
}

/**
 * Copies the folder `from` into `to` with hard links (the server bundle is ~18 MB in thousands
 * of files, staged again for every synth), falling back to copies across file systems.
 */
function linkTree(from: string, to: string) {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory()) {
      linkTree(src, dst);
    } else if (entry.isSymbolicLink()) {
      symlinkSync(readlinkSync(src), dst);
    } else {
      try {
        linkSync(src, dst);
      } catch {
        cpSync(src, dst);
      }
    }
  }
}
