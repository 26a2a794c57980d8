/**
 * The first-boot bootstrap (fetch the S3 assets, install added files, provision, run the boot,
 * signal CloudFormation) and the provisioning script on both package families, with the
 * package managers, S3, CloudFormation and systemd as fakes at their command-line boundary.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAKES_DIR, FakeHost, HOST_DIR, modeOf, requireTools } from './harness';

function zipDirectory(dir: string, zip: string): void {
  const result = spawnSync('python3', ['-m', 'zipfile', '-c', zip, ...readdirSync(dir)], { cwd: dir, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
}
const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');

describe('bootstrap.sh', () => {
  let host: FakeHost;
  let sysroot: string;
  let installDir: string;

  beforeAll(() => {
    requireTools({ python3: 'python3' });
    host = new FakeHost(0, 0);
    sysroot = join(host.root, 'sysroot');
    installDir = join(host.root, 'opt-zmanim-host');
    zipDirectory(HOST_DIR, join(host.s3Dir, 'host.zip'));
    // A files asset as GravitonDataHost.addFiles builds it: files/<path> plus a MANIFEST.
    const files = mkdtempSync(join(tmpdir(), 'files-asset-'));
    mkdirSync(join(files, 'files', 'etc', 'zmanim'), { recursive: true });
    writeFileSync(join(files, 'files', 'etc', 'zmanim', 'backup.env'), 'REPOSITORY=s3:example/backups\n');
    writeFileSync(join(files, 'MANIFEST'), '0600 root:root /etc/zmanim/backup.env\n');
    zipDirectory(files, join(host.s3Dir, 'files.zip'));
    rmSync(files, { recursive: true });
    host.writeHostEnv({
      ZMANIM_REGION: 'eu-west-1',
      ZMANIM_STACK_NAME: 'ZmanimProdCompute',
      ZMANIM_LOGICAL_ID: 'HostInstance0123456789abcdef',
      ZMANIM_HOST_ASSETS: 's3://host.zip s3://files.zip',
    });
  });
  afterAll(() => host && rmSync(host.root, { recursive: true, force: true }));

  function bootstrap(extraEnv: Record<string, string>) {
    rmSync(join(host.fakeLogDir, 'aws.log'), { force: true });
    return spawnSync('bash', [join(HOST_DIR, 'bootstrap.sh')], {
      encoding: 'utf8',
      env: {
        ...host.env,
        PATH: `${join(FAKES_DIR, 'apt-family')}:${host.env.PATH}`,
        ZMANIM_HOST_DIR: installDir,
        ZMANIM_ROOT: sysroot,
        ZMANIM_CONF_DIR: '/etc/zmanim',
        ZMANIM_UNITS_DIR: '/etc/systemd/system',
        FAKE_NOOP_UNITS: 'zmanim-boot.service',
        ...extraEnv,
      },
    });
  }

  test('installs the host scripts and added files, provisions, runs the boot once and signals SUCCESS', () => {
    const result = bootstrap({});
    expect(result.status).toBe(0);
    expect(existsSync(join(installDir, 'boot.sh'))).toBe(true);
    expect(readFileSync(join(sysroot, 'etc/zmanim/backup.env'), 'utf8')).toBe('REPOSITORY=s3:example/backups\n');
    expect(modeOf(join(sysroot, 'etc/zmanim/backup.env'))).toBe(0o600);
    for (const unit of ['zmanim-boot', 'zmanim-postgresql', 'zmanim-redis', 'zmanim-api']) {
      expect(existsSync(join(sysroot, 'etc/systemd/system', `${unit}.service`))).toBe(true);
    }
    expect(read(join(host.fakeLogDir, 'systemctl.log'))).toMatch(/daemon-reload\nenable zmanim-boot.service\nstart zmanim-boot.service/);
    expect(read(join(host.fakeLogDir, 'aws.log'))).toContain('cloudformation signal-resource --stack-name ZmanimProdCompute --logical-resource-id HostInstance0123456789abcdef --unique-id i-0123456789abcdef0 --status SUCCESS');
    expect(read(join(host.logDir, 'boot.log'))).toContain('installed /etc/zmanim/backup.env');
  });

  test('a failed boot signals FAILURE, so the deployment fails and rolls back', () => {
    const result = bootstrap({ FAKE_FAIL_UNITS: 'zmanim-boot.service', FAKE_NOOP_UNITS: '' });
    expect(result.status).not.toBe(0);
    const aws = read(join(host.fakeLogDir, 'aws.log'));
    expect(aws).toContain('--status FAILURE');
    expect(aws).not.toContain('--status SUCCESS');
  });

  test('an asset that cannot be fetched signals FAILURE', () => {
    rmSync(join(host.s3Dir, 'files.zip'));
    const result = bootstrap({});
    expect(result.status).not.toBe(0);
    expect(read(join(host.fakeLogDir, 'aws.log'))).toContain('--status FAILURE');
  });
});

describe('provision.sh', () => {
  let host: FakeHost;
  beforeEach(() => {
    host = new FakeHost(0, 0);
  });
  afterEach(() => rmSync(host.root, { recursive: true, force: true }));

  function provision(family: 'dnf-family' | 'apt-family') {
    return host.run('provision.sh', [], {
      PATH: `${join(FAKES_DIR, family)}:${host.env.PATH}`,
      ZMANIM_ROOT: join(host.root, 'sysroot'),
      ZMANIM_CONF_DIR: '/etc/zmanim',
      ZMANIM_UNITS_DIR: '/etc/systemd/system',
      ZMANIM_LOG_DIR: '/var/log/zmanim',
      ZMANIM_API_DIR: '/opt/zmanim/api',
    });
  }
  const packages = () => read(join(host.fakeLogDir, 'packages.log'));
  const sysroot = (path: string) => join(host.root, 'sysroot', path);

  test('Amazon Linux 2023 (dnf): PostgreSQL 16, Redis, the CloudWatch agent, the AWS CLI', () => {
    const result = provision('dnf-family');
    expect(result.status).toBe(0);
    expect(packages()).toMatch(/^dnf install -y postgresql16-server postgresql16 redis6 amazon-cloudwatch-agent awscli-2 xfsprogs/m);
  });

  test('Debian (apt): the same roles from the Debian archive; distribution services disabled', () => {
    const result = provision('apt-family');
    expect(result.status).toBe(0);
    expect(packages()).toMatch(/^apt-get install -y --no-install-recommends postgresql redis-server restic awscli xfsprogs/m);
    expect(read(join(host.fakeLogDir, 'systemctl.log'))).toMatch(/disable --now postgresql.service/);
  });

  test('installs units (not enabled), log rotation, kernel settings and root-only secrets directory', () => {
    expect(provision('apt-family').status).toBe(0);
    for (const unit of ['zmanim-boot', 'zmanim-postgresql', 'zmanim-redis', 'zmanim-api']) {
      expect(readFileSync(sysroot(`etc/systemd/system/${unit}.service`), 'utf8')).toBe(readFileSync(join(HOST_DIR, 'units', `${unit}.service`), 'utf8'));
    }
    expect(read(join(host.fakeLogDir, 'systemctl.log'))).not.toMatch(/^enable/m);
    expect(readFileSync(sysroot('etc/sysctl.d/90-zmanim.conf'), 'utf8')).toContain('vm.overcommit_memory = 1');
    expect(existsSync(sysroot('etc/logrotate.d/zmanim'))).toBe(true);
    expect(modeOf(sysroot('etc/zmanim/secrets'))).toBe(0o700);
  });

  test('a second run installs no package again but refreshes the units', () => {
    expect(provision('dnf-family').status).toBe(0);
    writeFileSync(sysroot('etc/systemd/system/zmanim-api.service'), 'stale');
    const second = provision('dnf-family');
    expect(second.status).toBe(0);
    expect(second.stderr).toContain('packages already installed');
    expect(packages().match(/^dnf install/mg)).toHaveLength(1);
    expect(readFileSync(sysroot('etc/systemd/system/zmanim-api.service'), 'utf8')).not.toBe('stale');
  });
});
