/**
 * The contract between the zmanim app and its operations command line (`shtetl-ops`,
 * src/ops/): the CloudFormation output keys the CLI reads to find the host and the resources.
 *
 * The CLI lists the stacks whose names start with the stack prefix (`ZmanimProd`) in the
 * region and merges their outputs, so a key must be unique across the app's stacks; which
 * stack holds it does not matter to the CLI (the `stack` field documents it). This file is
 * read by the bundled CLI: it must not import aws-cdk-lib or anything else that is heavy.
 */
export interface OutputSpec {
  /** The `OutputKey` (the id of a `CfnOutput` created directly in the stack). */
  readonly key: string;
  /** The stack (name without the prefix) expected to hold it. */
  readonly stack: string;
  /** What it is, and what the CLI uses it for. */
  readonly description: string;
}

function spec(key: string, stack: string, description: string): OutputSpec {
  return { key, stack, description };
}

/** Every output key `shtetl-ops` reads. */
export const OPS_OUTPUTS = {
  /** The data host's instance id: Session Manager and Run Command target. */
  instanceId: spec('InstanceId', 'Compute', 'EC2 instance id of the data host'),
  /** The retained /data volume. */
  dataVolumeId: spec('DataVolumeId', 'Compute', 'EBS volume id of /data'),
  /** The versioned bucket the API releases come from. */
  releaseBucketName: spec('ReleaseBucketName', 'Compute', 'bucket of the Go API releases'),
  /** SSM path of the host's secrets (postgres-password, redis-password, ...). */
  secretsParameterPath: spec('SecretsParameterPath', 'Compute', 'SSM Parameter Store path of the secrets'),
  /** CloudWatch log groups the agent on the host ships to. */
  apiLogGroup: spec('ApiLogGroupName', 'Compute', 'log group of zmanim-api'),
  postgresqlLogGroup: spec('PostgresqlLogGroupName', 'Compute', 'log group of PostgreSQL'),
  redisLogGroup: spec('RedisLogGroupName', 'Compute', 'log group of Redis'),
  bootLogGroup: spec('BootLogGroupName', 'Compute', 'log group of zmanim-boot (boot.log)'),
  /** The public site and the public health URL. */
  siteUrl: spec('SiteUrl', 'Monitoring', 'https://<domain>'),
  apiHealthUrl: spec('ApiHealthUrl', 'Monitoring', 'the public health URL that Route 53 checks'),
  /** The alarm topic and the dashboard. */
  alarmTopicArn: spec('AlarmTopicArn', 'Monitoring', 'SNS topic of every alarm'),
  dashboardUrl: spec('DashboardUrl', 'Dashboard', 'the CloudWatch dashboard in the console'),
  /** The site's CloudFront distribution (invalidations). */
  distributionId: spec('DistributionId', 'Nextjs', 'CloudFront distribution id of the site'),
  /** The restic repository's bucket and its replica in a second region (complete region failure). */
  backupBucketName: spec('BackupBucketName', 'Compute', 'S3 bucket of the restic repository'),
  backupReplicaBucketName: spec('BackupReplicaBucketName', 'Compute', 'replica of the backup bucket in the second region'),
  backupReplicaRegion: spec('BackupReplicaRegion', 'Compute', 'region of the replica bucket'),
} as const;

export type OpsOutputName = keyof typeof OPS_OUTPUTS;

/** The default stack prefix: `Zmanim` + the capitalized environment of the seed's config. */
export const DEFAULT_STACK_PREFIX = 'ZmanimProd';

/** Where the backend workflow and `shtetl-ops deploy-api` upload the Go API (see compute-stack). */
export const API_RELEASE_OBJECT_KEY = 'api/current/api-linux-arm64';
