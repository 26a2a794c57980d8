/**
 * Rehearsal of the single-host <-> managed migration (README, "Scaling path"), offline and for
 * real: the single host's PostgreSQL backed up by the ResticBackups host script into restic on
 * s3rver (test/support/restic-harness.ts), then `src/zmanim/fleet/migrate.sh` restores it into a
 * second PostgreSQL that stands in for RDS: the RDS parameter group's settings (evaluated for
 * 1 GiB), TLS required (rds.force_ssl), password (SCRAM) logins only, and a master user that is
 * not a superuser (as on RDS). Then the way back: rows written on "RDS", `migrate.sh backup`,
 * and the single host's own `restic-backups restore`.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { renderForLocalPostgres } from '../../src/zmanim/postgres-parameters';
import { Harness, SCRIPT as RESTIC_BACKUPS } from '../support/restic-harness';
import { freePort, requireTools, shellQuote } from '../support/tools';

jest.setTimeout(600_000);

const MIGRATE = path.resolve(__dirname, '../../src/zmanim/fleet/migrate.sh');
const HOST_DIR = path.resolve(__dirname, '../../src/constructs/graviton-data-host/host');
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
// Throwaway values of this test only (never real secrets); the test checks no log shows them.
const MASTER_PASSWORD = 'test-only-master-Pa55';
const APP_PASSWORD = 'test-only-app-Pa55';
const GIB = 1024 ** 3;

const h = new Harness();
const rds = { dir: '', data: '', port: 0 };
let work = '';

/** Runs SQL on the stand-in RDS as its bootstrap superuser (local socket; what AWS keeps for itself). */
function rdsAdmin(db: string, sql: string): string {
  return h.asPostgres(['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', rds.dir, '-p', String(rds.port), '-U', 'rdsadmin', '-d', db], sql).trim();
}

/** Runs SQL over TCP with a password, as a client of RDS does. */
function rdsClient(user: string, password: string, db: string, sql: string, sslmode = 'require') {
  return spawnSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql], {
    encoding: 'utf8',
    env: { ...process.env, PGHOST: '127.0.0.1', PGPORT: String(rds.port), PGUSER: user, PGPASSWORD: password, PGSSLMODE: sslmode },
  });
}

async function startRds(): Promise<void> {
  rds.dir = fs.mkdtempSync('/tmp/rds-standin-');
  fs.chmodSync(rds.dir, 0o755);
  rds.data = path.join(rds.dir, 'data');
  rds.port = await freePort();
  fs.mkdirSync(rds.data, { mode: 0o700 });
  for (const f of ['cert.pem', 'key.pem']) fs.copyFileSync(path.join(h.dir, f), path.join(rds.dir, f));
  execFileSync('chown', ['-R', 'postgres:postgres', rds.dir]);
  fs.chmodSync(path.join(rds.dir, 'key.pem'), 0o600);
  h.asPostgres([`${PG_BIN}/initdb`, '-D', rds.data, '-U', 'rdsadmin', '-A', 'trust', '--no-sync']);
  // The RDS parameter group as a local PostgreSQL runs it, plus RDS's TLS-only, SCRAM-only access.
  fs.writeFileSync(path.join(rds.data, 'rds.conf'), renderForLocalPostgres(GIB) + [
    `port = ${rds.port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${rds.dir}'`,
    'ssl = on', `ssl_cert_file = '${rds.dir}/cert.pem'`, `ssl_key_file = '${rds.dir}/key.pem'`, 'fsync = off', '',
  ].join('\n'));
  fs.appendFileSync(path.join(rds.data, 'postgresql.conf'), "include 'rds.conf'\n");
  fs.writeFileSync(path.join(rds.data, 'pg_hba.conf'), 'local all rdsadmin trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n');
  execFileSync('chown', ['-R', 'postgres:postgres', rds.data]);
  h.asPostgres([`${PG_BIN}/pg_ctl`, '-D', rds.data, '-l', path.join(rds.dir, 'log'), '-w', 'start']);
  // The master user: CREATEDB and CREATEROLE but no superuser, like RDS's rds_superuser member.
  rdsAdmin('postgres', `CREATE ROLE postgres LOGIN CREATEDB CREATEROLE PASSWORD ${shellQuote(MASTER_PASSWORD)}`);
}

/** The single host's zmanim database: owned by the application role, reference and application data. */
function createHostDatabase(): void {
  h.psql('postgres', 'CREATE ROLE zmanim LOGIN; CREATE DATABASE zmanim OWNER zmanim;');
  h.psql('zmanim', `
    SET ROLE zmanim;
    CREATE SCHEMA geo;
    CREATE TABLE geo.localities (id bigint PRIMARY KEY, name text NOT NULL, lat double precision NOT NULL, lon double precision NOT NULL, timezone text NOT NULL);
    INSERT INTO geo.localities SELECT i, 'Locality ' || i, (i % 180) - 90 + 0.5, (i % 360) - 180 + 0.25, 'Etc/GMT+' || (i % 12) FROM generate_series(1, 40000) i;
    CREATE INDEX ON geo.localities (name);
    CREATE TABLE public.publishers (id serial PRIMARY KEY, name text NOT NULL, settings jsonb NOT NULL DEFAULT '{}');
    INSERT INTO public.publishers (name, settings) SELECT 'Publisher ' || i, jsonb_build_object('shita', i % 7) FROM generate_series(1, 300) i;
    CREATE TABLE public.saved_places (id serial PRIMARY KEY, publisher_id int REFERENCES public.publishers, locality_id bigint NOT NULL);
    INSERT INTO public.saved_places (publisher_id, locality_id) SELECT 1 + i % 300, 1 + i % 40000 FROM generate_series(1, 2500) i;`);
}

/** Exact row counts of every table, as `migrate.sh counts` prints them. */
function hostCounts(): string {
  return h.psql('zmanim', `SELECT string_agg(t, E'\\n' ORDER BY t) FROM (
    SELECT 'geo.localities ' || count(*) AS t FROM geo.localities UNION ALL
    SELECT 'public.publishers ' || count(*) FROM public.publishers UNION ALL
    SELECT 'public.saved_places ' || count(*) FROM public.saved_places) c`);
}

/** Runs migrate.sh as it runs on a fleet instance, with a stand-in for the AWS CLI. */
function migrate(args: string[]) {
  const r = spawnSync('bash', [MIGRATE, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: {
      PATH: process.env.PATH,
      ZMANIM_HOST_DIR: HOST_DIR,
      ZMANIM_HOST_ENV: path.join(work, 'no-host.env'),
      ZMANIM_SECRETS_DIR: path.join(work, 'secrets'),
      ZMANIM_AWS: path.join(work, 'aws'),
      ZMANIM_REGION: 'eu-west-1',
      ZMANIM_DB_ADDRESS: `127.0.0.1:${rds.port}`,
      ZMANIM_DB_MASTER_SECRET: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:zmanim-prod/rds-master-AbCdEf',
      ZMANIM_RESTIC_BACKUPS: RESTIC_BACKUPS,
      RESTIC_BACKUPS_CONFIG_DIR: h.configDir,
    },
  });
  expect(`${r.stdout}${r.stderr}`).not.toContain(MASTER_PASSWORD);
  expect(`${r.stdout}${r.stderr}`).not.toContain(APP_PASSWORD);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  requireTools({ psql: 'postgresql-client', pg_dump: 'postgresql-client', shellcheck: 'shellcheck' }, 'The migration rehearsal');
  await h.start();
  await startRds();
  work = fs.mkdtempSync('/tmp/migrate-');
  fs.mkdirSync(path.join(work, 'secrets'), { mode: 0o700 });
  fs.writeFileSync(path.join(work, 'secrets', 'postgres-password'), APP_PASSWORD, { mode: 0o600 });
  // The AWS CLI's answer to `secretsmanager get-secret-value --query SecretString` for the master secret.
  fs.writeFileSync(path.join(work, 'aws'), '#!/bin/bash\n[[ "$*" == *"secretsmanager get-secret-value --secret-id arn:aws:secretsmanager:"* ]] || exit 3\n'
    + `echo ${shellQuote(JSON.stringify({ username: 'postgres', password: MASTER_PASSWORD }))}\n`, { mode: 0o755 });

  createHostDatabase();
  // As ComputeStack configures it: the daily full source kept as pieces.
  h.addSource({ name: 'database', kind: 'postgres', database: 'zmanim', full: true, verifySql: 'SELECT count(*) > 0 FROM geo.localities', pieceSize: 65536 });
  h.addSource({ name: 'app', kind: 'postgres', database: 'zmanim', pgDumpArgs: '--exclude-schema=geo --clean --if-exists' });
  expect(h.run(['init']).status).toBe(0);
  await h.useTestKeyCost();
  expect(h.run(['backup', 'database']).status).toBe(0);
  // Application writes after the daily full backup, caught by the hourly partial one.
  h.psql('zmanim', "SET ROLE zmanim; INSERT INTO public.publishers (name) SELECT 'Late ' || i FROM generate_series(1, 25) i;");
  expect(h.run(['backup', 'app']).status).toBe(0);
});

afterAll(async () => {
  try { h.asPostgres([`${PG_BIN}/pg_ctl`, '-D', rds.data, '-m', 'immediate', '-w', 'stop']); } catch { /* not started */ }
  await h.stop();
  for (const d of [rds.dir, work]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

test('the fleet scripts pass shellcheck', () => {
  const dir = path.dirname(MIGRATE);
  const r = spawnSync('shellcheck', ['-x', ...fs.readdirSync(dir).filter((f) => f.endsWith('.sh')).map((f) => path.join(dir, f))], { encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
});

test('the stand-in runs the RDS parameter group\'s settings and refuses plain-text connections', () => {
  const show = (name: string) => rdsAdmin('postgres', `SHOW ${name}`);
  expect(show('shared_buffers')).toBe('256MB');
  expect(show('effective_cache_size')).toBe('640MB');
  expect(show('maintenance_work_mem')).toBe('64MB');
  expect(show('work_mem')).toBe('4MB');
  expect(show('random_page_cost')).toBe('1.1');
  expect(show('max_wal_size')).toBe('2GB');
  expect(show('log_min_duration_statement')).toBe('1s');
  expect(show('password_encryption')).toBe('scram-sha-256');
  expect(rdsClient('postgres', MASTER_PASSWORD, 'postgres', 'SELECT 1', 'disable').status).not.toBe(0);
});

describe('single-host -> managed', () => {
  let restored: ReturnType<typeof migrate>;
  beforeAll(() => { restored = migrate(['restore']); });

  test('migrate.sh restore restores the full backup and the newer partial one into RDS, and verifies it', () => {
    if (restored.status !== 0) throw new Error(`migrate.sh restore exited ${restored.status}:\n${restored.stderr}`);
    expect(restored.stderr).toMatch(/restoring source database from snapshot/);
    // From pieces (the snapshot is the spool directory), unpacked on the fleet instance.
    expect(h.snapshots('source:database').map((s: any) => s.paths[0])).toEqual([path.join(h.spoolDir, 'database')]);
    expect(restored.stderr).toMatch(/restoring source app from snapshot/);
    expect(restored.stderr).toMatch(/restored, verified and swapped in zmanim/);
  });

  test('every table has the single host\'s row count (migrate.sh counts on both sides)', () => {
    const counts = migrate(['counts']);
    expect(counts.status).toBe(0);
    expect(counts.stdout.trim()).toBe(hostCounts());
    expect(hostCounts()).toMatch(/public\.publishers 325/);
  });

  test('the application role logs in over TLS with the generated password, owns the data and can write', () => {
    const r = rdsClient('zmanim', APP_PASSWORD, 'zmanim', "INSERT INTO public.publishers (name) VALUES ('after the switch') RETURNING id; SELECT count(*) FROM geo.localities");
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['326', '40000']);
    expect(rdsAdmin('postgres', "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'zmanim'")).toBe('zmanim');
    expect(rdsAdmin('zmanim', "SELECT string_agg(DISTINCT tableowner, ',') FROM pg_tables WHERE schemaname IN ('geo', 'public')")).toBe('zmanim');
    expect(rdsAdmin('postgres', "SELECT rolsuper OR rolcreatedb OR rolcreaterole FROM pg_roles WHERE rolname = 'zmanim'")).toBe('f');
  });

  test('a second restore keeps the first database aside instead of overwriting it', () => {
    const again = migrate(['restore']);
    expect(again.status).toBe(0);
    expect(rdsAdmin('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'zmanim_before_restore_%'")).toBe('1');
  });
});

describe('managed -> single-host (the way back)', () => {
  test('rows written on RDS reach the single host through migrate.sh backup and restic-backups restore', () => {
    expect(rdsClient('zmanim', APP_PASSWORD, 'zmanim', 'INSERT INTO public.saved_places (publisher_id, locality_id) SELECT 1, i FROM generate_series(1, 75) i').status).toBe(0);
    const onRds = migrate(['counts']);
    expect(onRds.stdout).toMatch(/public\.saved_places 2575/);

    const backup = migrate(['backup']);
    if (backup.status !== 0) throw new Error(`migrate.sh backup exited ${backup.status}:\n${backup.stderr}`);
    const back = h.run(['restore', '--database', 'zmanim']);
    if (back.status !== 0) throw new Error(`restic-backups restore on the host exited ${back.status}:\n${back.stderr}`);
    expect(hostCounts()).toBe(onRds.stdout.trim());
  });
});
