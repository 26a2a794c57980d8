/**
 * The restic-backups tool's pure parts (snapshot choice, retention groups, failure
 * classification, check rotation, parsing) as python unittest cases, run with the host's
 * python3 (stdlib only).
 */
import { spawnSync } from 'child_process';

test('python unit tests of the tool pass', () => {
  const r = spawnSync('python3', ['-m', 'unittest', '-v', 'tool_units'], { cwd: __dirname, encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  if (r.error) throw new Error('python3 is missing: apt-get install -y python3');
  // Every case ran (a file that stopped loading would run none).
  expect(r.stderr).toMatch(/Ran (1[0-9]|[2-9][0-9]) tests/);
  expect({ status: r.status, output: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, output: '' });
});
