/**
 * The integ tests' host check scripts, run for real against a throwaway PostgreSQL (TCP on
 * 127.0.0.1 with SCRAM passwords, as on the host). Only EC2's DescribeInstances is faked.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkCommands, HOST_CHECKS_DIR } from '../../integ/support/data-host';
import { postgresBinDir } from '../support/host-sandbox';
import { freePort, requireTools } from '../support/tools';

const PG_BIN = postgresBinDir();
const dir = mkdtempSync(join(tmpdir(), 'integ-host-checks-'));
const pgData = join(dir, 'pg');
const passwordFile = join(dir, 'postgres-password');
const survivorEnv = join(dir, 'survivor.env');
const fakeAws = join(dir, 'aws');
let port = 0;
const redisServers: ChildProcess[] = [];

const asPostgres = (argv: string[], input?: string) =>
  execFileSync('runuser', ['-u', 'postgres', '--', ...argv], { input, encoding: 'utf8', cwd: '/' });
const superuserSql = (sql: string) => asPostgres(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', pgData, '-p', String(port), '-d', 'postgres'], sql);

function run(script: string, env: Record<string, string>) {
  const r = spawnSync('bash', [join(HOST_CHECKS_DIR, script)], {
    encoding: 'utf8',
    env: { PATH: `${PG_BIN}:${process.env.PATH}`, PG_PORT: String(port), ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  requireTools({ runuser: 'util-linux', psql: 'postgresql-client', python3: 'python3' });
  chmodSync(dir, 0o755);
  port = await freePort();
  mkdirSync(pgData, { mode: 0o700 });
  execFileSync('chown', ['postgres:postgres', pgData]);
  asPostgres([`${PG_BIN}/initdb`, '-D', pgData, '-U', 'postgres', '--auth-local=peer', '--auth-host=scram-sha-256', '--no-sync']);
  asPostgres([`${PG_BIN}/pg_ctl`, '-D', pgData, '-l', join(pgData, 'log'), '-o',
    `-p ${port} -k ${pgData} -c listen_addresses=127.0.0.1 -c fsync=off`, '-w', 'start']);
  const password = 'integ-check-password-0123456789';
  writeFileSync(passwordFile, password, { mode: 0o600 });
  superuserSql(`CREATE ROLE integhost LOGIN NOSUPERUSER PASSWORD '${password}'; CREATE DATABASE integhost OWNER integhost;`);
  writeFileSync(fakeAws, '#!/usr/bin/env bash\n# Fake DescribeInstances: the state named by FAKE_STATE.\necho "${FAKE_STATE:-terminated}"\n', { mode: 0o755 });
}, 60_000);

afterAll(() => {
  redisServers.forEach((server) => server.kill());
  spawnSync('runuser', ['-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', pgData, '-m', 'immediate', '-w', 'stop'], { cwd: '/' });
  rmSync(dir, { recursive: true, force: true });
});

describe('app-role.sh', () => {
  const env = () => ({ DB_NAME: 'integhost', DB_USER: 'integhost', POSTGRES_PASSWORD_FILE: passwordFile });

  test('passes for a login role without superuser, createdb, createrole, replication or bypassrls', () => {
    const r = run('app-role.sh', env());
    expect(r.stdout).toContain('superuser|createdb|createrole|replication|bypassrls = f|f|f|f|f; CREATE ROLE refused');
    expect(r.stdout).toMatch(/\nPASS app-role\n$/);
    expect(r.status).toBe(0);
  });

  test('fails when the role may create databases', () => {
    superuserSql('ALTER ROLE integhost CREATEDB');
    try {
      const r = run('app-role.sh', env());
      expect(r.status).not.toBe(0);
      expect(r.stdout).toContain('FAIL app-role: integhost has attributes superuser|createdb|createrole|replication|bypassrls = f|t|f|f|f');
      expect(r.stdout).not.toContain('PASS');
    } finally {
      superuserSql('ALTER ROLE integhost NOCREATEDB');
    }
  });

  test('passes as the SSM command runs it: the AWS-RunShellScript lines joined and run by sh (dash here)', () => {
    const commands = checkCommands('app-role.sh', env());
    const r = spawnSync('sh', ['-c', commands.join('\n')], {
      encoding: 'utf8', input: 'exit 1\n', env: { PATH: `${PG_BIN}:${process.env.PATH}`, PG_PORT: String(port) },
    });
    expect(r.stdout).toMatch(/\nPASS app-role\n$/);
    expect(r.status).toBe(0);
  });

  test('fails when the password is wrong', () => {
    const wrong = join(dir, 'wrong-password');
    writeFileSync(wrong, 'not-the-password', { mode: 0o600 });
    const r = run('app-role.sh', { ...env(), POSTGRES_PASSWORD_FILE: wrong });
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('FAIL app-role: integhost cannot log in to integhost over 127.0.0.1 with its password');
  });
});

/** Starts redis-server with a password, bound to `bind`, and waits until it answers. */
async function startRedis(bind: string, password: string): Promise<number> {
  const redisPort = await freePort();
  const server = spawn('redis-server', ['--port', String(redisPort), '--bind', bind, '--requirepass', password,
    '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir], { stdio: 'ignore' });
  redisServers.push(server);
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(redisPort), '-a', password, '--no-auth-warning', 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return redisPort;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`redis-server on ${bind}:${redisPort} did not answer`);
}

describe('loopback-only.sh', () => {
  const redisPasswordFile = join(dir, 'redis-password');
  // A local address other than the loopback, where nothing listens: the "private address".
  const privateIp = execFileSync('hostname', ['-I'], { encoding: 'utf8' }).split(/\s+/).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a) && !a.startsWith('127.'));
  const env = (redisPort: number) => ({ REDIS_PASSWORD_FILE: redisPasswordFile, PRIVATE_IP: privateIp!, REDIS_PORT: String(redisPort) });

  beforeAll(() => {
    requireTools({ 'redis-server': 'redis-server', 'redis-cli': 'redis-tools', 'ss': 'iproute2', 'pg_isready': 'postgresql-client' });
    expect(privateIp).toBeDefined();
    writeFileSync(redisPasswordFile, 'integ-redis-password-0123456789', { mode: 0o600 });
  });

  test('passes when PostgreSQL and Redis listen on 127.0.0.1 only and answer there', async () => {
    const redisPort = await startRedis('127.0.0.1', 'integ-redis-password-0123456789');
    const r = run('loopback-only.sh', env(redisPort));
    expect(r.stdout).toBe([
      `port ${port}: listens on 127.0.0.1:${port} only; refused on ${privateIp}`,
      `port ${redisPort}: listens on 127.0.0.1:${redisPort} only; refused on ${privateIp}`,
      'PostgreSQL and Redis answer on 127.0.0.1',
      'PASS loopback-only', '',
    ].join('\n'));
    expect(r.status).toBe(0);
  });

  test('fails when Redis listens on every address', async () => {
    const redisPort = await startRedis('0.0.0.0', 'integ-redis-password-0123456789');
    const r = run('loopback-only.sh', env(redisPort));
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain(`FAIL loopback-only: port ${redisPort} listens on 0.0.0.0:${redisPort} (only 127.0.0.1:${redisPort} is allowed)`);
  });

  test('fails when Redis refuses the password', async () => {
    const redisPort = await startRedis('127.0.0.1', 'another-password-0123456789');
    const r = run('loopback-only.sh', env(redisPort));
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toContain('PASS');
  });
});

describe('survivor-row.sh and survivor.sh', () => {
  const writeGeneration = (generation: number) => writeFileSync(survivorEnv,
    `GENERATION=${generation}\nDB_NAME=integhost\nDB_USER=integhost\nPOSTGRES_PASSWORD_FILE=${passwordFile}\n`);
  const env = (instance: string, extra: Record<string, string> = {}) =>
    ({ SURVIVOR_ENV: survivorEnv, INSTANCE_ID: instance, AWS_CLI: fakeAws, AWS_REGION: 'us-east-1', ...extra });

  test('the first boot writes the row; a replacement keeps it and the check passes', () => {
    writeGeneration(1);
    expect(run('survivor-row.sh', env('i-0aaa')).status).toBe(0);
    // Generation 1's own check: no replacement happened yet.
    const before = run('survivor.sh', env('i-0aaa'));
    expect(before.status).not.toBe(0);
    expect(before.stdout).toContain('FAIL survivor: row 1 was written by this instance (i-0aaa, generation 1): no replacement happened');

    writeGeneration(2);
    expect(run('survivor-row.sh', env('i-0bbb')).status).toBe(0);
    const after = run('survivor.sh', env('i-0bbb'));
    expect(after.stdout).toBe('row 1 written by i-0aaa (generation 1, now terminated) read on i-0bbb (generation 2)\nPASS survivor\n');
    expect(after.status).toBe(0);

    const writerAlive = run('survivor.sh', env('i-0bbb', { FAKE_STATE: 'stopped' }));
    expect(writerAlive.status).not.toBe(0);
    expect(writerAlive.stdout).toContain('FAIL survivor: the instance that wrote row 1, i-0aaa, is stopped, not terminated');
  });

  test('fails without the row (the volume did not move)', () => {
    superuserSql('\\c integhost\nDELETE FROM integ_survivor;');
    writeGeneration(2);
    const r = run('survivor.sh', env('i-0ccc'));
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('FAIL survivor: integ_survivor has no row 1');
  });
});

test('every host check passes shellcheck and ends by printing PASS <its name>, what runCheck waits for', () => {
  const scripts = execFileSync('bash', ['-c', `ls ${HOST_CHECKS_DIR}/*.sh`], { encoding: 'utf8' }).trim().split('\n');
  expect(scripts.length).toBeGreaterThanOrEqual(8);
  const r = spawnSync('shellcheck', ['-x', ...scripts], { encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  for (const script of scripts.filter((s) => !s.endsWith('/survivor-row.sh'))) {
    const name = script.replace(/^.*\//, '').replace(/\.sh$/, '');
    expect([name, execFileSync('tail', ['-n', '1', script], { encoding: 'utf8' })]).toEqual([name, `echo "PASS ${name}"\n`]);
  }
});
