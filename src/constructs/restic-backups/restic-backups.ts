import { readFileSync } from 'fs';
import { join } from 'path';
import { Arn, Aws, Duration, Names, RemovalPolicy, Size, SizeRoundingBehavior, Stack, Tags, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import { suppressNag } from '../../internal/nag';
import { HostFile, IManagedHost } from '../managed-host';
import { OPS_TAGS } from '../ops-tags';

/** The host script; read at synth time (the build copies host/ beside the compiled module). */
const SCRIPT_PATH = join(__dirname, 'host', 'restic-backups');
const PIECES_PATH = join(__dirname, 'host', 'restic-backups-pieces');
const INSTALL_PATH = '/usr/local/sbin/restic-backups';
/** The script finds the pieces tool beside itself. */
const PIECES_INSTALL_PATH = '/usr/local/sbin/restic-backups-pieces';
const MIN_PIECE = Size.kibibytes(4);
const MAX_PIECE = Size.mebibytes(1);
const CONFIG_DIR = '/etc/restic-backups';
const UNIT_DIR = '/etc/systemd/system';
const NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_.$*-]*$/;

/** How many snapshots of a source `restic forget` keeps (each bucket: the newest per period). */
export interface ResticRetention {
  /** @default - none */
  readonly last?: number;
  /** @default - none */
  readonly hourly?: number;
  /** @default 7 */
  readonly daily?: number;
  /** @default 4 */
  readonly weekly?: number;
  /** @default 3 */
  readonly monthly?: number;
  /** @default - none */
  readonly yearly?: number;
}

/** A PostgreSQL database (or part of one) dumped with `pg_dump` as plain, uncompressed SQL. */
export interface PostgresDumpOptions {
  /** The database to dump. */
  readonly database: string;
  /**
   * Only these schemas (`pg_dump --schema`). A source with `schemas`, `excludeSchemas` or
   * `tables` is partial: a restore applies it on top of the database's full source.
   * @default - every schema
   */
  readonly schemas?: string[];
  /**
   * Every schema but these (`pg_dump --exclude-schema`).
   * @default - none excluded
   */
  readonly excludeSchemas?: string[];
  /**
   * Only these tables (`pg_dump --table`, patterns allowed).
   * @default - every table
   */
  readonly tables?: string[];
  /**
   * A query that must return `true` in a restored database before it is swapped in (and in
   * every restore drill), e.g. `SELECT count(*) > 1000000 FROM geo.localities`.
   * @default - the restore checks that the database has tables and loaded without error
   */
  readonly verifyQuery?: string;
}

/** One thing to back up, on its own schedule, with its own retention. */
export interface ResticBackupSource {
  /** Name of the source: lowercase letters, digits and dashes; the snapshot tag is `source:NAME`. */
  readonly name: string;

  /**
   * How often the source is backed up. The backup-age alarm fires when no backup succeeded
   * for twice this long. From 5 minutes to 3 days (CloudWatch evaluates at most 7 days).
   */
  readonly interval: Duration;

  /**
   * When the timer fires, as a systemd `OnCalendar` expression (host time, UTC on AWS).
   * @default - derived from `interval`: `*:00/15:00` for 15 minutes, `*:05:00` hourly,
   * `00/6:05:00` every 6 hours, `02:30:00` daily
   */
  readonly schedule?: string;

  /** @default - daily 7, weekly 4, monthly 3 */
  readonly retention?: ResticRetention;

  /** Dump a PostgreSQL database (exactly one of `postgres`, `command`, `paths`). */
  readonly postgres?: PostgresDumpOptions;

  /**
   * A shell command (bash, pipefail) whose standard output is backed up. A non-zero exit
   * status means the backup failed, and no snapshot is kept.
   */
  readonly command?: string;

  /**
   * OS user that runs `command`.
   * @default root
   */
  readonly commandUser?: string;

  /** Files or directories to back up (absolute paths). */
  readonly paths?: string[];

  /**
   * Keep the output of `postgres` or `command` on the host as pieces of about this size,
   * cut at line boundaries chosen by the lines' content, and back up that directory instead
   * of one stream. restic deduplicates in chunks of about 1 MiB, so a few rows changed here
   * and there in a large table make it upload most of the table again; with pieces each
   * changed line costs about one piece, and restic skips unchanged pieces without reading
   * them. The restore checks the whole stream's SHA-256 before loading it.
   *
   * Costs disk on the host: the source's plain output is kept in `spoolDirectory` between
   * backups, and a restore unpacks it there again. Worth it for a large dump that changes
   * sparsely (a database with reference data); a small one gains nothing.
   * From 4 KiB to 1 MiB.
   * @default - one stream, piped from the command to restic (nothing written to disk)
   */
  readonly pieceSize?: Size;
}

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
 * The host gets `/usr/local/sbin/restic-backups` (backup, forget, check, restore, drill),
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
    return scheduleFor(interval);
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
    const where = `ResticBackups ${this.node.path}`;
    validate(where, props);
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

    const drill = props.drillSchedule ?? 'Sun *-*-* 05:40:00';
    const fullDatabases = props.sources.filter((s) => s.postgres && isFull(s.postgres)).map((s) => s.postgres!.database);
    if (drill && fullDatabases.length !== 1) {
      throw new Error(`${where}: the restore drill needs exactly one source that dumps a whole PostgreSQL database, found ${fullDatabases.length} (a postgres source without schemas, excludeSchemas or tables); add one, or pass drillSchedule: '' to run no drill.`);
    }
    this.installOnHost(props, drill);

    const actions = props.alarmTopic ? [new cw_actions.SnsAction(props.alarmTopic)] : [];
    const notify = (alarm: cloudwatch.Alarm) => {
      actions.forEach((a) => { alarm.addAlarmAction(a); alarm.addOkAction(a); });
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

  private installOnHost(props: ResticBackupsProps, drill: string): void {
    const stack = Stack.of(this);
    const spool = props.spoolDirectory ?? '/var/lib/restic-backups';
    const files: HostFile[] = [];
    const env = (name: string, value: string, overridable = false) =>
      overridable ? `[[ -v ${name} ]] || ${name}=${shq(value)}` : `${name}=${shq(value)}`;
    // Tokens (bucket, region) make this file part of user data, so it stays small.
    files.push({
      path: `${CONFIG_DIR}/restic-backups.env`,
      mode: '0600',
      content: [
        '# Written by the ResticBackups construct. Variables set in the environment win.',
        env('RESTIC_REPOSITORY', this.repository),
        env('RESTIC_PASSWORD_COMMAND', `aws ssm get-parameter --region ${stack.region} --name ${props.passwordParameterName} --with-decryption --query Parameter.Value --output text`, true),
        env('RESTIC_BACKUPS_SET', this.backupSetName),
        env('RESTIC_BACKUPS_NAMESPACE', this.metricsNamespace),
        env('RESTIC_BACKUPS_PUT_METRIC_COMMAND', `aws cloudwatch put-metric-data --region ${stack.region}`, true),
        env('RESTIC_BACKUPS_CHECK_SUBSETS', String(props.checkDataSubsets ?? 7)),
        env('RESTIC_BACKUPS_PG_OS_USER', props.postgresOsUser ?? 'postgres'),
        env('RESTIC_BACKUPS_SPOOL_DIR', spool),
        env('RESTIC_BACKUPS_DRILL', drill ? '1' : '0'),
        env('AWS_REGION', stack.region),
        `PGHOST=${shq(props.postgresSocketDirectory ?? '/run/postgresql')} PGPORT=${props.postgresPort ?? 5432}`,
        'export AWS_REGION PGHOST PGPORT',
        '',
      ].join('\n'),
    });
    files.push({ path: INSTALL_PATH, mode: '0755', content: readFileSync(SCRIPT_PATH, 'utf8') });
    if (props.sources.some((s) => s.pieceSize)) {
      files.push({ path: PIECES_INSTALL_PATH, mode: '0755', content: readFileSync(PIECES_PATH, 'utf8') });
    }

    const timers: string[] = [];
    const unit = (description: string, exec: string, timeout: string) => [
      '[Unit]', `Description=${description} (ResticBackups)`, 'After=network-online.target', 'Wants=network-online.target', '',
      // Low priority: backups must not starve the API on a small host.
      '[Service]', 'Type=oneshot', `ExecStart=${exec}`, 'Nice=10', 'IOSchedulingClass=best-effort', 'IOSchedulingPriority=7',
      'CPUWeight=20', `TimeoutStartSec=${timeout}`, '',
    ].join('\n');
    const timer = (name: string, description: string, onCalendar: string, service: string) => {
      timers.push(`${name}.timer`);
      files.push({
        path: `${UNIT_DIR}/${name}.timer`,
        content: ['[Unit]', `Description=${description} (ResticBackups)`, '', '[Timer]', `OnCalendar=${onCalendar}`,
          'Persistent=true', 'RandomizedDelaySec=60', `Unit=${service}`, '', '[Install]', 'WantedBy=timers.target', ''].join('\n'),
      });
    };

    files.push({ path: `${UNIT_DIR}/restic-backups@.service`, content: unit('restic backup of source %i', `${INSTALL_PATH} backup %i`, '6h') });
    for (const source of props.sources) {
      files.push({ path: `${CONFIG_DIR}/sources/${source.name}.env`, mode: '0600', content: sourceConfig(source) });
      timer(`restic-backups-${source.name}`, `restic backup of source ${source.name}`, source.schedule ?? scheduleFor(source.interval), `restic-backups@${source.name}.service`);
    }
    for (const [name, description, onCalendar, timeout] of [
      ['forget', 'restic retention (forget and prune)', props.pruneSchedule ?? '*-*-* 04:10:00', '6h'],
      ['check', 'restic repository check', props.checkSchedule ?? '*-*-* 05:10:00', '6h'],
      ['drill', 'restic restore drill', drill, '3h'],
    ]) {
      if (!onCalendar) continue;
      files.push({ path: `${UNIT_DIR}/restic-backups-${name}.service`, content: unit(description, `${INSTALL_PATH} ${name}`, timeout) });
      timer(`restic-backups-${name}`, description, onCalendar, `restic-backups-${name}.service`);
    }
    props.host.addFiles(...files);

    const sources = props.sources.map((s) => `${s.name}.env`).join(' ');
    props.host.addBootCommands(
      // Sources no longer configured: their files and timers go (idempotent at every boot).
      `for f in ${CONFIG_DIR}/sources/*.env; do case " ${sources} " in *" $(basename "$f") "*) ;; *) rm -f "$f";; esac; done`,
      `for t in ${UNIT_DIR}/restic-backups-*.timer; do case " ${timers.join(' ')} " in *" $(basename "$t") "*) ;; *) systemctl disable --now "$(basename "$t")" || true; rm -f "$t";; esac; done`,
      'command -v restic >/dev/null || { echo "ResticBackups: restic is not installed on this host (install restic 0.14 or newer in the AMI)" >&2; exit 1; }',
      `install -d -m 0700 /var/cache/restic-backups ${shq(spool)}`,
      'systemctl daemon-reload',
      // Creates the repository on first boot; fails the boot on a wrong password.
      `${INSTALL_PATH} init`,
      `systemctl enable --now ${timers.join(' ')}`,
    );
  }
}

function isFull(p: PostgresDumpOptions): boolean {
  return !(p.schemas?.length || p.excludeSchemas?.length || p.tables?.length);
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

/** Bash single-quoting (token-safe: tokens are plain strings without quotes). */
function shq(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

function sourceConfig(source: ResticBackupSource): string {
  const r = source.retention ?? {};
  const lines = [`# Source ${source.name}, written by the ResticBackups construct.`];
  if (source.pieceSize) lines.push(`SOURCE_PIECE_SIZE=${source.pieceSize.toBytes()}`);
  if (source.postgres) {
    const p = source.postgres;
    const args = [
      ...(p.schemas ?? []).map((s) => `--schema=${s}`),
      ...(p.excludeSchemas ?? []).map((s) => `--exclude-schema=${s}`),
      ...(p.tables ?? []).map((t) => `--table=${t}`),
    ];
    // A partial dump replaces its objects when it is applied on top of the full restore.
    if (!isFull(p)) args.push('--clean', '--if-exists');
    lines.push('SOURCE_KIND=postgres', `SOURCE_DATABASE=${shq(p.database)}`, `SOURCE_PG_DUMP_ARGS=${shq(args.join(' '))}`,
      `SOURCE_PG_FULL=${isFull(p) ? 1 : 0}`, `SOURCE_FILENAME=${shq(`${source.name}.sql`)}`);
    if (p.verifyQuery) lines.push(`SOURCE_VERIFY_SQL=${shq(p.verifyQuery)}`);
  } else if (source.command) {
    lines.push('SOURCE_KIND=command', `SOURCE_COMMAND=${shq(source.command)}`, `SOURCE_FILENAME=${shq(source.name)}`);
    if (source.commandUser) lines.push(`SOURCE_USER=${shq(source.commandUser)}`);
  } else {
    lines.push('SOURCE_KIND=paths', `SOURCE_PATHS=${shq((source.paths ?? []).join(' '))}`);
  }
  const keep: Array<[string, number | undefined]> = [['LAST', r.last], ['HOURLY', r.hourly], ['DAILY', r.daily ?? 7],
    ['WEEKLY', r.weekly ?? 4], ['MONTHLY', r.monthly ?? 3], ['YEARLY', r.yearly]];
  for (const [k, v] of keep) if (v) lines.push(`KEEP_${k}=${v}`);
  return lines.join('\n') + '\n';
}

/** A systemd OnCalendar expression for an interval that divides a day evenly. */
function scheduleFor(interval: Duration): string {
  const m = interval.toMinutes();
  if (m < 60 && 60 % m === 0) return `*-*-* *:00/${m}:00`;
  if (m === 60) return '*-*-* *:05:00';
  if (m % 60 === 0 && m < 1440 && 1440 % m === 0) return `*-*-* 00/${m / 60}:05:00`;
  if (m === 1440) return '*-*-* 02:30:00';
  throw new Error(`no default schedule for an interval of ${m} minutes: pass schedule (a systemd OnCalendar expression)`);
}

function validate(where: string, props: ResticBackupsProps): void {
  const fail = (msg: string) => { throw new Error(`${where}: ${msg}`); };
  if (!Token.isUnresolved(props.passwordParameterName) && !/^\/[A-Za-z0-9_.\-/]+$/.test(props.passwordParameterName)) {
    fail(`passwordParameterName "${props.passwordParameterName}" must be an SSM parameter path such as "/<service>/<env>/restic-password".`);
  }
  if (props.sources.length === 0) fail('sources is empty: add at least one source (postgres, command or paths).');
  const seen = new Set<string>();
  for (const s of props.sources) {
    if (!NAME.test(s.name)) fail(`source name "${s.name}" must be 1-40 lowercase letters, digits and dashes, starting with a letter or digit (e.g. "database").`);
    if (['forget', 'check', 'drill'].includes(s.name)) fail(`source name "${s.name}" is reserved for a timer of its own; choose another.`);
    if (seen.has(s.name)) fail(`source name "${s.name}" is used twice; names must be unique.`);
    seen.add(s.name);
    const kinds = [s.postgres, s.command, s.paths].filter((k) => k !== undefined).length;
    if (kinds !== 1) fail(`source "${s.name}" needs exactly one of postgres, command or paths (got ${kinds}).`);
    if (s.paths && (s.paths.length === 0 || s.paths.some((p) => !p.startsWith('/') || /\s/.test(p)))) {
      fail(`source "${s.name}": paths ${JSON.stringify(s.paths)} must be absolute paths without spaces.`);
    }
    if (s.command !== undefined && s.command.trim() === '') fail(`source "${s.name}": command is empty.`);
    if (s.pieceSize) {
      if (s.paths) fail(`source "${s.name}": pieceSize applies to postgres and command sources; restic already reads paths file by file. Remove pieceSize.`);
      const bytes = s.pieceSize.toBytes({ rounding: SizeRoundingBehavior.NONE });
      if (bytes < MIN_PIECE.toBytes() || bytes > MAX_PIECE.toBytes()) {
        fail(`source "${s.name}": pieceSize ${s.pieceSize.toKibibytes({ rounding: SizeRoundingBehavior.NONE })} KiB must be from 4 KiB to 1024 KiB (restic chunks are 512 KiB to 8 MiB, so larger pieces gain nothing), e.g. Size.kibibytes(64).`);
      }
    }
    if (s.postgres) {
      for (const id of [s.postgres.database, ...(s.postgres.schemas ?? []), ...(s.postgres.excludeSchemas ?? []), ...(s.postgres.tables ?? [])]) {
        if (!IDENTIFIER.test(id)) fail(`source "${s.name}": "${id}" is not a plain PostgreSQL name or pattern (letters, digits, _ . $ * -).`);
      }
    }
    const minutes = s.interval.toMinutes({ integral: false });
    if (!Number.isInteger(minutes) || minutes < 5 || minutes > 3 * 1440) {
      fail(`source "${s.name}": interval ${s.interval.toHumanString()} must be whole minutes from 5 minutes to 3 days (its age alarm looks back twice the interval, and CloudWatch at most 7 days).`);
    }
    if (s.schedule === undefined) {
      try { scheduleFor(s.interval); } catch (e) { fail(`source "${s.name}": ${(e as Error).message}.`); }
    }
    const r = s.retention;
    if (r) {
      const values = [r.last, r.hourly, r.daily, r.weekly, r.monthly, r.yearly];
      if (values.some((v) => v !== undefined && (!Number.isInteger(v) || v < 0))) fail(`source "${s.name}": retention counts must be whole numbers >= 0 (got ${JSON.stringify(r)}).`);
      const effective = [r.last, r.hourly, r.daily ?? 7, r.weekly ?? 4, r.monthly ?? 3, r.yearly];
      if (!effective.some((v) => (v ?? 0) > 0)) fail(`source "${s.name}": retention ${JSON.stringify(r)} keeps nothing; keep at least one snapshot (e.g. daily: 7).`);
    }
  }
  const spool = props.spoolDirectory;
  if (spool !== undefined && !/^\/[A-Za-z0-9_.\-/]*[A-Za-z0-9_.-]$/.test(spool)) {
    fail(`spoolDirectory "${spool}" must be an absolute path of letters, digits, _ . - and / (e.g. "/data/restic-backups").`);
  }
  if (props.drillMaxAge) {
    if (props.drillSchedule === '') fail('drillMaxAge is set but drillSchedule is empty (no drill runs): leave drillMaxAge out, or schedule a drill.');
    if (props.drillMaxAge.toHours({ integral: false }) < 25) {
      fail(`drillMaxAge ${props.drillMaxAge.toHumanString()} must be at least 25 hours: the daily check publishes the drill's age once a day.`);
    }
  }
  const subsets = props.checkDataSubsets ?? 7;
  if (!Number.isInteger(subsets) || subsets < 1 || subsets > 365) fail(`checkDataSubsets ${subsets} must be a whole number from 1 (read all data at every check) to 365.`);
  const prefix = props.repositoryPrefix ?? 'restic';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*$/.test(prefix)) fail(`repositoryPrefix "${prefix}" must be a key prefix without leading or trailing slash (e.g. "restic").`);
  if (props.replicationDestinationKey && !props.replicationDestination) {
    fail('replicationDestinationKey is set without replicationDestination: pass the destination bucket too, or leave the key out.');
  }
  if (props.replicationStorageClass && !props.replicationDestination) {
    fail(`replicationStorageClass ${props.replicationStorageClass} is set without replicationDestination: pass the destination bucket too, or leave the storage class out.`);
  }
  if (props.replicationDestination && props.encryptionKey && !props.replicationDestinationKey) {
    fail('the repository bucket is encrypted with encryptionKey (SSE-KMS), and S3 replicates SSE-KMS objects only with a key for the replicas: pass replicationDestinationKey (a KMS key in the destination\'s region).');
  }
  if (props.replicationDestination && props.objectLockRetention) {
    fail('objectLockRetention and replicationDestination together are not supported (replicating locked objects needs Object Lock on the destination and extra permissions): choose one.');
  }
  const lock = props.objectLockRetention;
  if (lock && lock.toDays({ integral: false }) < 1) fail(`objectLockRetention ${lock.toHumanString()} must be at least 1 day.`);
}
