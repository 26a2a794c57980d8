/**
 * ResticBackups in a real account, on a GravitonDataHost (stock AL2023 arm64, the first boot
 * installs PostgreSQL, Redis and restic): restic against a real S3 bucket, the host's systemd
 * units, the restore drill and the metrics. Three sources of the three kinds: the whole
 * database as pieces (as the zmanim app keeps it), PostgreSQL's roles as a command, and a
 * directory as paths. Through SSM Run Command (integ/host-checks/*.sh) the test
 * - seeds 3 rows and a file, then backs up every source now (`systemctl start
 *   restic-backups@SOURCE`, what its timer runs);
 * - checks that the repository holds a snapshot per source;
 * - runs the restore drill (restores the database into a scratch database and verifies
 *   `SELECT count(*) = 3 FROM integ_backup_probe`);
 * and through CloudWatch that the success metrics arrived: BackupSuccess per source and
 * DrillSuccess are listed, and the construct's backup-age alarms (missing data is breaching)
 * and drill alarm are OK.
 *
 * The backup set name is the stack's id, unique to each deployment, so metrics of an earlier
 * run cannot satisfy the assertions. The repository bucket is emptied (every version) and
 * deleted with the stack.
 *
 * Run: `npx projen integ:deploy` (credentials for a bootstrapped test account).
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Aws, Duration, Fn, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { ResticBackups } from '../src';
import { hostSecrets, integHost, integHostProps, runCheck, throwawayVpc } from './support/data-host';

export const STACK_NAME = 'ShtetlResticBackupsInteg';

export function buildResticBackupsInteg(app: App): IntegTest {
  const stack = new Stack(app, STACK_NAME);
  const vpc = throwawayVpc(stack);
  const secretsPath = '/shtetl-integ/restic-backups';
  const secrets = hostSecrets(stack, secretsPath, ['restic-password']);
  const host = integHost(stack, integHostProps(vpc, secrets), secrets);

  const backups = new ResticBackups(stack, 'Backups', {
    host,
    passwordParameterName: `${secretsPath}/restic-password`,
    // The stack id's UUID: unique to this deployment.
    backupSetName: `integ-${Fn.select(2, Fn.split('/', Aws.STACK_ID))}`,
    metricsNamespace: 'ShtetlInteg/ResticBackups',
    spoolDirectory: '/data/restic-backups',
    removalPolicy: RemovalPolicy.DESTROY,
    noncurrentVersionRetention: Duration.days(1),
    sources: [
      {
        name: 'database',
        interval: Duration.days(1),
        pieceSize: Size.kibibytes(64),
        postgres: { database: 'integhost', verifyQuery: 'SELECT count(*) = 3 FROM integ_backup_probe' },
      },
      { name: 'roles', interval: Duration.hours(6), command: 'pg_dumpall --globals-only --no-role-passwords', commandUser: 'postgres' },
      { name: 'files', interval: Duration.hours(1), paths: ['/data/integ-files'] },
    ],
  });
  // ResticBackups has no autoDeleteObjects: empty the versioned bucket before CloudFormation
  // deletes it, and only once the host (which writes to it) is gone.
  backups.bucket.with(new s3.mixins.BucketAutoDeleteObjects());
  const autoDelete = backups.bucket.node.tryFindChild('AutoDeleteObjectsCustomResource');
  if (!autoDelete) throw new Error('BucketAutoDeleteObjects added no AutoDeleteObjectsCustomResource under the bucket; find its new id');
  autoDelete.node.addDependency(host.instance);

  const integ = new IntegTest(app, 'ResticBackupsTest', { testCases: [stack] });
  const a = integ.assertions;
  const sources = 'database roles files';

  const backupNow = runCheck(integ, host, 'backup-now.sh', { env: { DB_NAME: 'integhost', SOURCES: sources }, totalTimeout: Duration.minutes(20) });
  const snapshots = runCheck(integ, host, 'snapshots.sh', { env: { SOURCES: sources } });
  const drill = runCheck(integ, host, 'drill.sh', { totalTimeout: Duration.minutes(20) });
  backupNow.result.next(snapshots.send);
  snapshots.result.next(drill.send);

  const wait = { totalTimeout: Duration.minutes(20), interval: Duration.seconds(30) };
  const set = { Name: 'BackupSet', Value: backups.backupSetName };
  const metrics = [
    ...['database', 'roles', 'files'].map((source) => ({ name: 'BackupSuccess', dimensions: [set, { Name: 'Source', Value: source }] })),
    { name: 'DrillSuccess', dimensions: [set] },
  ];
  for (const metric of metrics) {
    const listed = a.awsApiCall('CloudWatch', 'listMetrics', {
      Namespace: backups.metricsNamespace, MetricName: metric.name, Dimensions: metric.dimensions, RecentlyActive: 'PT3H',
    }).expect(ExpectedResult.objectLike({ Metrics: Match.arrayWith([Match.objectLike({ MetricName: metric.name })]) }))
      .waitForAssertions(wait);
    drill.result.next(listed);
  }
  for (const alarm of [...backups.backupAgeAlarms, backups.drillAlarm!]) {
    const ok = a.awsApiCall('CloudWatch', 'describeAlarms', { AlarmNames: [alarm.alarmName] })
      .expect(ExpectedResult.objectLike({ MetricAlarms: [Match.objectLike({ StateValue: 'OK' })] }))
      .waitForAssertions(wait);
    drill.result.next(ok);
  }
  return integ;
}

if (require.main === module) {
  buildResticBackupsInteg(new App());
}
