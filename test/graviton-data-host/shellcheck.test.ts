import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FAKES_DIR, HOST_DIR } from '../support/host-sandbox';
import { requireTools } from '../support/tools';

const PACKER_DIR = join(__dirname, '..', '..', 'packer');

test('every host script, packer script and test double passes shellcheck', () => {
  requireTools({ shellcheck: 'shellcheck' });
  const scripts = [
    ...readdirSync(HOST_DIR).filter((f) => f.endsWith('.sh')).map((f) => join(HOST_DIR, f)),
    ...readdirSync(PACKER_DIR).filter((f) => f.endsWith('.sh')).map((f) => join(PACKER_DIR, f)),
    ...readdirSync(FAKES_DIR, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name)),
  ];
  expect(scripts.length).toBeGreaterThan(20);
  const result = spawnSync('shellcheck', ['--external-sources', '--source-path=SCRIPTDIR', '--severity=style', ...scripts], { encoding: 'utf8' });
  expect(result.stdout + result.stderr).toBe('');
  expect(result.status).toBe(0);
});
