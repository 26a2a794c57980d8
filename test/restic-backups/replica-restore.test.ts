/**
 * The restore path of the replica (README, ResticBackups, "Replica in a second region"),
 * offline: S3 Replication without delete markers leaves the replica with every object the
 * repository ever held, so it is the union of the repository over time. This builds that
 * union with real restic (local repositories: the point is the repository's contents, not the
 * backend), prunes the primary, and restores from the union with `--no-lock`, as an operator
 * would from the replica bucket after a region failure.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { useTestKeyCostLocal } from '../support/restic-key';
import { requireTools } from '../support/tools';

requireTools({ restic: 'restic (0.14 or newer)' }, 'replica-restore tests');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restic-replica-'));
const primary = path.join(dir, 'primary');
const replica = path.join(dir, 'replica');
const data = path.join(dir, 'data');
const env = { ...process.env, RESTIC_PASSWORD_FILE: path.join(dir, 'password'), RESTIC_CACHE_DIR: path.join(dir, 'cache') };
fs.writeFileSync(env.RESTIC_PASSWORD_FILE, crypto.randomBytes(24).toString('hex'));

function restic(repo: string, ...args: string[]): string {
  return execFileSync('restic', ['-r', repo, '--quiet', ...args], { env, encoding: 'utf8' });
}
/** What S3 Replication without delete markers does: new objects arrive, deletions do not. */
function replicate(): void {
  fs.mkdirSync(replica, { recursive: true });
  execFileSync('cp', ['-a', '-n', `${primary}/.`, `${replica}/`]);
}
function files(root: string): string[] {
  return execFileSync('find', ['.', '-type', 'f'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}
function snapshots(repo: string): Array<{ id: string; tags: string[] }> {
  return JSON.parse(restic(repo, '--no-lock', 'snapshots', '--json'));
}

const v1 = crypto.randomBytes(300_000).toString('base64');
const v2 = v1.slice(0, 200_000) + crypto.randomBytes(100_000).toString('base64');

beforeAll(() => {
  fs.mkdirSync(data);
  restic(primary, 'init');
  useTestKeyCostLocal(primary, fs.readFileSync(env.RESTIC_PASSWORD_FILE, 'utf8'));
  replicate();
  fs.writeFileSync(path.join(data, 'database.sql'), v1);
  restic(primary, 'backup', '--tag', 'source:database,v1', data);
  replicate();
  fs.writeFileSync(path.join(data, 'database.sql'), v2);
  restic(primary, 'backup', '--tag', 'source:database,v2', data);
  replicate();
  // Retention as the host's forget timer applies it; --max-unused 0 makes prune repack, so it
  // deletes pack, index and snapshot files the replica keeps.
  restic(primary, 'forget', '--keep-last', '1', '--prune', '--max-unused', '0');
  replicate();
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('after a prune, the replica holds everything the repository holds, and what the prune deleted', () => {
  const p = files(primary);
  const r = files(replica);
  expect(r).toEqual(expect.arrayContaining(p));
  const gone = r.filter((f) => !p.includes(f));
  expect(gone.some((f) => f.startsWith('./data/'))).toBe(true);
  expect(gone.some((f) => f.startsWith('./snapshots/'))).toBe(true);
  expect(gone.some((f) => f.startsWith('./index/'))).toBe(true);
});

test('the replica lists the kept snapshot and the forgotten one (its history survives the prune)', () => {
  expect(snapshots(primary).map((s) => s.tags)).toEqual([['source:database', 'v2']]);
  expect(snapshots(replica).map((s) => s.tags).sort()).toEqual([['source:database', 'v1'], ['source:database', 'v2']]);
});

test.each([['v2', () => v2], ['v1', () => v1]])('restores the %s snapshot from the replica with --no-lock, byte for byte', (tag, expected) => {
  const target = path.join(dir, `restore-${tag}`);
  restic(replica, '--no-lock', 'restore', 'latest', '--tag', tag, '--target', target);
  expect(fs.readFileSync(path.join(target, data, 'database.sql'), 'utf8')).toBe(expected());
  // Read-only: the restore left no lock in the replica.
  expect(fs.readdirSync(path.join(replica, 'locks'))).toEqual([]);
});

test('restic check finds the replica consistent (duplicate blobs from the repack are not errors)', () => {
  const check = spawnSync('restic', ['-r', replica, 'check', '--read-data'], { env, encoding: 'utf8' });
  expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
  expect(check.stdout).toContain('no errors were found');
});
