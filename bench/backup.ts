/**
 * bench/backup: one simulated day of backups of a zmanim-shaped database, ours (per-source
 * schedule, plain dumps deduplicated by restic) side by side with the earlier approach
 * (`pg_dump -Fc | restic backup --stdin` of the whole database), then a verified restore.
 * Real PostgreSQL 15, restic and s3rver over HTTPS on 127.0.0.1 (see test/support/restic-harness.ts).
 *
 * Usage: bench/backup [--scale S] [--hours N] [--clustered] [--restore-only]
 *   --scale S       fraction of full scale (1 = 4.5M localities, 15M names); default 0.01
 *   --hours N       hourly backups in the simulated day; default 24
 *   --clustered     the daily geo correction touches one contiguous id range (one region)
 *                   instead of rows spread evenly over the table (the default, worst case)
 *   --restore-only  skip the simulated day: one full backup, then the measured restore
 *   --data-cache D  keep the generated PostgreSQL cluster in D (per scale) and reuse it on the
 *                   next run: generating full scale takes tens of minutes on 2 cores
 *   --piece-size B  pieces of the daily full dump, in bytes (default 65536, the app's); 0 keeps
 *                   it one stream
 *   --generate-only with --data-cache: generate the cluster and stop
 * Prints `name: value unit` lines.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Harness } from '../test/support/restic-harness';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number (got ${args[i + 1]})`);
  return v;
};
const SCALE = opt('--scale', 0.01);
const HOURS = Math.round(opt('--hours', 24));
const CLUSTERED = args.includes('--clustered');
const RESTORE_ONLY = args.includes('--restore-only');
const GENERATE_ONLY = args.includes('--generate-only');
const DATA_CACHE = args.includes('--data-cache') ? path.resolve(args[args.indexOf('--data-cache') + 1]) : undefined;
const LOCALITIES = Math.round(4_500_000 * SCALE);
const NAMES = Math.round(15_000_000 * SCALE);
const DB = 'zmanim';
/** The zmanim app's `pieceSize` of its daily full-database source; 0: one stream (as before). */
const PIECE_SIZE = args.includes('--piece-size') ? Number(args[args.indexOf('--piece-size') + 1]) : 65536;
if (!Number.isInteger(PIECE_SIZE) || (PIECE_SIZE !== 0 && PIECE_SIZE < 1024)) throw new Error(`--piece-size must be 0 or a whole number of bytes >= 1024 (got ${PIECE_SIZE})`);

const h = new Harness();
const out = (name: string, value: number | string, unit: string) => console.log(`${name}: ${value} ${unit}`);
const err = (msg: string) => process.stderr.write(`bench/backup: ${msg}\n`);

/** CPU seconds of PostgreSQL (the postmaster and every backend it reaped) so far. */
function serverCpu(): number {
  const pid = fs.readFileSync(path.join(h.pgData, 'postmaster.pid'), 'utf8').split('\n')[0];
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime stime cutime cstime are fields 14-17 of stat (11-14 after the command name).
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(fields[i]), 0);
  return ticks / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
}

interface Cost { wall: number; cpu: number }

/** Runs a bash command; returns wall seconds and CPU seconds (its descendants and PostgreSQL's). */
function measure(command: string, env: NodeJS.ProcessEnv = h.env()): Cost {
  const cpu0 = serverCpu();
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', `set -o pipefail; { ${command} ; } >/dev/null 2>"$BENCH_LOG" || exit $?; times`], {
    encoding: 'utf8', env: { ...env, BENCH_LOG: path.join(h.dir, 'bench.log') }, maxBuffer: 1_048_576,
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${command} failed (${r.status}): ${fs.readFileSync(path.join(h.dir, 'bench.log'), 'utf8').slice(-2000)}`);
  // `times` prints the shell's own and its children's user/system times, e.g. "0m1.234s 0m0.100s".
  const children = r.stdout.trim().split('\n').pop()!.split(/\s+/).map((t) => {
    const m = /(\d+)m([\d.]+)s/.exec(t)!;
    return Number(m[1]) * 60 + Number(m[2]);
  });
  return { wall, cpu: children[0] + children[1] + (serverCpu() - cpu0) };
}

function createDatabase(): void {
  h.asPostgres(['createdb', DB]);
  h.psql(DB, `
    CREATE SCHEMA geo; CREATE SCHEMA app;
    CREATE TABLE geo.countries (code char(2) PRIMARY KEY, name text NOT NULL, continent char(2) NOT NULL);
    INSERT INTO geo.countries SELECT chr(65 + i / 26) || chr(65 + i % 26), 'Country ' || i, 'EU' FROM generate_series(0, 249) i;
    CREATE TABLE geo.localities (
      id bigint PRIMARY KEY, geoname_id int NOT NULL, name text NOT NULL, ascii_name text NOT NULL,
      country_code char(2) NOT NULL REFERENCES geo.countries, admin1 text, latitude double precision NOT NULL,
      longitude double precision NOT NULL, elevation int, population bigint NOT NULL DEFAULT 0,
      timezone text NOT NULL, feature_code text NOT NULL, updated_at timestamptz NOT NULL DEFAULT '2026-01-01');
    INSERT INTO geo.localities
      SELECT i, 1000000 + i, initcap(substr(md5(i::text), 1, 4 + i % 9)), substr(md5(i::text), 1, 4 + i % 9),
        chr(65 + (i % 250) / 26) || chr(65 + (i % 250) % 26), 'Region ' || (i % 97),
        round((random() * 180 - 90)::numeric, 5), round((random() * 360 - 180)::numeric, 5),
        (random() * 3000)::int, (random() ^ 4 * 1000000)::bigint,
        (ARRAY['Europe/London','America/New_York','Asia/Jerusalem','Europe/Paris','America/Los_Angeles','Australia/Sydney'])[1 + i % 6],
        (ARRAY['PPL','PPLA','PPLA2','PPLC','PPLX'])[1 + i % 5], '2026-01-01'
      FROM generate_series(1, ${LOCALITIES}) i;
    CREATE TABLE geo.locality_names (
      id bigint PRIMARY KEY, locality_id bigint NOT NULL REFERENCES geo.localities, language text NOT NULL,
      name text NOT NULL, is_preferred boolean NOT NULL DEFAULT false);
    INSERT INTO geo.locality_names
      SELECT i, 1 + (i::bigint * 7919) % ${LOCALITIES}, (ARRAY['en','he','yi','fr','de','ru','es'])[1 + i % 7],
        initcap(substr(md5((i * 31)::text), 1, 5 + i % 12)), i % 5 = 0
      FROM generate_series(1, ${NAMES}) i;
    CREATE INDEX localities_ascii_name ON geo.localities (lower(ascii_name) text_pattern_ops);
    CREATE INDEX localities_country ON geo.localities (country_code);
    CREATE INDEX localities_position ON geo.localities (latitude, longitude);
    CREATE INDEX locality_names_locality ON geo.locality_names (locality_id);
    CREATE INDEX locality_names_name ON geo.locality_names (lower(name) text_pattern_ops);
    CREATE TABLE app.users (id serial PRIMARY KEY, clerk_id text UNIQUE NOT NULL, email text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO app.users (clerk_id, email, created_at) SELECT 'user_' || md5(i::text), 'u' || i || '@example.org', '2026-01-01' FROM generate_series(1, 2000) i;
    CREATE TABLE app.saved_locations (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES app.users,
      locality_id bigint NOT NULL, label text, created_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO app.saved_locations (user_id, locality_id, label, created_at)
      SELECT 1 + i % 2000, 1 + (i::bigint * 104729) % ${LOCALITIES}, 'Home ' || i, '2026-01-01' FROM generate_series(1, 3000) i;
    CREATE TABLE app.preferences (user_id int PRIMARY KEY REFERENCES app.users, calculation text NOT NULL, candle_minutes int NOT NULL);
    INSERT INTO app.preferences SELECT i, 'GRA', 18 FROM generate_series(1, 2000) i;
    VACUUM ANALYZE;`);
}

/** A few application rows change every hour. */
function hourOfAppChanges(hour: number): void {
  h.psql(DB, `
    INSERT INTO app.users (clerk_id, email) SELECT 'user_new_${hour}_' || i, 'new${hour}_' || i || '@example.org' FROM generate_series(1, 3) i;
    UPDATE app.saved_locations SET label = 'Work ${hour}' WHERE id % 300 = ${hour % 300};
    UPDATE app.preferences SET candle_minutes = 20 + ${hour} % 20 WHERE user_id % 500 = ${hour};`);
}

/** The daily correction of the geo data: 0.01 % of localities. */
function geoCorrection(): void {
  const first = Math.floor(LOCALITIES / 3);
  const where = CLUSTERED ? `id BETWEEN ${first} AND ${first + Math.ceil(LOCALITIES / 10000) - 1}` : 'id % 10000 = 4321';
  h.psql(DB, `UPDATE geo.localities SET elevation = elevation + 1, updated_at = '2026-01-02' WHERE ${where};`);
}

async function main(): Promise<void> {
  const started = Date.now();
  await h.start();
  err(`scale ${SCALE}: ${LOCALITIES} localities, ${NAMES} names; work dir ${h.dir}`);
  let t = Date.now();
  const cached = DATA_CACHE && path.join(DATA_CACHE, `scale-${SCALE}`);
  if (cached && fs.existsSync(path.join(cached, 'PG_VERSION'))) {
    err(`reusing the cluster generated earlier in ${cached}`);
    h.pgStop();
    fs.rmSync(h.pgData, { recursive: true });
    execFileSync('cp', ['-a', cached, h.pgData]);
    h.pgStart();
  } else {
    createDatabase();
    out('generate_seconds', ((Date.now() - t) / 1000).toFixed(1), 's');
    if (cached) {
      h.pgStop();
      fs.mkdirSync(DATA_CACHE!, { recursive: true });
      execFileSync('cp', ['-a', h.pgData, `${cached}.tmp`]);
      fs.renameSync(`${cached}.tmp`, cached);
      h.pgStart();
    }
  }
  out('database_bytes', h.psql(DB, `SELECT pg_database_size('${DB}')`), 'bytes');
  out('localities', LOCALITIES, 'rows');
  out('geo_correction_clustered', CLUSTERED ? 1 : 0, 'bool');
  out('ours_full_piece_size', PIECE_SIZE, 'bytes');
  out('locality_names', NAMES, 'rows');
  if (GENERATE_ONLY) return;

  // Ours: the zmanim sources (application tables hourly, the whole database daily).
  h.addSource({ name: 'app', kind: 'postgres', database: DB, pgDumpArgs: '--exclude-schema=geo --clean --if-exists', keep: { HOURLY: 24, DAILY: 7 } });
  h.addSource({ name: 'database', kind: 'postgres', database: DB, full: true, verifySql: `SELECT count(*) = ${LOCALITIES} FROM geo.localities`, pieceSize: PIECE_SIZE || undefined });
  const ours = (cmd: string) => measure(`${__dirname}/../src/constructs/restic-backups/host/restic-backups ${cmd}`);
  // The earlier approach: its own repositories, same password and server.
  const oldEnv = (prefix: string) => ({ ...h.env(), RESTIC_REPOSITORY: `s3:https://127.0.0.1:${h.s3Port}/${h.bucket}/${prefix}`, RESTIC_PASSWORD_FILE: h.passwordFile, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', RESTIC_CACHE_DIR: path.join(h.dir, `cache-${prefix}`) });
  const old = (prefix: string) => measure(`runuser -u postgres -- pg_dump -Fc ${DB} | restic --cacert ${h.cacert} backup --stdin --stdin-filename ${DB}.dump --tag old`, oldEnv(prefix));
  for (const prefix of ['old-hourly', 'old-daily']) execFileSync('restic', ['--cacert', h.cacert, 'init', '--repository-version', '2'], { env: oldEnv(prefix), stdio: 'ignore' });
  if (h.run(['init']).status !== 0) throw new Error('restic-backups init failed');

  if (RESTORE_ONLY) {
    const full = ours('backup database');
    ours('backup app');
    out('ours_full_backup_seconds', full.wall.toFixed(1), 's');
    out('ours_full_backup_cpu_seconds', full.cpu.toFixed(1), 's');
    out('repository_bytes', h.bucketBytes('restic'), 'bytes');
    restoreLatest();
    out('bench_total_seconds', ((Date.now() - started) / 1000).toFixed(0), 's');
    return;
  }

  // Day 0 (not counted): every repository holds yesterday's backups.
  t = Date.now();
  const firstFull = ours('backup database');
  ours('backup app');
  out('ours_first_full_backup_seconds', firstFull.wall.toFixed(1), 's');
  const oldFirst = old('old-hourly');
  old('old-daily');
  out('old_full_backup_seconds', oldFirst.wall.toFixed(1), 's');
  err(`baseline done in ${((Date.now() - t) / 1000).toFixed(0)} s`);

  const before = { ours: h.bucketBytes('restic'), oldHourly: h.bucketBytes('old-hourly'), oldDaily: h.bucketBytes('old-daily') };
  const sum = { ours: { wall: 0, cpu: 0 }, old: { wall: 0, cpu: 0 } };
  const add = (a: Cost, b: Cost) => { a.wall += b.wall; a.cpu += b.cpu; };
  for (let hour = 0; hour < HOURS; hour++) {
    hourOfAppChanges(hour);
    if (hour === 2) geoCorrection();
    add(sum.ours, ours('backup app'));
    // The daily full backup of ours runs after the correction, at 02:30.
    if (hour === 2) add(sum.ours, ours('backup database'));
    add(sum.old, old('old-hourly'));
    err(`hour ${hour + 1}/${HOURS}: ours ${sum.ours.cpu.toFixed(1)} cpu-s, old ${sum.old.cpu.toFixed(1)} cpu-s`);
  }
  const oldDay = old('old-daily');
  const bytes = {
    ours: h.bucketBytes('restic') - before.ours,
    oldHourly: h.bucketBytes('old-hourly') - before.oldHourly,
    oldDaily: h.bucketBytes('old-daily') - before.oldDaily,
  };
  out('ours_day_backup_wall_seconds', sum.ours.wall.toFixed(1), 's');
  out('ours_day_cpu_seconds', sum.ours.cpu.toFixed(1), 's');
  out('ours_day_bytes_added', bytes.ours, 'bytes');
  out('old_rpo1h_day_backup_wall_seconds', sum.old.wall.toFixed(1), 's');
  out('old_rpo1h_day_cpu_seconds', sum.old.cpu.toFixed(1), 's');
  out('old_rpo1h_day_bytes_added', bytes.oldHourly, 'bytes');
  out('old_rpo24h_day_backup_wall_seconds', oldDay.wall.toFixed(1), 's');
  out('old_rpo24h_day_cpu_seconds', oldDay.cpu.toFixed(1), 's');
  out('old_rpo24h_day_bytes_added', bytes.oldDaily, 'bytes');
  out('ours_vs_old_rpo1h_cpu_percent', (100 * sum.ours.cpu / sum.old.cpu).toFixed(1), '%');
  out('ours_vs_old_rpo1h_bytes_percent', (100 * bytes.ours / bytes.oldHourly).toFixed(1), '%');
  out('ours_vs_old_rpo24h_cpu_percent', (100 * sum.ours.cpu / oldDay.cpu).toFixed(1), '%');

  restoreLatest();
  out('bench_total_seconds', ((Date.now() - started) / 1000).toFixed(0), 's');
}

function restoreLatest(): void {
  const ours = (cmd: string) => measure(`${__dirname}/../src/constructs/restic-backups/host/restic-backups ${cmd}`);
  // RTO: the latest state (the daily full snapshot, then the newest hourly one) into a fresh
  // database, verified (tables, the locality count) before it could be swapped in.
  const expected = h.psql(DB, 'SELECT count(*) FROM app.users') + ' ' + h.psql(DB, 'SELECT sum(elevation) FROM geo.localities');
  const restore = ours('restore --into zmanim_restored --no-swap');
  const got = h.psql('zmanim_restored', 'SELECT count(*) FROM app.users') + ' ' + h.psql('zmanim_restored', 'SELECT sum(elevation) FROM geo.localities');
  if (got !== expected) throw new Error(`restored database differs: ${got} vs ${expected}`);
  out('restore_seconds', restore.wall.toFixed(1), 's');
  out('restore_cpu_seconds', restore.cpu.toFixed(1), 's');
  out('restore_verified', 1, 'bool');
}

main().then(() => h.stop(), async (e) => {
  err(String(e instanceof Error ? e.stack : e));
  await h.stop();
  process.exit(1);
});
