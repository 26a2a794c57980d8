import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, linkSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CustomResource, DockerImage, Duration, FileSystem, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PlannedBehavior, planBehaviors } from './behaviors';
import { listFiles, OpenNextBuild, readOpenNextBuild, ResolvedFunction } from './open-next-output';
import { SiteDeploymentFunction } from './site-deployment-function';
import { viewerRequestFunctionCode } from './viewer-request';
import { functionLogging } from '../../internal/function-logging';
import { suppressNag } from '../../internal/nag';
import { OriginVerifyRotationFunction } from '../origin-verified-http-api/origin-verify-rotation-function';

/** CloudFront's default quota of cache behaviours per distribution (besides the default one). */
export const CLOUDFRONT_MAX_BEHAVIORS = 25;

/** Cache-Control of files whose names change with their content (`_next/static/...`). */
export const IMMUTABLE_CACHE_CONTROL = 'public,max-age=31536000,immutable';
/**
 * Cache-Control of public files whose names stay the same across builds (`/favicon.ico`):
 * browsers revalidate every time, CloudFront keeps them until the deployment invalidates them.
 */
export const REVALIDATE_CACHE_CONTROL = 'public,max-age=0,s-maxage=31536000,must-revalidate';

/** Headers Next.js varies its responses on (App Router RSC requests, prefetches, ISR revalidation). */
const NEXT_CACHE_KEY_HEADERS = [
  'accept', 'rsc', 'next-router-prefetch', 'next-router-state-tree', 'next-router-segment-prefetch', 'next-url', 'x-prerender-revalidate',
];

const DEPLOYMENTS_PREFIX = '_deployments';

/** Header that carries the origin-verify value from CloudFront to the server functions. */
export const ORIGIN_VERIFY_HEADER = 'x-origin-verify';
/** Key of the origin-verify value in the site's KeyValueStore. */
const ORIGIN_VERIFY_KVS_KEY = 'origin-verify';
/** The wrapper handler file copied beside OpenNext's server bundle. */
const ORIGIN_VERIFY_FILE = 'shtetl-origin-verify';
/** How long a server instance caches the secret's values (a miss re-reads at most every 10 s). */
const ORIGIN_VERIFY_CACHE = Duration.minutes(5);

/**
 * Properties of {@link OpenNextSite}.
 */
export interface OpenNextSiteProps {
  /**
   * The `.open-next` folder written by `open-next build` (@opennextjs/aws 3.x or 4.x).
   * The construct reads `open-next.output.json` in it and never builds anything itself.
   *
   * @example 'web/.open-next'
   */
  readonly openNextPath: string;

  /**
   * Custom domain names of the site. Requires `certificate`.
   *
   * @default - the site is served on the distribution's cloudfront.net name only
   */
  readonly domainNames?: string[];

  /**
   * ACM certificate for `domainNames`, in us-east-1 (CloudFront only accepts those; from a
   * stack in another region pass it with `crossRegionReferences: true`).
   *
   * @default - none (required when `domainNames` is set)
   */
  readonly certificate?: acm.ICertificate;

  /**
   * Environment variables of the server function (public values only: they are visible
   * in the function configuration and the template). Secrets go in `secretParameters`.
   *
   * @default - only what OpenNext needs
   */
  readonly environment?: { [name: string]: string };

  /**
   * Secrets the app reads from `process.env` at runtime, as environment variable name to
   * SSM parameter name (a SecureString), e.g. `{ CLERK_SECRET_KEY: '/<service>/<env>/clerk-secret-key' }`.
   * The server function gets only the parameter names and `ssm:GetParameters` on them; a
   * layer loaded before the handler fetches the values at cold start into `process.env`.
   * No value is ever in the template or the function configuration.
   *
   * @default - no secrets
   */
  readonly secretParameters?: { [envName: string]: string };

  /**
   * Memory of the server function, in MiB (CPU grows with it).
   *
   * @default 1024
   */
  readonly serverMemorySize?: number;

  /**
   * Timeout of the server function (CloudFront waits up to 60 s for a first byte by default).
   *
   * @default Duration.seconds(30)
   */
  readonly serverTimeout?: Duration;

  /**
   * Memory of the image optimisation function, in MiB.
   *
   * @default 1536
   */
  readonly imageMemorySize?: number;

  /**
   * Keep this many server function instances warm (invoked every `warmerInterval`).
   * 0 creates no warmer.
   *
   * @default 0
   */
  readonly warmerConcurrency?: number;

  /**
   * How often the warmer runs.
   *
   * @default Duration.minutes(5)
   */
  readonly warmerInterval?: Duration;

  /**
   * How long the static assets and ISR cache of a replaced build stay, so that browsers
   * still running it can load its chunks. Deleted at the first deployment after that.
   *
   * @default Duration.days(30)
   */
  readonly assetRetention?: Duration;

  /**
   * Bucket for CloudFront access logs and S3 server access logs (ACLs enabled, as
   * CloudFront standard logging requires).
   *
   * @default - a new bucket, logs expire after 90 days
   */
  readonly logBucket?: s3.IBucket;

  /**
   * Cache policy of the server function behaviours. Pass one shared policy when several
   * sites live in one account (the account has a quota of 20 custom cache policies).
   *
   * @default - one policy per stack, shared by every OpenNextSite in the stack
   */
  readonly serverCachePolicy?: cloudfront.ICachePolicy;

  /**
   * Cache policy of `/_next/image*` (must include the query string and `Accept`).
   *
   * @default - one policy per stack, shared by every OpenNextSite in the stack
   */
  readonly imageCachePolicy?: cloudfront.ICachePolicy;

  /**
   * Response headers policy of every behaviour.
   *
   * @default - HSTS (2 years, subdomains, preload), nosniff, frame DENY, strict referrer, XSS protection
   */
  readonly responseHeadersPolicy?: cloudfront.IResponseHeadersPolicy;

  /**
   * ARN of a WAFv2 web ACL (scope CLOUDFRONT) in front of the site.
   *
   * @default - no web ACL
   */
  readonly webAclId?: string;

  /**
   * Price class of the distribution.
   *
   * @default PriceClass.PRICE_CLASS_100 (North America and Europe)
   */
  readonly priceClass?: cloudfront.PriceClass;

  /**
   * Most cache behaviours the distribution may have (CloudFront's quota, 25 unless AWS
   * raised it for the account). Exceeding it fails synth instead of the deployment.
   *
   * @default 25
   */
  readonly maxBehaviors?: number;

  /**
   * How often the origin-verify value (the secret CloudFront adds to every request for the
   * server function, which refuses requests without it) is rotated. At least 4 hours.
   *
   * @default Duration.days(30)
   */
  readonly originVerifyRotation?: Duration;

  /**
   * What happens to the buckets and the tag cache table when they leave the stack.
   * Everything in them is rebuilt by the next deployment; `DESTROY` also empties the
   * buckets (for test stacks).
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Options of a behaviour added with {@link OpenNextSite.addBehavior}.
 */
export interface OpenNextSiteBehaviorOptions extends cloudfront.AddBehaviorOptions {}

/**
 * A Next.js app built by OpenNext (`@opennextjs/aws`), served by CloudFront.
 *
 * - Static files from S3 (origin access control), one behaviour per top-level public item;
 *   hashed `_next/static` files immutable for a year, the rest revalidated. Uploads never
 *   prune: a replaced build's files stay for `assetRetention`, then a deployment deletes them.
 * - Server functions on arm64 (the default one and each split function of the build, each
 *   its own origin) behind Function URLs without IAM auth, so request bodies reach them:
 *   they answer only requests carrying the rotated origin-verify value that this
 *   distribution adds from a KeyValueStore (others get 403 before Next.js runs). The image
 *   function keeps `AWS_IAM` auth with origin access control. Streaming when the build says so.
 * - ISR: S3 cache, SQS FIFO revalidation queue and function, DynamoDB tag cache seeded on
 *   deployment (the table also without a seed, whenever the build uses the DynamoDB tag
 *   cache); optional warmer.
 * - HTTPS only (TLS 1.2 2021), HTTP/2 and 3, IPv6, compression, security headers,
 *   access logs, invalidation after each new build.
 *
 * @example
 * const site = new OpenNextSite(this, 'Site', {
 *   openNextPath: 'web/.open-next',
 *   domainNames: ['www.example.com'],
 *   certificate,
 *   secretParameters: { CLERK_SECRET_KEY: '/<service>/<env>/clerk-secret-key' },
 * });
 * site.addBehavior('/backend/*', apiOrigin, { cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED });
 */
export class OpenNextSite extends Construct {
  /** The CloudFront distribution. */
  public readonly distribution: cloudfront.Distribution;
  /** Static assets (`_assets/`) and deployment manifests (`_deployments/`). */
  public readonly assetsBucket: s3.Bucket;
  /** The ISR / fetch cache the server function reads and writes (`_cache/`). */
  public readonly cacheBucket: s3.Bucket;
  /** The Next.js server function. */
  public readonly serverFunction: lambda.Function;
  /**
   * The server function's URL. It takes no IAM auth (CloudFront's origin access control
   * cannot sign request bodies); the function answers only requests that carry a live
   * origin-verify value, which this distribution adds. Others get 403.
   */
  public readonly serverFunctionUrl: lambda.FunctionUrl;
  /** The origin-verify secret (rotated into `originVerifyStore`; the server functions read it). */
  public readonly originVerifySecret: secretsmanager.ISecret;
  /** The KeyValueStore the site's CloudFront Function reads the origin-verify value from. */
  public readonly originVerifyStore: cloudfront.IKeyValueStore;
  /** Split server functions (`functions` in open-next.config.ts) by their name there; each is its own origin. */
  public readonly splitServerFunctions: { [name: string]: lambda.Function };
  /** The image optimisation function (`/_next/image`). */
  public readonly imageFunction: lambda.Function;
  /** The ISR revalidation function, when the build has one. */
  public readonly revalidationFunction?: lambda.Function;
  /** The revalidation queue (SQS FIFO), when the build has a revalidation function. */
  public readonly revalidationQueue?: sqs.Queue;
  /** The DynamoDB tag cache, when the build uses one. */
  public readonly tagCacheTable?: dynamodb.Table;
  /** The Next.js build id this site was synthesized from. */
  public readonly buildId: string;

  private readonly build: OpenNextBuild;
  private readonly maxBehaviors: number;
  private readonly behaviorPatterns: string[] = [];
  private readonly domainNames: string[];

  constructor(scope: Construct, id: string, props: OpenNextSiteProps) {
    super(scope, id);
    validateProps(props);
    this.build = readOpenNextBuild(props.openNextPath);
    this.buildId = this.build.buildId;
    this.domainNames = props.domainNames ?? [];
    this.maxBehaviors = props.maxBehaviors ?? CLOUDFRONT_MAX_BEHAVIORS;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const destroy = removalPolicy === RemovalPolicy.DESTROY;

    // The behaviours, planned first so that a site with too many fails before anything else is built.
    const plan = planBehaviors({
      behaviors: this.build.output.behaviors,
      serverOrigins: ['default', ...this.build.splitServers.map((x) => x.key)],
      publicItems: this.build.publicItems,
      versionedSubDir: this.build.versionedSubDir,
    });
    this.checkBehaviorCount(plan.length, 'the site itself', plan);

    const logBucket = props.logBucket ?? this.createLogBucket(destroy);
    const bucketProps: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy,
      autoDeleteObjects: destroy,
      serverAccessLogsBucket: logBucket,
    };
    this.assetsBucket = new s3.Bucket(this, 'Assets', { ...bucketProps, serverAccessLogsPrefix: 's3/assets/' });
    this.cacheBucket = new s3.Bucket(this, 'Cache', { ...bucketProps, serverAccessLogsPrefix: 's3/cache/' });

    // ISR: tag cache and revalidation queue.
    // The table exists whenever OpenNext's DynamoDB tag cache is on, also for builds without
    // an initialization function (no prerendered page has tags): the server still reads it.
    if (this.build.dynamoTagCache) {
      this.tagCacheTable = new dynamodb.Table(this, 'TagCache', {
        partitionKey: { name: 'tag', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'path', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy,
      });
      this.tagCacheTable.addGlobalSecondaryIndex({
        indexName: 'revalidate',
        partitionKey: { name: 'path', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'revalidatedAt', type: dynamodb.AttributeType.NUMBER },
      });
    }
    if (this.build.revalidation) {
      const deadLetterQueue = new sqs.Queue(this, 'RevalidationDeadLetters', {
        fifo: true, enforceSSL: true, retentionPeriod: Duration.days(14),
      });
      this.revalidationQueue = new sqs.Queue(this, 'RevalidationQueue', {
        fifo: true,
        enforceSSL: true,
        receiveMessageWaitTime: Duration.seconds(20),
        visibilityTimeout: Duration.seconds(60),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 3 },
      });
    }

    // Origin verification: a rotated secret that CloudFront adds from a KeyValueStore and the
    // server functions check, instead of IAM auth (origin access control signs no bodies).
    const originVerify = this.createOriginVerify(props);
    this.originVerifySecret = originVerify.secret;
    this.originVerifyStore = originVerify.store;

    // Server functions: the default one and each split function of the build.
    this.serverFunction = this.createServerFunction('Server', this.build.server, props, 'Next.js server');
    const splitServers: { [origin: string]: lambda.Function } = {};
    for (const { key, fn } of this.build.splitServers) {
      splitServers[key] = this.createServerFunction(`Server${pascalCase(key)}`, fn, props, `Next.js server function "${key}"`);
    }
    this.splitServerFunctions = splitServers;
    this.addSecretParameters([this.serverFunction, ...Object.values(splitServers)], props.secretParameters ?? {});

    this.imageFunction = this.openNextFunction('Image', this.build.imageOptimizer, {
      description: `Next.js image optimisation of ${this.node.path} (OpenNext)`,
      memorySize: props.imageMemorySize ?? 1536,
      timeout: Duration.seconds(25),
      environment: { BUCKET_NAME: this.assetsBucket.bucketName, BUCKET_KEY_PREFIX: this.build.assetsKeyPrefix },
    });
    this.assetsBucket.grantRead(this.imageFunction, `${this.build.assetsKeyPrefix}/*`);

    if (this.build.revalidation && this.revalidationQueue) {
      this.revalidationFunction = this.openNextFunction('Revalidation', this.build.revalidation, {
        description: `ISR revalidation of ${this.node.path} (OpenNext)`,
        memorySize: 256,
        timeout: Duration.seconds(30),
      });
      // OpenNext answers with the records whose page did not regenerate: only those return to
      // the queue (and after three tries to its dead-letter queue).
      this.revalidationFunction.addEventSource(new SqsEventSource(this.revalidationQueue, { batchSize: 5, reportBatchItemFailures: true }));
    }

    // CloudFront. The server's URL is public but refuses requests without the origin-verify
    // value; the image function (GET only, no bodies) keeps IAM auth with origin access control.
    const serverOriginOf = (fn: lambda.Function, streaming: boolean) => {
      const url = fn.addFunctionUrl({
        authType: lambda.FunctionUrlAuthType.NONE,
        invokeMode: streaming ? lambda.InvokeMode.RESPONSE_STREAM : lambda.InvokeMode.BUFFERED,
      });
      return { url, origin: new origins.FunctionUrlOrigin(url, { readTimeout: Duration.seconds(60) }) };
    };
    const defaultServer = serverOriginOf(this.serverFunction, this.build.server.streaming);
    this.serverFunctionUrl = defaultServer.url;
    const serverOrigin = defaultServer.origin;
    const serverOrigins: { [key: string]: cloudfront.IOrigin } = { default: serverOrigin };
    for (const { key, fn } of this.build.splitServers) serverOrigins[key] = serverOriginOf(splitServers[key], fn.streaming).origin;
    const imageUrl = this.imageFunction.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    const imageOrigin = origins.FunctionUrlOrigin.withOriginAccessControl(imageUrl, { readTimeout: Duration.seconds(30) });
    const assetsOrigin = origins.S3BucketOrigin.withOriginAccessControl(this.assetsBucket, { originPath: `/${this.build.assetsKeyPrefix}` });

    const policies = sharedPolicies(this);
    const responseHeadersPolicy = props.responseHeadersPolicy ?? policies.securityHeaders;
    const viewerRequest = originVerify.viewerRequest;
    const functionBehavior = (origin: cloudfront.IOrigin, cachePolicy: cloudfront.ICachePolicy): cloudfront.BehaviorOptions => ({
      origin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
      compress: true,
      cachePolicy,
      // The Function URL needs its own Host header; x-forwarded-host carries the viewer's.
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy,
      functionAssociations: [{ function: viewerRequest, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
    });
    const serverBehavior = functionBehavior(serverOrigin, props.serverCachePolicy ?? policies.server);
    const staticBehavior: cloudfront.BehaviorOptions = {
      origin: assetsOrigin,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
      compress: true,
      cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
      responseHeadersPolicy,
    };

    const customDomain = props.domainNames && props.domainNames.length > 0;
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Next.js site ${this.node.path}`,
      defaultBehavior: serverBehavior,
      domainNames: props.domainNames,
      certificate: props.certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      webAclId: props.webAclId,
      enableLogging: true,
      logBucket,
      logFilePrefix: 'cloudfront/',
    });
    // Order matters: CloudFront takes the first behaviour whose pattern matches.
    const imageBehavior = functionBehavior(imageOrigin, props.imageCachePolicy ?? policies.image);
    for (const { pattern, target } of plan) {
      if (target.kind === 'image') {this.addBehavior(pattern, imageOrigin, imageBehavior);} else if (target.kind === 's3') {this.addBehavior(pattern, assetsOrigin, staticBehavior);} else if (target.origin === 'default') {this.addBehavior(pattern, serverOrigin, serverBehavior);} else {
        const origin = serverOrigins[target.origin];
        this.addBehavior(pattern, origin, functionBehavior(origin, props.serverCachePolicy ?? policies.server));
      }
    }
    this.grantInvokeFromDistribution(this.imageFunction, 'Image');

    if (!customDomain) {
      suppressNag(this.distribution, [{
        id: 'AwsSolutions-CFR4',
        reason: 'No custom domain given: the cloudfront.net certificate is used; with domainNames and a certificate the minimum is TLS 1.2 (2021).',
      }]);
    }
    suppressNag(this.distribution, [
      { id: 'AwsSolutions-CFR1', reason: 'A public website: no geographic restriction.' },
      ...(props.webAclId ? [] : [{ id: 'AwsSolutions-CFR2', reason: 'WAF is opt-in (webAclId); every origin already refuses requests that did not come through this distribution.' }]),
    ]);

    // Uploads, ISR seeding, invalidation and cleanup of old builds.
    const deployments = this.deployAssets();
    this.createWarmer(props);
    this.siteDeployment(props.assetRetention ?? Duration.days(30), deployments, this.tagCacheSeedFunction());
    this.suppressGrantWildcards();
  }

  /** The site's URL: `https://` and the first custom domain, or the distribution's name. */
  public get url(): string {
    return `https://${this.domainNames[0] ?? this.distribution.distributionDomainName}`;
  }

  /**
   * Routes `pathPattern` to another origin, e.g. an API under `/backend/*`. Behaviours are
   * matched in the order they were added, after the site's own; the default (`/*`) stays
   * last. Fails when the pattern is already routed or the distribution would exceed
   * `maxBehaviors`.
   */
  public addBehavior(pathPattern: string, origin: cloudfront.IOrigin, options: OpenNextSiteBehaviorOptions = {}): void {
    const pattern = pathPattern.replace(/^\/+/, '');
    if (pattern === '' || pattern === '*') {
      throw new Error(`OpenNextSite ${this.node.path}: "${pathPattern}" is the default behaviour, which serves the Next.js server; add a more specific pattern such as "/backend/*".`);
    }
    if (this.behaviorPatterns.includes(pattern)) {
      throw new Error(`OpenNextSite ${this.node.path}: a behaviour for "/${pattern}" exists already (${this.behaviorPatterns.map((p) => '/' + p).join(', ')}). Use another path pattern.`);
    }
    this.checkBehaviorCount(this.behaviorPatterns.length + 1, `adding "/${pattern}"`);
    this.behaviorPatterns.push(pattern);
    this.distribution.addBehavior(`/${pattern}`, origin, {
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      compress: true,
      ...options,
    });
  }

  /** The path patterns of the distribution's behaviours, in the order CloudFront matches them. */
  public get behaviors(): string[] {
    return [...this.behaviorPatterns.map((p) => `/${p}`), '/*'];
  }

  /** Lets `grantee` invalidate paths of the distribution (e.g. a frontend deploy role). */
  public grantInvalidate(grantee: iam.IGrantable): iam.Grant {
    return this.distribution.grantCreateInvalidation(grantee);
  }

  /**
   * The aws-cdk-lib grants (grantReadWrite, grantReadWriteData, grantInvoke) scope every
   * statement to this site's own buckets, table and functions, but use object, index and
   * version wildcards inside them; cdk-nag flags those.
   */
  private suppressGrantWildcards() {
    const reasons: Record<string, string> = {
      Server: 'Reads and writes ISR cache objects (keys known at run time) in this site\'s cache bucket and items of its tag cache table and indexes.',
      Image: 'Reads any static asset under the _assets/ prefix of this site\'s assets bucket (the image to optimise is chosen by the request).',
      TagCacheSeed: 'Writes tag items of this build into this site\'s tag cache table (grantWriteData includes its indexes).',
      SiteDeployment: 'Lists and deletes files of replaced builds in this site\'s own buckets (keys known at run time) and invokes the seed function (any version).',
      Revalidation: 'Receives from this site\'s revalidation queue only.',
      Warmer: 'Invokes this site\'s server functions (any version).',
    };
    for (const key of Object.keys(this.splitServerFunctions)) reasons[`Server${pascalCase(key)}`] = reasons.Server;
    for (const [id, reason] of Object.entries(reasons)) {
      const policy = this.node.tryFindChild(`${id}Role`)?.node.tryFindChild('DefaultPolicy');
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

  private checkBehaviorCount(count: number, what: string, plan?: PlannedBehavior[]) {
    if (count > this.maxBehaviors) {
      const split = (plan ?? []).filter((b) => b.target.kind === 'server' && b.target.origin !== 'default');
      throw new Error(`OpenNextSite ${this.node.path}: ${what} needs ${count} CloudFront cache behaviours, more than maxBehaviors (${this.maxBehaviors}, CloudFront's quota). ` +
        `Public files: ${this.build.publicItems.map((i) => i.name + (i.isDirectory ? '/' : '')).join(', ')}. ` +
        (split.length > 0 ? `Split server functions: ${split.length} pattern(s) (${split.map((b) => '/' + b.pattern).join(', ')}). ` : '') +
        'Move top-level files of public/ into a few folders (each folder is one behaviour)' +
        (split.length > 0 ? ', give split functions fewer patterns in open-next.config.ts' : '') +
        ', or raise the quota with AWS and set maxBehaviors.');
    }
  }

  /**
   * A server function: OpenNext's bundle plus the origin-verify handler that wraps it, with
   * the ISR cache, queue and tag cache environment and grants.
   */
  private createServerFunction(id: string, fn: ResolvedFunction, props: OpenNextSiteProps, what: string): lambda.Function {
    const region = Stack.of(this).region;
    const environment: Record<string, string> = {
      ...props.environment,
      CACHE_BUCKET_NAME: this.cacheBucket.bucketName,
      CACHE_BUCKET_KEY_PREFIX: this.build.cacheKeyPrefix,
      CACHE_BUCKET_REGION: region,
      ORIGIN_VERIFY_SECRET_ID: this.originVerifySecret.secretArn,
      ORIGIN_VERIFY_HEADER: ORIGIN_VERIFY_HEADER,
      ORIGIN_VERIFY_CACHE_SECONDS: String(ORIGIN_VERIFY_CACHE.toSeconds()),
      ORIGIN_VERIFY_HANDLER: fn.handler,
    };
    if (this.revalidationQueue) {
      environment.REVALIDATION_QUEUE_URL = this.revalidationQueue.queueUrl;
      environment.REVALIDATION_QUEUE_REGION = region;
    }
    if (this.tagCacheTable) environment.CACHE_DYNAMO_TABLE = this.tagCacheTable.tableName;
    const source = fn.dir;
    const wrapper = join(__dirname, 'origin-verify-handler.mjs');
    const f = this.openNextFunction(id, fn, {
      description: `${what} of ${this.node.path} (OpenNext)`,
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
    this.cacheBucket.grantReadWrite(f);
    this.revalidationQueue?.grantSendMessages(f);
    this.tagCacheTable?.grantReadWriteData(f);
    this.originVerifySecret.grantRead(f);
    return f;
  }

  /** The origin-verify secret, its KeyValueStore and rotation, and the viewer-request CloudFront Function. */
  private createOriginVerify(props: OpenNextSiteProps) {
    const secret = new secretsmanager.Secret(this, 'OriginVerifySecret', {
      description: `Origin-verify value CloudFront sends to the server functions of ${this.node.path} (rotated; never set by hand)`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      // Nothing depends on a value surviving: a new secret is rotated into the store at once.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const store = new cloudfront.KeyValueStore(this, 'OriginVerifyStore', {
      comment: `Origin-verify value of ${this.node.path}, written by its rotation`,
    });
    const viewerRequest = new cloudfront.Function(this, 'ViewerRequest', {
      comment: 'x-forwarded-host from Host; the origin-verify header from the KeyValueStore',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      keyValueStore: store,
      code: cloudfront.FunctionCode.fromInline(viewerRequestFunctionCode(store.keyValueStoreId, ORIGIN_VERIFY_HEADER, ORIGIN_VERIFY_KVS_KEY)),
    });
    const { role, logGroup } = functionLogging(this, 'OriginVerifyRotation');
    // The rotation of OriginVerifiedHttpApi: new value as AWSPENDING (the servers accept it
    // from then on), a wait, the store, then AWSCURRENT. The servers re-read the secret on a
    // miss (at most every 10 s), so 30 s of waiting covers every instance.
    const rotation = new OriginVerifyRotationFunction(this, 'OriginVerifyRotation', {
      role,
      logGroup,
      description: `Rotates the origin-verify value of ${this.node.path} into its CloudFront KeyValueStore`,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(3),
      environment: { ACCEPT_DELAY_SECONDS: '30', KVS_ARN: store.keyValueStoreArn, KVS_ENTRY: ORIGIN_VERIFY_KVS_KEY },
    });
    rotation.addToRolePolicy(new iam.PolicyStatement({
      actions: ['cloudfront-keyvaluestore:DescribeKeyValueStore', 'cloudfront-keyvaluestore:GetKey', 'cloudfront-keyvaluestore:PutKey'],
      resources: [store.keyValueStoreArn],
    }));
    const schedule = secret.addRotationSchedule('Rotation', {
      rotationLambda: rotation,
      automaticallyAfter: props.originVerifyRotation ?? Duration.days(30),
      rotateImmediatelyOnUpdate: true,
    });
    schedule.node.addDependency(store);
    suppressNag(role.node.findChild('DefaultPolicy'), [{
      id: 'AwsSolutions-IAM5',
      reason: 'secretsmanager:GetRandomPassword supports no resource-level permissions; it only returns a random string',
      appliesTo: ['Resource::*'],
    }]);
    return { secret, store, viewerRequest };
  }

  private openNextFunction(id: string, fn: ResolvedFunction, options: Partial<lambda.FunctionProps>): lambda.Function {
    const { role, logGroup } = functionLogging(this, id);
    const f = new lambda.Function(this, `${id}Function`, {
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

  private grantInvokeFromDistribution(fn: lambda.Function, id: string) {
    // Function URLs created from October 2025 on also need lambda:InvokeFunction (the
    // origin adds lambda:InvokeFunctionUrl); limited to calls through the URL.
    const permission = new lambda.CfnPermission(this, `${id}InvokeFromDistribution`, {
      action: 'lambda:InvokeFunction',
      functionName: fn.functionArn,
      principal: 'cloudfront.amazonaws.com',
      sourceArn: this.distribution.distributionArn,
      invokedViaFunctionUrl: true,
    });
    permission.node.addDependency(fn);
  }

  private addSecretParameters(fns: lambda.Function[], secrets: Record<string, string>) {
    const entries = Object.entries(secrets);
    if (entries.length === 0) return;
    const stack = Stack.of(this);
    const layer = new lambda.LayerVersion(this, 'SsmEnvLayer', {
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

  private createLogBucket(destroy: boolean): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Logs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront standard logging writes with ACLs.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: destroy,
    });
    suppressNag(bucket, [{ id: 'AwsSolutions-S1', reason: 'This is the access log bucket; logging its own access would loop.' }]);
    return bucket;
  }

  /**
   * Uploads with one BucketDeployment per Cache-Control class, never pruning: files of the
   * previous build stay for clients that still run it (the SiteDeployment cleans up later).
   */
  private deployAssets(): s3deploy.BucketDeployment[] {
    const { assetsDir, assetsKeyPrefix, versionedSubDir, cacheDir, cacheKeyPrefix, buildId } = this.build;
    const common = {
      prune: false,
      // Large sites upload thousands of files: more memory is more network and CPU.
      memoryLimit: 1024,
    };
    const out: s3deploy.BucketDeployment[] = [];
    out.push(new s3deploy.BucketDeployment(this, 'HashedAssets', {
      ...common,
      sources: [s3deploy.Source.asset(join(assetsDir, versionedSubDir))],
      destinationBucket: this.assetsBucket,
      destinationKeyPrefix: `${assetsKeyPrefix}/${versionedSubDir}`,
      cacheControl: [s3deploy.CacheControl.fromString(IMMUTABLE_CACHE_CONTROL)],
    }));
    out.push(new s3deploy.BucketDeployment(this, 'PublicAssets', {
      ...common,
      sources: [s3deploy.Source.asset(assetsDir, { exclude: [versionedSubDir, `${versionedSubDir}/**`] })],
      destinationBucket: this.assetsBucket,
      destinationKeyPrefix: assetsKeyPrefix,
      cacheControl: [s3deploy.CacheControl.fromString(REVALIDATE_CACHE_CONTROL)],
    }));
    // The list of this build's files, which the cleanup keeps while the build is kept.
    out.push(new s3deploy.BucketDeployment(this, 'BuildManifest', {
      ...common,
      memoryLimit: 256,
      sources: [s3deploy.Source.jsonData(`${buildId}.json`, { buildId, files: listFiles(assetsDir) })],
      destinationBucket: this.assetsBucket,
      destinationKeyPrefix: DEPLOYMENTS_PREFIX,
    }));
    if (cacheDir) {
      out.push(new s3deploy.BucketDeployment(this, 'IsrCache', {
        ...common,
        sources: [s3deploy.Source.asset(cacheDir)],
        destinationBucket: this.cacheBucket,
        destinationKeyPrefix: cacheKeyPrefix,
      }));
    }
    suppressBucketDeploymentNags(Stack.of(this));
    return out;
  }

  /** The function that writes the build's tags into the DynamoDB tag cache (run by the SiteDeployment). */
  private tagCacheSeedFunction(): lambda.Function | undefined {
    if (!this.build.initialization || !this.tagCacheTable) return undefined;
    const init = this.openNextFunction('TagCacheSeed', this.build.initialization, {
      description: `Seeds the tag cache of ${this.node.path} (OpenNext)`,
      memorySize: 256,
      timeout: Duration.minutes(5),
      environment: { CACHE_DYNAMO_TABLE: this.tagCacheTable.tableName },
    });
    this.tagCacheTable.grantWriteData(init);
    return init;
  }

  private createWarmer(props: OpenNextSiteProps) {
    const concurrency = props.warmerConcurrency ?? 0;
    if (concurrency === 0 || !this.build.warmer) return;
    const warmer = this.openNextFunction('Warmer', this.build.warmer, {
      description: `Keeps ${concurrency} instance(s) of the server of ${this.node.path} warm (OpenNext)`,
      memorySize: 128,
      timeout: Duration.minutes(1),
      environment: {
        WARM_PARAMS: JSON.stringify([this.serverFunction, ...Object.values(this.splitServerFunctions)]
          .map((f) => ({ concurrency, function: f.functionName }))),
      },
    });
    for (const f of [this.serverFunction, ...Object.values(this.splitServerFunctions)]) f.grantInvoke(warmer);
    new events.Rule(this, 'WarmerSchedule', {
      description: `Warms ${this.node.path}`,
      schedule: events.Schedule.rate(props.warmerInterval ?? Duration.minutes(5)),
      targets: [new targets.LambdaFunction(warmer, { retryAttempts: 0 })],
    });
  }

  /** Records the build, invalidates what changed and deletes expired builds, after everything is live. */
  private siteDeployment(retention: Duration, after: Construct[], seed: lambda.Function | undefined) {
    const { role, logGroup } = functionLogging(this, 'SiteDeployment');
    const fn = new SiteDeploymentFunction(this, 'SiteDeploymentFunction', {
      role,
      logGroup,
      description: `Invalidates and cleans up old builds of ${this.node.path}`,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.minutes(10),
    });
    this.assetsBucket.grantReadWrite(fn);
    this.assetsBucket.grantDelete(fn);
    this.cacheBucket.grantRead(fn, `${this.build.cacheKeyPrefix}/*`);
    this.cacheBucket.grantDelete(fn, `${this.build.cacheKeyPrefix}/*`);
    this.distribution.grantCreateInvalidation(fn);
    seed?.grantInvoke(fn);
    const resource = new CustomResource(this, 'SiteDeployment', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::OpenNextSiteDeployment',
      properties: {
        BuildId: this.build.buildId,
        AssetsBucket: this.assetsBucket.bucketName,
        AssetsPrefix: this.build.assetsKeyPrefix,
        DeploymentsPrefix: DEPLOYMENTS_PREFIX,
        CacheBucket: this.cacheBucket.bucketName,
        CachePrefix: this.build.cacheKeyPrefix,
        DistributionId: this.distribution.distributionId,
        // Pages, data and public files may all have changed; hashed files cannot have.
        // One wildcard is one billable path.
        InvalidationPaths: ['/*'],
        RetentionDays: String(retention.toDays({ integral: false })),
        SeedFunction: seed?.functionName ?? '',
      },
    });
    for (const c of [...after, this.serverFunction, this.imageFunction, this.distribution, ...(seed ? [seed] : [])]) resource.node.addDependency(c);
  }
}

interface SharedPolicies {
  readonly server: cloudfront.ICachePolicy;
  readonly image: cloudfront.ICachePolicy;
  readonly securityHeaders: cloudfront.IResponseHeadersPolicy;
}

/**
 * Cache policies and the security headers policy, once per stack: the account has quotas on
 * each (20 cache policies, 20 response headers policies).
 */
function sharedPolicies(scope: Construct): SharedPolicies {
  const stack = Stack.of(scope);
  const id = 'ShtetlOpenNextSitePolicies';
  const existing = stack.node.tryFindChild(id) as Construct | undefined;
  const holder = existing ?? new Construct(stack, id);
  if (existing) {
    return {
      server: holder.node.findChild('ServerCachePolicy') as cloudfront.ICachePolicy,
      image: holder.node.findChild('ImageCachePolicy') as cloudfront.ICachePolicy,
      securityHeaders: holder.node.findChild('SecurityHeaders') as cloudfront.IResponseHeadersPolicy,
    };
  }
  const server = new cloudfront.CachePolicy(holder, 'ServerCachePolicy', {
    comment: 'Next.js server (OpenNext): query string and the RSC/router headers in the key; TTL from the response',
    queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
    headerBehavior: cloudfront.CacheHeaderBehavior.allowList(...NEXT_CACHE_KEY_HEADERS),
    cookieBehavior: cloudfront.CacheCookieBehavior.none(),
    defaultTtl: Duration.seconds(0),
    minTtl: Duration.seconds(0),
    maxTtl: Duration.days(365),
    enableAcceptEncodingGzip: true,
    enableAcceptEncodingBrotli: true,
  });
  const image = new cloudfront.CachePolicy(holder, 'ImageCachePolicy', {
    comment: 'Next.js image optimisation (OpenNext): url, w and q query parameters and Accept (AVIF/WebP) in the key',
    queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
    headerBehavior: cloudfront.CacheHeaderBehavior.allowList('accept'),
    cookieBehavior: cloudfront.CacheCookieBehavior.none(),
    defaultTtl: Duration.days(1),
    minTtl: Duration.seconds(0),
    maxTtl: Duration.days(365),
  });
  const securityHeaders = new cloudfront.ResponseHeadersPolicy(holder, 'SecurityHeaders', {
    comment: 'Security headers of OpenNext sites',
    securityHeadersBehavior: {
      strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, preload: true, override: true },
      contentTypeOptions: { override: true },
      frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
      referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
      xssProtection: { protection: true, modeBlock: true, override: true },
    },
    removeHeaders: ['server', 'x-powered-by'],
  });
  return { server, image, securityHeaders };
}

/** `api-v2` -> `ApiV2`, for construct ids. */
function pascalCase(name: string): string {
  return name.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
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

/** The BucketDeployment handler is aws-cdk-lib's singleton; its choices are not ours to change. */
function suppressBucketDeploymentNags(stack: Stack) {
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
    const fn = child.node.defaultChild;
    if (fn && child.node.tryFindChild('ServiceRole')) {
      suppressNag(child, [{ id: 'AwsSolutions-L1', reason: 'aws-cdk-lib\'s BucketDeployment handler pins its own Python runtime.' }]);
      const role = child.node.findChild('ServiceRole');
      suppressNag(role, [{
        id: 'AwsSolutions-IAM4',
        reason: 'aws-cdk-lib\'s BucketDeployment handler role uses AWSLambdaBasicExecutionRole.',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      }]);
      const policy = role.node.tryFindChild('DefaultPolicy');
      if (policy) {
        suppressNag(policy, [{
          id: 'AwsSolutions-IAM5',
          reason: 'aws-cdk-lib\'s BucketDeployment copies from the CDK asset bucket into the site buckets: object wildcards are inherent.',
        }]);
      }
    }
  }
}

function validateProps(props: OpenNextSiteProps) {
  if (props.domainNames && props.domainNames.length > 0 && !props.certificate) {
    throw new Error(`OpenNextSite: domainNames (${props.domainNames.join(', ')}) need a certificate from us-east-1 that covers them. Pass certificate, or leave domainNames out.`);
  }
  if (props.certificate && !(props.domainNames && props.domainNames.length > 0)) {
    throw new Error('OpenNextSite: a certificate without domainNames is never used. Pass the domain names it covers, e.g. domainNames: ["www.example.com"].');
  }
  for (const [env, name] of Object.entries(props.secretParameters ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
      throw new Error(`OpenNextSite: secretParameters key "${env}" is not an environment variable name. Use e.g. CLERK_SECRET_KEY.`);
    }
    if (!Token.isUnresolved(name) && !/^(\/[a-zA-Z0-9_.-]+)+$/.test(name)) {
      throw new Error(`OpenNextSite: secretParameters.${env} = "${name}" is not an absolute SSM parameter name. Use e.g. "/<service>/<env>/clerk-secret-key".`);
    }
    if (props.environment && env in props.environment) {
      throw new Error(`OpenNextSite: ${env} is both in environment and secretParameters. Keep secrets in secretParameters only.`);
    }
  }
  const concurrency = props.warmerConcurrency ?? 0;
  if (!Number.isInteger(concurrency) || concurrency < 0 || concurrency > 100) {
    throw new Error(`OpenNextSite: warmerConcurrency must be a whole number from 0 to 100 (got ${concurrency}).`);
  }
  const rotation = props.originVerifyRotation;
  if (rotation && !rotation.isUnresolved() && (rotation.toHours({ integral: false }) < 4 || rotation.toDays({ integral: false }) > 1000)) {
    throw new Error(`OpenNextSite: originVerifyRotation must be from 4 hours to 1000 days (Secrets Manager's limits; got ${rotation.toHumanString()}).`);
  }
  const max = props.maxBehaviors ?? CLOUDFRONT_MAX_BEHAVIORS;
  if (!Number.isInteger(max) || max < 3) {
    throw new Error(`OpenNextSite: maxBehaviors must be a whole number of at least 3 (got ${max}); CloudFront's default quota is 25.`);
  }
}
