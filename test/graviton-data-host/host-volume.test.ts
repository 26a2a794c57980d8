/**
 * attach-volume.sh against real filesystems: image files stand in for the EBS device (real
 * wipefs, blkid and mkfs.xfs), EC2 and mount are fakes at the command-line boundary.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, symlinkSync, ftruncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { HostSandbox } from '../support/host-sandbox';
import { requireTools } from '../support/tools';

const VOLUME = 'vol-0abc123def4567890';
const SELF = 'i-0123456789abcdef0';
const TAG = 'c8f00d';
let host: HostSandbox;
let image: string;

function blankImage(): void {
  rmSync(image, { force: true });
  const fd = openSync(image, 'w');
  ftruncateSync(fd, 320 * 1024 * 1024); // sparse; mkfs.xfs needs 300 MiB
  closeSync(fd);
}
function sh(command: string) {
  const result = spawnSync('bash', ['-c', command], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command}: ${result.stderr}`);
  return result.stdout;
}
function attach(env: Record<string, string> = {}) {
  for (const f of ['aws.log', 'mkfs.log', 'mount.log', 'mounted']) rmSync(join(host.fakeLogDir, f), { force: true });
  const result = host.run('attach-volume.sh', [], { KEHILLA_ATTACH_TIMEOUT: '4', FAKE_DEVICE: image, ...env });
  const log = (f: string) => (existsSync(join(host.fakeLogDir, f)) ? readFileSync(join(host.fakeLogDir, f), 'utf8') : '');
  return { ...result, output: result.stdout + result.stderr, aws: log('aws.log'), mkfs: log('mkfs.log'), mount: log('mount.log') };
}
const link = () => join(host.byIdDir, `nvme-Amazon_Elastic_Block_Store_${VOLUME.replace('-', '')}`);
const label = () => sh(`blkid -p -o value -s LABEL ${image} || true`).trim();

beforeAll(() => {
  requireTools({ 'mkfs.xfs': 'xfsprogs', 'mkfs.ext4': 'e2fsprogs', 'blkid': 'util-linux', 'wipefs': 'util-linux', 'sfdisk': 'fdisk' });
  host = new HostSandbox(0, 0, 'kehilla');
  host.writeHostEnv({ KEHILLA_REGION: 'eu-west-1', KEHILLA_DATA_VOLUME_ID: VOLUME, KEHILLA_HOST_TAG: TAG });
  image = join(host.root, 'ebs.img');
});
afterAll(() => host && rmSync(host.root, { recursive: true, force: true }));
beforeEach(() => rmSync(link(), { force: true }));

test('a blank volume is attached by id, formatted with the label, and mounted by label', () => {
  blankImage();
  const r = attach();
  expect(r.status).toBe(0);
  expect(r.aws).toContain(`ec2 attach-volume --volume-id ${VOLUME} --instance-id ${SELF} --device /dev/sdf`);
  expect(r.mkfs).toMatch(/-L kehilla-data/);
  expect(label()).toBe('kehilla-data');
  expect(readFileSync(join(host.root, 'fstab'), 'utf8')).toContain(`LABEL=kehilla-data ${host.dataDir} xfs defaults,noatime,nofail 0 2`);
  expect(r.mount).toContain(`mount ${host.dataDir}`);
});

test('a volume that holds the filesystem is never formatted again', () => {
  const uuid = sh(`blkid -p -o value -s UUID ${image}`).trim();
  const r = attach();
  expect(r.status).toBe(0);
  expect(r.mkfs).toBe('');
  expect(sh(`blkid -p -o value -s UUID ${image}`).trim()).toBe(uuid);
  expect(readFileSync(join(host.root, 'fstab'), 'utf8').match(/kehilla-data/g)).toHaveLength(1);
});

test('an already attached volume (a reboot) is not attached again', () => {
  symlinkSync(image, link());
  const r = attach();
  expect(r.status).toBe(0);
  expect(r.aws).not.toContain('attach-volume');
});

test('a filesystem with another label stops the boot instead of being formatted', () => {
  blankImage();
  sh(`mkfs.ext4 -q -F -L otherdata ${image}`);
  const r = attach();
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/holds 'ext4' labelled 'otherdata', not a filesystem labelled 'kehilla-data': refusing to format or mount it/);
  expect(r.mkfs).toBe('');
  expect(label()).toBe('otherdata');
});

test('a partition table without a filesystem is not formatted by guess', () => {
  blankImage();
  sh(`echo 'label: gpt' | sfdisk -q ${image}`);
  const r = attach();
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/holds 'gpt|PMBR/);
  expect(r.mkfs).toBe('');
});

test('a replacement stops its predecessor, then takes the volume over', () => {
  blankImage();
  const r = attach({ FAKE_VOLUME_STATE: 'in-use', FAKE_ATTACHED_TO: 'i-0old', FAKE_OWNER_TAG: TAG });
  expect(r.status).toBe(0);
  const calls = r.aws.split('\n').filter((l) => /stop-instances|wait|detach-volume|attach-volume/.test(l)).map((l) => l.replace('--region eu-west-1 ', ''));
  expect(calls).toEqual([
    'ec2 stop-instances --instance-ids i-0old',
    'ec2 wait instance-stopped --instance-ids i-0old',
    `ec2 detach-volume --volume-id ${VOLUME} --instance-id i-0old`,
    `ec2 wait volume-available --volume-ids ${VOLUME}`,
    `ec2 attach-volume --volume-id ${VOLUME} --instance-id ${SELF} --device /dev/sdf`,
  ]);
});

test('a volume attached to an instance of someone else is never taken', () => {
  const r = attach({ FAKE_VOLUME_STATE: 'in-use', FAKE_ATTACHED_TO: 'i-0foreign', FAKE_OWNER_TAG: 'None' });
  expect(r.status).not.toBe(0);
  expect(r.output).toContain(`volume ${VOLUME} is attached to i-0foreign, which is not a predecessor of this host`);
  expect(r.aws).not.toContain('stop-instances');
});

test('a volume that never shows up fails the boot naming it', () => {
  const r = attach({ FAKE_NEVER_APPEARS: '1' });
  expect(r.status).not.toBe(0);
  expect(r.output).toContain(`volume ${VOLUME} did not appear as ${link()} within 4s`);
  unlinkSync(image);
});
