import { CfnOutput, Duration, RemovalPolicy, Size, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { GravitonDataHost } from '../../constructs/graviton-data-host';
import { HostReference } from '../../constructs/managed-host';
import { ResticBackups } from '../../constructs/restic-backups';
import { suppressNag } from '../../internal/nag';
import { ZmanimConfig } from '../config';
import { BackupReplicaStack } from './backup-replica-stack';
import { OPERATOR_SECRETS } from '../secrets';

/**
 * Which AMI the host runs (context `zmanim:ami`):
 * - `bootstrap` (default): Amazon Linux 2023 arm64 from AWS's public parameter; the first boot
 *   installs PostgreSQL, Redis and the CloudWatch agent itself. Works before any AMI build.
 * - `packer`: the AMI that packer/ built and published to `<ssmPrefix>/ami-id`.
 */
export const AMI_CONTEXT_KEY = 'zmanim:ami';

/** Where the backend workflow uploads the Go API (under the prefix its deploy role may write). */
export const API_RELEASE_KEY = 'api/current/api-linux-arm64';

export interface ComputeStackProps extends StackProps {
  readonly config: ZmanimConfig;
  /** The VPC (Network stack). */
  readonly vpc: ec2.IVpc;
  /** The regional alarm topic (Monitoring stack). */
  readonly alarmTopic: sns.ITopic;
  /** Where the backup repository replicates to (BackupReplica stack). @default - no replica */
  readonly backupReplica?: BackupReplicaStack;
}

/**
 * The seed's Compute stack: the Graviton data host (Go API, PostgreSQL, Redis) on its retained
 * data volume, with an Elastic IP, and the bucket its API releases come from.
 */
export class ComputeStack extends Stack {
  public readonly host: GravitonDataHost;
  public readonly releaseBucket: s3.Bucket;
  public readonly backups: ResticBackups;

  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.releaseBucket = createReleaseBucket(this);

    const ami = String(this.node.tryGetContext(AMI_CONTEXT_KEY) ?? 'bootstrap');
    if (ami !== 'bootstrap' && ami !== 'packer') {
      throw new Error(`Context ${AMI_CONTEXT_KEY} is "${ami}": use "bootstrap" (stock Amazon Linux 2023, before any AMI build) or "packer" (the AMI in ${config.ssmPrefix}/ami-id).`);
    }
    this.host = new GravitonDataHost(this, 'Host', {
      serviceName: 'zmanim',
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      availabilityZone: config.availabilityZone,
      instanceType: new ec2.InstanceType(config.instanceType),
      amiParameterName: ami === 'packer' ? `${config.ssmPrefix}/ami-id` : undefined,
      dataVolumeSize: Size.gibibytes(config.dataVolumeSize),
      secretsParameterPath: config.ssmPrefix,
      apiSecretNames: [...OPERATOR_SECRETS, 'jwt-secret', 'origin-verify-key'],
      // Read at boot for the backups (ResticBackups), never given to the API.
      additionalSecretNames: ['restic-password'],
      releaseBucket: this.releaseBucket,
      releaseKey: API_RELEASE_KEY,
      allowedOrigins: [`https://${config.domain}`],
      apiEnvironment: { ENVIRONMENT: config.environment },
      alarmTopic: props.alarmTopic,
    });

    // Backups (README, ResticBackups): the application tables hourly (RPO 1 h), the whole
    // database daily, since the geo reference data (schema geo) is large and changes rarely.
    // In this stack: the grants go to the host's role and the files into its boot.
    const retention = { daily: 7, weekly: 4, monthly: 3 };
    // The replica's bucket is named, not referenced: it is in another region (no cross-region export).
    const replica = props.backupReplica;
    const replicaBucket = replica
      ? s3.Bucket.fromBucketAttributes(this, 'BackupReplicaBucket', { bucketName: replica.bucketName, region: replica.region })
      : undefined;
    this.backups = new ResticBackups(this, 'Backups', {
      replicationDestination: replicaBucket,
      host: this.host,
      passwordParameterName: `${config.ssmPrefix}/restic-password`,
      backupSetName: `zmanim-${config.environment}`,
      alarmTopic: props.alarmTopic,
      // On the data volume: the daily dump's pieces (about the size of a plain dump) stay
      // between backups, and a restore unpacks them beside the database it rebuilds.
      spoolDirectory: '/data/restic-backups',
      sources: [
        { name: 'app', interval: Duration.hours(1), retention: { hourly: 24, ...retention }, postgres: { database: 'zmanim', excludeSchemas: ['geo'] } },
        // Pieces: the geo corrections touch rows spread over the largest tables (bench/backup).
        { name: 'database', interval: Duration.days(1), retention, pieceSize: Size.kibibytes(64), postgres: { database: 'zmanim', verifyQuery: 'SELECT count(*) > 0 FROM geo.localities' } },
      ],
    });

    // Other stacks read the host's id and address from SSM, not exports (HostReference).
    HostReference.publish(this, this.host, config.ssmPrefix);

    new CfnOutput(this, 'InstanceId', { value: this.host.instanceId, description: 'The data host (aws ssm start-session --target ...)' });
    new CfnOutput(this, 'ElasticIp', { value: this.host.publicIp, description: 'Stable egress address of the host (no inbound rule)' });
    new CfnOutput(this, 'DataVolumeId', { value: this.host.dataVolume.volumeId, description: '/data (retained; daily snapshots)' });
    new CfnOutput(this, 'ReleaseBucketName', { value: this.releaseBucket.bucketName, description: `Upload the API to s3://<this>/${API_RELEASE_KEY}` });
    new CfnOutput(this, 'DeployApiCommand', {
      value: `${this.host.deployApiCommand.cliCommand(config.region)} --comment "deploy zmanim-api"`,
      description: 'Deploys the API release now in the release bucket (README, GravitonDataHost)',
    });
    // For deploy roles and the workflows: the parameterless documents (HostCommand.grantRun).
    new CfnOutput(this, 'DeployApiDocumentName', { value: this.host.deployApiCommand.documentName, description: 'SSM document that deploys the API release (no parameters)' });
    new CfnOutput(this, 'RefreshApiDocumentName', { value: this.host.refreshApiCommand.documentName, description: 'SSM document that re-reads the secrets and restarts the API (no parameters)' });
    // For people and scripts; shtetl-ops finds the same by the constructs' tags.
    new CfnOutput(this, 'SecretsParameterPath', { value: config.ssmPrefix, description: 'SSM path of the secrets' });
    for (const [name, group] of Object.entries(this.host.logGroups)) {
      new CfnOutput(this, `${name.charAt(0).toUpperCase()}${name.slice(1)}LogGroupName`, { value: group.logGroupName, description: `Log group of ${name}` });
    }
    new CfnOutput(this, 'BackupBucketName', { value: this.backups.bucket.bucketName, description: `restic repository ${this.backups.repository}` });
    if (replica && replicaBucket) {
      new CfnOutput(this, 'BackupReplicaBucketName', { value: replicaBucket.bucketName, description: `Replica of the backup bucket (restic -r s3:https://s3.${replica.region}.amazonaws.com/<this>/restic --no-lock ...)` });
      new CfnOutput(this, 'BackupReplicaRegion', { value: replica.region, description: 'Region of the backup replica' });
    }
  }
}

/**
 * The bucket the API releases come from (versioned, with its access log bucket), created in
 * `scope`: the single host's Compute stack and the managed profile's API fleet share it.
 */
export function createReleaseBucket(scope: Construct): s3.Bucket {
  const accessLogs = new s3.Bucket(scope, 'ReleaseAccessLogs', {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    lifecycleRules: [{ expiration: Duration.days(365) }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  suppressNag(accessLogs, [{
    id: 'AwsSolutions-S1',
    reason: 'This bucket receives the release bucket\'s server access logs; logging it into itself would loop',
  }]);
  // Versioned: an earlier API release can be restored by copying an old version back.
  return new s3.Bucket(scope, 'ReleaseBucket', {
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    versioned: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: 'release-bucket/',
    lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(180), noncurrentVersionsToRetain: 10 }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
}
