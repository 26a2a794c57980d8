import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Duration, Size } from 'aws-cdk-lib';
import { renderHostInstall } from '../../src/constructs/restic-backups/host-install';
import type { ResticBackupsProps } from '../../src/constructs/restic-backups/restic-backups';

/** The pure renderer of what ResticBackups puts on its host, without a stack. */
const settings = { repository: 's3:https://s3.eu-west-1.amazonaws.com/bucket/restic', region: 'eu-west-1', backupSetName: 'set', metricsNamespace: 'ResticBackups' };
const props = (sources: ResticBackupsProps['sources']) => ({ host: undefined as never, passwordParameterName: '/svc/prod/restic-password', sources });

test('paths only, no drill: no pieces tool, no drill unit, and the boot enables exactly the timers it wrote', () => {
  const { files, bootCommands } = renderHostInstall(props([{ name: 'etc', interval: Duration.hours(6), paths: ['/etc'] }]), { ...settings, drillSchedule: '' });
  const paths = files.map((f) => f.path);
  expect(paths).toContain('/usr/local/sbin/restic-backups');
  expect(paths).not.toContain('/usr/local/sbin/restic-backups-pieces');
  expect(paths.filter((p) => p.includes('drill'))).toEqual([]);
  const timers = paths.filter((p) => p.endsWith('.timer')).map((p) => p.split('/').pop()).sort();
  expect(timers).toEqual(['restic-backups-check.timer', 'restic-backups-etc.timer', 'restic-backups-forget.timer']);
  const enable = bootCommands.find((c) => c.startsWith('systemctl enable --now'))!;
  expect(enable.split(' ').slice(3).sort()).toEqual(timers);
  expect(files.find((f) => f.path === '/etc/systemd/system/restic-backups-etc.timer')!.content).toContain('OnCalendar=*-*-* 00/6:05:00');
  expect(files.find((f) => f.path === '/etc/restic-backups/restic-backups.env')!.content).toContain("RESTIC_BACKUPS_DRILL='0'");
});

test('a source with pieces gets the pieces tool; a drill gets its unit and timer; quoting survives a quote in the spool path', () => {
  const { files, bootCommands } = renderHostInstall({
    ...props([{ name: 'database', interval: Duration.days(1), postgres: { database: 'svc' }, pieceSize: Size.kibibytes(64) }]),
    spoolDirectory: "/data/it's",
  }, { ...settings, drillSchedule: 'Sun *-*-* 05:40:00' });
  const paths = files.map((f) => f.path);
  expect(paths).toContain('/usr/local/sbin/restic-backups-pieces');
  expect(paths).toEqual(expect.arrayContaining(['/etc/systemd/system/restic-backups-drill.service', '/etc/systemd/system/restic-backups-drill.timer']));
  expect(files.find((f) => f.path === '/etc/restic-backups/sources/database.env')!.content).toContain(`SOURCE_PIECE_SIZE=${64 * 1024}`);
  expect(bootCommands).toContain("install -d -m 0700 /var/cache/restic-backups '/data/it'\\''s'");
});

test('the tool runs as installed: the entry in /usr/local/sbin finds its modules in /usr/local/lib/restic-backups', () => {
  const { files } = renderHostInstall(props([{ name: 'etc', interval: Duration.hours(6), paths: ['/etc'] }]), { ...settings, drillSchedule: '' });
  const modules = files.filter((f) => f.path.startsWith('/usr/local/lib/restic-backups/restic_backups/'));
  const sourceDir = path.join(__dirname, '../../src/constructs/restic-backups/host/restic_backups');
  expect(modules.map((f) => path.basename(f.path)).sort()).toEqual(fs.readdirSync(sourceDir).filter((f) => f.endsWith('.py')).sort());
  expect(modules.every((f) => f.mode === '0644')).toBe(true);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'restic-install-'));
  try {
    for (const f of files.filter((x) => x.path.startsWith('/usr/local/'))) {
      fs.mkdirSync(path.dirname(path.join(root, f.path)), { recursive: true });
      fs.writeFileSync(path.join(root, f.path), f.content, { mode: parseInt(f.mode ?? '0644', 8) });
    }
    const r = spawnSync(path.join(root, 'usr/local/sbin/restic-backups'), [], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 64, stderr: 'restic-backups: usage: restic-backups init|backup|forget|check|snapshots|restore|drill|unlock\n' });
    // Nothing compiled is left beside the installed modules.
    expect(fs.readdirSync(path.join(root, 'usr/local/lib/restic-backups/restic_backups')).filter((f) => !f.endsWith('.py'))).toEqual([]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
