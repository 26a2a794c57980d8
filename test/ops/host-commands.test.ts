/**
 * The shell shtetl-ops sends through Run Command, run here as AWS-RunShellScript would run
 * it (one script, `sh`), against the real host scripts: restic-backups with PostgreSQL 15,
 * restic and s3rver (the restic-backups test harness), and lib.sh with a real Redis.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as host from '../../src/ops/host-commands';
import { hostScript } from '../../src/ops/run-on-host';
import { Harness, SCRIPT } from '../support/restic-harness';
import { freePort } from '../support/tools';

jest.setTimeout(300_000);

const HOST_DIR = path.resolve(__dirname, '../../src/constructs/graviton-data-host/host');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shtetl-ops-host-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Runs the commands as Run Command does: joined into one file, executed by sh. */
function runCommand(commands: string[], env: NodeJS.ProcessEnv): { status: number; stdout: string; stderr: string } {
  const file = path.join(work, `run-${Date.now()}.sh`);
  fs.writeFileSync(file, hostScript(commands).join('\n') + '\n');
  const r = spawnSync('sh', [file], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('every script passes shellcheck', () => {
  const scripts: { [name: string]: string[] } = {
    'status': host.status('kehilla', [...host.UNITS]),
    'restart api': host.restart('kehilla', 'api'),
    'restart redis': host.restart('kehilla', 'redis'),
    'resources': host.diskAndMemory(),
    'health': host.hostHealth('http://127.0.0.1:9000/healthz'),
    'wait for the api': host.waitForApi('kehilla', 'http://127.0.0.1:9000/healthz'),
    'backup': host.backupNow(),
    'backup one': host.backupNow("app'; reboot; '"),
    'snapshots': host.snapshots('app'),
    'restore': host.restore({ snapshot: 'abc', before: '2026-11-25 12:00', database: 'zmanim' }),
    'drill': host.drill('zmanim'),
    'redis flush': host.redisFlush('kehilla'),
    'deploy api': host.deployApi('kehilla'),
  };

  test.each(Object.entries(scripts))('%s', (name, commands) => {
    const inner = path.join(work, `${name.replace(/\W/g, '-')}.bash`);
    fs.writeFileSync(inner, `#!/bin/bash\n${commands.join('\n')}\n`);
    const outer = path.join(work, `${name.replace(/\W/g, '-')}.sh`);
    fs.writeFileSync(outer, `#!/bin/sh\n${hostScript(['true']).join('\n')}\n`);
    // SC1090/SC1091: lib.sh's path is decided on the host.
    const r = spawnSync('shellcheck', ['-e', 'SC1090,SC1091', inner, outer], { encoding: 'utf8' });
    if (r.error) throw new Error('shellcheck is missing: apt-get install -y shellcheck');
    expect(r.stdout + r.stderr).toBe('');
  });
});

describe('redis-flush against a real Redis, through lib.sh', () => {
  let redis: ChildProcess;
  let port: number;
  const secrets = path.join(work, 'secrets');
  // A throwaway test value in a temp file (never a real secret).
  const password = 'test-only-redis-password';
  const cli = (...args: string[]) => spawnSync('redis-cli', ['-p', String(port), '--no-auth-warning', '-a', password, ...args], { encoding: 'utf8' }).stdout.trim();

  beforeAll(async () => {
    if (spawnSync('bash', ['-c', 'command -v redis-server && command -v redis-cli']).status !== 0) {
      throw new Error('redis-flush test needs redis-server and redis-cli: apt-get install -y redis-server');
    }
    port = await freePort();
    fs.mkdirSync(secrets, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(secrets, 'redis-password'), password, { mode: 0o600 });
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100 && cli('PING') !== 'PONG'; i++) await new Promise((r) => setTimeout(r, 100));
  });
  afterAll(() => redis?.kill());

  // The scripts from src/ have no service.env beside them (the bootstrap writes it on a host):
  // lib.sh takes the service's name from SHTETL_SERVICE, as on a host from service.env.
  const hostEnv = () => ({
    SHTETL_SERVICE: 'zmanim', SHTETL_OPS_HOST_DIR: HOST_DIR, ZMANIM_HOST_ENV: path.join(work, 'none.env'), ZMANIM_REDIS_PORT: String(port),
  });

  test('empties the cache and reports the key counts, without printing the password', () => {
    cli('MSET', 'zmanim:a', '1', 'zmanim:b', '2', 'zmanim:c', '3');
    const r = runCommand(host.redisFlush('zmanim'), {
      ...hostEnv(), ZMANIM_SECRETS_DIR: secrets,
    });
    expect(r.stderr).not.toContain(password);
    expect(r.stdout).not.toContain(password);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('keys before: 3');
    expect(r.stdout).toContain('keys after: 0');
    expect(cli('DBSIZE')).toBe('0');
  });

  test('a missing password fails with lib.sh\'s message', () => {
    const r = runCommand(host.redisFlush('zmanim'), { ...hostEnv(), ZMANIM_SECRETS_DIR: path.join(work, 'empty') });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('secret redis-password is missing');
  });
});

describe('backup, snapshots, drill and restore against restic-backups', () => {
  const h = new Harness();
  const env = () => ({ ...h.env(), RESTIC_BACKUPS_BIN: SCRIPT });

  beforeAll(async () => {
    await h.start();
    h.asPostgres(['createdb', 'zmanim']);
    h.psql('zmanim', `CREATE SCHEMA geo; CREATE SCHEMA app;
      CREATE TABLE geo.localities (id int PRIMARY KEY, name text); INSERT INTO geo.localities SELECT i, 'l' || i FROM generate_series(1, 1000) i;
      CREATE TABLE app.users (id int PRIMARY KEY, email text); INSERT INTO app.users SELECT i, 'u' || i FROM generate_series(1, 50) i;`);
    h.addSource({ name: 'database', kind: 'postgres', database: 'zmanim', full: true, verifySql: 'SELECT count(*) > 0 FROM geo.localities' });
    h.addSource({ name: 'app', kind: 'postgres', database: 'zmanim', pgDumpArgs: '--schema=app --clean --if-exists' });
    const init = h.run(['init']);
    if (init.status !== 0) throw new Error(`restic-backups init failed: ${init.stderr}`);
    await h.useTestKeyCost();
  });
  afterAll(async () => h.stop());

  test('backup backs up every configured source', () => {
    const r = runCommand(host.backupNow(), env());
    expect(r.stderr).toMatch(/source app: snapshot [0-9a-f]{8}/);
    expect(r.stderr).toMatch(/source database: snapshot [0-9a-f]{8}/);
    expect(r.status).toBe(0);
    expect(h.snapshots().map((s) => (s.tags ?? []).filter((t) => t.startsWith('source:'))).sort()).toEqual([['source:app'], ['source:database']]);
    // Proven whole by the tool (restic-backups tags a snapshot complete only then).
    expect(h.snapshots().every((s) => s.tags?.includes('complete'))).toBe(true);
  });

  test('backup --source with a name that is not a source fails, naming the sources', () => {
    const r = runCommand(host.backupNow('nope'), env());
    expect(r.status).toBe(64);
    expect(r.stderr).toContain("unknown source 'nope' (configured: app database )");
  });

  test('backup tries every source and fails when one failed', () => {
    // A path that does not exist (a failing *command* source can hang restic-backups with
    // restic 0.14: see the report to the ResticBackups owner).
    h.addSource({ name: 'broken', kind: 'paths', paths: '/nonexistent-shtetl-ops-source' });
    try {
      const r = runCommand(host.backupNow(), env());
      expect(r.status).toBe(65);
      expect(r.stderr).toContain('backup of broken failed: /nonexistent-shtetl-ops-source does not exist');
      expect(r.stderr).toMatch(/source database: snapshot/);
    } finally {
      h.removeSource('broken');
    }
  });

  test('snapshots lists them', () => {
    const r = runCommand(host.snapshots('database'), env());
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('source:database');
    expect(r.stdout).not.toContain('source:app');
  });

  test('drill restores into a scratch database and verifies it', () => {
    const r = runCommand(host.drill(), env());
    expect(r.stderr).toContain('restore drill of zmanim succeeded');
    expect(r.status).toBe(0);
  });

  test('restore swaps in the restored database and keeps the previous one', () => {
    h.psql('zmanim', 'DELETE FROM geo.localities');
    const r = runCommand(host.restore({}), env());
    expect(r.stderr).toContain('restored, verified and swapped in zmanim');
    expect(r.status).toBe(0);
    expect(h.psql('zmanim', 'SELECT count(*) FROM geo.localities')).toBe('1000');
    expect(h.psql('postgres', "SELECT count(*) FROM pg_database WHERE datname LIKE 'zmanim_before_restore_%'")).toBe('1');
  });

  test('restore of an unknown snapshot fails without touching the database', () => {
    const r = runCommand(host.restore({ snapshot: 'deadbeef' }), env());
    expect(r.status).toBe(65);
    expect(r.stderr).toContain('no snapshot of source database with id deadbeef');
    expect(h.psql('zmanim', 'SELECT count(*) FROM geo.localities')).toBe('1000');
  });

  test('a host without restic-backups says what is missing', () => {
    const r = runCommand(host.drill(), { ...env(), RESTIC_BACKUPS_BIN: path.join(work, 'missing') });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('the ResticBackups construct installs it at boot');
  });
});

describe('operator input never becomes shell on the host (issue 14: here-document injection)', () => {
  const marker = path.join(work, 'pwned');
  afterEach(() => fs.rmSync(marker, { force: true }));

  test('the script travels base64-encoded: a value holding the old here-document delimiter and a command stays data', () => {
    // A multi-line quoted word is valid bash; with the here-document it ended the script at
    // SHTETL_OPS and ran the next line as root.
    const word = `x\nSHTETL_OPS\ntouch ${marker}`;
    const r = runCommand([`printf '%s\\n' '${word}'`], {});
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${word}\n`);
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('what runs as sh is fixed: only base64 varies', () => {
    const lines = hostScript(['echo "$HOME"', "it's", 'SHTETL_OPS', '`reboot`']);
    expect(lines).toHaveLength(5);
    expect(lines[1]).toMatch(/^printf '%s' '[A-Za-z0-9+/=]+' \| base64 -d >"\$script"$/);
    expect(lines.filter((_, i) => i !== 1)).toEqual(hostScript(['true']).filter((_, i) => i !== 1));
  });

  test('quote() refuses control characters, so a newline can never end a line of a command', () => {
    expect(() => host.quote(`x\nSHTETL_OPS\ntouch ${marker}`)).toThrow(/control character/);
    expect(() => host.restore({ snapshot: 'x\rreboot' })).toThrow(/control character/);
    expect(host.quote("it's")).toBe("'it'\\''s'");
  });

  test('a restore with a hostile snapshot value runs nothing but restic-backups, which gets it as one argument', () => {
    const script = path.join(work, 'fake-restic-backups');
    fs.writeFileSync(script, '#!/bin/sh\nprintf "%s|" "$@"\n', { mode: 0o755 });
    const r = runCommand(host.restore({ snapshot: `1a'; touch ${marker}; '`, database: 'kehilla_app' }), { RESTIC_BACKUPS_BIN: script });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`restore|--snapshot|1a'; touch ${marker}; '|--database|kehilla_app|`);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
