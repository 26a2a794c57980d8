/**
 * Fault tests of the restic-backups host tool (issue "Backups that are never silently wrong"):
 * each case injects one fault into real PostgreSQL 15, restic and s3rver (HTTPS, behind a
 * proxy that can fail or hold requests, or go away), then asserts the exit status, the
 * metrics, which snapshots exist, and that a restore gives the last good data exactly.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Harness, SCRIPT } from '../support/restic-harness';

jest.setTimeout(600_000);

const h = new Harness({ proxy: true });
const DB = 'zmanim'; // backed up as pieces (SOURCE_PIECE_SIZE)
const STREAM_DB = 'zmanim_stream'; // the same data backed up as one stream
const PIECE_SIZE = 16384;
const TMP = path.join(h.dir, 'tmp');

function createDatabase(db: string): void {
  h.asPostgres(['createdb', db]);
  h.psql(db, `
    CREATE TABLE localities (id bigint PRIMARY KEY, name text NOT NULL, lat double precision NOT NULL);
    INSERT INTO localities SELECT i, 'Locality ' || i, (i % 180) - 90 + 0.5 FROM generate_series(1, 20000) i;
    CREATE INDEX ON localities (name);
    CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE NOT NULL);
    INSERT INTO users (email) SELECT 'user' || i || '@example.org' FROM generate_series(1, 500) i;`);
}

/** Row count and md5 of every user table, plus the index count: equal strings mean equal content. */
function contentOf(db: string): string {
  return ['localities', 'users'].map((t) => h.psql(db, `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) || ' ' || count(*) FROM ${t} t`))
    .concat(h.psql(db, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")).join('\n');
}

function run(args: string[], env: Record<string, string> = {}, timeoutMs = 600_000) {
  return h.run(args, { TMPDIR: TMP, ...env }, timeoutMs);
}

function ok(args: string[], env: Record<string, string> = {}): string {
  const r = run(args, env);
  if (r.status !== 0) throw new Error(`restic-backups ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stderr;
}

const completeSnapshots = (source: string) => h.snapshots(`source:${source}`).filter((s) => (s.tags ?? []).includes('complete'));
const metrics = () => h.metrics().join('\n');
const clearMetrics = () => fs.writeFileSync(h.metricsFile, '');
const databases = (like: string) => h.psql('postgres', `SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database WHERE datname LIKE '${like}'`);
const locks = () => h.restic(['list', 'locks', '--no-lock']).stdout.trim();

/** Restores DB into a new database without swapping; returns its content, then drops it. */
function restoredContent(db: string, extra: string[] = []): string {
  const into = `${db}_check`;
  const r = run(['restore', '--database', db, '--into', into, '--no-swap', ...extra]);
  if (r.status !== 0) throw new Error(`restore of ${db} exited ${r.status}:\n${r.stderr}`);
  const content = contentOf(into);
  h.psql('postgres', `DROP DATABASE ${into}`);
  return content;
}

interface RunningTool { readonly child: ChildProcess; readonly exited: Promise<number | string>; readonly stderr: () => string }

function startTool(args: string[], env: Record<string, string> = {}): RunningTool {
  const child = spawn(SCRIPT, args, { env: h.env({ TMPDIR: TMP, ...env }) });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  child.stdout!.resume();
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => resolve(code ?? String(sig))));
  return { child, exited, stderr: () => err };
}

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const copying = (table: string) => h.psql('postgres', `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY public.${table}%'`) === '1';

let good = ''; // the live content of both databases at the last good backup

beforeAll(async () => {
  await h.start();
  fs.mkdirSync(TMP, { recursive: true });
  createDatabase(DB);
  createDatabase(STREAM_DB);
  h.addSource({ name: 'database', kind: 'postgres', database: DB, full: true, pieceSize: PIECE_SIZE, verifySql: 'SELECT count(*) > 0 FROM localities' });
  h.addSource({ name: 'stream', kind: 'postgres', database: STREAM_DB, full: true, verifySql: 'SELECT count(*) > 0 FROM localities' });
  ok(['init']);
  await h.useTestKeyCost();
  ok(['backup', 'database']);
  ok(['backup', 'stream']);
  good = contentOf(DB);
  expect(contentOf(STREAM_DB)).toBe(good);
});
afterAll(async () => h.stop());

afterEach(() => {
  // Every ending removes the tool's temporary files.
  expect(fs.readdirSync(TMP)).toEqual([]);
});

describe('partial data is never kept or restored as whole', () => {
  test('a stream snapshot whose dump ends at a row boundary is never chosen, and restoring it by id is refused', () => {
    // What a killed run of the earlier tool left: the first 40 % of a dump, cut between two rows.
    const dump = h.asPostgres(['pg_dump', STREAM_DB]);
    const lines = dump.split('\n');
    const copyAt = lines.findIndex((l) => l.startsWith('COPY public.localities'));
    const partial = lines.slice(0, copyAt + 8000).join('\n') + '\n';
    h.psql(STREAM_DB, 'UPDATE users SET email = email || \'.changed\' WHERE id < 10');
    const id = JSON.parse(h.resticOk(['backup', '--json', '--stdin', '--stdin-filename', 'stream.sql', '--tag', 'source:stream', '--host', 'killed'], partial)
      .trim().split('\n').pop()!).snapshot_id as string;
    // The restore takes the last snapshot proven whole: the good data, exactly.
    expect(restoredContent(STREAM_DB)).toBe(good);
    // Asked for by id, it is refused with the reason, and nothing is created or swapped.
    const live = contentOf(STREAM_DB);
    const r = run(['restore', '--database', STREAM_DB, '--snapshot', id.slice(0, 8)]);
    expect(r.status).toBe(65);
    expect(r.stderr).toMatch(/not proven complete/);
    expect(contentOf(STREAM_DB)).toBe(live);
    expect(databases(`${STREAM_DB}_restore_%`)).toBe('');
    h.resticOk(['forget', id]);
    h.psql(STREAM_DB, 'UPDATE users SET email = replace(email, \'.changed\', \'\')');
  });

  test('the tool SIGKILLed mid-dump, then pg_dump dies: nothing is restored from it, the next run keeps only whole snapshots', async () => {
    h.psql(STREAM_DB, 'CREATE TABLE bulk AS SELECT i AS id, repeat(md5(i::text), 4) AS payload FROM generate_series(1, 300000) i');
    try {
      const before = completeSnapshots('stream').length;
      const tool = startTool(['backup', 'stream']);
      await until(() => copying('bulk'), 'pg_dump copying bulk');
      tool.child.kill('SIGKILL');
      await tool.exited;
      // pg_dump dies too (its server connection is ended).
      h.psql('postgres', "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'COPY public.bulk%'");
      await new Promise((r) => setTimeout(r, 5000)); // whatever restic still does, it has done it
      expect(completeSnapshots('stream')).toHaveLength(before);
      fs.rmSync(TMP, { recursive: true, force: true }); // the killed run could not clean up
      fs.mkdirSync(TMP);
      h.psql(STREAM_DB, 'DROP TABLE bulk');
      expect(restoredContent(STREAM_DB)).toBe(good);
      // The next backup removes whatever the killed run left unproven, and succeeds.
      ok(['backup', 'stream']);
      expect(h.snapshots('source:stream').filter((s) => !(s.tags ?? []).includes('complete'))).toEqual([]);
      expect(completeSnapshots('stream')).toHaveLength(before + 1);
    } finally {
      h.psql(STREAM_DB, 'DROP TABLE IF EXISTS bulk');
    }
  });

  test('a paths source with a missing path (an unmounted volume) fails and keeps nothing', () => {
    const dir = path.join(h.dir, 'files');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'a'), 'a');
    h.addSource({ name: 'files', kind: 'paths', paths: `${dir} ${path.join(h.dir, 'not-mounted')}` });
    try {
      clearMetrics();
      const r = run(['backup', 'files']);
      expect(r.status).toBe(65);
      expect(r.stderr).toMatch(/not-mounted does not exist/);
      expect(h.snapshots('source:files')).toEqual([]);
      expect(metrics()).toMatch(/--metric-name BackupFailure --value 1 --unit Count --dimensions BackupSet=test,Source=files/);
      expect(metrics()).not.toMatch(/BackupSuccess/);
    } finally {
      h.removeSource('files');
    }
  });

  test('a paths source with an unreadable file (restic exit 3) fails and keeps nothing', () => {
    const dir = path.join(h.dir, 'files2');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['a', 'b', 'c']) fs.writeFileSync(path.join(dir, f), f);
    fs.chownSync(path.join(dir, 'b'), 65534, 65534);
    fs.chmodSync(path.join(dir, 'b'), 0);
    h.addSource({ name: 'files', kind: 'paths', paths: dir });
    try {
      clearMetrics();
      // root reads any file; without these two capabilities it cannot read b.
      const r = spawnSync('setpriv', ['--bounding-set=-dac_override,-dac_read_search', '--inh-caps=-dac_override,-dac_read_search', SCRIPT, 'backup', 'files'],
        { env: h.env({ TMPDIR: TMP }), encoding: 'utf8' });
      expect(r.stderr).toMatch(/"Err":13|permission denied/i); // EACCES
      expect(r.status).toBe(65);
      expect(r.stderr).toMatch(/some paths could not be read/);
      expect(h.snapshots('source:files')).toEqual([]);
      expect(metrics()).toMatch(/--metric-name BackupFailure --value 1 --unit Count --dimensions BackupSet=test,Source=files/);
    } finally {
      h.removeSource('files');
    }
  });

  test('after a failed pieces dump the spool holds no checksum that join would accept', () => {
    h.addSource({ name: 'partial', kind: 'command', command: 'seq 1 300000; exit 3', pieceSize: PIECE_SIZE });
    try {
      const r = run(['backup', 'partial']);
      expect(r.status).toBe(65);
      expect(h.snapshots('source:partial')).toEqual([]);
      const dir = path.join(h.spoolDir, 'partial');
      expect(fs.readdirSync(dir).filter((f) => f.startsWith('stream.sha256'))).toEqual([]);
      const join = spawnSync('python3', [path.join(path.dirname(SCRIPT), 'restic-backups-pieces'), 'join', dir], { encoding: 'utf8' });
      expect(join.status).toBe(65);
      expect(join.stdout).toBe('');
    } finally {
      h.removeSource('partial');
    }
  });
});

describe('every ending is reported', () => {
  test('SIGTERM mid-dump (systemd stop): exit 143, the failure metric, no snapshot, no lock, no temporary files', async () => {
    h.addSource({ name: 'slow', kind: 'command', command: 'seq 1 200000; sleep 120' });
    try {
      clearMetrics();
      const locksDir = path.join(h.s3Dir, h.bucket, 'restic', 'locks');
      const tool = startTool(['backup', 'slow']);
      await until(() => fs.existsSync(locksDir) && fs.readdirSync(locksDir).some((f) => f.endsWith('._S3rver_object')), 'restic\'s lock');
      tool.child.kill('SIGTERM');
      expect(await tool.exited).toBe(143);
      expect(tool.stderr()).toMatch(/stopped by SIGTERM/);
      expect(metrics()).toMatch(/--metric-name BackupFailure --value 1 --unit Count --dimensions BackupSet=test,Source=slow/);
      expect(metrics()).toMatch(/--metric-name Failure --value 1 --unit Count --dimensions BackupSet=test$/m);
      expect(h.snapshots('source:slow')).toEqual([]);
      expect(locks()).toBe('');
    } finally {
      h.removeSource('slow');
    }
  });

  test('SIGTERM of a drill: DrillSuccess 0 and the failure metric, the scratch database is dropped', async () => {
    h.psql(DB, 'CREATE TABLE bulk AS SELECT i AS id, repeat(md5(i::text), 4) AS payload FROM generate_series(1, 300000) i');
    try {
      ok(['backup', 'database']);
      clearMetrics();
      const tool = startTool(['drill', '--database', DB]);
      await until(() => databases(`${DB}_drill`) === `${DB}_drill`, 'the scratch database');
      await new Promise((r) => setTimeout(r, 300));
      tool.child.kill('SIGTERM');
      expect(await tool.exited).toBe(143);
      expect(metrics()).toMatch(/--metric-name DrillSuccess --value 0 --unit Count/);
      expect(metrics()).toMatch(/--metric-name Failure --value 1 --unit Count --dimensions BackupSet=test$/m);
      expect(databases(`${DB}_drill`)).toBe('');
      expect(fs.readdirSync(h.spoolDir).filter((f) => f.startsWith('restore.'))).toEqual([]);
    } finally {
      h.psql(DB, 'DROP TABLE bulk');
    }
  });

  test('SIGKILL of a drill: the next drill removes the unpacked dump it left and the scratch database', async () => {
    h.psql(DB, 'CREATE TABLE bulk AS SELECT i AS id, repeat(md5(i::text), 4) AS payload FROM generate_series(1, 300000) i');
    try {
      ok(['backup', 'database']);
      const tool = startTool(['drill', '--database', DB]);
      await until(() => fs.readdirSync(h.spoolDir).some((f) => f.startsWith('restore.')), 'the unpacked pieces');
      tool.child.kill('SIGKILL');
      await tool.exited;
      await new Promise((r) => setTimeout(r, 2000));
      fs.rmSync(TMP, { recursive: true, force: true });
      fs.mkdirSync(TMP);
      ok(['drill', '--database', DB]);
      expect(fs.readdirSync(h.spoolDir).filter((f) => f.startsWith('restore.'))).toEqual([]);
      expect(databases(`${DB}_drill`)).toBe('');
    } finally {
      h.psql(DB, 'DROP TABLE bulk');
      ok(['backup', 'database']);
    }
  });

  test('a wrong password: restore and drill exit 77 and say so; the drill publishes DrillSuccess 0', () => {
    const wrong = { RESTIC_PASSWORD_COMMAND: 'echo not-the-password' };
    const restore = run(['restore', '--database', DB, '--into', 'never', '--no-swap'], wrong);
    expect(restore.status).toBe(77);
    expect(restore.stderr).toMatch(/wrong repository password/);
    clearMetrics();
    const drill = run(['drill', '--database', DB], wrong);
    expect(drill.status).toBe(77);
    expect(drill.stderr).toMatch(/wrong repository password/);
    expect(metrics()).toMatch(/--metric-name DrillSuccess --value 0 --unit Count/);
    expect(metrics()).toMatch(/--metric-name Failure --value 1 /);
    expect(databases('never')).toBe('');
  });

  test('S3 unreachable: backups and restores say so (exit 69), keep nothing and publish the failure', async () => {
    const before = h.snapshots().length;
    await h.stopProxy();
    try {
      clearMetrics();
      for (const source of ['database', 'stream']) {
        const r = run(['backup', source]);
        expect({ source, status: r.status }).toEqual({ source, status: 69 });
        expect(r.stderr).toMatch(/storage is unreachable/);
        expect(r.stderr).not.toMatch(/source command exited|run 'restic-backups init'/);
      }
      expect(metrics()).toMatch(/--metric-name BackupFailure --value 1 --unit Count --dimensions BackupSet=test,Source=stream/);
      const restore = run(['restore', '--database', STREAM_DB, '--into', 'never', '--no-swap']);
      expect(restore.status).toBe(69);
      expect(restore.stderr).toMatch(/storage is unreachable/);
    } finally {
      await h.startProxy();
    }
    expect(h.snapshots()).toHaveLength(before);
  });

  test('a full spool: the pieces backup says so (exit 74) and keeps nothing', () => {
    const small = path.join(h.dir, 'small-spool');
    fs.mkdirSync(small, { recursive: true });
    spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small], { stdio: 'inherit' });
    h.writeConfig(`RESTIC_BACKUPS_SPOOL_DIR=${small}`);
    try {
      const before = h.snapshots('source:database').length;
      clearMetrics();
      const r = run(['backup', 'database']);
      expect(r.status).toBe(74);
      expect(r.stderr).toMatch(/spool \S+ is full/);
      expect(r.stderr).not.toMatch(/source command exited/);
      expect(h.snapshots('source:database')).toHaveLength(before);
      expect(metrics()).toMatch(/--metric-name BackupFailure --value 1 --unit Count --dimensions BackupSet=test,Source=database/);
    } finally {
      h.writeConfig();
      spawnSync('umount', [small]);
    }
  });
});

describe('restore checks space before it creates anything', () => {
  test('a stream restore that would not fit in PostgreSQL\'s data directory creates no database', () => {
    const r = run(['restore', '--database', STREAM_DB, '--into', 'nospace', '--no-swap'], { RESTIC_BACKUPS_RESTORE_HEADROOM_BYTES: String(1e15) });
    expect(r.status).toBe(70);
    expect(r.stderr).toMatch(/not enough space in \S+ \(PostgreSQL\)/);
    expect(databases('nospace')).toBe('');
  });
});

describe('init never touches a location that holds anything', () => {
  test('config unreadable (the storage answers 500): init fails loudly and writes nothing', () => {
    const keysDir = path.join(h.s3Dir, h.bucket, 'restic', 'keys');
    const keys = fs.readdirSync(keysDir).sort();
    const config = path.join(h.s3Dir, h.bucket, 'restic', 'config._S3rver_object');
    const configBefore = fs.readFileSync(config);
    // Reads of the config fail; writes would go through (as they did when init overwrote it).
    h.setFaults([{ method: 'GET', path: /\/restic\/config/, action: 500 }, { method: 'HEAD', path: /\/restic\/config/, action: 500 }]);
    try {
      const r = run(['init']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/not empty|unreachable/);
    } finally {
      h.setFaults([]);
    }
    expect(fs.readdirSync(keysDir).sort()).toEqual(keys);
    expect(fs.readFileSync(config)).toEqual(configBefore);
    ok(['backup', 'stream']);
  });
});

describe('repository damage heals or blocks', () => {
  const packs = () => {
    const found: string[] = [];
    const walk = (d: string) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p); else if (e.name.endsWith('._S3rver_object')) found.push(p);
    });
    walk(path.join(h.s3Dir, h.bucket, 'restic', 'data'));
    return found.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
  };
  const dropCache = () => fs.rmSync(path.join(h.dir, 'cache'), { recursive: true, force: true });

  /** The pack holding the middle content blob of SOURCE's newest snapshot, and that blob's offset and length in it. */
  function packOfNewest(source: string): { pack: string; offset: number; length: number } {
    const snap = h.snapshots(`source:${source}`).pop()!;
    type TreeNode = { type: string; subtree?: string; content?: string[] };
    const content: string[] = [];
    const walk = (tree: string): void => {
      for (const n of JSON.parse(h.resticOk(['cat', 'blob', tree])).nodes as TreeNode[]) {
        if (n.subtree) walk(n.subtree);
        content.push(...(n.content ?? []));
      }
    };
    walk(JSON.parse(h.resticOk(['cat', 'snapshot', snap.id])).tree as string);
    expect(content.length).toBeGreaterThan(2);
    const blob = content[Math.floor(content.length / 2)];
    for (const index of h.resticOk(['list', 'index']).trim().split('\n')) {
      const idx = JSON.parse(h.resticOk(['cat', 'index', index])) as { packs: Array<{ id: string; blobs: Array<{ id: string; offset: number; length: number }> }> };
      for (const p of idx.packs) {
        const b = p.blobs.find((x) => x.id === blob);
        if (b) return { pack: packs().find((f) => path.basename(f).startsWith(p.id))!, offset: b.offset, length: b.length };
      }
    }
    throw new Error(`blob ${blob} is in no index`);
  }

  test('a pack deleted from the bucket: the daily check fails whichever subset it reads, the next backup rebuilds the index and re-uploads, the restore is exact', () => {
    ok(['backup', 'database']);
    const live = contentOf(DB);
    // A pack holding pieces of the newest snapshot, which the next backup would reuse unread.
    const { pack } = packOfNewest('database');
    fs.rmSync(pack);
    fs.rmSync(pack.replace(/\._S3rver_object$/, '._S3rver_metadata.json'), { force: true });
    dropCache();
    clearMetrics();
    // restic reads a subset's packs by the first byte of their id. A rotation in which neither
    // today's nor tomorrow's subset holds the deleted pack: the structure check alone must find
    // it (and restic does not spend ~45 s retrying the missing object's download).
    const day = Math.floor(Date.now() / 86_400_000);
    const firstByte = parseInt(path.basename(pack).slice(0, 2), 16);
    const parts = Array.from({ length: 62 }, (_, i) => i + 3).find((n) => ![day % n, (day + 1) % n].includes(firstByte % n))!;
    const check = run(['check'], { RESTIC_BACKUPS_CHECK_SUBSETS: String(parts) });
    expect(check.stderr).toContain(path.basename(pack).slice(0, 8));
    expect(check.status).not.toBe(0);
    expect(metrics()).toMatch(/--metric-name Failure --value 1 /);
    clearMetrics();
    const healed = run(['backup', 'database']);
    expect(healed.status).toBe(0);
    expect(metrics()).toMatch(/--metric-name BackupSuccess --value 1 --unit Count --dimensions BackupSet=test,Source=database/);
    dropCache();
    expect(restoredContent(DB)).toBe(live);
    // How: the check left the stamp, the backup rebuilt the index and removed the stamp.
    expect(healed.stderr).toMatch(/rebuilding the index/);
    expect(fs.existsSync(path.join(h.spoolDir, 'repair-needed'))).toBe(false);
  });

  test('16 bytes flipped inside a pack (same size): the full-read check finds it and the next backup blocks instead of reusing it', () => {
    // Large enough for many chunks: all but the first and last are the same in the next dump.
    h.psql(STREAM_DB, 'CREATE TABLE bulk AS SELECT i AS id, repeat(md5(i::text), 4) AS payload FROM generate_series(1, 300000) i');
    ok(['backup', 'stream']);
    const { pack, offset, length } = packOfNewest('stream');
    const buf = fs.readFileSync(pack);
    const size = buf.length;
    const at = offset + Math.floor(length / 2);
    for (let i = at; i < at + 16; i++) buf[i] = 255 - buf[i];
    fs.writeFileSync(pack, buf);
    expect(fs.statSync(pack).size).toBe(size);
    dropCache();
    clearMetrics();
    const check = run(['check'], { RESTIC_BACKUPS_CHECK_SUBSETS: '1' });
    expect(check.status).not.toBe(0);
    expect(metrics()).toMatch(/--metric-name Failure --value 1 /);
    const before = completeSnapshots('stream').length;
    clearMetrics();
    // Unchanged data would reuse the damaged blob: the backup reads its snapshot back and fails.
    const r = run(['backup', 'stream']);
    expect(r.status).toBe(70);
    expect(r.stderr).toMatch(/cannot be read back whole/);
    expect(metrics()).toMatch(/--metric-name BackupFailure --value 1 --unit Count --dimensions BackupSet=test,Source=stream/);
    expect(metrics()).not.toMatch(/BackupSuccess/);
    expect(completeSnapshots('stream')).toHaveLength(before);
    expect(h.snapshots('source:stream').filter((s) => !(s.tags ?? []).includes('complete'))).toEqual([]);
    // It stays blocked (the stamp remains) until the operator follows the runbook.
    expect(fs.existsSync(path.join(h.spoolDir, 'repair-needed'))).toBe(true);
  });
});
