import { Arn, Aws, Duration, Names, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import { renderHostInstall } from './host-install';
import { noDefaultSchedule, scheduleFor } from './source-config';
import { ResticBackupSource } from './sources';
import { validateProps } from './validation';
import { notifyAlarmAndOk } from '../../internal/alarms';
import { suppressNag } from '../../internal/nag';
import { ValidationError } from '../../internal/validation-error';
import { IManagedHost } from '../managed-host';
import { OPS_TAGS } from '../ops-tags';

/** Properties of {@link ResticBackups}. */
export interface ResticBackupsProps {
  /** The host whose sources are backed up: it gets the scripts, units, timers and grants. */
  readonly host: IManagedHost;

  /**
   * SSM SecureString parameter holding the repository password (e.g.
   * `/<service>/<env>/restic-password`). The host reads it with `aws ssm get-parameter` each time
   * restic runs; the value is never in the template or on disk.
   */
  readonly passwordParameterName: string;

  /** KMS key of the password parameter when it is not the account's `aws/ssm` key. @default - aws/ssm */
  readonly passwordParameterKey?: kms.IKey;

  /** What to back up. At least one. */
  readonly sources: ResticBackupSource[];

  /** Where alarms (backup age, failures, restore drill) notify. @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Name of this backup set: the `BackupSet` dimension of every metric.
   * @default - a name unique to this construct
   */
  readonly backupSetName?: string;

  /** CloudWatch namespace of the metrics. @default 'ResticBackups' */
  readonly metricsNamespace?: string;

  /** Key prefix of the repository in the bucket. @default 'restic' */
  readonly repositoryPrefix?: string;

  /** Encrypt the bucket with this key instead of S3-managed keys. @default - SSE-S3 */
  readonly encryptionKey?: kms.IKey;

  /**
   * How long S3 keeps object versions that restic replaced or deleted: the window in which
   * a repository damaged from the host (deleted or overwritten objects) can be recovered.
   * @default Duration.days(30)
   */
  readonly noncurrentVersionRetention?: Duration;

  /**
   * Enables S3 Object Lock (governance mode) with this default retention: no version can be
   * deleted before it ends, by anyone without `s3:BypassGovernanceRetention`. Only at bucket
   * creation. Locked versions are still billed after restic prunes them.
   * @default - no Object Lock
   */
  readonly objectLockRetention?: Duration;

  /** Bucket for S3 server access logs of the repository bucket. @default - none (CloudTrail data events are the audit trail) */
  readonly serverAccessLogsBucket?: s3.IBucket;

  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;

  /** When `forget --prune` applies every source's retention (systemd OnCalendar). @default '*-*-* 04:10:00' */
  readonly pruneSchedule?: string;

  /** When `restic check` runs (systemd OnCalendar). @default '*-*-* 05:10:00' */
  readonly checkSchedule?: string;

  /** Each check reads 1/N of the data, rotating daily, so all of it is read every N days. @default 7 */
  readonly checkDataSubsets?: number;

  /**
   * When the restore drill runs (systemd OnCalendar); it needs a PostgreSQL source of a whole
   * database. Empty string: no drill.
   * @default 'Sun *-*-* 05:40:00' (weekly)
   */
  readonly drillSchedule?: string;

  /**
   * The drill-age alarm fires when the last successful drill is older than this (the daily
   * check publishes the age), so a drill that stopped running or keeps failing is noticed.
   * Set it a little above the interval of `drillSchedule`.
   * @default Duration.hours(180) - a weekly drill plus half a day
   */
  readonly drillMaxAge?: Duration;

  /**
   * Where sources with `pieceSize` keep their pieces between backups (one folder per source,
   * as large as its plain dump) and where restores unpack them: put it on a volume with room
   * for twice the largest such dump. Only root can read it.
   * @default '/var/lib/restic-backups'
   */
  readonly spoolDirectory?: string;

  /** OS user that runs pg_dump and psql (peer authentication). @default 'postgres' */
  readonly postgresOsUser?: string;

  /** PostgreSQL's Unix socket directory. @default '/run/postgresql' */
  readonly postgresSocketDirectory?: string;

  /** @default 5432 */
  readonly postgresPort?: number;

  /**
   * Replicate the repository bucket to this bucket (S3 Replication, normally to a bucket in
   * another region, for a complete region failure). The destination must be versioned.
   * Every object is replicated, but delete markers are not: an object that restic deletes
   * (prune, forget, its own locks) stays current in the replica, so nothing done from the
   * host can remove the replica's history; the replica grows by everything ever written.
   * Restore from it with `--no-lock` (its stale lock files stay too).
   * @default - no replication
   */
  readonly replicationDestination?: s3.IBucket;

  /**
   * KMS key of the destination bucket, which S3 encrypts the replicas with. Required when the
   * repository bucket uses `encryptionKey` (SSE-KMS objects replicate only with a destination key).
   * @default - the destination bucket's default encryption (SSE-S3)
   */
  readonly replicationDestinationKey?: kms.IKey;

  /**
   * Storage class of the replicas.
   * @default - the storage class of the source objects (S3 Standard)
   */
  readonly replicationStorageClass?: s3.StorageClass;
}

/**
 * Scheduled, encrypted, verified restic backups of a host's data to a versioned S3 bucket,
 * with retention, integrity checks, a restore command and a weekly restore drill.
 *
 * The host gets `/usr/local/sbin/restic-backups` (backup, forget, check, restore, drill; a
 * python3 program whose modules are in `/usr/local/lib/restic-backups/`),
 * one systemd timer per source and timers for prune, check and drill. Each source is a
 * PostgreSQL dump (plain SQL, uncompressed, so restic deduplicates unchanged data and
 * compresses the rest), a command or paths. A source command that fails never leaves a
 * snapshot. Successful backups publish metrics; alarms fire when a source's newest backup
 * is older than twice its interval, on any failure, and when a drill fails.
 *
 * @example
 * new ResticBackups(this, 'Backups', {
 *   host,
 *   passwordParameterName: '/kehilla/prod/restic-password',
 *   sources: [{ name: 'database', interval: Duration.days(1), postgres: { database: 'kehilla' } }],
 *   alarmTopic,
 * });
 */
export class ResticBackups extends Construct {
  /**
   * The systemd `OnCalendar` expression a source with this interval runs on when it has no
   * `schedule`: every N minutes (N divides an hour), hourly at :05, every N hours at :05 (N
   * divides a day), or daily at 02:30. Throws for other intervals.
   */
  public static defaultSchedule(interval: Duration): string {
    const schedule = scheduleFor(interval);
    if (schedule === undefined) throw new ValidationError('ResticBackups', undefined, noDefaultSchedule(interval));
    return schedule;
  }

  /** The repository bucket. */
  public readonly bucket: s3.Bucket;
  /** `s3:https://.../bucket/prefix`, for restic's `-r`. */
  public readonly repository: string;
  /** The `BackupSet` metric dimension. */
  public readonly backupSetName: string;
  /** CloudWatch namespace of the metrics. */
  public readonly metricsNamespace: string;
  /** One alarm per source: no successful backup for twice its interval. */
  public readonly backupAgeAlarms: cloudwatch.Alarm[] = [];
  /** Any failed backup, forget, check or drill. */
  public readonly failureAlarm: cloudwatch.Alarm;
  /** A restore drill that did not verify (undefined without a drill). */
  public readonly drillAlarm?: cloudwatch.Alarm;
  /** No successful drill for `drillMaxAge`, as the daily check reports it (undefined without a drill). */
  public readonly drillAgeAlarm?: cloudwatch.Alarm;
  /** The role S3 replicates the repository with (undefined without `replicationDestination`). */
  public readonly replicationRole?: iam.Role;

  private readonly prefix: string;
  private readonly passwordParameterArn: string;
  private readonly passwordParameterKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: ResticBackupsProps) {
    super(scope, id);
    const drill = validateProps(this, props);
    Tags.of(this).add('shtetl:service', props.host.serviceName);
    this.prefix = props.repositoryPrefix ?? 'restic';
    this.backupSetName = props.backupSetName ?? Names.uniqueResourceName(this, { maxLength: 64 });
    this.metricsNamespace = props.metricsNamespace ?? 'ResticBackups';
    this.passwordParameterKey = props.passwordParameterKey;
    const stack = Stack.of(this);
    this.passwordParameterArn = Arn.format({ service: 'ssm', resource: 'parameter', resourceName: props.passwordParameterName.replace(/^\//, '') }, stack);

    const destination = props.replicationDestination;
    if (destination) {
      // Our own role: the role Bucket creates is named "CDKReplicationRole" unless an app sets
      // a feature flag, and two such buckets in one account would collide.
      this.replicationRole = new iam.Role(this, 'ReplicationRole', {
        assumedBy: new iam.ServicePrincipal('s3.amazonaws.com'),
        description: `S3 replication of the restic repository ${this.node.path}`,
      });
    }

    this.bucket = new s3.Bucket(this, 'Bucket', {
      replicationRole: this.replicationRole,
      replicationRules: destination ? [{
        id: 'restic-repository-replica',
        destination,
        kmsKey: props.replicationDestinationKey,
        sseKmsEncryptedObjects: props.encryptionKey ? true : undefined,
        storageClass: props.replicationStorageClass,
        // Off on purpose: a prune (or an attacker with the host's role) deleting objects in
        // the repository must not delete them from the replica.
        deleteMarkerReplication: false,
      }] : undefined,
      encryption: props.encryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: props.encryptionKey ? true : undefined,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      objectLockEnabled: props.objectLockRetention ? true : undefined,
      objectLockDefaultRetention: props.objectLockRetention ? s3.ObjectLockRetention.governance(props.objectLockRetention) : undefined,
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      serverAccessLogsPrefix: props.serverAccessLogsBucket ? `${this.backupSetName}/` : undefined,
      lifecycleRules: [{
        id: 'noncurrent-versions-and-incomplete-uploads',
        noncurrentVersionExpiration: props.noncurrentVersionRetention ?? Duration.days(30),
        expiredObjectDeleteMarker: true,
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // shtetl-ops finds the repository (and its replica, from the replication rule) by this tag.
    Tags.of(this.bucket).add(OPS_TAGS.backups, this.prefix);
    if (!props.serverAccessLogsBucket) {
      suppressNag(this.bucket, [{
        id: 'AwsSolutions-S1',
        reason: 'Server access logs are opt-in (serverAccessLogsBucket): only the backup host and operators reach this private, TLS-only bucket, and CloudTrail records its API calls',
      }]);
    }
    if (destination && this.replicationRole) {
      this.bucket.grantReplicationPermission(this.replicationRole, {
        sourceDecryptionKey: props.encryptionKey,
        destinations: [{ bucket: destination, encryptionKey: props.replicationDestinationKey }],
      });
      const policy = this.replicationRole.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
      if (policy) {
        const keyActions = props.encryptionKey || props.replicationDestinationKey ? ['Action::kms:GenerateDataKey*', 'Action::kms:ReEncrypt*'] : [];
        suppressNag(policy, [{
          id: 'AwsSolutions-IAM5',
          reason: 'S3 replication reads every object version of the repository bucket and writes replicas of them to the destination: the object wildcards are those two buckets, and the KMS actions are limited to their keys',
          appliesTo: [nagResource(this, this.bucket.arnForObjects('*')), nagResource(this, destination.arnForObjects('*')), ...keyActions],
        }]);
      }
    }
    this.repository = `s3:https://s3.${stack.region}.${Aws.URL_SUFFIX}/${this.bucket.bucketName}/${this.prefix}`;

    // The host writes backups, applies retention (prune) and restores.
    this.grantBackup(props.host);
    this.grantPrune(props.host);
    this.grantRestore(props.host);
    // Metrics: PutMetricData has no resource ARN; the condition pins the namespace.
    this.grant(props.host, 'Metrics', [new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': this.metricsNamespace } },
    })], false);

    const install = renderHostInstall(props, {
      repository: this.repository,
      region: stack.region,
      backupSetName: this.backupSetName,
      metricsNamespace: this.metricsNamespace,
      drillSchedule: drill,
    });
    props.host.addFiles(...install.files);
    props.host.addBootCommands(...install.bootCommands);

    const notify = (alarm: cloudwatch.Alarm) => {
      notifyAlarmAndOk(props.alarmTopic, alarm);
      return alarm;
    };
    for (const source of props.sources) {
      const minutes = source.interval.toMinutes();
      // Hourly buckets (or the interval, when shorter), and the alarm looks back twice the
      // interval: missing data is breaching, so a dead host or timer also alarms.
      const periodMinutes = Math.min(minutes, 60);
      const periods = Math.ceil((2 * minutes) / periodMinutes);
      this.backupAgeAlarms.push(notify(new cloudwatch.Alarm(this, `BackupAge-${source.name}`, {
        alarmDescription: `${this.backupSetName}: no successful backup of source "${source.name}" for ${2 * minutes} minutes (twice its interval). See the README runbook (ResticBackups).`,
        metric: this.metricBackupSuccess(source.name, { period: Duration.minutes(periodMinutes) }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      })));
    }
    this.failureAlarm = notify(new cloudwatch.Alarm(this, 'Failures', {
      alarmDescription: `${this.backupSetName}: a backup, forget, check or restore drill failed (journalctl -u 'restic-backups*' on the host).`,
      metric: this.metricFailures(),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
    if (drill) {
      this.drillAlarm = notify(new cloudwatch.Alarm(this, 'DrillFailed', {
        alarmDescription: `${this.backupSetName}: the restore drill did not restore and verify the latest backup (journalctl -u restic-backups-drill).`,
        metric: this.metricDrillSuccess(),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }));
      const maxAge = props.drillMaxAge ?? Duration.hours(180);
      this.drillAgeAlarm = notify(new cloudwatch.Alarm(this, 'DrillAge', {
        alarmDescription: `${this.backupSetName}: no successful restore drill for more than ${maxAge.toHumanString()} (systemctl list-timers restic-backups-drill; journalctl -u restic-backups-drill).`,
        metric: this.metricDrillAge(),
        threshold: maxAge.toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // The daily check publishes the age; a check that fails raises the Failures alarm.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }));
    }
  }

  /**
   * Lets the grantee create snapshots: read the repository, write new objects, and delete
   * lock files (every restic run deletes its own lock). Nothing else can be deleted.
   */
  public grantBackup(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, 'Backup', [
      this.statement(['s3:ListBucket', 's3:GetBucketLocation'], [this.bucket.bucketArn]),
      this.statement(['s3:GetObject', 's3:PutObject'], [this.objects('*')]),
      this.statement(['s3:DeleteObject'], [this.objects('locks/*')]),
    ], true);
  }

  /**
   * Lets the grantee apply retention: `forget` deletes snapshot files, `prune` deletes and
   * rewrites index and pack files. With versioning, a delete only hides the object: the
   * grantee cannot delete versions, so S3 keeps them for `noncurrentVersionRetention`.
   */
  public grantPrune(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, 'Prune', [
      this.statement(['s3:DeleteObject'], ['snapshots/*', 'index/*', 'data/*'].map((p) => this.objects(p))),
    ], false);
  }

  /** Lets the grantee list and restore snapshots (reading, and its own lock files). */
  public grantRestore(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, 'Restore', [
      this.statement(['s3:ListBucket', 's3:GetBucketLocation'], [this.bucket.bucketArn]),
      this.statement(['s3:GetObject'], [this.objects('*')]),
      this.statement(['s3:PutObject', 's3:DeleteObject'], [this.objects('locks/*')]),
    ], true);
  }

  /** Successful backups of one source (Sum per period; 0 or missing means none). */
  public metricBackupSuccess(sourceName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('BackupSuccess', { Source: sourceName }, { statistic: 'Sum', ...props });
  }

  /** Seconds each backup of one source took. */
  public metricBackupDuration(sourceName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('BackupDuration', { Source: sourceName }, { statistic: 'Maximum', ...props });
  }

  /** Bytes each backup of one source added to the repository (after deduplication and compression). */
  public metricBackupAddedBytes(sourceName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('BackupAddedBytes', { Source: sourceName }, { statistic: 'Sum', ...props });
  }

  /** Failed operations of any kind (backup, forget, check, drill). */
  public metricFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Failure', {}, { statistic: 'Sum', ...props });
  }

  /** Restore drill results: 1 verified, 0 failed. */
  public metricDrillSuccess(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DrillSuccess', {}, { statistic: 'Minimum', period: Duration.hours(1), ...props });
  }

  /** Seconds since the last successful restore drill, published by the daily check. */
  public metricDrillAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DrillAge', {}, { statistic: 'Maximum', period: Duration.days(1), ...props });
  }

  /** Seconds the restore drill took to restore and verify (the measured RTO of the database). */
  public metricDrillDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DrillDuration', {}, { statistic: 'Maximum', period: Duration.days(1), ...props });
  }

  private metric(name: string, dims: { [k: string]: string }, props: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName: name,
      dimensionsMap: { BackupSet: this.backupSetName, ...dims },
      period: Duration.minutes(5),
      ...props,
    });
  }

  private objects(pattern: string): string {
    return this.bucket.arnForObjects(`${this.prefix}/${pattern}`);
  }

  private statement(actions: string[], resources: string[]): iam.PolicyStatement {
    return new iam.PolicyStatement({ actions, resources });
  }

  /**
   * Adds the statements to a policy of this construct attached to the grantee's role (so the
   * cdk-nag reasons sit next to the statements), or to the principal's own policy otherwise.
   */
  private grant(grantee: iam.IGrantable, name: string, statements: iam.PolicyStatement[], password: boolean): iam.Grant {
    if (password) {
      statements.push(this.statement(['ssm:GetParameter'], [this.passwordParameterArn]));
      this.passwordParameterKey?.grantDecrypt(grantee);
    }
    if (this.bucket.encryptionKey) {
      if (name === 'Restore') this.bucket.encryptionKey.grantDecrypt(grantee);
      else if (name === 'Backup') this.bucket.encryptionKey.grantEncryptDecrypt(grantee);
    }
    const principal = grantee.grantPrincipal;
    const id = `${name}Policy${Names.nodeUniqueId((grantee as unknown as IConstruct).node ?? this.node).slice(-8)}`;
    if (iam.Role.isRole(principal) || isImportedRole(principal)) {
      const policy = new iam.Policy(this, id, { statements });
      policy.attachToRole(principal as unknown as iam.IRole);
      suppressNag(policy, [{
        id: 'AwsSolutions-IAM5',
        reason: 'restic names its objects by content hash under fixed folders of the repository prefix; the wildcard is limited to that prefix (and to locks/, snapshots/, index/, data/ for deletes). cloudwatch:PutMetricData has no resource type; it is limited to the namespace by condition',
        appliesTo: [...new Set(statements.flatMap((s) => s.resources).filter((r) => r.includes('*')).map((r) => nagResource(this, r)))],
      }]);
      return iam.Grant.drop(grantee, `${name} on ${this.node.path}`);
    }
    statements.forEach((s) => principal.addToPrincipalPolicy(s));
    return iam.Grant.drop(grantee, `${name} on ${this.node.path}`);
  }
}

function isImportedRole(p: iam.IPrincipal): boolean {
  return typeof (p as Partial<iam.IRole>).roleName === 'string' && typeof (p as Partial<iam.IRole>).attachInlinePolicy === 'function';
}

/** The resource as cdk-nag prints it in `appliesTo` (`Resource::<Logical.Arn>/restic/*`). */
function nagResource(scope: Construct, arn: string): string {
  const resolved = Stack.of(scope).resolve(arn) as unknown;
  const parts = (resolved as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join']?.[1] ?? [resolved];
  return 'Resource::' + parts.map((p) => {
    if (typeof p === 'string') return p;
    const att = (p as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt'];
    const ref = (p as { Ref?: string }).Ref;
    return att ? `<${att.join('.')}>` : ref ? `<${ref}>` : JSON.stringify(p);
  }).join('');
}
