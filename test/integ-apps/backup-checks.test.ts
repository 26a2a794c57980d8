/**
 * The restic-backups integ test's host checks (backup-now, snapshots, drill), run for real:
 * the restic-backups tool, restic, PostgreSQL and an S3 server on 127.0.0.1 (the restic test
 * harness), with the source files and systemd units that the integ app synthesizes for its
 * host. systemctl is a stand-in that runs a unit's ExecStart in the foreground, as
 * `systemctl start` of a oneshot unit does; CloudWatch's put-metric-data is recorded.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildResticBackupsInteg } from '../../integ/integ.restic-backups';
import { HOST_CHECKS_DIR } from '../../integ/support/data-host';
import { Harness, SCRIPT } from '../support/restic-harness';

const h = new Harness();
const unitDir = join(h.dir, 'units');
const binDir = join(h.dir, 'bin');
const filesDir = join(h.dir, 'integ-files');

/** The host files the integ app's ResticBackups adds (its static files asset), by host path. */
function hostFilesOfIntegApp(): Map<string, string> {
  const outdir = join(h.dir, 'cdk.out');
  const app = new App({ outdir });
  buildResticBackupsInteg(app);
  app.synth();
  const files = new Map<string, string>();
  // Host files ship as zips whose SHA-256 the user data carries (GravitonDataHost.addFiles).
  for (const zip of readdirSync(outdir).filter((d) => d.startsWith('asset.') && d.endsWith('.zip'))) {
    const dir = join(h.dir, 'unzipped', zip);
    mkdirSync(dir, { recursive: true });
    const unzip = spawnSync('python3', ['-m', 'zipfile', '-e', join(outdir, zip), dir], { encoding: 'utf8' });
    if (unzip.status !== 0) throw new Error(`unzip ${zip}: ${unzip.stderr}`);
    const manifest = join(dir, 'MANIFEST');
    if (!existsSync(manifest)) continue;
    for (const line of readFileSync(manifest, 'utf8').trim().split('\n')) {
      const path = line.split(' ')[2];
      files.set(path, readFileSync(join(dir, 'files', path), 'utf8'));
    }
  }
  return files;
}

function runCheck(script: string, env: Record<string, string> = {}) {
  const r = spawnSync('bash', [join(HOST_CHECKS_DIR, script)], {
    encoding: 'utf8',
    env: h.env({ PATH: `${binDir}:${process.env.PATH}`, RESTIC_BACKUPS: SCRIPT, RESTIC_BACKUPS_DRILL: '1', ...env }) as Record<string, string>,
    timeout: 300_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sources = 'database roles files';

beforeAll(async () => {
  await h.start();
  mkdirSync(unitDir);
  mkdirSync(binDir);
  const files = hostFilesOfIntegApp();
  for (const [path, content] of files) {
    if (path.startsWith('/etc/restic-backups/sources/')) {
      // The paths source names /data/integ-files on the host; here it is a temporary folder.
      writeFileSync(join(h.configDir, 'sources', path.split('/').pop()!), content.replace('/data/integ-files', filesDir));
    } else if (path.startsWith('/etc/systemd/system/')) {
      writeFileSync(join(unitDir, path.split('/').pop()!), content);
    }
  }
  expect(readdirSync(join(h.configDir, 'sources')).sort()).toEqual(['database.env', 'files.env', 'roles.env']);
  writeFileSync(join(binDir, 'systemctl'), [
    '#!/usr/bin/env bash',
    '# Stand-in for `systemctl start UNIT` of a oneshot unit: runs its ExecStart in the foreground.',
    'set -euo pipefail',
    '[[ "$1" == start ]] || { echo "fake systemctl: only start is supported" >&2; exit 2; }',
    'unit=$2 instance=""',
    'if [[ "$unit" == *@*.service ]]; then instance=${unit#*@}; instance=${instance%.service}; unit=${unit%%@*}@.service; fi',
    `exec_start=$(sed -n 's/^ExecStart=//p' "${unitDir}/$unit")`,
    'exec_start=${exec_start//%i/$instance}',
    `exec_start=\${exec_start//\\/usr\\/local\\/sbin\\/restic-backups/${SCRIPT}}`,
    'read -r -a argv <<<"$exec_start"',
    'exec "${argv[@]}"',
    '',
  ].join('\n'), { mode: 0o755 });
  writeFileSync(join(binDir, 'journalctl'), '#!/usr/bin/env bash\ntrue\n', { mode: 0o755 });
  h.psql('postgres', 'CREATE DATABASE integhost');
  // What the host's boot does once ResticBackups is installed.
  const init = h.run(['init']);
  expect([init.status, init.stderr]).toEqual([0, expect.any(String)]);
  await h.useTestKeyCost();
}, 120_000);

afterAll(async () => {
  await h.stop();
});

test('backup-now seeds the data and backs up every source through its unit; snapshots finds one per source; the drill verifies', () => {
  const backup = runCheck('backup-now.sh', { DB_NAME: 'integhost', SOURCES: sources, FILES_DIR: filesDir });
  expect(backup.stdout).toMatch(/^source database backed up in \d+ s\nsource roles backed up in \d+ s\nsource files backed up in \d+ s\nPASS backup-now\n$/);
  expect(backup.status).toBe(0);
  expect(h.psql('integhost', 'SELECT count(*) FROM integ_backup_probe')).toBe('3');

  const snapshots = runCheck('snapshots.sh', { SOURCES: sources });
  expect(snapshots.stdout).toBe('source database: 1 snapshot(s)\nsource roles: 1 snapshot(s)\nsource files: 1 snapshot(s)\nPASS snapshots\n');
  expect(snapshots.status).toBe(0);
  // The roles source holds what pg_dumpall wrote, the files source the seeded file.
  const roles = h.resticOk(['dump', '--no-lock', 'latest', '--tag', 'source:roles', '/roles']);
  expect(roles).toContain('CREATE ROLE postgres;');

  const drill = runCheck('drill.sh');
  expect(drill.stdout).toMatch(/^restore drill verified in \d+ s\nPASS drill\n$/);
  expect(drill.status).toBe(0);
  // The success metrics the integ test then looks for in CloudWatch.
  for (const source of sources.split(' ')) {
    expect(h.metrics()).toContainEqual(expect.stringMatching(new RegExp(`--metric-name BackupSuccess --value 1 .*Source=${source}$`)));
  }
  expect(h.metrics()).toContainEqual(expect.stringMatching(/--metric-name DrillSuccess --value 1 /));
});

test('snapshots fails for a source that has no snapshot', () => {
  const r = runCheck('snapshots.sh', { SOURCES: 'database never-backed-up' });
  expect(r.status).not.toBe(0);
  expect(r.stdout).toContain('FAIL snapshots: no snapshot tagged source:never-backed-up');
});

test('the drill fails when the restored database does not verify', () => {
  // The verify query wants 3 rows; a backup of 2 rows makes the drill fail.
  h.psql('integhost', 'DELETE FROM integ_backup_probe WHERE id = 3');
  expect(h.run(['backup', 'database']).status).toBe(0);
  const r = runCheck('drill.sh');
  expect(r.status).not.toBe(0);
  expect(r.stdout).toContain('FAIL drill: the restore drill failed (restic-backups-drill.service)');
});
