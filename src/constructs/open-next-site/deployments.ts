import { join } from 'node:path';
import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { listFiles, OpenNextBuild } from './open-next-output';
import { SiteDeploymentFunction } from './site-deployment-function';
import { functionLogging } from '../../internal/function-logging';
import { suppressNag } from '../../internal/nag';

/** Cache-Control of files whose names change with their content (`_next/static/...`). */
export const IMMUTABLE_CACHE_CONTROL = 'public,max-age=31536000,immutable';
/**
 * Cache-Control of public files whose names stay the same across builds (`/favicon.ico`):
 * browsers revalidate every time, CloudFront keeps them until the deployment invalidates them.
 */
export const REVALIDATE_CACHE_CONTROL = 'public,max-age=0,s-maxage=31536000,must-revalidate';

const DEPLOYMENTS_PREFIX = '_deployments';

/**
 * Uploads with one BucketDeployment per Cache-Control class, never pruning: files of the
 * previous build stay for clients that still run it (the SiteDeployment cleans up later).
 */
export function deployAssets(scope: Construct, build: OpenNextBuild, assetsBucket: s3.IBucket, cacheBucket: s3.IBucket): s3deploy.BucketDeployment[] {
  const { assetsDir, assetsKeyPrefix, versionedSubDir, cacheDir, cacheKeyPrefix, buildId } = build;
  const common = {
    prune: false,
    // Large sites upload thousands of files: more memory is more network and CPU.
    memoryLimit: 1024,
  };
  const out: s3deploy.BucketDeployment[] = [];
  out.push(new s3deploy.BucketDeployment(scope, 'HashedAssets', {
    ...common,
    sources: [s3deploy.Source.asset(join(assetsDir, versionedSubDir))],
    destinationBucket: assetsBucket,
    destinationKeyPrefix: `${assetsKeyPrefix}/${versionedSubDir}`,
    cacheControl: [s3deploy.CacheControl.fromString(IMMUTABLE_CACHE_CONTROL)],
  }));
  out.push(new s3deploy.BucketDeployment(scope, 'PublicAssets', {
    ...common,
    sources: [s3deploy.Source.asset(assetsDir, { exclude: [versionedSubDir, `${versionedSubDir}/**`] })],
    destinationBucket: assetsBucket,
    destinationKeyPrefix: assetsKeyPrefix,
    cacheControl: [s3deploy.CacheControl.fromString(REVALIDATE_CACHE_CONTROL)],
  }));
  // The list of this build's files, which the cleanup keeps while the build is kept.
  out.push(new s3deploy.BucketDeployment(scope, 'BuildManifest', {
    ...common,
    memoryLimit: 256,
    sources: [s3deploy.Source.jsonData(`${buildId}.json`, { buildId, files: listFiles(assetsDir) })],
    destinationBucket: assetsBucket,
    destinationKeyPrefix: DEPLOYMENTS_PREFIX,
  }));
  if (cacheDir) {
    out.push(new s3deploy.BucketDeployment(scope, 'IsrCache', {
      ...common,
      sources: [s3deploy.Source.asset(cacheDir)],
      destinationBucket: cacheBucket,
      destinationKeyPrefix: cacheKeyPrefix,
    }));
  }
  suppressBucketDeploymentNags(Stack.of(scope));
  return out;
}

/** What the SiteDeployment works on. */
export interface SiteDeploymentTargets {
  readonly build: OpenNextBuild;
  readonly assetsBucket: s3.IBucket;
  readonly cacheBucket: s3.IBucket;
  readonly distribution: cloudfront.IDistribution;
  /** The function that seeds the tag cache, when the build has one. */
  readonly seed?: lambda.IFunction;
  /** How long a replaced build's files stay. */
  readonly retention: Duration;
  /** What must be live before the SiteDeployment runs (uploads, functions, the distribution). */
  readonly after: Construct[];
}

/** Records the build, invalidates what changed and deletes expired builds, after everything is live. */
export function createSiteDeployment(scope: Construct, targets: SiteDeploymentTargets) {
  const { build, assetsBucket, cacheBucket, distribution, seed, retention, after } = targets;
  const { role, logGroup } = functionLogging(scope, 'SiteDeployment');
  const fn = new SiteDeploymentFunction(scope, 'SiteDeploymentFunction', {
    role,
    logGroup,
    description: `Invalidates and cleans up old builds of ${scope.node.path}`,
    architecture: lambda.Architecture.ARM_64,
    memorySize: 512,
    timeout: Duration.minutes(10),
  });
  assetsBucket.grantReadWrite(fn);
  assetsBucket.grantDelete(fn);
  cacheBucket.grantRead(fn, `${build.cacheKeyPrefix}/*`);
  cacheBucket.grantDelete(fn, `${build.cacheKeyPrefix}/*`);
  distribution.grantCreateInvalidation(fn);
  seed?.grantInvoke(fn);
  const resource = new CustomResource(scope, 'SiteDeployment', {
    serviceToken: fn.functionArn,
    resourceType: 'Custom::OpenNextSiteDeployment',
    properties: {
      BuildId: build.buildId,
      AssetsBucket: assetsBucket.bucketName,
      AssetsPrefix: build.assetsKeyPrefix,
      DeploymentsPrefix: DEPLOYMENTS_PREFIX,
      CacheBucket: cacheBucket.bucketName,
      CachePrefix: build.cacheKeyPrefix,
      DistributionId: distribution.distributionId,
      // Pages, data and public files may all have changed; hashed files cannot have.
      // One wildcard is one billable path.
      InvalidationPaths: ['/*'],
      RetentionDays: String(retention.toDays({ integral: false })),
      SeedFunction: seed?.functionName ?? '',
    },
  });
  for (const c of after) resource.node.addDependency(c);
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
