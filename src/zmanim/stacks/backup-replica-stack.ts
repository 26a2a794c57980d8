import { Aws, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { suppressNag } from '../../internal/nag';
import { ZmanimConfig } from '../config';

export interface BackupReplicaStackProps extends StackProps {
  readonly config: ZmanimConfig;
}

/**
 * The replica of the restic backup repository, in `config.backupReplicaRegion`: the Compute
 * stack's repository bucket replicates into it (ResticBackups `replicationDestination`), and
 * after a complete failure of the main region the database is restored from it (README,
 * ResticBackups, "Replica in a second region").
 */
export class BackupReplicaStack extends Stack {
  /**
   * The bucket's name, known before deployment (account, environment and replica region), so
   * the Compute stack in the main region can name it without a cross-region reference.
   */
  public static bucketNameFor(config: ZmanimConfig): string {
    return `zmanim-${config.environment}-backups-${config.account ?? Aws.ACCOUNT_ID}-${config.backupReplicaRegion}`;
  }

  public readonly bucket: s3.Bucket;
  /** The bucket's name: a plain string (no reference to this stack), usable in any region. */
  public readonly bucketName: string;

  constructor(scope: Construct, id: string, props: BackupReplicaStackProps) {
    super(scope, id, props);
    const { config } = props;
    if (!config.backupReplicaRegion) {
      throw new Error('BackupReplicaStack: config.backupReplicaRegion is "" (no replica); do not create this stack then.');
    }
    this.bucketName = BackupReplicaStack.bucketNameFor(config);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: this.bucketName,
      // Replication needs versioning on both sides.
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{
        id: 'noncurrent-versions-and-incomplete-uploads',
        // Replicas never turn noncurrent by replication (restic never overwrites, delete markers
        // are not replicated): only an operator's delete here does, and it stays recoverable this long.
        noncurrentVersionExpiration: Duration.days(90),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    suppressNag(this.bucket, [{
      id: 'AwsSolutions-S1',
      reason: 'Only S3 replication writes this private, TLS-only bucket and only a disaster recovery reads it; CloudTrail records its API calls',
    }]);
  }
}
