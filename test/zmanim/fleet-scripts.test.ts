/**
 * The API fleet's boot pieces (managed profile) run for real where they can: its cloud-config
 * against cloud-init's schema, write-fleet-env.sh against temporary directories, the systemd
 * drop-in against the host's unit with systemd-analyze.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { parse } from 'yaml';
import { DEFAULT_CONFIG, validateConfig } from '../../src/zmanim/config';
import { ApiFleetStack } from '../../src/zmanim/stacks/api-fleet-stack';
import { ManagedDataStack } from '../../src/zmanim/stacks/managed-data-stack';
import { NetworkStack } from '../../src/zmanim/stacks/network-stack';
import { appContext } from '../support/app-context';
import { requireTools } from '../support/tools';

const FLEET = join(__dirname, '..', '..', 'src', 'zmanim', 'fleet');
const HOST = join(__dirname, '..', '..', 'src', 'constructs', 'graviton-data-host', 'host');

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'fleet-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('cloud-init schema accepts the fleet\'s user data, which bootstraps from host.env', () => {
  requireTools({ 'cloud-init': 'cloud-init' });
  const app = new App({ context: appContext() });
  const env = { account: '123456789012', region: 'eu-west-1' };
  const config = validateConfig({ ...DEFAULT_CONFIG, account: env.account, capacityProfile: 'managed' });
  const network = new NetworkStack(app, 'Network', { env, config });
  const alarmTopic = new sns.Topic(new Stack(app, 'Topics', { env }), 'Alarms');
  const data = new ManagedDataStack(app, 'Data', { env, config, vpc: network.vpc, alarmTopic });
  const t = Template.fromStack(new ApiFleetStack(app, 'Fleet', { env, config, vpc: network.vpc, data, alarmTopic }));
  const lt = Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0];
  // Tokens (endpoints, bucket) as placeholders, as CloudFormation would fill them in.
  const parts: unknown[] = lt.Properties.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1];
  const userData = parts.map((p) => (typeof p === 'string' ? p : 'resolved-value')).join('');
  const file = join(dir, 'user-data');
  writeFileSync(file, userData);
  const result = spawnSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8' });
  expect(`${result.stdout}${result.stderr}`).toMatch(/Valid cloud-config/);
  expect(userData).toMatch(/^#cloud-config\n/);
  // The GravitonDataHost bootstrap, byte for byte, with three assets each carrying the SHA-256
  // of its zip (it runs nothing it cannot verify), then the fleet's own first boot.
  expect(userData).toMatch(/ZMANIM_HOST_ASSETS="(s3:\/\/[^"# ]+\.zip#[0-9a-f]{64} ){2}s3:\/\/[^"# ]+\.zip#[0-9a-f]{64}"/);
  expect(userData).toContain('ZMANIM_FIRST_BOOT="/opt/zmanim/fleet/fleet-boot.sh"');
  const bootstrap = (parse(userData).write_files as Array<{ path: string; content: string }>).find((f) => f.path === '/usr/local/sbin/zmanim-bootstrap');
  expect(bootstrap?.content).toBe(readFileSync(join(HOST, 'bootstrap.sh'), 'utf8'));
  // Session Manager without AmazonSSMManagedInstanceCore (GetParameter* on *).
  expect(JSON.stringify(t.toJSON())).not.toContain('AmazonSSMManagedInstanceCore');
  expect(userData).toContain('runcmd:\n  - [bash, /usr/local/sbin/zmanim-bootstrap, zmanim]');
  expect(Buffer.byteLength(userData)).toBeLessThan(16 * 1024);
});

describe('write-fleet-env.sh', () => {
  const run = (extra: Record<string, string> = {}) => spawnSync('bash', [join(FLEET, 'write-fleet-env.sh')], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      ZMANIM_HOST_DIR: HOST,
      ZMANIM_HOST_ENV: join(dir, 'none'),
      ZMANIM_CONF_DIR: join(dir, 'etc'),
      ZMANIM_SECRETS_DIR: join(dir, 'secrets'),
      ZMANIM_DB_ADDRESS: 'zmanim.abc.eu-west-1.rds.amazonaws.com:5432',
      ZMANIM_CACHE_ADDRESS: 'master.zmanim.abc.euw1.cache.amazonaws.com:6379',
      ZMANIM_API_SECRET_NAMES: 'jwt-secret origin-verify-key',
      ...extra,
    },
  });

  beforeAll(() => {
    mkdirSync(join(dir, 'etc'), { recursive: true });
    mkdirSync(join(dir, 'secrets'), { mode: 0o700 });
    // Throwaway values for this test; one needs URL encoding.
    for (const [name, value] of Object.entries({ 'postgres-password': 'test/only+pg', 'redis-password': 'test-only-redis', 'jwt-secret': 'test-only-jwt', 'origin-verify-key': 'test-only-ov1' })) {
      writeFileSync(join(dir, 'secrets', name), value);
    }
    writeFileSync(join(dir, 'etc', 'api-settings.env'), '# settings\nALLOWED_ORIGINS=https://zmanim.shtetl.io\nENVIRONMENT=prod\n');
  });

  test('points the API at RDS with TLS and at ElastiCache with TLS and AUTH, root-only', () => {
    const r = run();
    expect(r.stderr).not.toMatch(/ERROR/);
    expect(r.stdout.trim()).toBe('changed');
    const content = readFileSync(join(dir, 'etc', 'api.env'), 'utf8');
    expect(content).toContain('DATABASE_URL=postgres://zmanim:test%2Fonly%2Bpg@zmanim.abc.eu-west-1.rds.amazonaws.com:5432/zmanim?sslmode=require\n');
    expect(content).toContain('REDIS_URL=rediss://default:test-only-redis@master.zmanim.abc.euw1.cache.amazonaws.com:6379/0\n');
    expect(content).toContain('JWT_SECRET=test-only-jwt\nORIGIN_VERIFY_KEY=test-only-ov1\n');
    expect(content).toContain('ALLOWED_ORIGINS=https://zmanim.shtetl.io\nENVIRONMENT=prod\n');
    expect(content).not.toContain('DATABASE_READ_URL');
    expect((statSync(join(dir, 'etc', 'api.env')).mode % 0o1000).toString(8)).toBe('600');
  });

  test('reports a change only when a value changed (what the refresh timer restarts the API for)', () => {
    expect(run().stdout.trim()).toBe('');
    writeFileSync(join(dir, 'secrets', 'origin-verify-key'), 'test-only-ov2');
    expect(run().stdout.trim()).toBe('changed');
    expect(readFileSync(join(dir, 'etc', 'api.env'), 'utf8')).toContain('ORIGIN_VERIFY_KEY=test-only-ov2\n');
  });

  test('a secret the environment file cannot hold fails naming it, and api.env stays as it was', () => {
    const before = readFileSync(join(dir, 'etc', 'api.env'), 'utf8');
    writeFileSync(join(dir, 'secrets', 'jwt-secret'), 'test-only\nINJECTED=1');
    try {
      const r = run();
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('secret jwt-secret contains whitespace, a quote, a backslash or a control character');
      expect(r.stderr).not.toContain('INJECTED');
      expect(readFileSync(join(dir, 'etc', 'api.env'), 'utf8')).toBe(before);
    } finally {
      writeFileSync(join(dir, 'secrets', 'jwt-secret'), 'test-only-jwt');
    }
  });

  test('adds DATABASE_READ_URL with a read replica, and refuses to run without the endpoints', () => {
    run({ ZMANIM_DB_READ_ADDRESS: 'replica.abc.eu-west-1.rds.amazonaws.com:5432' });
    expect(readFileSync(join(dir, 'etc', 'api.env'), 'utf8')).toContain('DATABASE_READ_URL=postgres://zmanim:test%2Fonly%2Bpg@replica.abc.eu-west-1.rds.amazonaws.com:5432/zmanim?sslmode=require\n');
    const r = run({ ZMANIM_DB_ADDRESS: '' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ZMANIM_DB_ADDRESS \(host:port of RDS\) is not set/);
  });
});

test('the fleet\'s API unit is the host\'s without the local PostgreSQL and Redis units (systemd-analyze verify)', () => {
  requireTools({ 'systemd-analyze': 'systemd' });
  const verify = (unitsDir: string, unit: string) => {
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(unitsDir, unit)], { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${unitsDir}:` } });
    // The units run programs under /opt/zmanim that exist only on an instance; anything else is a problem.
    return `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() && !/\/opt\/zmanim\/.* is not executable/.test(l));
  };
  const hostUnits = join(dir, 'host-units');
  mkdirSync(hostUnits);
  // As provision.sh installs the template for the zmanim service.
  writeFileSync(join(hostUnits, 'zmanim-api.service'), readFileSync(join(HOST, 'units', 'api.service'), 'utf8').replace(/@SERVICE@/g, 'zmanim'));
  // The check sees a missing dependency: the host's unit alone needs its data services.
  expect(verify(hostUnits, 'zmanim-api.service').join('\n')).toMatch(/zmanim-(redis|postgresql)\.service not found/);

  const units = join(dir, 'units');
  mkdirSync(units);
  const unit = spawnSync('bash', [join(FLEET, 'api-unit.sh')], { encoding: 'utf8', env: { PATH: process.env.PATH, ZMANIM_HOST_DIR: HOST } });
  expect(unit.status).toBe(0);
  writeFileSync(join(units, 'zmanim-api.service'), unit.stdout);
  for (const f of ['zmanim-fleet-refresh.service', 'zmanim-fleet-refresh.timer']) copyFileSync(join(FLEET, 'units', f), join(units, f));
  expect(unit.stdout).not.toMatch(/postgresql|redis/);
  expect(unit.stdout).toMatch(/^ExecStartPre=\+\/usr\/bin\/env bash \/opt\/zmanim\/host\/fetch-api\.sh$/m);
  expect(unit.stdout).toMatch(/^DynamicUser=yes$/m);
  for (const name of ['zmanim-api.service', 'zmanim-fleet-refresh.timer', 'zmanim-fleet-refresh.service']) expect(verify(units, name)).toEqual([]);
});
