import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_DIR } from '../support/host-sandbox';
import { requireTools } from '../support/tools';

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
      .filter((line) => line.trim() && !line.includes('/opt/kehilla/api/kehilla-api is not executable'));
  };

  test('systemd-analyze verify finds no unknown key or bad value in any unit, rendered for a service', () => {
    const templates = readdirSync(UNITS).filter((f) => f.endsWith('.service'));
    expect(templates).toEqual(['api.service', 'boot.service', 'postgresql.service', 'redis.service']);
    // As provision.sh installs them: <service>-<template>, @SERVICE@ replaced.
    const units = templates.map((t) => `kehilla-${t}`);
    templates.forEach((t, i) => writeFileSync(join(dir, units[i]), readFileSync(join(UNITS, t), 'utf8').replace(/@SERVICE@/g, 'kehilla')));
    expect(verify(units.map((u) => `./${u}`))).toEqual([]);
    expect(readFileSync(join(dir, 'kehilla-api.service'), 'utf8')).toMatch(/^Requires=kehilla-postgresql.service kehilla-redis.service$/m);
  });

  test('the API process cannot reach instance metadata (the role\'s credentials)', () => {
    const api = readFileSync(join(UNITS, 'api.service'), 'utf8');
    expect(api).toMatch(/^IPAddressDeny=169\.254\.169\.254 fd00:ec2::254$/m);
    expect(api).toMatch(/^DynamicUser=yes$/m);
  });

  test('the check itself catches a misspelled key (so a clean result means something)', () => {
    writeFileSync(join(dir, 'broken.service'), '[Service]\nExecStart=/bin/true\nProtectSytem=strict\n');
    expect(verify(['./broken.service']).join('\n')).toMatch(/Unknown key 'ProtectSytem'/);
  });
});
