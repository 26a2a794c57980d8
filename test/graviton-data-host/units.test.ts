import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_DIR, requireTools } from './harness';

const UNITS = join(HOST_DIR, 'units');

describe('systemd units', () => {
  let dir: string;
  beforeAll(() => {
    requireTools({ 'systemd-analyze': 'systemd' });
    dir = mkdtempSync(join(tmpdir(), 'units-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const verify = (files: string[]) => {
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], { cwd: dir, encoding: 'utf8' });
    // The API binary arrives at the first start (fetch-api.sh), so it is missing here.
    return `${result.stdout}${result.stderr}`.split('\n')
      .filter((line) => line.trim() && !line.includes('/opt/zmanim/api/zmanim-api is not executable'));
  };

  test('systemd-analyze verify finds no unknown key or bad value in any unit', () => {
    const units = readdirSync(UNITS).filter((f) => f.endsWith('.service'));
    expect(units).toEqual(['zmanim-api.service', 'zmanim-boot.service', 'zmanim-postgresql.service', 'zmanim-redis.service']);
    for (const unit of units) copyFileSync(join(UNITS, unit), join(dir, unit));
    expect(verify(units.map((u) => `./${u}`))).toEqual([]);
  });

  test('the check itself catches a misspelled key (so a clean result means something)', () => {
    writeFileSync(join(dir, 'broken.service'), '[Service]\nExecStart=/bin/true\nProtectSytem=strict\n');
    expect(verify(['./broken.service']).join('\n')).toMatch(/Unknown key 'ProtectSytem'/);
  });
});
