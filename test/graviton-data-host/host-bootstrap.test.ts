/**
 * The first-boot bootstrap (fetch the S3 assets, install added files, provision, run the boot,
 * signal CloudFormation) and the provisioning script on both package families, with the
 * package managers, S3, CloudFormation and systemd as fakes at their command-line boundary.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostFilesZipEntries } from '../../src/constructs/graviton-data-host/user-data';
import { zipEntries } from '../../src/internal/zip';
import { FAKES_DIR, HOST_DIR, HostSandbox, modeOf } from '../support/host-sandbox';
import { requireTools } from '../support/tools';

function zipDirectory(dir: string, zip: string): void {
  const result = spawnSync('python3', ['-m', 'zipfile', '-c', zip, ...readdirSync(dir)], { cwd: dir, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
}
const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('bootstrap.sh', () => {
  let host: HostSandbox;
  let sysroot: string;
  let installDir: string;

  beforeAll(() => {
    requireTools({ python3: 'python3' });
    host = new HostSandbox(0, 0, 'kehilla');
    sysroot = join(host.root, 'sysroot');
    installDir = join(host.root, 'opt-kehilla-host');
    zipDirectory(HOST_DIR, join(host.s3Dir, 'host.zip'));
    // A files asset as GravitonDataHost.addFiles builds it: files/<path> plus a MANIFEST.
    const files = mkdtempSync(join(tmpdir(), 'files-asset-'));
    mkdirSync(join(files, 'files', 'etc', 'kehilla'), { recursive: true });
    writeFileSync(join(files, 'files', 'etc', 'kehilla', 'backup.env'), 'REPOSITORY=s3:example/backups\n');
    writeFileSync(join(files, 'MANIFEST'), '0600 root:root /etc/kehilla/backup.env\n');
    zipDirectory(files, join(host.s3Dir, 'files.zip'));
    rmSync(files, { recursive: true });
    host.writeHostEnv({
      KEHILLA_REGION: 'eu-west-1',
      KEHILLA_STACK_NAME: 'ZmanimProdCompute',
      KEHILLA_LOGICAL_ID: 'HostInstance0123456789abcdef',
      KEHILLA_HOST_ASSETS: assets(),
    });
  });
  afterAll(() => host && rmSync(host.root, { recursive: true, force: true }));

  /** The asset list as user data carries it: each zip's URL with its SHA-256. */
  function assets(): string {
    return ['host.zip', 'files.zip'].map((zip) => `s3://${zip}#${sha256(join(host.s3Dir, zip))}`).join(' ');
  }

  function bootstrap(extraEnv: Record<string, string>) {
    rmSync(join(host.fakeLogDir, 'aws.log'), { force: true });
    return spawnSync('bash', [join(HOST_DIR, 'bootstrap.sh'), 'kehilla'], {
      encoding: 'utf8',
      env: {
        ...host.env,
        PATH: `${join(FAKES_DIR, 'apt-family')}:${host.env.PATH}`,
        KEHILLA_HOST_DIR: installDir,
        KEHILLA_ROOT: sysroot,
        KEHILLA_CONF_DIR: '/etc/kehilla',
        KEHILLA_UNITS_DIR: '/etc/systemd/system',
        FAKE_NOOP_UNITS: 'kehilla-boot.service',
        ...extraEnv,
      },
    });
  }

  test('installs the host scripts and added files, provisions, runs the boot once and signals SUCCESS', () => {
    const result = bootstrap({});
    expect(result.status).toBe(0);
    expect(existsSync(join(installDir, 'boot.sh'))).toBe(true);
    // The scripts learn their service from here (lib.sh).
    expect(readFileSync(join(installDir, 'service.env'), 'utf8')).toBe('SERVICE=kehilla\n');
    expect(readFileSync(join(sysroot, 'etc/kehilla/backup.env'), 'utf8')).toBe('REPOSITORY=s3:example/backups\n');
    expect(modeOf(join(sysroot, 'etc/kehilla/backup.env'))).toBe(0o600);
    for (const unit of ['kehilla-boot', 'kehilla-postgresql', 'kehilla-redis', 'kehilla-api']) {
      expect(existsSync(join(sysroot, 'etc/systemd/system', `${unit}.service`))).toBe(true);
    }
    expect(read(join(host.fakeLogDir, 'systemctl.log'))).toMatch(/daemon-reload\nenable kehilla-boot.service\nstart kehilla-boot.service/);
    expect(read(join(host.fakeLogDir, 'aws.log'))).toContain('cloudformation signal-resource --stack-name ZmanimProdCompute --logical-resource-id HostInstance0123456789abcdef --unique-id i-0123456789abcdef0 --status SUCCESS');
    expect(read(join(host.logDir, 'boot.log'))).toContain('installed /etc/kehilla/backup.env');
  });

  test('with <PREFIX>_FIRST_BOOT (an API fleet instance), the bootstrap runs that script from a files asset instead of the boot unit', () => {
    // A files asset built as the fleet stack builds it (the construct's own zip format).
    const firstBoot = '/opt/kehilla/fleet/first-boot.sh';
    const zip = zipEntries(hostFilesZipEntries([{ path: firstBoot, content: 'echo "first boot as $(id -u)" >>"$FIRST_BOOT_LOG"\nexit "${FIRST_BOOT_EXIT:-0}"\n', mode: '0755' }]));
    writeFileSync(join(host.s3Dir, 'fleet.zip'), zip.bytes);
    const firstBootLog = join(host.root, 'first-boot.log');
    const env = { KEHILLA_REGION: 'eu-west-1', KEHILLA_STACK_NAME: 'ZmanimProdApiFleet', KEHILLA_LOGICAL_ID: 'Fleet0123', KEHILLA_FIRST_BOOT: firstBoot };
    host.writeHostEnv({ ...env, KEHILLA_HOST_ASSETS: `${assets()} s3://fleet.zip#${zip.sha256}` });
    try {
      rmSync(join(host.fakeLogDir, 'systemctl.log'), { force: true });
      const ok = bootstrap({ FIRST_BOOT_LOG: firstBootLog });
      expect({ status: ok.status, stderr: ok.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
      expect(modeOf(join(sysroot, firstBoot))).toBe(0o755);
      expect(read(firstBootLog)).toBe(`first boot as ${process.getuid!()}\n`);
      // Not the data host's boot: no boot unit enabled or started.
      expect(read(join(host.fakeLogDir, 'systemctl.log'))).not.toMatch(/kehilla-boot/);
      expect(read(join(host.fakeLogDir, 'aws.log'))).toContain('--logical-resource-id Fleet0123 --unique-id i-0123456789abcdef0 --status SUCCESS');
      const failed = bootstrap({ FIRST_BOOT_LOG: firstBootLog, FIRST_BOOT_EXIT: '3' });
      expect(failed.status).not.toBe(0);
      expect(read(join(host.fakeLogDir, 'aws.log'))).toContain('--status FAILURE');
    } finally {
      host.writeHostEnv({ KEHILLA_REGION: 'eu-west-1', KEHILLA_STACK_NAME: 'ZmanimProdCompute', KEHILLA_LOGICAL_ID: 'HostInstance0123456789abcdef', KEHILLA_HOST_ASSETS: assets() });
    }
  });

  test('a failed boot signals FAILURE, so the deployment fails and rolls back', () => {
    const result = bootstrap({ FAKE_FAIL_UNITS: 'kehilla-boot.service', FAKE_NOOP_UNITS: '' });
    expect(result.status).not.toBe(0);
    const aws = read(join(host.fakeLogDir, 'aws.log'));
    expect(aws).toContain('--status FAILURE');
    expect(aws).not.toContain('--status SUCCESS');
  });

  test('an asset whose SHA-256 differs from the one in user data is not run: FAILURE, nothing installed', () => {
    const zip = join(host.s3Dir, 'files.zip');
    const original = readFileSync(zip);
    rmSync(installDir, { recursive: true, force: true });
    try {
      // Replaced after the user data was written (e.g. someone overwrote the object in S3).
      const tampered = mkdtempSync(join(tmpdir(), 'tampered-asset-'));
      mkdirSync(join(tampered, 'files', 'etc'), { recursive: true });
      writeFileSync(join(tampered, 'files', 'etc', 'tampered'), 'not what was synthesized\n');
      writeFileSync(join(tampered, 'MANIFEST'), '0644 root:root /etc/tampered\n');
      zipDirectory(tampered, zip);
      rmSync(tampered, { recursive: true });
      const hostEnv = readFileSync(join(host.confDir, 'host.env'), 'utf8');
      expect(hostEnv).toContain(`files.zip#${createHash('sha256').update(original).digest('hex')}`);
      const scratch = mkdtempSync(join(tmpdir(), 'bootstrap-tmp-'));
      const result = bootstrap({ TMPDIR: scratch });
      expect(result.status).not.toBe(0);
      // Its download folder is removed on failure too.
      expect(readdirSync(scratch)).toEqual([]);
      rmSync(scratch, { recursive: true });
      expect(read(join(host.logDir, 'boot.log'))).toMatch(/s3:\/\/files.zip has SHA-256 [0-9a-f]{64}, not the [0-9a-f]{64} this instance's user data names: refusing to run it/);
      expect(read(join(host.fakeLogDir, 'aws.log'))).toContain('--status FAILURE');
      expect(existsSync(join(sysroot, 'etc/tampered'))).toBe(false);
    } finally {
      writeFileSync(zip, original);
    }
  });

  test('an asset without a SHA-256 is refused', () => {
    const hostEnv = join(host.confDir, 'host.env');
    const before = readFileSync(hostEnv, 'utf8');
    try {
      writeFileSync(hostEnv, before.replace(/KEHILLA_HOST_ASSETS=".*"/, 'KEHILLA_HOST_ASSETS="s3://host.zip"'));
      const result = bootstrap({});
      expect(result.status).not.toBe(0);
      expect(read(join(host.logDir, 'boot.log'))).toContain("asset entry 's3://host.zip' carries no SHA-256");
    } finally {
      writeFileSync(hostEnv, before);
    }
  });

  test('an asset that cannot be fetched signals FAILURE', () => {
    rmSync(join(host.s3Dir, 'files.zip'));
    const result = bootstrap({});
    expect(result.status).not.toBe(0);
    expect(read(join(host.fakeLogDir, 'aws.log'))).toContain('--status FAILURE');
  });
});

describe('provision.sh', () => {
  let host: HostSandbox;
  beforeEach(() => {
    host = new HostSandbox(0, 0, 'kehilla');
  });
  afterEach(() => rmSync(host.root, { recursive: true, force: true }));

  function provision(family: 'dnf-family' | 'apt-family') {
    return host.run('provision.sh', [], {
      PATH: `${join(FAKES_DIR, family)}:${host.env.PATH}`,
      KEHILLA_ROOT: join(host.root, 'sysroot'),
      KEHILLA_CONF_DIR: '/etc/kehilla',
      KEHILLA_UNITS_DIR: '/etc/systemd/system',
      KEHILLA_LOG_DIR: '/var/log/kehilla',
      KEHILLA_API_DIR: '/opt/kehilla/api',
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
    for (const unit of ['boot', 'postgresql', 'redis', 'api']) {
      const installed = readFileSync(sysroot(`etc/systemd/system/kehilla-${unit}.service`), 'utf8');
      expect(installed).toBe(readFileSync(join(HOST_DIR, 'units', `${unit}.service`), 'utf8').replace(/@SERVICE@/g, 'kehilla'));
      expect(installed).not.toContain('@SERVICE@');
    }
    expect(read(join(host.fakeLogDir, 'systemctl.log'))).not.toMatch(/^enable/m);
    expect(readFileSync(sysroot('etc/sysctl.d/90-kehilla.conf'), 'utf8')).toContain('vm.overcommit_memory = 1');
    expect(read(sysroot('etc/logrotate.d/kehilla'))).toMatch(/^\/var\/log\/kehilla\/\*\.log \{$/m);
    expect(modeOf(sysroot('etc/kehilla/secrets'))).toBe(0o700);
  });

  test('a second run installs no package again but refreshes the units', () => {
    expect(provision('dnf-family').status).toBe(0);
    writeFileSync(sysroot('etc/systemd/system/kehilla-api.service'), 'stale');
    const second = provision('dnf-family');
    expect(second.status).toBe(0);
    expect(second.stderr).toContain('packages already installed');
    expect(packages().match(/^dnf install/mg)).toHaveLength(1);
    expect(readFileSync(sysroot('etc/systemd/system/kehilla-api.service'), 'utf8')).not.toBe('stale');
  });
});
