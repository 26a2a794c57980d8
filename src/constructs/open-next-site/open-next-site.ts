import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { planBehaviors } from './behaviors';
import { createSiteDeployment, deployAssets } from './deployments';
import { OpenNextBuild, readOpenNextBuild } from './open-next-output';
import { CLOUDFRONT_MAX_BEHAVIORS, OpenNextSiteBehaviorOptions, OpenNextSiteProps } from './open-next-site-props';
import { createOriginVerify } from './origin-verify';
import { sharedPolicies } from './shared-policies';
import {
  addSecretParameters, createServerFunction, createTagCacheSeedFunction, createWarmer, openNextFunction, serverFunctionId, suppressGrantWildcards,
} from './site-functions';
import { checkAddedPattern, checkBehaviorCount, validateProps } from './validation';
import { suppressNag } from '../../internal/nag';

export { IMMUTABLE_CACHE_CONTROL, REVALIDATE_CACHE_CONTROL } from './deployments';
export { ORIGIN_VERIFY_HEADER } from './origin-verify';

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
    validateProps(this, props);
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
    checkBehaviorCount(this, this.build, this.maxBehaviors, plan.length, 'the site itself', plan);

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
    const originVerify = createOriginVerify(this, props.originVerifyRotation);
    this.originVerifySecret = originVerify.secret;
    this.originVerifyStore = originVerify.store;

    // Server functions: the default one and each split function of the build.
    const resources = {
      build: this.build,
      cacheBucket: this.cacheBucket,
      originVerifySecret: this.originVerifySecret,
      revalidationQueue: this.revalidationQueue,
      tagCacheTable: this.tagCacheTable,
    };
    this.serverFunction = createServerFunction(this, 'Server', this.build.server, props, 'Next.js server', resources);
    const splitServers: { [origin: string]: lambda.Function } = {};
    for (const { key, fn } of this.build.splitServers) {
      splitServers[key] = createServerFunction(this, serverFunctionId(key), fn, props, `Next.js server function "${key}"`, resources);
    }
    this.splitServerFunctions = splitServers;
    addSecretParameters(this, [this.serverFunction, ...Object.values(splitServers)], props.secretParameters ?? {});

    this.imageFunction = openNextFunction(this, 'Image', this.build.imageOptimizer, {
      description: `Next.js image optimisation of ${this.node.path} (OpenNext)`,
      memorySize: props.imageMemorySize ?? 1536,
      timeout: Duration.seconds(25),
      environment: { BUCKET_NAME: this.assetsBucket.bucketName, BUCKET_KEY_PREFIX: this.build.assetsKeyPrefix },
    });
    this.assetsBucket.grantRead(this.imageFunction, `${this.build.assetsKeyPrefix}/*`);

    if (this.build.revalidation && this.revalidationQueue) {
      this.revalidationFunction = openNextFunction(this, 'Revalidation', this.build.revalidation, {
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
    const deployments = deployAssets(this, this.build, this.assetsBucket, this.cacheBucket);
    const servers = [this.serverFunction, ...Object.values(this.splitServerFunctions)];
    createWarmer(this, this.build, props, servers);
    const seed = createTagCacheSeedFunction(this, this.build, this.tagCacheTable);
    createSiteDeployment(this, {
      build: this.build,
      assetsBucket: this.assetsBucket,
      cacheBucket: this.cacheBucket,
      distribution: this.distribution,
      seed,
      retention: props.assetRetention ?? Duration.days(30),
      after: [...deployments, this.serverFunction, this.imageFunction, this.distribution, ...(seed ? [seed] : [])],
    });
    suppressGrantWildcards(this, Object.keys(this.splitServerFunctions));
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
    const pattern = checkAddedPattern(this, pathPattern, this.behaviorPatterns);
    checkBehaviorCount(this, this.build, this.maxBehaviors, this.behaviorPatterns.length + 1, `adding "/${pattern}"`);
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
}
