/**
 * The boot scripts run for real against PostgreSQL and Redis in a temporary directory standing
 * in for /data, with SSM, S3 and systemd replaced at their command-line boundary (fakes/).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HostSandbox, modeOf, postgresBinDir } from '../support/host-sandbox';
import { freePort, requireTools } from '../support/tools';

const PATH = '/kehilla/test';
const SECRETS: Record<string, string> = {
  'postgres-password': 'pg-Pass_word-1',
  'redis-password': 'redis-Pass_word-1',
  'clerk-secret-key': 'sk_test_canary_clerk',
  'jwt-secret': 'jwt-canary-value',
};

let host: HostSandbox;
let bin: string;
let apiPort: number;

/** A stand-in for the Go API: records what systemd gave it, then serves /health on PORT. */
function fakeApi(version: string): string {
  return [
    '#!/bin/bash',
    `echo ${version} > "${host.fakeLogDir}/api-version"`,
    `env > "${host.fakeLogDir}/api-env"`,
    `id -un > "${host.fakeLogDir}/api-user"`,
    `exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "${host.root}/www"`,
    '',
  ].join('\n');
}
const RELEASE = ['releases', 'kehilla-api/current/api-linux-arm64'] as const;

function psql(url: string, sql: string) {
  return spawnSync(join(bin, 'psql'), ['-X', '-tA', '-v', 'ON_ERROR_STOP=1', url, '-c', sql], { encoding: 'utf8', env: { ...process.env, PGCONNECT_TIMEOUT: '5' } });
}
function redis(args: string[]) {
  return spawnSync('redis-cli', ['-p', String(host.redisPort), ...args], { encoding: 'utf8' });
}
function apiEnv(): Record<string, string> {
  return Object.fromEntries(readFileSync(join(host.confDir, 'api.env'), 'utf8').split('\n')
    .filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
function systemIdentifier(): string {
  const out = spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_controldata'), join(host.dataDir, 'postgres')], { encoding: 'utf8', cwd: '/' });
  return /Database system identifier:\s+(\d+)/.exec(out.stdout)?.[1] ?? `none: ${out.stderr}`;
}
function boot() {
  const result = host.run('boot.sh', [], { KEHILLA_BOOT_SKIP: 'attach-volume' });
  return { ...result, output: `${result.stdout}${result.stderr}` };
}

beforeAll(async () => {
  requireTools({ 'runuser': 'util-linux', 'redis-server': 'redis-server', 'redis-cli': 'redis-tools', 'curl': 'curl' });
  bin = postgresBinDir();
  host = new HostSandbox(await freePort(), await freePort(), 'kehilla');
  apiPort = await freePort();
  mkdirSync(join(host.root, 'www'));
  writeFileSync(join(host.root, 'www', 'health'), 'healthy\n');
  host.writeHostEnv({
    KEHILLA_API_PORT: String(apiPort),
    KEHILLA_REGION: 'eu-west-1',
    KEHILLA_SSM_PATH: PATH,
    KEHILLA_SECRET_NAMES: Object.keys(SECRETS).join(' '),
    KEHILLA_API_SECRET_NAMES: 'clerk-secret-key jwt-secret',
    KEHILLA_RELEASE_BUCKET: 'releases',
    KEHILLA_RELEASE_KEY: 'kehilla-api/current/api-linux-arm64',
    KEHILLA_METRICS_NAMESPACE: 'Shtetl/DataHost',
    KEHILLA_LOG_GROUP_API: '/shtetl/test/api',
    KEHILLA_LOG_GROUP_POSTGRESQL: '/shtetl/test/postgresql',
    KEHILLA_LOG_GROUP_REDIS: '/shtetl/test/redis',
    KEHILLA_LOG_GROUP_BOOT: '/shtetl/test/boot',
  });
  writeFileSync(join(host.confDir, 'api-settings.env'), 'ALLOWED_ORIGINS=https://kehilla.example\nENVIRONMENT=test\n');
  for (const [name, value] of Object.entries(SECRETS)) host.putParameter(`${PATH}/${name}`, value);
  host.putObject(...RELEASE, fakeApi('release-1'));
  // A boot command (as ResticBackups adds): it must find /data prepared and Redis answering.
  writeFileSync(join(host.bootDir, '50-check.sh'),
    `set -euo pipefail\ntest -s "${host.dataDir}/postgres/PG_VERSION"\nREDISCLI_AUTH=$(cat "${host.secretsDir}/redis-password") redis-cli -p ${host.redisPort} ping | grep -q PONG\necho ran >> "${host.fakeLogDir}/boot-command"\n`);
});

afterAll(() => {
  host?.stopServices();
  if (host) rmSync(host.root, { recursive: true, force: true });
});

describe('first boot', () => {
  let output = '';
  beforeAll(() => {
    const result = boot();
    output = result.output;
    if (result.status !== 0) throw new Error(`first boot failed (${result.status}):\n${output}`);
  });

  test('initializes a PostgreSQL cluster on /data sized for 4 GiB', () => {
    expect(output).toContain('initializing a new PostgreSQL');
    expect(existsSync(join(host.dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    const conf = readFileSync(join(host.dataDir, 'postgres', 'kehilla.conf'), 'utf8');
    expect(conf).toContain("shared_buffers = '1024MB'");
    expect(conf).toContain("listen_addresses = '127.0.0.1'");
    expect(existsSync(join(host.dataDir, '.postgres-initdb'))).toBe(false);
  });

  test('secrets are root-only files and never appear in the boot output', () => {
    for (const [name, value] of Object.entries(SECRETS)) {
      const file = join(host.secretsDir, name);
      expect(readFileSync(file, 'utf8')).toBe(value);
      expect(modeOf(file)).toBe(0o600);
      expect(output).not.toContain(value);
    }
    expect(modeOf(host.secretsDir)).toBe(0o700);
    expect(readFileSync(join(host.fakeLogDir, 'aws.log'), 'utf8')).not.toContain(SECRETS['postgres-password']);
  });

  test('the API environment file is root-only and complete', () => {
    expect(modeOf(join(host.confDir, 'api.env'))).toBe(0o600);
    const env = apiEnv();
    expect(env).toMatchObject({
      PORT: String(apiPort),
      CLERK_SECRET_KEY: SECRETS['clerk-secret-key'],
      JWT_SECRET: SECRETS['jwt-secret'],
      ALLOWED_ORIGINS: 'https://kehilla.example',
      ENVIRONMENT: 'test',
    });
    expect(env.DATABASE_URL).toBe(`postgres://kehilla:${SECRETS['postgres-password']}@127.0.0.1:${host.pgPort}/kehilla?sslmode=disable`);
    expect(env.REDIS_URL).toBe(`redis://default:${SECRETS['redis-password']}@127.0.0.1:${host.redisPort}/0`);
    expect(env).not.toHaveProperty('POSTGRES_PASSWORD');
  });

  test('the API was fetched from the release location and started with that environment', () => {
    expect(readFileSync(join(host.fakeLogDir, 'aws.log'), 'utf8')).toContain('s3 cp --only-show-errors s3://releases/kehilla-api/current/api-linux-arm64');
    for (let i = 0; i < 50 && !existsSync(join(host.fakeLogDir, 'api-env')); i++) spawnSync('sleep', ['0.1']);
    const seen = readFileSync(join(host.fakeLogDir, 'api-env'), 'utf8');
    expect(seen).toContain(`DATABASE_URL=${apiEnv().DATABASE_URL}`);
    // DynamicUser=yes: not root (the fake runs it as nobody).
    expect(readFileSync(join(host.fakeLogDir, 'api-user'), 'utf8').trim()).toBe('nobody');
  });

  test('the application role can use its database but is not a superuser', () => {
    const url = apiEnv().DATABASE_URL;
    expect(psql(url, 'SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user').stdout.trim()).toBe('f|f|f');
    expect(psql(url, "CREATE TABLE kehilla_probe (v text); INSERT INTO kehilla_probe VALUES ('kept')").status).toBe(0);
    expect(psql(url, 'CREATE DATABASE other').stderr).toMatch(/permission denied/);
    expect(psql(url, "ALTER SYSTEM SET work_mem = '1GB'").stderr).toMatch(/must be superuser|permission denied/);
    const noPassword = psql(`postgres://kehilla@127.0.0.1:${host.pgPort}/kehilla`, 'SELECT 1');
    expect(noPassword.status).not.toBe(0);
  });

  test('Redis refuses unauthenticated clients and accepts the password', () => {
    expect(redis(['set', 'k', 'v']).stdout).toMatch(/NOAUTH/);
    expect(redis(['-u', apiEnv().REDIS_URL, 'set', 'persisted', 'yes']).stdout.trim()).toBe('OK');
    expect(modeOf(join(host.confDir, 'redis.conf'))).toBe(0o640);
  });

  test('boot commands ran after /data, the secrets and the services were ready', () => {
    expect(readFileSync(join(host.fakeLogDir, 'boot-command'), 'utf8')).toBe('ran\n');
  });

  test('the CloudWatch agent gets the four log groups and the metrics namespace', () => {
    const config = JSON.parse(readFileSync(host.env.KEHILLA_CWAGENT_CONFIG, 'utf8'));
    expect(config.metrics.namespace).toBe('Shtetl/DataHost');
    expect(config.metrics.metrics_collected.disk.resources).toEqual([host.dataDir]);
    expect(config.logs.logs_collected.files.collect_list.map((f: { log_group_name: string }) => f.log_group_name))
      .toEqual(['/shtetl/test/api', '/shtetl/test/postgresql', '/shtetl/test/redis', '/shtetl/test/boot']);
    expect(readFileSync(join(host.fakeLogDir, 'cwagent.log'), 'utf8')).toContain(`-a fetch-config -m ec2 -s -c file:${host.env.KEHILLA_CWAGENT_CONFIG}`);
  });
});

describe('second boot on the same /data', () => {
  let output = '';
  let identifierBefore = '';
  beforeAll(() => {
    host.stopServices();
    identifierBefore = systemIdentifier();
    // A rotated database password and an unreachable release location.
    host.putParameter(`${PATH}/postgres-password`, 'pg-Rotated_2');
    rmSync(join(host.s3Dir, 'releases'), { recursive: true });
    const result = boot();
    output = result.output;
    if (result.status !== 0) throw new Error(`second boot failed (${result.status}):\n${output}`);
  });
  afterAll(() => host.putParameter(`${PATH}/postgres-password`, SECRETS['postgres-password']));

  test('keeps the cluster and its data without re-initializing', () => {
    expect(output).toContain('keeping the existing PostgreSQL');
    expect(output).not.toContain('initializing a new PostgreSQL');
    expect(identifierBefore).toMatch(/^\d+$/);
    expect(systemIdentifier()).toBe(identifierBefore);
    expect(psql(apiEnv().DATABASE_URL, 'SELECT v FROM kehilla_probe').stdout.trim()).toBe('kept');
  });

  test('applies a rotated password: the new one works, the old one no longer does', () => {
    expect(apiEnv().DATABASE_URL).toContain('pg-Rotated_2');
    const old = psql(`postgres://kehilla:${SECRETS['postgres-password']}@127.0.0.1:${host.pgPort}/kehilla`, 'SELECT 1');
    expect(old.stderr).toMatch(/password authentication failed/);
  });

  test('Redis data survived the restart', () => {
    expect(redis(['-u', apiEnv().REDIS_URL, 'get', 'persisted']).stdout.trim()).toBe('yes');
  });

  test('the API starts from its local copy when the release location cannot be read', () => {
    expect(output).toContain('WARNING: could not fetch s3://releases/');
    expect(existsSync(join(host.apiDir, 'kehilla-api'))).toBe(true);
  });
});

describe('deploying an API release (deploy-api.sh, run through SSM Run Command)', () => {
  const deploy = (waitSeconds = 10) => {
    const result = host.run('deploy-api.sh', [], { KEHILLA_DEPLOY_WAIT_SECONDS: String(waitSeconds) });
    return { ...result, output: result.stdout + result.stderr };
  };

  test('fetches the new release, restarts the API and waits until it is healthy', () => {
    host.putObject(...RELEASE, fakeApi('release-2'));
    const result = deploy();
    expect(result.output).toContain('kehilla-api.service is healthy');
    expect(result.status).toBe(0);
    expect(readFileSync(join(host.fakeLogDir, 'api-version'), 'utf8').trim()).toBe('release-2');
  });

  test('fails when the release cannot be fetched, instead of restarting the old copy', () => {
    rmSync(join(host.s3Dir, 'releases'), { recursive: true });
    const result = deploy();
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('could not fetch s3://releases/kehilla-api/current/api-linux-arm64; nothing deployed');
    expect(readFileSync(join(host.fakeLogDir, 'api-version'), 'utf8').trim()).toBe('release-2');
  });

  test('fails when the new release does not answer its health check', () => {
    host.putObject(...RELEASE, '#!/bin/bash\nexit 1\n');
    const result = deploy(3);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/kehilla-api.service did not answer http:\/\/127.0.0.1:\d+\/health after the restart/);
  });
});

describe('failures stop the boot with a message', () => {
  test('before the first release exists, the boot succeeds and leaves the API stopped', () => {
    host.stopServices();
    rmSync(join(host.s3Dir, 'releases'), { recursive: true, force: true });
    rmSync(join(host.apiDir, 'kehilla-api'));
    const result = boot();
    expect(result.status).toBe(0);
    expect(result.output).toContain('WARNING: no API release yet; kehilla-api.service stays stopped until the first deployment');
    expect(readFileSync(join(host.fakeLogDir, 'systemctl.log'), 'utf8').trim().split('\n').pop()).not.toMatch(/kehilla-api/);
  });

  test('a missing secret fails the boot naming it, before any service starts', () => {
    host.stopServices();
    rmSync(join(host.ssmDir, PATH, 'clerk-secret-key'));
    const starts = () => (readFileSync(join(host.fakeLogDir, 'systemctl.log'), 'utf8').match(/^restart kehilla-postgresql/mg) ?? []).length;
    const before = starts();
    const result = boot();
    host.putParameter(`${PATH}/clerk-secret-key`, SECRETS['clerk-secret-key']);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/required secret\(s\) missing or unreadable: \/kehilla\/test\/clerk-secret-key/);
    expect(result.output).toContain('ParameterNotFound');
    expect(result.output).toContain('boot step read-secrets failed');
    expect(starts()).toBe(before);
  });

  test('a secret the environment file cannot hold fails the boot naming it, and api.env stays as it was', () => {
    const before = readFileSync(join(host.confDir, 'api.env'), 'utf8');
    host.putParameter(`${PATH}/jwt-secret`, 'injected\nPORT=9999');
    const result = boot();
    host.putParameter(`${PATH}/jwt-secret`, SECRETS['jwt-secret']);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('secret jwt-secret contains whitespace, a quote, a backslash or a control character');
    expect(result.output).not.toContain('injected');
    expect(readFileSync(join(host.confDir, 'api.env'), 'utf8')).toBe(before);
  });

  test('a data directory that is not a cluster is never initialized over', () => {
    const data = join(host.root, 'other-data');
    mkdirSync(join(data, 'postgres'), { recursive: true });
    writeFileSync(join(data, 'postgres', 'important'), 'x');
    const result = host.run('configure-postgres.sh', [], { KEHILLA_DATA_DIR: data });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('is not empty but has no PG_VERSION: refusing to initialize over it');
    expect(readFileSync(join(data, 'postgres', 'important'), 'utf8')).toBe('x');
  });
});
