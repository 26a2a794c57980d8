import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CloudFrontClient, CreateInvalidationCommand, GetInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeInstancesCommand, DescribeVolumesCommand, EC2Client, Filter, Instance, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { GetResourcesCommand, GetResourcesCommandInput, GetTagValuesCommand, ResourceGroupsTaggingAPIClient, TagFilter } from '@aws-sdk/client-resource-groups-tagging-api';
import { CopyObjectCommand, GetBucketLocationCommand, GetBucketReplicationCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeInstanceInformationCommand, DescribeParametersCommand, GetCommandInvocationCommand, SendCommandCommand, SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { FakeIo } from './fake-io';
import { runCli } from '../../src/ops/cli';

const ssm = mockClient(SSMClient);
const logs = mockClient(CloudWatchLogsClient);
const ec2 = mockClient(EC2Client);
const s3 = mockClient(S3Client);
const cloudfront = mockClient(CloudFrontClient);
const tagging = mockClient(ResourceGroupsTaggingAPIClient);

/**
 * The account as the Tagging and EC2 APIs describe it: a service that is not zmanim
 * ("kehilla", API on port 9000, in two environments), and zmanim beside it. The tags are
 * the ones the constructs set (test/ops/ops-tags.test.ts checks that they do).
 */
const SERVICE = 'kehilla';
const REGION = 'eu-central-1';
const INSTANCE = 'i-0123456789abcdef0';
const RELEASE = 'kehilla-releases/releases/kehilla-api/current/api-linux-arm64';
const hostTags = (hostTag: string, stack: string, service = SERVICE): { [key: string]: string } => ({
  'shtetl:service': service,
  'shtetl:data-host': hostTag,
  'aws:cloudformation:stack-name': stack,
  'shtetl:parameter-path': `/${service}/${stack.includes('Staging') ? 'staging' : 'prod'}`,
  'shtetl:health-url': 'http://127.0.0.1:9000/healthz',
  'shtetl:database': 'kehilla_app',
  'shtetl:database-user': 'kehilla_api',
  'shtetl:release': RELEASE,
});
let instances: { id: string; state: string; tags: { [key: string]: string } }[];
const resource = (arn: string, tags: { [key: string]: string }) => ({ arn, tags });
let resources: { arn: string; tags: { [key: string]: string } }[];

function logGroup(name: string, hostTag: string, stack: string) {
  return resource(`arn:aws:logs:${REGION}:111111111111:log-group:${stack}-Host${name}Logs-X1`, {
    'shtetl:service': SERVICE, 'shtetl:log': name.toLowerCase(), 'shtetl:data-host': hostTag, 'aws:cloudformation:stack-name': stack,
  });
}

beforeEach(() => {
  for (const m of [ssm, logs, ec2, s3, cloudfront, tagging]) m.reset();
  instances = [
    { id: INSTANCE, state: 'running', tags: hostTags('c8prod', 'KehillaProdCompute') },
    { id: 'i-staging', state: 'running', tags: hostTags('c8staging', 'KehillaStagingCompute') },
    { id: 'i-zmanim', state: 'running', tags: hostTags('c8zmanim', 'ZmanimProdCompute', 'zmanim') },
  ];
  resources = [
    ...['Api', 'Postgresql', 'Redis', 'Boot'].flatMap((n) => [logGroup(n, 'c8prod', 'KehillaProdCompute'), logGroup(n, 'c8staging', 'KehillaStagingCompute')]),
    resource('arn:aws:s3:::kehilla-prod-backups', { 'shtetl:service': SERVICE, 'shtetl:backups': 'repo', 'aws:cloudformation:stack-name': 'KehillaProdBackups' }),
    resource('arn:aws:s3:::kehilla-releases', { 'shtetl:service': SERVICE, 'aws:cloudformation:stack-name': 'KehillaProdCompute' }),
    resource('arn:aws:cloudfront::111111111111:distribution/E2EXAMPLE', { 'shtetl:service': SERVICE, 'aws:cloudformation:stack-name': 'KehillaProdSite' }),
    resource('arn:aws:cloudfront::111111111111:distribution/E3STAGING', { 'shtetl:service': SERVICE, 'aws:cloudformation:stack-name': 'KehillaStagingSite' }),
    resource('arn:aws:cloudfront::111111111111:distribution/EZMANIM', { 'shtetl:service': 'zmanim' }),
  ];
  // EC2 applies the tag and state filters the CLI sends.
  ec2.on(DescribeInstancesCommand).callsFake(async (input: { Filters?: Filter[]; InstanceIds?: string[] }) => {
    const matches = (i: typeof instances[number]) => (input.Filters ?? []).every((f) => (f.Name === 'instance-state-name' ? f.Values!.includes(i.state)
      : f.Name === 'tag-key' ? f.Values!.some((k) => k in i.tags)
        : f.Name!.startsWith('tag:') ? f.Values!.includes(i.tags[f.Name!.slice(4)]) : false))
      && (!input.InstanceIds || input.InstanceIds.includes(i.id));
    const list: Instance[] = instances.filter(matches).map((i) => ({
      InstanceId: i.id, State: { Name: i.state as any }, InstanceType: 'm7g.medium', Tags: Object.entries(i.tags).map(([Key, Value]) => ({ Key, Value })),
    }));
    return { Reservations: list.length ? [{ Instances: list }] : [] };
  });
  // The Tagging API applies the tag and type filters, in pages of two.
  tagging.on(GetResourcesCommand).callsFake(async (input: GetResourcesCommandInput) => {
    const [svc, type] = (input.ResourceTypeFilters?.[0] ?? '').split(':');
    const all = resources.filter((r) => (input.TagFilters ?? []).every((f: TagFilter) => f.Values!.includes(r.tags[f.Key!]))
      && r.arn.split(':')[2] === svc && (!type || r.arn.includes(`:${type}`) || r.arn.includes(`${type}/`)));
    const from = Number(input.PaginationToken || '0');
    return {
      ResourceTagMappingList: all.slice(from, from + 2)
        .map((r) => ({ ResourceARN: r.arn, Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })) })),
      PaginationToken: from + 2 < all.length ? String(from + 2) : '',
    };
  });
  tagging.on(GetTagValuesCommand).resolves({ TagValues: ['kehilla', 'zmanim'] });
  ec2.on(DescribeVolumesCommand).callsFake(async (input) => ({
    Volumes: input.Filters?.[0]?.Values?.[0] === 'c8prod' || input.VolumeIds?.[0] === 'vol-0aaa' ? [{ VolumeId: 'vol-0aaa', State: 'in-use', Size: 30, Attachments: [{ InstanceId: INSTANCE, State: 'attached' }] }] : [],
  }));
});

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

/** The shell the CLI sent to the host, decoded as the host decodes it. */
function sentScript(): string {
  const input = ssm.commandCalls(SendCommandCommand)[0].args[0].input;
  const lines = input.Parameters!.commands ?? [];
  const encoded = lines.map((l) => /^printf '%s' '([A-Za-z0-9+/=]+)' \| base64 -d >"\$script"$/.exec(l)).find(Boolean);
  if (!encoded) throw new Error(`no encoded script in ${JSON.stringify(lines)}`);
  return Buffer.from(encoded[1], 'base64').toString('utf8');
}

/** A project directory whose cdk.json names the service, region and environment. */
const project = fs.mkdtempSync(path.join(os.tmpdir(), 'shtetl-ops-cli-'));
const nested = path.join(project, 'src', 'deep');
fs.mkdirSync(nested, { recursive: true });
fs.writeFileSync(path.join(project, 'cdk.json'), JSON.stringify({
  app: 'npx ts-node src/main.ts',
  context: { 'shtetl-ops': { service: SERVICE, region: REGION, stackPrefix: 'KehillaProd', healthUrl: 'https://kehilla.example.org/api/healthz' } },
}));
const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'shtetl-ops-none-'));
afterAll(() => {
  fs.rmSync(project, { recursive: true, force: true });
  fs.rmSync(elsewhere, { recursive: true, force: true });
});

async function run(argv: string[], io = new FakeIo(), cwd = nested, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; io: FakeIo }> {
  const code = await runCli(argv, io, env, cwd);
  return { code, io };
}

describe('finding the service', () => {
  test('outputs shows what the tags say, for the environment cdk.json names', async () => {
    const { code, io } = await run(['outputs']);
    expect(code).toBe(0);
    expect(ec2).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      Filters: [
        { Name: 'tag:shtetl:service', Values: [SERVICE] },
        { Name: 'tag-key', Values: ['shtetl:data-host'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    });
    expect(io.stdout).toContain(`service            kehilla (defaults from ${path.join(project, 'cdk.json')})`);
    expect(io.stdout).toMatch(new RegExp(`data host\\s+${INSTANCE} \\(running, stack KehillaProdCompute\\)`));
    expect(io.stdout).toMatch(/data volume\s+vol-0aaa/);
    expect(io.stdout).toMatch(/boot logs\s+KehillaProdCompute-HostBootLogs-X1/);
    expect(io.stdout).toMatch(/secrets path\s+\/kehilla\/prod/);
    expect(io.stdout).toMatch(/database\s+kehilla_app \(role kehilla_api\)/);
    expect(io.stdout).toMatch(/health \(host\)\s+http:\/\/127.0.0.1:9000\/healthz/);
    expect(io.stdout).toMatch(/backups\s+s3:\/\/kehilla-prod-backups\/repo/);
    expect(io.stdout).toMatch(/site distribution\s+E2EXAMPLE/);
    expect(io.stdout).not.toMatch(/staging|zmanim/i);
    // The log groups came in pages: the CLI followed the token.
    expect(tagging).toHaveReceivedCommandWith(GetResourcesCommand, { ResourceTypeFilters: ['logs:log-group'], PaginationToken: '2' });
    expect(await tagging.commandCalls(GetResourcesCommand).find((c) => c.args[0].input.ResourceTypeFilters![0] === 'cloudfront:distribution')!.thisValue.config.region()).toBe('us-east-1');
  });

  test('flags win over cdk.json: another environment, another service', async () => {
    const staging = await run(['--stack-prefix', 'KehillaStaging', 'outputs']);
    expect(staging.io.stdout).toMatch(/data host\s+i-staging/);
    expect(staging.io.stdout).toMatch(/api logs\s+KehillaStagingCompute-HostApiLogs-X1/);
    expect(staging.io.stdout).toMatch(/site distribution\s+E3STAGING/);
    const zmanim = await run(['--service', 'zmanim', '--stack-prefix', 'Zmanim', 'shell', '--print']);
    expect(zmanim.io.stderr).toContain(`$ aws ssm start-session --region ${REGION} --target i-zmanim`);
  });

  test('without cdk.json, --service and --region (or SHTETL_SERVICE and AWS_REGION) are needed', async () => {
    const none = await run(['status'], new FakeIo(), elsewhere);
    expect(none.code).toBe(2);
    expect(none.io.stderr).toContain('Which service?');
    expect(none.io.stderr).toContain('what to do: Pass --service NAME');
    const noRegion = await run(['--service', SERVICE, 'status'], new FakeIo(), elsewhere);
    expect(noRegion.code).toBe(2);
    expect(noRegion.io.stderr).toContain('Which region is kehilla in?');
    const fromEnv = await run(['shell', '--print'], new FakeIo(), elsewhere, { SHTETL_SERVICE: SERVICE, AWS_REGION: REGION });
    // Both environments match without a stack prefix: the CLI names them instead of guessing.
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.io.stderr).toContain('2 data hosts of service kehilla in eu-central-1: i-0123456789abcdef0 (running, stack KehillaProdCompute), i-staging (running, stack KehillaStagingCompute)');
    expect(fromEnv.io.stderr).toContain('what to do: Pass --stack-prefix');
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  test('a cdk.json "shtetl-ops" entry that is not the expected object is refused, naming the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shtetl-ops-bad-'));
    try {
      fs.writeFileSync(path.join(dir, 'cdk.json'), JSON.stringify({ context: { 'shtetl-ops': { service: 'kehilla', port: 9000 } } }));
      const { code, io } = await run(['status'], new FakeIo(), dir);
      expect(code).toBe(2);
      expect(io.stderr).toContain(`context "shtetl-ops" in ${path.join(dir, 'cdk.json')} must be an object of strings with the keys service, region, stackPrefix and healthUrl.`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('services lists the services tagged in the region, and needs no service', async () => {
    const { code, io } = await run(['--region', REGION, 'services'], new FakeIo(), elsewhere);
    expect(code).toBe(0);
    expect(io.stdout).toBe('kehilla\nzmanim\n');
    expect(tagging).toHaveReceivedCommandWith(GetTagValuesCommand, { Key: 'shtetl:service' });
  });

  test('a service name that is not one is refused before any AWS call', async () => {
    const { code, io } = await run(['--service', 'x; reboot', 'status']);
    expect(code).toBe(2);
    expect(io.stderr).toContain('Service "x; reboot" is not a service name.');
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });

  test('a service without a host: names the services tagged in the region', async () => {
    const { code, io } = await run(['--service', 'minyan', 'status']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('No data host of service minyan in eu-central-1 (stacks KehillaProd*)');
    expect(io.stderr).toContain('what to do: Services tagged in eu-central-1: kehilla, zmanim. Pass --service NAME.');
  });

  test('a terminated host: says to deploy again', async () => {
    instances[0].state = 'terminated';
    const { code, io } = await run(['host-status']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('but no live host: if it was terminated, deploy its stack again');
  });

  test('a host deployed before the CLI\'s tags names the missing tag', async () => {
    delete instances[0].tags['shtetl:health-url'];
    const { code, io } = await run(['health']);
    expect(code).toBe(1);
    expect(io.stderr).toContain(`The data host ${INSTANCE} has no tag shtetl:health-url`);
  });

  test('a health URL tag that is not a local URL never reaches the host\'s shell', async () => {
    instances[0].tags['shtetl:health-url'] = 'http://127.0.0.1:9000/$(reboot)';
    const { code, io } = await run(['health', '--url', 'https://kehilla.example.org/api/healthz']);
    expect(code).toBe(1);
    expect(io.stdout).toContain('The host\'s health URL tag "http://127.0.0.1:9000/$(reboot)" is not http://127.0.0.1:PORT/PATH.');
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
  });

  test('access denied names the IAM action', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'));
    const { code, io } = await run(['status']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('Access denied: the credentials in use may not ec2:DescribeInstances in eu-central-1');
    expect(io.stderr).toContain('what to do: Use credentials whose policy allows ec2:DescribeInstances');
  });

  test('no credentials says how to get them', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('CredentialsProviderError', 'Could not load credentials from any providers'));
    const { io } = await run(['shell']);
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
    expect(help.io.stdout).not.toMatch(/zmanim/i);
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
  });
});

describe('Run Command on the host', () => {
  test('status sends AWS-RunShellScript to the host, waits for it, prints it', async () => {
    hostRuns('kehilla-api           active\nkehilla-postgresql    active\nkehilla-redis         active\n');
    const { code, io } = await run(['status']);
    expect(code).toBe(0);
    expect(ssm).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: [INSTANCE],
      DocumentName: 'AWS-RunShellScript',
      Parameters: expect.objectContaining({ executionTimeout: ['60'] }),
    });
    expect(sentScript()).toContain('systemctl status --no-pager --lines=10 kehilla-api');
    expect(sentScript()).toContain('pg_stat_activity');
    expect(ssm).toHaveReceivedCommandWith(GetCommandInvocationCommand, { CommandId: 'cmd-1', InstanceId: INSTANCE });
    expect(io.stdout).toContain('kehilla-redis         active');
    expect(io.stderr).toContain(`service status: running on ${INSTANCE} (command cmd-1)`);
  });

  test('status exits 1 and says what to do when a service is not active', async () => {
    hostRuns('kehilla-api           failed\nkehilla-postgresql    active\nkehilla-redis         active\n');
    const { code, io } = await run(['status']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('Not active: kehilla-api. Next: `shtetl-ops logs api -n 200`, then `shtetl-ops restart api`');
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
    hostRuns('', 'restic-backups: restore drill of kehilla_app succeeded in 412s\n');
    const d = await run(['drill', '--database', 'kehilla_app']);
    expect(d.code).toBe(0);
    expect(sentScript()).toContain('"$rb" drill --database \'kehilla_app\'');
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
    hostRuns('kehilla-api is healthy');
    expect((await run(['restart', 'api', '--yes'])).code).toBe(0);
    expect(sentScript()).toBe('bash "${SHTETL_OPS_HOST_DIR:-/opt/kehilla/host}"/deploy-api.sh\n');
    ssm.reset();
    hostRuns('kehilla-redis restarted');
    await run(['restart', 'redis', '-y']);
    expect(sentScript()).toContain('systemctl restart kehilla-redis');
    expect(sentScript()).toContain('systemctl is-active --quiet kehilla-redis');
  });

  test('restore passes its checked options quoted, and names the database it replaces', async () => {
    hostRuns('', 'restic-backups: restored, verified and swapped in kehilla_app in 512s\n');
    const { code, io } = await run(['restore', '--yes', '--snapshot', '1a2b3c4d', '--before', '2026-11-25 12:00']);
    expect(code).toBe(0);
    expect(sentScript()).toContain('"$rb" restore --snapshot \'1a2b3c4d\' --before \'2026-11-25 12:00\'');
    expect(io.stderr).toContain('Replace database kehilla_app of kehilla with snapshot 1a2b3c4d');
    expect(io.stderr).toContain('(confirmed by --yes)');
    expect(io.stderr).toMatch(/restore done in \d+s/);
  });

  // issue 14: `restore --snapshot $'x\nSHTETL_OPS\n<cmd>'` ended the here-document the script
  // travelled in, and <cmd> ran as root on the host.
  test.each([
    ['--snapshot', 'x\nSHTETL_OPS\ntouch /tmp/pwned'],
    ['--snapshot', "1a2b'; rm -rf /; '"],
    ['--before', '2026-11-25\nSHTETL_OPS\nreboot'],
    ['--database', 'kehilla_app; DROP DATABASE kehilla_app'],
  ])('restore %s %j is refused before anything reaches AWS', async (option, value) => {
    const { code, io } = await run(['restore', '--yes', option, value]);
    expect(code).toBe(2);
    expect(io.stderr).toContain(`error: ${option} ${JSON.stringify(value)} is not `);
    expect(ssm).not.toHaveReceivedCommand(SendCommandCommand);
    expect(ec2).not.toHaveReceivedCommand(DescribeInstancesCommand);
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
      logGroupName: 'KehillaProdCompute-HostPostgresqlLogs-X1', startTime: Date.parse('2026-11-26T02:00:00Z'),
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
    expect(logs).toHaveReceivedNthCommandWith(2, FilterLogEventsCommand, { logGroupName: 'KehillaProdCompute-HostApiLogs-X1', startTime: event('1', 1, '').timestamp });
  });

  test('an empty window says so and suggests a longer one', async () => {
    logs.on(FilterLogEventsCommand).resolves({ events: [] });
    const { io } = await run(['logs', 'boot']);
    expect(io.stderr).toContain('No boot log events in KehillaProdCompute-HostBootLogs-X1');
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
    expect(io.fetches).toEqual(['https://kehilla.example.org/api/healthz']);
    expect(sentScript()).toContain("curl -sS -m 5 -w '\\nHTTP %{http_code} in %{time_total}s\\n' 'http://127.0.0.1:9000/healthz'");
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
    expect(io.execs).toEqual([{ command: 'aws', args: ['ssm', 'start-session', '--region', REGION, '--target', INSTANCE] }]);
  });

  test('psql forwards 5432 to the local port and prints the psql command without any secret', async () => {
    const { io } = await run(['psql', '--local-port', '25432']);
    expect(io.execs[0].args).toEqual(['ssm', 'start-session', '--region', REGION, '--target', INSTANCE,
      '--document-name', 'AWS-StartPortForwardingSession', '--parameters', '{"portNumber":["5432"],"localPortNumber":["25432"]}']);
    expect(io.stderr).toContain(`--region ${REGION} --name /kehilla/prod/postgres-password --with-decryption`);
    expect(io.stderr).toContain("psql -h 127.0.0.1 -p 25432 -U 'kehilla_api' 'kehilla_app'");
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
    expect(printed.io.stderr).toContain(`$ aws ssm start-session --region ${REGION} --target ${INSTANCE}`);
  });
});

describe('releases and CloudFront', () => {
  test('deploy-api --file uploads the binary to the release key, then runs deploy-api.sh', async () => {
    hostRuns('kehilla-api is healthy at http://127.0.0.1:9000/healthz (abc)');
    s3.on(PutObjectCommand).resolves({ VersionId: 'v2' });
    const io = new FakeIo();
    io.files['./api'] = Buffer.concat([Buffer.from([0x7f]), Buffer.from('ELF rest of binary')]);
    const { code } = await run(['deploy-api', '--file', './api', '--yes'], io);
    expect(code).toBe(0);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, { Bucket: 'kehilla-releases', Key: 'releases/kehilla-api/current/api-linux-arm64', ChecksumAlgorithm: 'SHA256' });
    expect(io.stderr).toContain('to kehilla-api (restarts the API) (confirmed by --yes)');
    expect(io.stderr).toContain('as version v2');
    expect(sentScript()).toContain('/opt/kehilla/host}"/deploy-api.sh');
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
      Bucket: 'kehilla-releases',
      Key: 'releases/kehilla-api/current/api-linux-arm64',
      CopySource: 'kehilla-releases/releases/kehilla-api/current/api-linux-arm64?versionId=v1',
    });
  });

  test('a failed deploy tells how to roll back', async () => {
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'c' } });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed', ResponseCode: 1, StandardErrorContent: 'deploy-api: kehilla-api did not become healthy' });
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

  test('invalidate needs --distribution-id when the service has several distributions', async () => {
    const { code, io } = await run(['--stack-prefix', 'Kehilla', 'invalidate', '--no-wait']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('2 CloudFront distributions of service kehilla in eu-central-1 (stacks Kehilla*): E2EXAMPLE, E3STAGING.');
    expect(io.stderr).toContain('what to do: Pass --distribution-id ID');
    cloudfront.on(CreateInvalidationCommand).resolves({ Invalidation: { Id: 'I2' } as any });
    const given = await run(['--stack-prefix', 'Kehilla', 'invalidate', '--distribution-id', 'E3STAGING', '--no-wait']);
    expect(given.code).toBe(0);
    expect(cloudfront).toHaveReceivedCommandWith(CreateInvalidationCommand, { DistributionId: 'E3STAGING' });
  });
});

describe('disaster recovery', () => {
  test('host-status shows instance, agent and volume, and fails when the agent is offline', async () => {
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: INSTANCE, PingStatus: 'ConnectionLost' }] });
    const { code, io } = await run(['host-status']);
    expect(code).toBe(1);
    expect(io.stdout).toContain(`instance  ${INSTANCE}  running, m7g.medium`);
    expect(io.stdout).toContain('ssm agent ConnectionLost');
    expect(ec2).toHaveReceivedCommandWith(DescribeVolumesCommand, { Filters: [{ Name: 'tag:shtetl:data-volume', Values: ['c8prod'] }] });
    expect(io.stdout).toContain(`/data     vol-0aaa  in-use, attached to ${INSTANCE} (attached), 30 GiB`);
    expect(io.stderr).toContain('shtetl-ops replace-instance');
  });

  test('replace-instance stops and starts the host, waits for the agent and the API', async () => {
    const states = ['running', 'running', 'stopping', 'stopped', 'pending', 'running'];
    ec2.on(StopInstancesCommand).resolves({});
    ec2.on(StartInstancesCommand).resolves({});
    const describe = ec2.commandCalls(DescribeInstancesCommand).length;
    ec2.on(DescribeInstancesCommand, { InstanceIds: [INSTANCE] }).callsFake(async () => {
      instances[0].state = states.length > 1 ? states.shift()! : states[0];
      return { Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: instances[0].state as any } }] }] };
    });
    ssm.on(DescribeInstanceInformationCommand).resolvesOnce({ InstanceInformationList: [] }).resolves({ InstanceInformationList: [{ PingStatus: 'Online' }] });
    hostRuns('{"status":"healthy"}');
    const { code, io } = await run(['replace-instance', '--yes']);
    expect(code).toBe(0);
    expect(ec2.commandCalls(DescribeInstancesCommand).length).toBeGreaterThan(describe);
    expect(ec2).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: [INSTANCE] });
    expect(ec2).not.toHaveReceivedCommandWith(StopInstancesCommand, { Force: true });
    expect(ec2).toHaveReceivedCommandWith(StartInstancesCommand, { InstanceIds: [INSTANCE] });
    expect(sentScript()).toContain("curl -fsS -m 5 'http://127.0.0.1:9000/healthz' && exit 0");
    expect(sentScript()).toContain('journalctl -u kehilla-boot -n 20');
    expect(io.stdout).toContain(`${INSTANCE} is running on new hardware with /data attached; the API is healthy`);
  });

  test('region-failover finds the replica from the backup bucket\'s replication, checks it and the restic password there, then prints the steps', async () => {
    s3.on(GetBucketReplicationCommand, { Bucket: 'kehilla-prod-backups' }).resolves({
      ReplicationConfiguration: { Role: 'r', Rules: [{ Status: 'Enabled', Destination: { Bucket: 'arn:aws:s3:::kehilla-replica' } }] },
    });
    s3.on(GetBucketLocationCommand, { Bucket: 'kehilla-replica' }).resolves({ LocationConstraint: 'eu-north-1' });
    // Two pages: the CLI follows NextContinuationToken.
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ Contents: [{ Key: 'repo/snapshots/a', LastModified: new Date('2026-11-26T02:00:00Z') }], IsTruncated: true, NextContinuationToken: 't2' })
      .resolves({ Contents: [{ Key: 'repo/snapshots/b', LastModified: new Date('2026-11-26T03:00:00Z') }] });
    ssm.on(DescribeParametersCommand).resolves({ Parameters: [{ Name: '/kehilla/prod/restic-password' }] });
    const { code, io } = await run(['region-failover']);
    expect(code).toBe(0);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: 'kehilla-replica', Prefix: 'repo/snapshots/' });
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { ContinuationToken: 't2' });
    const list = s3.commandCalls(ListObjectsV2Command)[0];
    expect(await list.thisValue.config.region()).toBe('eu-north-1');
    expect(ssm).toHaveReceivedCommandWith(DescribeParametersCommand, { ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: ['/kehilla/prod/restic-password'] }] });
    expect(io.stdout).toContain('2 snapshots, newest 2026-11-26T03:00:00.000Z (1.0 h old');
    expect(io.stdout).toContain('restic-password in eu-north-1: present');
    expect(io.stdout).toContain('aws s3 sync s3://kehilla-replica/repo/ s3://NEW_BUCKET/repo/ --delete');
    expect(io.stdout).toContain('shtetl-ops --service kehilla --region eu-north-1 restore --yes');
    expect(io.stdout).not.toMatch(/zmanim/i);
  });

  test('region-failover works with the primary region down (options only) and flags a missing password', async () => {
    ec2.on(DescribeInstancesCommand).rejects(awsError('ServiceUnavailable', 'eu-central-1 is down'));
    tagging.on(GetResourcesCommand).rejects(awsError('ServiceUnavailable', 'eu-central-1 is down'));
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'restic/snapshots/a', LastModified: new Date('2026-11-26T01:00:00Z') }] });
    ssm.on(DescribeParametersCommand).resolves({ Parameters: [] });
    const { code, io } = await run(['region-failover', '--replica-bucket', 'kehilla-replica-2', '--target-region', 'eu-north-1', '--ssm-prefix', '/kehilla/prod']);
    expect(code).toBe(1);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: 'kehilla-replica-2', Prefix: 'restic/snapshots/' });
    expect(io.stdout).toContain('MISSING (the backups cannot be decrypted without it');
    const without = await run(['region-failover']);
    expect(without.code).toBe(2);
    expect(without.io.stderr).toContain('what to do: Pass --replica-bucket and --target-region');
  });

  test('region-failover with an empty replica fails loudly', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    const { code, io } = await run(['region-failover', '--replica-bucket', 'kehilla-replica', '--target-region', 'eu-north-1']);
    expect(code).toBe(1);
    expect(io.stderr).toContain('No restic snapshot in s3://kehilla-replica/repo/snapshots/ (eu-north-1)');
  });
});
