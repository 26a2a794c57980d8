import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudFrontClient, CreateInvalidationCommand, GetInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { CopyObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeInstanceInformationCommand, DescribeParametersCommand, GetCommandInvocationCommand, SendCommandCommand, SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { FakeIo } from './fake-io';
import { runCli } from '../../src/ops/cli';

const cfn = mockClient(CloudFormationClient);
const ssm = mockClient(SSMClient);
const logs = mockClient(CloudWatchLogsClient);
const ec2 = mockClient(EC2Client);
const s3 = mockClient(S3Client);
const cloudfront = mockClient(CloudFrontClient);

const INSTANCE = 'i-0123456789abcdef0';
const OUTPUTS: { [stack: string]: { [key: string]: string } } = {
  ZmanimProdCompute: {
    InstanceId: INSTANCE,
    DataVolumeId: 'vol-0aaa',
    ReleaseBucketName: 'zmanimprodcompute-releasebucket',
    SecretsParameterPath: '/zmanim/prod',
    ApiLogGroupName: 'ZmanimProdCompute-HostApiLogs',
    PostgresqlLogGroupName: 'ZmanimProdCompute-HostPostgresqlLogs',
    RedisLogGroupName: 'ZmanimProdCompute-HostRedisLogs',
    BootLogGroupName: 'ZmanimProdCompute-HostBootLogs',
  },
  ZmanimProdMonitoring: { SiteUrl: 'https://zmanim.shtetl.io', ApiHealthUrl: 'https://zmanim.shtetl.io/backend/api/v1/health' },
  ZmanimProdNextjs: { DistributionId: 'E2EXAMPLE' },
  ZmanimProdExtra: { BackupBucketName: 'backups-eu', BackupReplicaBucketName: 'backups-replica', BackupReplicaRegion: 'eu-central-1' },
  // Another environment in the same account and region: never read.
  ZmanimStagingCompute: { InstanceId: 'i-staging' },
};

function stacks(only?: string[]) {
  return Object.entries(OUTPUTS).filter(([name]) => !only || only.includes(name)).map(([StackName, outputs]) => ({
    StackName,
    StackStatus: 'UPDATE_COMPLETE',
    CreationTime: new Date(),
    Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
  }));
}

function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: {} });
}

/** Run Command that succeeds (after one poll that finds no invocation yet, and one in progress). */
function hostRuns(stdout: string, stderr = '') {
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
  ssm.on(GetCommandInvocationCommand)
    .rejectsOnce(awsError('InvocationDoesNotExist'))
    .resolvesOnce({ Status: 'InProgress' })
    .resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: stdout, StandardErrorContent: stderr });
}

/** The shell the CLI sent to the host, as one script. */
function sentScript(): string {
  const input = ssm.commandCalls(SendCommandCommand)[0].args[0].input;
  return (input.Parameters!.commands ?? []).join('\n');
}

async function run(argv: string[], io = new FakeIo()): Promise<{ code: number; io: FakeIo }> {
  const code = await runCli(argv, io, {});
  return { code, io };
}

beforeEach(() => {
  for (const m of [cfn, ssm, logs, ec2, s3, cloudfront]) m.reset();
  // Two pages, so the CLI must follow NextToken.
  cfn.on(DescribeStacksCommand).callsFake(async (input) => (input.NextToken === 'p2'
    ? { Stacks: stacks(['ZmanimProdMonitoring', 'ZmanimProdNextjs', 'ZmanimProdExtra']) }
    : { Stacks: stacks(['ZmanimProdCompute', 'ZmanimStagingCompute']), NextToken: 'p2' }));
});

describe('finding the system', () => {
  test('outputs merges the outputs of every stack with the prefix, across pages', async () => {
    const { code, io } = await run(['outputs']);
    expect(code).toBe(0);
    expect(cfn).toHaveReceivedCommandTimes(DescribeStacksCommand, 2);
    expect(cfn).toHaveReceivedNthCommandWith(2, DescribeStacksCommand, { NextToken: 'p2' });
    expect(io.stdout).toMatch(new RegExp(`InstanceId\\s+${INSTANCE}`));
    expect(io.stdout).toMatch(/DistributionId\s+E2EXAMPLE/);
    expect(io.stdout).toMatch(/DashboardUrl\s+\(missing: expected in ZmanimProdDashboard\)/);
    expect(io.stdout).not.toContain('i-staging');
  });

  test('another prefix reads another environment', async () => {
    const { io } = await run(['--stack-prefix', 'ZmanimStaging', 'outputs']);
    expect(io.stdout).toMatch(/InstanceId\s+i-staging/);
  });

  test('no stack with the prefix: says which prefix and region, and what to check', async () => {
    cfn.reset();
    cfn.on(DescribeStacksCommand).resolves({ Stacks: [] });
    const { code, io } = await run(['--region', 'eu-central-1', 'status']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('No CloudFormation stack named ZmanimProd* in eu-central-1');
    expect(io.stderr).toMatch(/what to do: .*--region.*sts get-caller-identity/);
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  test('a missing output names the key and the stack to deploy', async () => {
    cfn.reset();
    cfn.on(DescribeStacksCommand).resolves({ Stacks: stacks(['ZmanimProdCompute']) });
    const { code, io } = await run(['invalidate']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('Output "DistributionId"');
    expect(io.stderr).toContain('Deploy ZmanimProdNextjs');
  });

  test('access denied names the IAM action', async () => {
    cfn.reset();
    cfn.on(DescribeStacksCommand).rejects(awsError('AccessDenied', 'User: arn:aws:sts::1:assumed-role/x is not authorized'));
    const { code, io } = await run(['status']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('Access denied: the credentials in use may not cloudformation:DescribeStacks in eu-west-1');
    expect(io.stderr).toContain('what to do: Use credentials whose policy allows cloudformation:DescribeStacks');
  });

  test('no credentials says how to get them', async () => {
    cfn.reset();
    cfn.on(DescribeStacksCommand).rejects(awsError('CredentialsProviderError', 'Could not load credentials from any providers'));
    const { io } = await run(['outputs']);
    expect(io.stderr).toMatch(/No AWS credentials .*\nwhat to do: Set AWS_PROFILE/);
  });

  test('usage errors exit 2 and point at help', async () => {
    expect((await run(['frobnicate'])).code).toBe(2);
    const { code, io } = await run(['status', '--file', 'x']);
    expect(code).toBe(2);
    expect(io.stderr).toContain('status does not take --file');
    expect((await run(['restart', 'nginx', '--yes'])).io.stderr).toContain('Use one of: api, postgresql, redis');
    expect((await run(['backup', '--source', 'app; reboot'])).io.stderr).toContain('--source "app; reboot" is not a backup source name');
    const help = await run(['help']);
    expect(help.code).toBe(0);
    expect(help.io.stdout).toContain('replace-instance');
    expect(cfn).not.toHaveReceivedCommand(DescribeStacksCommand);
  });
});

describe('Run Command on the host', () => {
  test('status sends AWS-RunShellScript to the host, waits for it, prints it', async () => {
    hostRuns('zmanim-api           active\nzmanim-postgresql    active\nzmanim-redis         active\n');
    const { code, io } = await run(['status']);
    expect(code).toBe(0);
    expect(ssm).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: [INSTANCE],
      DocumentName: 'AWS-RunShellScript',
      Parameters: expect.objectContaining({ executionTimeout: ['60'] }),
    });
    expect(sentScript()).toContain('systemctl status --no-pager --lines=10 zmanim-api');
    expect(sentScript()).toContain('pg_stat_activity');
    expect(ssm).toHaveReceivedCommandWith(GetCommandInvocationCommand, { CommandId: 'cmd-1', InstanceId: INSTANCE });
    expect(io.stdout).toContain('zmanim-redis         active');
    expect(io.stderr).toContain(`service status: running on ${INSTANCE} (command cmd-1)`);
  });

  test('status exits 1 and says what to do when a service is not active', async () => {
    hostRuns('zmanim-api           failed\nzmanim-postgresql    active\nzmanim-redis         active\n');
    const { code, io } = await run(['status']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('Not active: zmanim-api. Next: `shtetl-ops logs api -n 200`, then `shtetl-ops restart api`');
  });

  test('a command that fails on the host reports exit code, the end of its stderr and the next step', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-2' } });
    ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      ResponseCode: 77,
      StandardOutputContent: '',
      StandardErrorContent: 'restic-backups: wrong repository password: RESTIC_PASSWORD_COMMAND does not give the password\n',
    });
    const { code, io } = await run(['backup', '--source', 'app']);
    expect(code).toBe(1);
    expect(io.stderr).toContain(`error: backup failed with exit code 77 on ${INSTANCE} (command cmd-2).`);
    expect(io.stderr).toContain('    restic-backups: wrong repository password');
    expect(io.stderr).toContain('what to do: No good snapshot was written');
  });

  test('a host that Systems Manager cannot reach gets the host-status hint', async () => {
    ssm.on(SendCommandCommand).rejects(awsError('InvalidInstanceId', 'Instances [[i-0123]] not in a valid state for account'));
    const { code, io } = await run(['resources']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('The host is not reachable by Systems Manager (ssm:SendCommand');
    expect(io.stderr).toContain('shtetl-ops host-status');
  });

  test('long commands show progress, and a timeout is reported as such', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-3' } });
    let polls = 0;
    ssm.on(GetCommandInvocationCommand).callsFake(async () => (++polls < 12 ? { Status: 'InProgress' } : { Status: 'TimedOut', StandardErrorContent: 'pg_dump: still dumping' }));
    const { code, io } = await run(['drill']);
    expect(code).toBe(1);
    expect(io.stderr).toMatch(/\.\.\. restore drill: InProgress for \d+s/);
    expect(io.stderr).toContain('restore drill timed out after 7200s');
    expect(io.stderr).toContain('The newest backup did NOT restore');
  });

  test('backup, snapshots and drill call restic-backups with their arguments', async () => {
    hostRuns('', 'restic-backups: source app: snapshot 1a2b3c4d, 12 bytes added, 3s\n');
    const backup = await run(['backup']);
    expect(backup.code).toBe(0);
    expect(sentScript()).toContain('for s in $sources; do "$rb" backup "$s" || rc=$?; done; exit "$rc"');
    expect(sentScript()).toContain('/etc/restic-backups}"/sources/*.env');
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.Parameters!.executionTimeout).toEqual(['7200']);
    expect(backup.io.stderr).toContain('snapshot 1a2b3c4d');
    expect(backup.io.stderr).toMatch(/backup done in \d+s/);

    ssm.reset();
    hostRuns('ID        Time                 Host  Tags\n1a2b3c4d  2026-11-26 03:00:00  zm    source:app\n');
    const list = await run(['snapshots', '--source', 'app']);
    expect(sentScript()).toContain('"$rb" snapshots --compact --tag \'source:app\'');
    expect(list.io.stdout).toContain('1a2b3c4d');

    ssm.reset();
    hostRuns('', 'restic-backups: restore drill of zmanim succeeded in 412s\n');
    const d = await run(['drill', '--database', 'zmanim']);
    expect(d.code).toBe(0);
    expect(sentScript()).toContain('"$rb" drill --database \'zmanim\'');
    expect(d.io.stderr).toContain('restore drill passed');
  });
});

describe('destructive commands ask first', () => {
  const destructive = [
    ['restart', 'postgresql'],
    ['restore'],
    ['redis-flush'],
    ['deploy-api'],
    ['replace-instance'],
  ];

  test.each(destructive)('%s refuses without a terminal and without --yes, changing nothing', async (...argv) => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'running' } }] }] });
    const { code, io } = await run(argv);
    expect(code).toBe(1);
    expect(io.stderr).toMatch(/error: Refusing to .* without confirmation: there is no terminal to ask on\./);
    expect(io.stderr).toContain('add --yes once you are sure');
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
    expect(ec2).not.toHaveReceivedCommand(StopInstancesCommand);
    expect(s3).not.toHaveReceivedCommand(CopyObjectCommand);
  });

  test('on a terminal, anything but "yes" cancels', async () => {
    const io = new FakeIo(true);
    io.answers = ['y'];
    const { code } = await run(['redis-flush'], io);
    expect(code).toBe(1);
    expect(io.questions[0]).toContain('Delete every key of the Redis cache');
    expect(io.stderr).toContain('Cancelled: nothing was changed.');
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  test('on a terminal, "yes" goes ahead', async () => {
    hostRuns('keys before: 42\nOK\nkeys after: 0\n');
    const io = new FakeIo(true);
    io.answers = ['yes'];
    const { code } = await run(['redis-flush'], io);
    expect(code).toBe(0);
    expect(sentScript()).toContain('FLUSHDB');
    expect(sentScript()).toContain('REDISCLI_AUTH="$(secret redis-password)"');
    expect(io.stdout).toContain('keys after: 0');
  });

  test('restart api goes through deploy-api.sh (waits for /health); restart redis checks it is active', async () => {
    hostRuns('zmanim-api is healthy');
    expect((await run(['restart', 'api', '--yes'])).code).toBe(0);
    expect(sentScript()).toContain('/opt/zmanim/host}/deploy-api.sh');
    ssm.reset();
    hostRuns('zmanim-redis restarted');
    await run(['restart', 'redis', '-y']);
    expect(sentScript()).toContain('systemctl restart zmanim-redis');
    expect(sentScript()).toContain('systemctl is-active --quiet zmanim-redis');
  });

  test('restore passes its options quoted, so nothing from the command line runs as shell', async () => {
    hostRuns('', 'restic-backups: restored, verified and swapped in zmanim in 512s\n');
    const { code, io } = await run(['restore', '--yes', '--snapshot', "1a2b'; rm -rf /; '", '--before', '2026-11-25 12:00']);
    expect(code).toBe(0);
    expect(sentScript()).toContain('"$rb" restore --snapshot \'1a2b\'\\\'\'; rm -rf /; \'\\\'\'\' --before \'2026-11-25 12:00\'');
    expect(io.stderr).toContain('(confirmed by --yes)');
    expect(io.stderr).toMatch(/restore done in \d+s/);
  });
});

describe('logs', () => {
  const event = (id: string, t: number, message: string) => ({ eventId: id, timestamp: Date.parse('2026-11-26T03:00:00Z') + t * 1000, message });

  test('prints the last N events of the service log group in time order', async () => {
    logs.on(FilterLogEventsCommand)
      .resolvesOnce({ events: [event('1', 1, 'one'), event('2', 2, 'two')], nextToken: 'n' })
      .resolves({ events: [event('3', 3, 'three')] });
    const { code, io } = await run(['logs', 'postgresql', '-n', '2', '--since', '2h']);
    expect(code).toBe(0);
    expect(logs).toHaveReceivedNthCommandWith(1, FilterLogEventsCommand, {
      logGroupName: 'ZmanimProdCompute-HostPostgresqlLogs', startTime: Date.parse('2026-11-26T02:00:00Z'),
    });
    expect(io.stdout).toBe('2026-11-26T03:00:02.000Z two\n2026-11-26T03:00:03.000Z three\n');
  });

  test('--follow prints only new events until interrupted', async () => {
    logs.on(FilterLogEventsCommand)
      .resolvesOnce({ events: [event('1', 1, 'old')] })
      .resolvesOnce({ events: [event('1', 1, 'old'), event('2', 5, 'new')] })
      .resolves({ events: [] });
    const io = new FakeIo();
    io.onSleep = (n) => { if (n === 2) io.abort.abort(); };
    const { code } = await run(['logs', 'api', '-f'], io);
    expect(code).toBe(0);
    expect(io.stdout).toBe('2026-11-26T03:00:01.000Z old\n2026-11-26T03:00:05.000Z new\n');
    expect(logs).toHaveReceivedNthCommandWith(2, FilterLogEventsCommand, { logGroupName: 'ZmanimProdCompute-HostApiLogs', startTime: event('1', 1, '').timestamp });
  });

  test('an empty window says so and suggests a longer one', async () => {
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    const { io } = await run(['logs', 'boot']);
    expect(io.stderr).toContain('No boot log events in ZmanimProdCompute-HostBootLogs');
  });

  test('a bad --since is a usage error', async () => {
    expect((await run(['logs', 'api', '--since', 'yesterday-ish'])).code).toBe(2);
  });
});

describe('health', () => {
  test('checks the public URL and the API on the host', async () => {
    hostRuns('{"status":"healthy"}\nHTTP 200 in 0.004s\n');
    const { code, io } = await run(['health']);
    expect(code).toBe(0);
    expect(io.fetches).toEqual(['https://zmanim.shtetl.io/backend/api/v1/health']);
    expect(sentScript()).toContain('http://127.0.0.1:8080/health');
    expect(io.stdout).toMatch(/public .* HTTP 200 .* healthy/);
    expect(io.stdout).toMatch(/host .*HTTP 200/);
  });

  test('healthy on the host but not in public points at CloudFront and API Gateway', async () => {
    hostRuns('{"status":"healthy"}\nHTTP 200 in 0.004s\n');
    const io = new FakeIo();
    io.fetchResult = { status: 403, body: '{"message":"Forbidden"}' };
    const { code } = await run(['health'], io);
    expect(code).toBe(1);
    expect(io.stdout).toContain('NOT healthy: {"message":"Forbidden"}');
    expect(io.stderr).toContain('healthy on the host but not through the public URL');
  });
});

describe('sessions', () => {
  test('shell starts a Session Manager session with the AWS CLI', async () => {
    const { code, io } = await run(['shell']);
    expect(code).toBe(0);
    expect(io.execs).toEqual([{ command: 'aws', args: ['ssm', 'start-session', '--region', 'eu-west-1', '--target', INSTANCE] }]);
  });

  test('psql forwards 5432 to the local port and prints the psql command without any secret', async () => {
    const { io } = await run(['psql', '--local-port', '25432']);
    expect(io.execs[0].args).toEqual(['ssm', 'start-session', '--region', 'eu-west-1', '--target', INSTANCE,
      '--document-name', 'AWS-StartPortForwardingSession', '--parameters', '{"portNumber":["5432"],"localPortNumber":["25432"]}']);
    expect(io.stderr).toContain('--name /zmanim/prod/postgres-password --with-decryption');
    expect(io.stderr).toContain('psql -h 127.0.0.1 -p 25432 -U zmanim zmanim');
  });

  test('a missing Session Manager plugin is named with where to get it; --print needs nothing', async () => {
    const io = new FakeIo();
    io.installed.delete('session-manager-plugin');
    const { code } = await run(['shell'], io);
    expect(code).toBe(1);
    expect(io.stderr).toContain('The Session Manager plugin for the AWS CLI is not installed');
    expect(io.stderr).toContain('session-manager-working-with-install-plugin');
    expect(io.execs).toEqual([]);
    const printed = await run(['shell', '--print'], io);
    expect(printed.code).toBe(0);
    expect(printed.io.stderr).toContain(`$ aws ssm start-session --region eu-west-1 --target ${INSTANCE}`);
  });
});

describe('releases and CloudFront', () => {
  test('deploy-api --file uploads the binary to the release key, then runs deploy-api.sh', async () => {
    hostRuns('zmanim-api is healthy at http://127.0.0.1:8080/health (abc)');
    s3.on(PutObjectCommand).resolves({ VersionId: 'v2' });
    const io = new FakeIo();
    io.files['./api'] = Buffer.concat([Buffer.from([0x7f]), Buffer.from('ELF rest of binary')]);
    const { code } = await run(['deploy-api', '--file', './api', '--yes'], io);
    expect(code).toBe(0);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: 'zmanimprodcompute-releasebucket', Key: 'api/current/api-linux-arm64', ChecksumAlgorithm: 'SHA256' });
    expect(io.stderr).toContain('as version v2');
    expect(sentScript()).toContain('/opt/zmanim/host}/deploy-api.sh');
  });

  test('deploy-api refuses a file that is not a Linux executable', async () => {
    const io = new FakeIo();
    io.files['./api.exe'] = Buffer.from('MZ windows');
    const { code } = await run(['deploy-api', '--file', './api.exe', '--yes'], io);
    expect(code).toBe(1);
    expect(io.stderr).toContain('is not a Linux executable');
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand);
  });

  test('deploy-api --version-id rolls back by copying the old version over the current one', async () => {
    hostRuns('ok');
    s3.on(CopyObjectCommand).resolves({ VersionId: 'v9' });
    await run(['deploy-api', '--version-id', 'v1', '--yes']);
    expect(s3).toHaveReceivedCommandWith(CopyObjectCommand, {
      Bucket: 'zmanimprodcompute-releasebucket',
      Key: 'api/current/api-linux-arm64',
      CopySource: 'zmanimprodcompute-releasebucket/api/current/api-linux-arm64?versionId=v1',
    });
  });

  test('a failed deploy tells how to roll back', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'c' } });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', ResponseCode: 1, StandardErrorContent: 'deploy-api: zmanim-api did not become healthy' });
    const { io } = await run(['deploy-api', '--yes']);
    expect(io.stderr).toContain('shtetl-ops deploy-api --version-id PREVIOUS');
  });

  test('invalidate creates the invalidation and waits until it completed', async () => {
    cloudfront.on(CreateInvalidationCommand).resolves({ Invalidation: { Id: 'I1', Status: 'InProgress', CreateTime: new Date(), InvalidationBatch: undefined as any } });
    cloudfront.on(GetInvalidationCommand).resolvesOnce({ Invalidation: { Id: 'I1', Status: 'InProgress' } as any }).resolves({ Invalidation: { Id: 'I1', Status: 'Completed' } as any });
    const { code, io } = await run(['invalidate', '--paths', '/*', '--paths', '/index.html']);
    expect(code).toBe(0);
    expect(cloudfront).toHaveReceivedCommandWith(CreateInvalidationCommand, {
      DistributionId: 'E2EXAMPLE',
      InvalidationBatch: { CallerReference: expect.stringMatching(/^shtetl-ops-\d+$/), Paths: { Quantity: 2, Items: ['/*', '/index.html'] } },
    });
    expect(cloudfront).toHaveReceivedCommandTimes(GetInvalidationCommand, 2);
    expect(io.stdout).toMatch(/invalidation I1 completed in \d+s/);
  });
});

describe('disaster recovery', () => {
  test('host-status shows instance, agent and volume, and fails when the agent is offline', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'running' }, InstanceType: 'm7g.medium' }] }] });
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'ConnectionLost' }] });
    ec2.on(DescribeVolumesCommand).resolves({ Volumes: [{ VolumeId: 'vol-0aaa', State: 'in-use', Size: 30, Attachments: [{ InstanceId: INSTANCE, State: 'attached' }] }] });
    const { code, io } = await run(['host-status']);
    expect(code).toBe(1);
    expect(io.stdout).toContain('ssm agent ConnectionLost');
    expect(io.stdout).toContain(`/data     vol-0aaa  in-use, attached to ${INSTANCE} (attached), 30 GiB`);
    expect(io.stderr).toContain('shtetl-ops replace-instance');
  });

  test('replace-instance stops and starts the host, waits for the agent and the API', async () => {
    const states = ['running', 'stopping', 'stopped', 'pending', 'running'];
    const next = () => (states.length > 1 ? states.shift() : states[0]);
    ec2.on(DescribeInstancesCommand).callsFake(async () => ({ Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: next() } }] }] }));
    ec2.on(StopInstancesCommand).resolves({});
    ec2.on(StartInstancesCommand).resolves({});
    ssm.on(DescribeInstanceInformationCommand).resolvesOnce({ InstanceInformationList: [] }).resolves({ InstanceInformationList: [{ PingStatus: 'Online' }] });
    hostRuns('{"status":"healthy"}');
    const { code, io } = await run(['replace-instance', '--yes']);
    expect(code).toBe(0);
    expect(ec2).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [INSTANCE] });
    expect(ec2).not.toHaveReceivedCommandWith(StopInstancesCommand, { Force: true });
    expect(ec2).toHaveReceivedCommandWith(StartInstancesCommand, { InstanceIds: [INSTANCE] });
    expect(sentScript()).toContain('curl -fsS -m 5 http://127.0.0.1:8080/health');
    expect(io.stdout).toContain(`${INSTANCE} is running on new hardware with /data attached; the API is healthy`);
  });

  test('replace-instance on a terminated host says how to rebuild it', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'terminated' } }] }] });
    const { code, io } = await run(['replace-instance', '--yes']);
    expect(code).toBe(1);
    expect(io.stderr).toContain(`Instance ${INSTANCE} is terminated`);
    expect(io.stderr).toContain('then `npx cdk deploy ZmanimProdCompute`; the new instance attaches /data itself');
    expect(ec2).not.toHaveReceivedCommand(StartInstancesCommand);
  });

  test('region-failover checks the replica and the restic password in the other region, then prints the steps', async () => {
    // Two pages: the CLI follows NextContinuationToken.
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: 'restic/snapshots/a', LastModified: new Date('2026-11-26T02:00:00Z') }], IsTruncated: true, NextContinuationToken: 't2' })
      .resolves({ Contents: [{ Key: 'restic/snapshots/b', LastModified: new Date('2026-11-26T03:00:00Z') }] });
    ssm.on(DescribeParametersCommand).resolves({ Parameters: [{ Name: '/zmanim/prod/restic-password' }] });
    const { code, io } = await run(['region-failover']);
    expect(code).toBe(0);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: 'backups-replica', Prefix: 'restic/snapshots/' });
    expect(s3).toHaveReceivedNthCommandWith(2, ListObjectsV2Command, { ContinuationToken: 't2' });
    expect(await s3.commandCalls(ListObjectsV2Command)[0].thisValue.config.region()).toBe('eu-central-1');
    expect(io.stdout).toContain('2 snapshots, newest 2026-11-26T03:00:00.000Z (1.0 h old');
    expect(io.stdout).toContain('restic-password in eu-central-1: present');
    expect(io.stdout).toContain('npx cdk deploy --all -c zmanim:region=eu-central-1 -c zmanim:availabilityZone=eu-central-1a');
    expect(io.stdout).toContain('aws s3 sync s3://backups-replica/restic/ s3://NEW_BUCKET/restic/ --delete');
  });

  test('region-failover works with the primary region down (options only) and flags a missing password', async () => {
    cfn.reset();
    cfn.on(DescribeStacksCommand).rejects(awsError('ServiceUnavailable', 'eu-west-1 is down'));
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'restic/snapshots/a', LastModified: new Date('2026-11-26T01:00:00Z') }] });
    ssm.on(DescribeParametersCommand).resolves({ Parameters: [] });
    const { code, io } = await run(['region-failover', '--replica-bucket', 'b2', '--target-region', 'eu-north-1']);
    expect(code).toBe(1);
    expect(io.stdout).toContain('MISSING (the backups cannot be decrypted without it');
  });

  test('region-failover with an empty replica fails loudly', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    const { code, io } = await run(['region-failover']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('No restic snapshot in s3://backups-replica/restic/snapshots/ (eu-central-1)');
  });
});
