import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAKES_DIR } from '../support/host-sandbox';
import { requireTools } from '../support/tools';

const PACKER_DIR = join(__dirname, '..', '..', 'packer');

describe('packer/ (the AMI)', () => {
  beforeAll(() => requireTools({ packer: 'packer' }));

  test('packer validate accepts the template', () => {
    const result = spawnSync('packer', ['validate', '.'], { cwd: PACKER_DIR, encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    expect(result.stderr + result.stdout).not.toMatch(/Error/);
    expect(result.status).toBe(0);
  });

  test('packer fmt -check finds nothing to rewrite', () => {
    const result = spawnSync('packer', ['fmt', '-check', '.'], { cwd: PACKER_DIR, encoding: 'utf8', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  test('the build provisions from the construct\'s own host scripts and publishes to the parameter the construct reads', () => {
    const template = readFileSync(join(PACKER_DIR, 'graviton-data-host.pkr.hcl'), 'utf8');
    expect(template).toContain('src/constructs/graviton-data-host/host');
    expect(template).toMatch(/default\s+=\s+"\/zmanim\/prod\/ami-id"/);
    expect(template).toMatch(/architecture\s+=\s+"arm64"/);
    // The root volume is encrypted at launch, so the AMI's snapshot is too; encrypt_boot's
    // copy-and-deregister step would need CopyImage/DeregisterImage/DeleteSnapshot rights.
    expect(template).toMatch(/encrypted\s+=\s+true/);
    expect(template).not.toMatch(/encrypt_boot/);
  });

  test('the AMI is for one service: its name reaches the provisioning as SERVICE and the settings prefix', () => {
    const template = readFileSync(join(PACKER_DIR, 'graviton-data-host.pkr.hcl'), 'utf8');
    expect(template).toContain('variable "service"');
    expect(template).toContain('"SERVICE=${var.service}"');
    expect(template).toContain('"${local.env_prefix}_RESTIC_VERSION=${var.restic_version}"');
    const provision = readFileSync(join(PACKER_DIR, 'provision-ami.sh'), 'utf8');
    expect(provision).toContain('printf \'SERVICE=%s\\n\' "$service" >"/opt/$service/host/service.env"');
    expect(provision).not.toMatch(/zmanim/i);
  });

  test('publish-ami.sh writes the AMI id of the last run to the SSM parameter', () => {
    requireTools({ python3: 'python3' });
    const dir = mkdtempSync(join(tmpdir(), 'publish-ami-'));
    const manifest = join(dir, 'manifest.json');
    writeFileSync(manifest, JSON.stringify({
      last_run_uuid: 'run-2',
      builds: [
        { packer_run_uuid: 'run-1', artifact_id: 'eu-west-1:ami-0000000000000000a' },
        { packer_run_uuid: 'run-2', artifact_id: 'eu-west-1:ami-0123456789abcdef0' },
      ],
    }));
    const result = spawnSync('bash', [join(PACKER_DIR, 'publish-ami.sh')], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${FAKES_DIR}:${process.env.PATH}`, FAKE_LOG_DIR: dir, AMI_PARAMETER: '/zmanim/prod/ami-id', AWS_REGION: 'eu-west-1', MANIFEST: manifest },
    });
    expect(result.status).toBe(0);
    expect(readFileSync(join(dir, 'aws.log'), 'utf8').trim()).toBe(
      'ssm put-parameter --region eu-west-1 --name /zmanim/prod/ami-id --type String --data-type aws:ec2:image --value ami-0123456789abcdef0 --overwrite');
    rmSync(dir, { recursive: true });
  });
});
