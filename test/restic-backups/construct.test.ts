import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Aspects, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ResticBackups, ResticBackupsProps } from '../../src/constructs/restic-backups';
import { RecordingHost } from '../support/recording-host';

const ZMANIM_SOURCES: ResticBackupsProps['sources'] = [
  { name: 'app', interval: Duration.hours(1), retention: { hourly: 24, daily: 7, weekly: 4, monthly: 3 }, postgres: { database: 'zmanim', excludeSchemas: ['geo'] } },
  { name: 'database', interval: Duration.days(1), pieceSize: Size.kibibytes(64), postgres: { database: 'zmanim', verifyQuery: 'SELECT count(*) > 0 FROM geo.localities' } },
];

function build(extra: Partial<ResticBackupsProps> = {}, nag = false) {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: '123456789012', region: 'eu-west-1' } });
  if (nag) Aspects.of(stack).add(new AwsSolutionsChecks({ verbose: true }));
  const host = new RecordingHost(stack, 'Host');
  const topic = new sns.Topic(stack, 'Alarms', { enforceSSL: true, masterKey: undefined });
  const backups = new ResticBackups(stack, 'Backups', {
    host, passwordParameterName: '/zmanim/prod/restic-password', sources: ZMANIM_SOURCES, alarmTopic: topic, backupSetName: 'zmanim-prod', ...extra,
  });
  return { app, stack, host, backups, template: Template.fromStack(stack) };
}

describe('the repository bucket', () => {
  const { template } = build();

  test('is encrypted, versioned, private, TLS-only, retained, with lifecycle rules', () => {
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        VersioningConfiguration: { Status: 'Enabled' },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LifecycleConfiguration: {
          Rules: [Match.objectLike({
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            ExpiredObjectDeleteMarker: true,
            Status: 'Enabled',
          })],
        },
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('Object Lock, a KMS key and removal policy are options', () => {
    const app = new App();
    const stack = new Stack(app, 'Kms', { env: { account: '123456789012', region: 'eu-west-1' } });
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new ResticBackups(stack, 'Backups', {
      host: new RecordingHost(stack, 'Host'),
      passwordParameterName: '/p/restic-password',
      sources: ZMANIM_SOURCES,
      objectLockRetention: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
      encryptionKey: key,
    });
    const t = Template.fromStack(stack);
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Delete',
      Properties: {
        ObjectLockEnabled: true,
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 14 } } },
        BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }) })] },
      },
    });
    // The host may use the key for the bucket's objects.
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['kms:Decrypt']) })]) },
    });
  });
});

describe('grants', () => {
  const { template, stack } = build();
  const statements = (): Array<{ Action: string | string[]; Resource: unknown; Effect: string }> => {
    const policies = template.findResources('AWS::IAM::Policy');
    return Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
  };
  const actionsOn = (fragment: string) => statements()
    .filter((s) => JSON.stringify(stack.resolve(s.Resource)).includes(fragment))
    .flatMap((s) => ([] as string[]).concat(s.Action));

  test('the host may delete only locks, snapshots, index and data objects, never versions or keys', () => {
    const all = statements().flatMap((s) => ([] as string[]).concat(s.Action));
    expect(all).not.toContain('s3:DeleteObjectVersion');
    expect(all).not.toContain('s3:PutBucketVersioning');
    expect(all).not.toContain('s3:PutLifecycleConfiguration');
    expect(all.filter((a) => a.includes('*'))).toEqual([]);
    const deletes = statements().filter((s) => ([] as string[]).concat(s.Action).includes('s3:DeleteObject'));
    const deleteTargets = JSON.stringify(deletes.map((s) => s.Resource));
    for (const folder of ['locks/*', 'snapshots/*', 'index/*', 'data/*']) expect(deleteTargets).toContain(`/restic/${folder}`);
    expect(deleteTargets).not.toContain('keys');
    expect(deleteTargets).not.toMatch(/"\/restic\/\*"/);
    expect(actionsOn('/restic/*')).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject']));
  });

  test('the host may read exactly the password parameter', () => {
    const ssm = statements().filter((s) => ([] as string[]).concat(s.Action).includes('ssm:GetParameter'));
    expect(ssm.length).toBeGreaterThan(0);
    for (const s of ssm) {
      expect(JSON.stringify(s.Resource)).toContain(':parameter/zmanim/prod/restic-password');
    }
  });

  test('the host may publish metrics to its namespace only', () => {
    const put = statements().filter((s) => ([] as string[]).concat(s.Action).includes('cloudwatch:PutMetricData'));
    expect(put).toEqual([expect.objectContaining({ Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'ResticBackups' } } })]);
  });

  test('every policy is attached to the host role', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as any[];
    expect(policies.length).toBeGreaterThan(0);
    for (const p of policies) expect(JSON.stringify(p.Properties.Roles)).toContain('HostRole');
  });
});

describe('alarms', () => {
  const { template } = build();

  test('backup age per source: twice the interval, missing data breaching, to the topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'BackupSuccess',
      Namespace: 'ResticBackups',
      Statistic: 'Sum',
      Period: 3600,
      Dimensions: Match.arrayWith([{ Name: 'BackupSet', Value: 'zmanim-prod' }, { Name: 'Source', Value: 'app' }]),
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('Alarms') }],
      OKActions: [{ Ref: Match.stringLikeRegexp('Alarms') }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'BackupSuccess',
      Period: 3600,
      EvaluationPeriods: 48,
      DatapointsToAlarm: 48,
      TreatMissingData: 'breaching',
      Dimensions: Match.arrayWith([{ Name: 'Source', Value: 'database' }]),
    });
  });

  test('any failure and a failed drill alarm', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Failure',
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      Dimensions: [{ Name: 'BackupSet', Value: 'zmanim-prod' }],
      AlarmActions: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DrillSuccess', Statistic: 'Minimum', Threshold: 1, ComparisonOperator: 'LessThanThreshold', AlarmActions: Match.anyValue(),
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 5);
  });

  test('a drill that stopped running alarms on its age, published daily', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'DrillAge',
      Statistic: 'Maximum',
      Period: 86400,
      Threshold: 180 * 3600,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      AlarmActions: Match.anyValue(),
      OKActions: Match.anyValue(),
    });
    const { template: custom, host } = build({ drillSchedule: '*-*-01 05:40:00', drillMaxAge: Duration.days(32) });
    custom.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'DrillAge', Threshold: 32 * 86400 });
    expect(host.file('/etc/restic-backups/restic-backups.env')).toContain("RESTIC_BACKUPS_DRILL='1'");
    const none = build({ drillSchedule: '' });
    expect(none.backups.drillAgeAlarm).toBeUndefined();
    expect(none.host.file('/etc/restic-backups/restic-backups.env')).toContain("RESTIC_BACKUPS_DRILL='0'");
  });
});

describe('what the host gets', () => {
  const { host, stack } = build();

  test('the script, the config without any secret, and a timer per source and task', () => {
    expect(host.file('/usr/local/sbin/restic-backups')).toBe(fs.readFileSync(path.join(__dirname, '../../src/constructs/restic-backups/host/restic-backups'), 'utf8'));
    expect(host.files.find((f) => f.path === '/usr/local/sbin/restic-backups')?.mode).toBe('0755');
    // Its modules, where the entry script looks for them (../lib/restic-backups).
    const modulesDir = path.join(__dirname, '../../src/constructs/restic-backups/host/restic_backups');
    for (const module of fs.readdirSync(modulesDir).filter((f) => f.endsWith('.py'))) {
      expect(host.file(`/usr/local/lib/restic-backups/restic_backups/${module}`)).toBe(fs.readFileSync(path.join(modulesDir, module), 'utf8'));
    }
    const env = JSON.stringify(stack.resolve(host.file('/etc/restic-backups/restic-backups.env')));
    expect(env).toContain("RESTIC_PASSWORD_COMMAND='aws ssm get-parameter --region eu-west-1 --name /zmanim/prod/restic-password --with-decryption");
    expect(env).not.toMatch(/RESTIC_PASSWORD=|PASSWORD_FILE/);
    expect(host.file('/etc/systemd/system/restic-backups-app.timer')).toMatch(/OnCalendar=\*-\*-\* \*:05:00\n.*Persistent=true[\s\S]*Unit=restic-backups@app.service/);
    expect(host.file('/etc/systemd/system/restic-backups-database.timer')).toContain('OnCalendar=*-*-* 02:30:00');
    expect(host.file('/etc/systemd/system/restic-backups-drill.timer')).toContain('OnCalendar=Sun *-*-* 05:40:00');
    expect(host.file('/etc/systemd/system/restic-backups@.service')).toContain('ExecStart=/usr/local/sbin/restic-backups backup %i');
    const enable = host.commands.find((c) => c.startsWith('systemctl enable --now'));
    expect(enable).toBe('systemctl enable --now restic-backups-app.timer restic-backups-database.timer restic-backups-forget.timer restic-backups-check.timer restic-backups-drill.timer');
    expect(host.commands.indexOf('/usr/local/sbin/restic-backups init')).toBeLessThan(host.commands.indexOf(enable!));
    // Only the small config carries tokens (user data); everything else is static.
    const withTokens = host.files.filter((f) => JSON.stringify(stack.resolve(f.content)) !== JSON.stringify(f.content));
    expect(withTokens.map((f) => f.path)).toEqual(['/etc/restic-backups/restic-backups.env']);
    expect(host.file('/etc/restic-backups/restic-backups.env').length).toBeLessThan(1200);
  });

  test('a source with pieceSize gets the pieces tool beside the script and a spool only root reads', () => {
    expect(host.file('/usr/local/sbin/restic-backups-pieces')).toBe(fs.readFileSync(path.join(__dirname, '../../src/constructs/restic-backups/host/restic-backups-pieces'), 'utf8'));
    expect(host.files.find((f) => f.path === '/usr/local/sbin/restic-backups-pieces')?.mode).toBe('0755');
    expect(host.file('/etc/restic-backups/restic-backups.env')).toContain("RESTIC_BACKUPS_SPOOL_DIR='/var/lib/restic-backups'");
    expect(host.commands).toContain("install -d -m 0700 /var/cache/restic-backups '/var/lib/restic-backups'");
    // Without any pieces source, the tool is not installed; the spool directory is an option.
    const streams = build({ spoolDirectory: '/data/restic-backups', sources: ZMANIM_SOURCES.map(({ pieceSize, ...s }) => s) });
    expect(streams.host.files.map((f) => f.path)).not.toContain('/usr/local/sbin/restic-backups-pieces');
    expect(streams.host.file('/etc/restic-backups/restic-backups.env')).toContain("RESTIC_BACKUPS_SPOOL_DIR='/data/restic-backups'");
  });

  test('source configs read back in bash as the script expects', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-src-'));
    try {
      const show = (name: string) => {
        fs.writeFileSync(path.join(dir, name), host.file(`/etc/restic-backups/sources/${name}`));
        return execFileSync('bash', ['-c', `source ${path.join(dir, name)}; declare -p SOURCE_KIND SOURCE_PG_DUMP_ARGS SOURCE_PG_FULL SOURCE_PIECE_SIZE KEEP_HOURLY KEEP_DAILY KEEP_WEEKLY KEEP_MONTHLY 2>/dev/null; echo "verify=\${SOURCE_VERIFY_SQL:-}"`], { encoding: 'utf8' });
      };
      const app = show('app.env');
      expect(app).toContain('SOURCE_PG_DUMP_ARGS="--exclude-schema=geo --clean --if-exists"');
      expect(app).toContain('SOURCE_PG_FULL="0"');
      expect(app).toContain('KEEP_HOURLY="24"');
      expect(app).not.toContain('SOURCE_PIECE_SIZE');
      const db = show('database.env');
      expect(db).toContain('SOURCE_PG_DUMP_ARGS=""');
      expect(db).toContain('SOURCE_PG_FULL="1"');
      expect(db).toContain('SOURCE_PIECE_SIZE="65536"');
      expect(db).toMatch(/KEEP_DAILY="7"[\s\S]*KEEP_WEEKLY="4"[\s\S]*KEEP_MONTHLY="3"/);
      expect(db).toContain('verify=SELECT count(*) > 0 FROM geo.localities');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('systemd accepts every timer schedule', () => {
    const calendars = host.files.filter((f) => f.path.endsWith('.timer')).map((f) => /OnCalendar=(.*)/.exec(f.content)![1]);
    calendars.push(ResticBackups.defaultSchedule(Duration.minutes(15)), ResticBackups.defaultSchedule(Duration.hours(6)));
    expect(ResticBackups.defaultSchedule(Duration.days(1))).toBe('*-*-* 02:30:00');
    const r = spawnSync('systemd-analyze', ['calendar', ...calendars], { encoding: 'utf8' });
    if (r.error) throw new Error('systemd-analyze is missing: apt-get install -y systemd');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('validation', () => {
  test.each([
    [{ sources: [] }, /sources is empty/],
    [{ sources: [{ name: 'Bad Name', interval: Duration.hours(1), command: 'true' }] }, /source name "Bad Name" must be/],
    [{ sources: [{ name: 'x', interval: Duration.hours(1) }] }, /needs exactly one of postgres, command or paths \(got 0\)/],
    [{ sources: [{ name: 'x', interval: Duration.minutes(1), command: 'true' }], drillSchedule: '' }, /interval 1 minute must be whole minutes from 5 minutes to 3 days/],
    [{ sources: [{ name: 'x', interval: Duration.minutes(7), command: 'true' }], drillSchedule: '' }, /no default schedule for an interval of 7 minutes: pass schedule/],
    [{ sources: [{ name: 'x', interval: Duration.hours(1), command: 'true' }] }, /restore drill needs exactly one source that dumps a whole PostgreSQL database, found 0/],
    [{ sources: [{ name: 'x', interval: Duration.hours(1), postgres: { database: 'a; drop' } }] }, /"a; drop" is not a plain PostgreSQL name/],
    [{ passwordParameterName: 'restic-password' }, /passwordParameterName "restic-password" must be an SSM parameter path/],
    [{ sources: [{ name: 'x', interval: Duration.hours(1), postgres: { database: 'db' }, retention: { daily: 0, weekly: 0, monthly: 0 } }] }, /keeps nothing/],
    [{ sources: [{ name: 'x', interval: Duration.hours(1), postgres: { database: 'db' }, pieceSize: Size.bytes(512) }] }, /pieceSize 0.5 KiB must be from 4 KiB to 1024 KiB/],
    [{ sources: [{ name: 'x', interval: Duration.hours(1), postgres: { database: 'db' }, pieceSize: Size.mebibytes(4) }] }, /pieceSize 4096 KiB must be from 4 KiB to 1024 KiB/],
    [{ sources: [{ name: 'x', interval: Duration.hours(1), paths: ['/etc'], pieceSize: Size.kibibytes(64) }], drillSchedule: '' }, /pieceSize applies to postgres and command sources/],
    [{ spoolDirectory: 'spool' }, /spoolDirectory "spool" must be an absolute path/],
    [{ drillMaxAge: Duration.hours(12) }, /drillMaxAge 12 hours must be at least 25 hours/],
    [{ drillMaxAge: Duration.days(8), drillSchedule: '' }, /drillMaxAge is set but drillSchedule is empty/],
    [{ spoolDirectory: '/data/my spool' }, /spoolDirectory "\/data\/my spool" must be an absolute path/],
  ] as Array<[Partial<ResticBackupsProps>, RegExp]>)('%# rejects %p', (props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});

test('cdk-nag AwsSolutions: no errors or warnings', () => {
  const { stack } = build({}, true);
  const findings = [
    ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].filter((f) => !f.id.includes('/Alarms/') && !f.id.endsWith('/Host/Role/Resource'));
  expect(findings.map((f) => `${f.id}: ${f.entry.data}`)).toEqual([]);
});
