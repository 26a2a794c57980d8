/**
 * The restic-backups host script against real PostgreSQL 15, restic and an S3-compatible
 * server (s3rver over HTTPS), all started by this test on 127.0.0.1.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Harness, SCRIPT } from '../support/restic-harness';
import { shellQuote } from '../support/tools';

jest.setTimeout(300_000);

const h = new Harness();
const DB = 'zmanim';
const LOCALITIES = 150_000;
const PIECE_SIZE = 65536;

/** A small zmanim-shaped database: reference data (geo) and application tables (app). */
function createDatabase(localities = LOCALITIES): void {
  h.asPostgres(['createdb', DB]);
  h.psql(DB, `
    CREATE SCHEMA geo; CREATE SCHEMA app;
    CREATE TABLE geo.localities (id bigint PRIMARY KEY, name text NOT NULL, country char(2) NOT NULL,
      lat double precision NOT NULL, lon double precision NOT NULL, elevation int, timezone text NOT NULL);
    INSERT INTO geo.localities SELECT i, 'Locality ' || i, chr(65 + i % 26) || chr(65 + i % 17),
      (i % 180) - 90 + 0.5, (i % 360) - 180 + 0.25, i % 3000, 'Etc/GMT+' || (i % 12) FROM generate_series(1, ${localities}) i;
    CREATE INDEX ON geo.localities (name);
    CREATE TABLE app.users (id serial PRIMARY KEY, email text UNIQUE NOT NULL, created timestamptz DEFAULT now());
    INSERT INTO app.users (email) SELECT 'user' || i || '@example.org' FROM generate_series(1, 500) i;
    CREATE TABLE app.saved_places (id serial PRIMARY KEY, user_id int REFERENCES app.users, locality_id bigint NOT NULL);
    INSERT INTO app.saved_places (user_id, locality_id) SELECT 1 + i % 500, 1 + i % ${localities} FROM generate_series(1, 2000) i;`);
}

/** Every row of every user table, in a stable order: equal strings mean equal content. */
function contentOf(db: string): string {
  return ['geo.localities', 'app.users', 'app.saved_places']
    .map((t) => h.psql(db, `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) || ' ' || count(*) FROM ${t} t`))
    .join('\n');
}

/** As the zmanim app configures them: the whole database daily, as pieces; app tables hourly, one stream. */
function configureZmanimSources(): void {
  h.addSource({ name: 'database', kind: 'postgres', database: DB, full: true, verifySql: 'SELECT count(*) > 0 FROM geo.localities', pieceSize: PIECE_SIZE, keep: { DAILY: 7, WEEKLY: 4, MONTHLY: 3 } });
  h.addSource({ name: 'app', kind: 'postgres', database: DB, pgDumpArgs: '--schema=app --clean --if-exists', keep: { HOURLY: 24, DAILY: 7, WEEKLY: 4, MONTHLY: 3 } });
}

function ok(args: string[], env: Record<string, string> = {}): string {
  const r = h.run(args, env);
  if (r.status !== 0) throw new Error(`restic-backups ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stderr;
}

beforeAll(async () => {
  await h.start();
  createDatabase();
  configureZmanimSources();
});
afterAll(async () => h.stop());

test('the tool compiles with the host\'s python3 (stdlib only)', () => {
  const r = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read())', SCRIPT], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

test('init creates a format-2 repository once and is idempotent', async () => {
  ok(['init']);
  expect(h.restic(['cat', 'config']).stdout).toMatch(/"version":\s*2/);
  expect(ok(['init'])).toMatch(/exists/);
  await h.useTestKeyCost();
});

test('a wrong password fails with a clear message and exit code 77', () => {
  const r = h.run(['backup', 'app'], { RESTIC_PASSWORD_COMMAND: 'echo not-the-password' });
  expect(r.status).toBe(77);
  expect(r.stderr).toMatch(/wrong repository password/);
  expect(h.snapshots()).toHaveLength(0);
  expect(h.metrics().join('\n')).toMatch(/--metric-name BackupFailure .*Source=app/);
});

test('backup then restore gives identical content, swapped in under the original name', () => {
  const before = h.snapshots().length;
  ok(['backup', 'database']);
  ok(['backup', 'app']);
  expect(h.snapshots('source:database')).toHaveLength(1);
  expect(h.snapshots('source:app')).toHaveLength(1);
  expect(h.snapshots().length).toBe(before + 2);
  const metrics = h.metrics().join('\n');
  expect(metrics).toMatch(/--namespace ResticBackups --metric-name BackupSuccess --value 1 --unit Count --dimensions BackupSet=test,Source=database/);
  expect(metrics).toMatch(/--metric-name BackupDuration --value \d+ --unit Seconds --dimensions BackupSet=test,Source=app/);

  // Application data changes after the full backup; the hourly source carries it.
  h.psql(DB, "INSERT INTO app.users (email) VALUES ('late@example.org'); UPDATE app.saved_places SET locality_id = 7 WHERE id <= 10;");
  ok(['backup', 'app']);
  const expected = contentOf(DB);
  // Damage the live database, then restore.
  h.psql(DB, 'DELETE FROM app.saved_places; DELETE FROM geo.localities WHERE id % 2 = 0;');
  expect(contentOf(DB)).not.toBe(expected);
  const log = ok(['restore']);
  expect(log).toMatch(/restored, verified and swapped in zmanim/);
  expect(contentOf(DB)).toBe(expected);
  // The pieces were unpacked under the spool, and removed after loading.
  expect(fs.readdirSync(h.spoolDir).sort()).toEqual(['database', 'database.lock']);
  // The previous database is kept, connections disabled, for the operator to drop.
  const kept = h.psql('postgres', "SELECT datname || ' ' || datallowconn FROM pg_database WHERE datname LIKE 'zmanim_before_restore_%'");
  expect(kept).toMatch(/^zmanim_before_restore_\d+ false$/);
  h.psql('postgres', `DROP DATABASE ${kept.split(' ')[0]}`);
});

test('restore --snapshot restores a named full snapshot (without later app changes when --before)', () => {
  const full = h.snapshots('source:database')[0];
  const r = h.run(['restore', '--snapshot', full.id.slice(0, 8), '--before', full.time, '--into', 'zmanim_old', '--no-swap']);
  expect(r.status).toBe(0);
  expect(h.psql('zmanim_old', "SELECT count(*) FROM app.users WHERE email = 'late@example.org'")).toBe('0');
  expect(h.psql('zmanim_old', 'SELECT count(*) FROM geo.localities')).toBe(String(LOCALITIES));
  h.psql('postgres', 'DROP DATABASE zmanim_old');
});

test('a restore that would not fit in the spool stops before unpacking, with a clear message', () => {
  const r = h.run(['restore', '--into', 'zmanim_nospace', '--no-swap'], { RESTIC_BACKUPS_RESTORE_HEADROOM_BYTES: String(1e15) });
  expect(r.status).toBe(70);
  expect(r.stderr).toMatch(/not enough space in \S+ to unpack snapshot \w{8}: it needs \d+ bytes plus 1000000000000000 of headroom/);
  expect(h.psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'zmanim_nospace'")).toBe('0');
  expect(fs.readdirSync(h.spoolDir).filter((f) => f.startsWith('restore.'))).toEqual([]);
});

test('a second backup of an unchanged database uploads almost nothing', () => {
  ok(['backup', 'database']);
  const before = h.repoDataBytes();
  const log = ok(['backup', 'database']);
  const added = h.repoDataBytes() - before;
  const dumpBytes = h.asPostgres(['pg_dump', DB]).length;
  expect(dumpBytes).toBeGreaterThan(5_000_000);
  // Identical data: pg_dump 15.14+ writes a random \restrict key into the first and last
  // lines, so only the first and last pieces are rewritten; restic skips the others unread.
  const [, pieces, rewritten] = /in (\d+) pieces, (\d+) rewritten/.exec(log)!.map(Number);
  expect(pieces).toBeGreaterThan(50);
  expect(rewritten).toBeLessThanOrEqual(2);
  expect(added).toBeLessThan(dumpBytes * 0.02);
  expect(h.metrics().join('\n')).toMatch(/--metric-name BackupAddedBytes --value \d+ --unit Bytes --dimensions BackupSet=test,Source=database/);
});

test('a few rows changed across a large table: pieces add a fraction of what one stream adds', () => {
  // The same database as one stream too (a second full source, only for this test).
  h.addSource({ name: 'stream', kind: 'postgres', database: DB, full: true });
  try {
    ok(['backup', 'database']);
    ok(['backup', 'stream']);
    // 0.01 % of the rows, spread evenly: every restic chunk (~1 MiB) of the stream holds one.
    h.psql(DB, 'UPDATE geo.localities SET elevation = elevation + 1 WHERE id % 10000 = 4321');
    const stored = (source: string) => {
      const before = h.repoDataBytes();
      const log = ok(['backup', source]);
      return { log, bytes: h.repoDataBytes() - before };
    };
    const pieces = stored('database');
    const stream = stored('stream');
    const changed = LOCALITIES / 10000;
    // Each changed row rewrites the piece it left, and its new version lands at the table's
    // end (pieces shared by all): about one piece per row, plus the first and last.
    expect(Number(/(\d+) rewritten/.exec(pieces.log)![1])).toBeLessThanOrEqual(changed + 4);
    // A row is likelier to sit in a large piece: ~1.6 times the average, before compression.
    expect(pieces.bytes).toBeLessThan((changed + 4) * PIECE_SIZE * 1.6);
    expect(pieces.bytes).toBeLessThan(stream.bytes / 3);
  } finally {
    h.removeSource('stream');
    for (const s of h.snapshots('source:stream')) h.resticOk(['forget', s.id]);
  }
});

test('a backup of a pieces source that is already running makes the second one exit 75', () => {
  // Its own process group: the lock is held by sleep too, which must go with flock.
  const holder = spawn('flock', [path.join(h.spoolDir, 'database.lock'), 'sleep', '30'], { detached: true, stdio: 'ignore' });
  try {
    const end = Date.now() + 10_000;
    while (spawnSync('flock', ['-n', path.join(h.spoolDir, 'database.lock'), 'true']).status === 0 && Date.now() < end) spawnSync('sleep', ['0.1']);
    const before = h.snapshots().length;
    const r = h.run(['backup', 'database']);
    expect(r.status).toBe(75);
    expect(r.stderr).toMatch(/another backup of database is running/);
    expect(h.snapshots().length).toBe(before);
  } finally {
    process.kill(-holder.pid!, 'SIGKILL');
  }
});

test('a missing database exits 65 and adds no snapshot', () => {
  h.addSource({ name: 'missing', kind: 'postgres', database: 'no_such_db', full: true });
  try {
    const before = h.snapshots().length;
    const r = h.run(['backup', 'missing']);
    expect(r.status).toBe(65);
    expect(r.stderr).toMatch(/database "no_such_db" does not exist/);
    expect(r.stderr).toMatch(/backup of missing failed: the source command exited 1; .*no snapshot was saved/);
    expect(h.snapshots().length).toBe(before);
    // The same with pieces: restic never runs.
    h.addSource({ name: 'missing', kind: 'postgres', database: 'no_such_db', full: true, pieceSize: PIECE_SIZE });
    const pieces = h.run(['backup', 'missing']);
    expect(pieces.status).toBe(65);
    expect(pieces.stderr).toMatch(/backup of missing failed: the source command exited 1; restic did not run and no snapshot was saved/);
    expect(h.snapshots().length).toBe(before);
    expect(h.metrics().join('\n')).toMatch(/--metric-name BackupFailure --value 1 --unit Count --dimensions BackupSet=test,Source=missing/);
    expect(h.metrics().join('\n')).toMatch(/--metric-name Failure --value 1 --unit Count --dimensions BackupSet=test$/m);
  } finally {
    h.removeSource('missing');
  }
});

test('a failing command source that already wrote output adds no snapshot', () => {
  h.addSource({ name: 'partial', kind: 'command', command: 'seq 1 200000; exit 3' });
  try {
    const before = h.snapshots().length;
    const r = h.run(['backup', 'partial']);
    expect(r.status).toBe(65);
    expect(h.snapshots().length).toBe(before);
  } finally {
    h.removeSource('partial');
  }
});

test('a command source that fails at once, before restic listens for signals, still ends: 65, no snapshot', () => {
  // restic starts as a background job with SIGINT ignored until it installs its handler; an
  // interrupt sent in that window was lost and both sides waited for ever.
  h.addSource({ name: 'instant', kind: 'command', command: 'exit 3' });
  try {
    const before = h.snapshots().length;
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = h.run(['backup', 'instant'], {}, 90_000);
      expect({ attempt, status: r.status }).toEqual({ attempt, status: 65 });
    }
    expect(h.snapshots().length).toBe(before);
    // No live lock is left for the next run. An interrupt can land while restic's lock upload
    // is in flight: s3rver may store it after restic exited and after the tool's own `unlock`
    // listed the locks. Such a lock names a dead process, so it is stale: restic ignores it and
    // `unlock` (which keeps live locks) removes it. A live lock would survive this and fail.
    h.resticOk(['unlock']);
    expect(h.restic(['list', 'locks', '--no-lock']).stdout.trim()).toBe('');
  } finally {
    h.removeSource('instant');
  }
});

test('the server stopped mid-dump exits 65 and adds no snapshot', async () => {
  // A large table so that COPY is still streaming when the server stops.
  h.psql(DB, 'CREATE TABLE geo.bulk AS SELECT i AS id, repeat(md5(i::text), 4) AS payload FROM generate_series(1, 600000) i');
  const before = h.snapshots().length;
  const child = spawn(SCRIPT, ['backup', 'database'], { env: h.env() });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  // Wait until pg_dump is copying geo.bulk, then stop the server at once.
  const end = Date.now() + 60_000;
  let copying = false;
  while (!copying && Date.now() < end) {
    copying = h.psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY geo.bulk%'") === '1';
    if (!copying) await new Promise((r) => setTimeout(r, 20));
  }
  expect(copying).toBe(true);
  h.pgStop('immediate');
  const code = await exited;
  h.pgStart();
  expect(stderr).toMatch(/the source command exited 1/);
  expect(code).toBe(65);
  expect(h.snapshots().length).toBe(before);
  h.psql(DB, 'DROP TABLE geo.bulk');
});

test('a stale lock is removed; a live lock makes the backup wait, then exit 75', async () => {
  // Watch the bucket's locks/ folder directly (polling through restic would be too slow) for
  // a lock file that was not there before: check's own.
  const locksDir = path.join(h.s3Dir, h.bucket, 'restic', 'locks');
  const lockFiles = () => (fs.existsSync(locksDir) ? fs.readdirSync(locksDir).filter((f) => f.endsWith('._S3rver_object')) : []);
  const earlier = new Set(lockFiles());
  // A live exclusive lock: `restic check` stopped with SIGSTOP while it holds its lock. Reading
  // the packs at 8 KiB/s keeps it inside the lock long enough to be stopped there.
  const check = spawn('restic', ['--cacert', h.cacert, '--limit-download', '8', 'check', '--read-data'], {
    env: { ...process.env, RESTIC_REPOSITORY: h.repository, RESTIC_PASSWORD_FILE: h.passwordFile, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', RESTIC_CACHE_DIR: path.join(h.dir, 'cache2') },
    stdio: 'ignore',
  });
  const exited = new Promise((r) => check.once('exit', r));
  const end = Date.now() + 30_000;
  while (Date.now() < end && !lockFiles().some((f) => !earlier.has(f))) {
    await new Promise((r) => setTimeout(r, 2));
  }
  expect(check.exitCode).toBeNull();
  check.kill('SIGSTOP');
  expect(h.restic(['list', 'locks', '--no-lock']).stdout.trim()).not.toBe('');
  try {
    const before = h.snapshots().length;
    const t0 = Date.now();
    const r = h.run(['backup', 'app'], { RESTIC_BACKUPS_LOCK_WAIT_SECONDS: '6', RESTIC_BACKUPS_LOCK_RETRY_SECONDS: '2' });
    expect(r.status).toBe(75);
    expect(r.stderr).toMatch(/still locked after 6s by a live process/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5_000);
    expect(h.snapshots().length).toBe(before);
  } finally {
    // Killed, its lock is stale (its process is gone on this host).
    check.kill('SIGKILL');
    await exited;
  }
  expect(h.restic(['list', 'locks', '--no-lock']).stdout.trim()).not.toBe('');
  const before = h.snapshots().length;
  ok(['backup', 'app']);
  expect(h.snapshots().length).toBe(before + 1);
  // forget/prune need an exclusive lock; they too clear the stale one.
  expect(h.restic(['list', 'locks', '--no-lock']).stdout.trim()).toBe('');
});

test('restic 0.17 or newer: the source runs through --stdin-from-command', () => {
  const fakeDir = path.join(h.dir, 'fake-restic');
  fs.mkdirSync(fakeDir, { recursive: true });
  const argsLog = path.join(fakeDir, 'args');
  const fake = path.join(fakeDir, 'restic');
  fs.writeFileSync(fake, `#!/bin/bash
case "$*" in *version*) echo 'restic 0.17.3 compiled with go1.22 on linux/amd64'; exit 0;; esac
case "$*" in *unlock*|*"tag --set"*) exit 0;; esac
case "$*" in *snapshots*) echo '[]'; exit 0;; esac
printf '%s\\n' "$@" > ${shellQuote(argsLog)}
echo '{"message_type":"summary","data_added":42,"snapshot_id":"abcdef0123456789"}'
`, { mode: 0o755 });
  const r = h.run(['backup', 'app'], { RESTIC_BIN: fake });
  expect(r.status).toBe(0);
  const argv = fs.readFileSync(argsLog, 'utf8').trim().split('\n');
  const sep = argv.indexOf('--');
  expect(argv.slice(0, sep)).toEqual(expect.arrayContaining(['backup', '--tag', 'source:app', '--stdin-filename', 'app.sql', '--stdin-from-command']));
  expect(argv.slice(sep + 1)).toEqual(['runuser', '-u', 'postgres', '--', 'pg_dump', '--no-password', '--format=plain', '--schema=app', '--clean', '--if-exists', DB]);
  expect(r.stderr).toMatch(/snapshot abcdef0123456789, 42 bytes added/);
});

test('retention keeps what it should and removes what it should, across hosts and per source', () => {
  // Start from a clean repository state for these sources.
  for (const s of h.snapshots()) h.resticOk(['forget', s.id]);
  // "database" snapshots at 03:00 on chosen days of 2026, those before March from a
  // replaced host; "app" snapshots hourly from Mar 30 03:30 to Mar 31 05:30.
  const days = ['01-15', '01-31', '02-14', '02-28', '03-08', '03-14', '03-15', '03-21', '03-22',
    '03-24', '03-25', '03-26', '03-27', '03-28', '03-29', '03-30', '03-31'];
  const dbTimes = days.map((d) => `2026-${d} 03:00:00`);
  const backupAt = (source: string, time: string, host: string) => {
    h.resticOk(['backup', '--stdin', '--stdin-filename', `${source}.sql`, '--tag', `source:${source}`, '--host', host, '--time', time], `-- ${source} ${time}\n`);
  };
  dbTimes.forEach((t) => backupAt('database', t, t < '2026-03' ? 'old-host' : 'new-host'));
  for (let hr = 3; hr < 30; hr++) backupAt('app', `2026-03-${hr < 24 ? 30 : 31} ${String(hr % 24).padStart(2, '0')}:30:00`, 'new-host');
  ok(['forget']);
  const keptDb = h.snapshots('source:database').map((s) => s.time.slice(0, 10)).sort();
  // daily 7: Mar 25-31. weekly 4, the newest of each ISO week: Mar 31 (week 14), Mar 29
  // (13), Mar 22 (12), Mar 15 (11). monthly 3: Mar 31, Feb 28, and Jan 31, which is kept
  // although a replaced host made it (grouping by tag, not host). Everything else goes.
  expect(keptDb).toEqual(['2026-01-31', '2026-02-28', '2026-03-15', '2026-03-22', '2026-03-25', '2026-03-26',
    '2026-03-27', '2026-03-28', '2026-03-29', '2026-03-30', '2026-03-31']);
  // app: hourly 24 keeps Mar 30 06:30 to Mar 31 05:30; the newest of each day, week and
  // month are among them, so the 3 oldest hours go. The database policy did not touch app.
  const keptApp = h.snapshots('source:app').map((s) => s.time).sort();
  expect(keptApp).toHaveLength(24);
  expect(keptApp[0]).toMatch(/^2026-03-30T06:30/);
  expect(h.restic(['list', 'locks', '--no-lock']).stdout.trim()).toBe('');
});

describe('restore drill', () => {
  beforeAll(() => {
    for (const s of h.snapshots()) h.resticOk(['forget', s.id]);
    h.resticOk(['prune']);
  });

  test('succeeds on a good backup and publishes its result and duration', () => {
    ok(['backup', 'database']);
    ok(['backup', 'app']);
    const log = ok(['drill']);
    expect(log).toMatch(/restore drill of zmanim succeeded/);
    expect(h.psql('postgres', "SELECT count(*) FROM pg_database WHERE datname = 'zmanim_drill'")).toBe('0');
    const m = h.metrics().join('\n');
    expect(m).toMatch(/--metric-name DrillSuccess --value 1 --unit Count --dimensions BackupSet=test$/m);
    expect(m).toMatch(/--metric-name DrillDuration --value \d+ --unit Seconds --dimensions BackupSet=test$/m);
  });

  test('the daily check publishes the age of the last successful drill (when drills are scheduled)', () => {
    const stamp = path.join(h.spoolDir, 'last-drill-success');
    const drilledAt = Number(fs.readFileSync(stamp, 'utf8'));
    expect(Math.abs(drilledAt - Date.now() / 1000)).toBeLessThan(600);
    const ageAfterCheck = () => {
      fs.writeFileSync(h.metricsFile, '');
      ok(['check'], { RESTIC_BACKUPS_DRILL: '1' });
      return Number(/--metric-name DrillAge --value (\d+) --unit Seconds/.exec(h.metrics().join('\n'))![1]);
    };
    expect(ageAfterCheck()).toBeLessThan(600);
    // A drill that stopped running: its stamp grows old, and so does the published age.
    fs.writeFileSync(stamp, `${Math.floor(Date.now() / 1000) - 10 * 86400}\n`);
    expect(ageAfterCheck()).toBeGreaterThanOrEqual(10 * 86400);
    // Without drills, no age.
    fs.writeFileSync(h.metricsFile, '');
    ok(['check']);
    expect(h.metrics().join('\n')).not.toMatch(/DrillAge/);
  });

  test('fails on an empty snapshot (a dump that produced nothing)', () => {
    // restic refuses an empty stream; a dump of an empty database is the realistic case.
    // Tagged complete: a dump that exited 0 and still holds no table must fail verification.
    h.resticOk(['backup', '--stdin', '--stdin-filename', 'database.sql', '--tag', 'source:database,complete', '--host', 'x'], '--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\n');
    fs.writeFileSync(h.metricsFile, '');
    const r = h.run(['drill']);
    expect(r.status).toBe(70);
    expect(r.stderr).toMatch(/has no tables/);
    expect(h.metrics().join('\n')).toMatch(/--metric-name DrillSuccess --value 0 /);
    expect(h.metrics().join('\n')).toMatch(/--metric-name Failure --value 1 /);
    // A restore from it would not touch the live database.
    const live = contentOf(DB);
    expect(h.run(['restore']).status).toBe(70);
    expect(contentOf(DB)).toBe(live);
  });

  test('fails on a corrupted snapshot', () => {
    ok(['backup', 'database']);
    // Flip bytes in the middle of every data pack in the bucket.
    const dataDir = path.join(h.s3Dir, h.bucket, 'restic', 'data');
    const packs: string[] = [];
    const walk = (d: string) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else if (e.name.endsWith('._S3rver_object')) packs.push(p);
    });
    walk(dataDir);
    expect(packs.length).toBeGreaterThan(0);
    for (const p of packs) {
      const buf = fs.readFileSync(p);
      for (let i = Math.floor(buf.length / 3); i < Math.floor(buf.length / 3) + 64 && i < buf.length; i++) buf[i] = 255 - buf[i];
      fs.writeFileSync(p, buf);
    }
    fs.rmSync(path.join(h.dir, 'cache'), { recursive: true, force: true });
    fs.writeFileSync(h.metricsFile, '');
    const r = h.run(['drill']);
    expect(r.status).toBe(70);
    expect(r.stderr).toMatch(/could not read snapshot|did not load/);
    expect(h.metrics().join('\n')).toMatch(/--metric-name DrillSuccess --value 0 /);
    // And restic check notices too.
    expect(h.run(['check'], { RESTIC_BACKUPS_CHECK_SUBSETS: '1' }).status).not.toBe(0);
  });
});
