/**
 * The data-host integ test's data-volume check, run for real: an xfs filesystem labelled like
 * the host's on a loop device, mounted in a private mount namespace (nothing outside the test
 * sees it). The NVMe by-id link and fstab are files in the test's folder.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_LABEL, HOST_CHECKS_DIR } from '../../integ/support/data-host';
import { requireTools } from '../support/tools';

const dir = mkdtempSync(join(tmpdir(), 'integ-data-volume-'));
const volumeId = 'vol-0123456789abcdef0';
const byId = join(dir, 'by-id');
const dataDir = join(dir, 'data');
const fstab = join(dir, 'fstab');
const loops: string[] = [];

/** A loop device holding a fresh xfs filesystem with `label`. */
function xfsDevice(name: string, label: string): string {
  const image = join(dir, `${name}.img`);
  execFileSync('truncate', ['-s', '320M', image]); // mkfs.xfs needs 300 MiB (sparse file)
  execFileSync('mkfs.xfs', ['-q', '-L', label, image]);
  const r = spawnSync('losetup', ['-f', '--show', image], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`The data-volume check test needs loop devices (losetup, as root): ${r.stderr}`);
  loops.push(r.stdout.trim());
  return r.stdout.trim();
}

/** Runs data-volume.sh with `mounted` at the data directory, in a private mount namespace. */
function check(mounted: string, fstabEntry: string) {
  writeFileSync(fstab, `# test fstab\n${fstabEntry}\n`);
  const script = [
    `mount ${mounted} ${dataDir}`,
    `mkdir -p ${dataDir}/postgres ${dataDir}/redis`,
    `bash ${join(HOST_CHECKS_DIR, 'data-volume.sh')}`,
  ].join(' && ');
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-c', script], {
    encoding: 'utf8',
    env: { ...process.env, DATA_VOLUME_ID: volumeId, DATA_LABEL, DATA_DIR: dataDir, DISK_BY_ID_DIR: byId, FSTAB: fstab },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dataDevice = '';
let otherDevice = '';

beforeAll(() => {
  requireTools({ 'mkfs.xfs': 'xfsprogs', 'losetup': 'util-linux', 'unshare': 'util-linux', 'findmnt': 'util-linux', 'blkid': 'util-linux' });
  mkdirSync(byId);
  mkdirSync(dataDir);
  dataDevice = xfsDevice('data', DATA_LABEL);
  otherDevice = xfsDevice('other', 'not-the-data');
  // The NVMe serial of an EBS volume is its id without the dash.
  symlinkSync(dataDevice, join(byId, `nvme-Amazon_Elastic_Block_Store_${volumeId.replace('-', '')}`));
});

afterAll(() => {
  for (const loop of loops) spawnSync('losetup', ['-d', loop]);
  rmSync(dir, { recursive: true, force: true });
});

test('passes when /data is the data volume, xfs with the label, mounted by label', () => {
  const r = check(dataDevice, `LABEL=${DATA_LABEL} ${dataDir} xfs defaults,noatime,nofail 0 2`);
  expect(r.stdout).toBe(`data volume ${volumeId} is ${dataDevice}, xfs labelled ${DATA_LABEL}, mounted at ${dataDir} by label; postgres and redis data on it\nPASS data-volume\n`);
  expect(r.status).toBe(0);
});

test('fails when fstab mounts the data directory by device name, not by label', () => {
  const r = check(dataDevice, `${dataDevice} ${dataDir} xfs defaults 0 2`);
  expect(r.status).not.toBe(0);
  expect(r.stdout).toBe(`FAIL data-volume: fstab mounts ${dataDir} from '${dataDevice}', not LABEL=${DATA_LABEL}\n`);
});

test('fails when another filesystem is mounted at the data directory', () => {
  const r = check(otherDevice, `LABEL=${DATA_LABEL} ${dataDir} xfs defaults 0 2`);
  expect(r.status).not.toBe(0);
  expect(r.stdout).toBe(`FAIL data-volume: ${dataDir} is ${otherDevice}, not the data volume ${volumeId} (${dataDevice})\n`);
});

test('fails when the volume is not attached', () => {
  const r = spawnSync('bash', [join(HOST_CHECKS_DIR, 'data-volume.sh')], {
    encoding: 'utf8',
    env: { ...process.env, DATA_VOLUME_ID: 'vol-0fffffffffffffff0', DATA_LABEL, DATA_DIR: dataDir, DISK_BY_ID_DIR: byId, FSTAB: fstab },
  });
  expect(r.status).not.toBe(0);
  expect(r.stdout).toBe(`FAIL data-volume: volume vol-0fffffffffffffff0 is not attached (no ${byId}/nvme-Amazon_Elastic_Block_Store_vol0fffffffffffffff0)\n`);
});
