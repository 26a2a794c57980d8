import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/**
 * The services under test run as postgres and nobody, who may not be able to reach the
 * checkout (a clone under a 0700 home directory). So every test runs copies of the host
 * scripts and the fakes, staged in a world-readable temporary folder that is removed after
 * the test file. Returns the copies, in the order given.
 */
function stageForServiceUsers(dirs: string[]): string[] {
  const stage = mkdtempSync(join(tmpdir(), 'graviton-host-scripts-'));
  chmodSync(stage, 0o755);
  const copies = dirs.map((dir) => {
    const copy = join(stage, basename(dir));
    cpSync(dir, copy, { recursive: true });
    spawnSync('chmod', ['-R', 'a+rX,go-w', copy]);
    return copy;
  });
  if (typeof afterAll === 'function') afterAll(() => rmSync(stage, { recursive: true, force: true }));
  // Fails here, naming the cause, instead of as "zmanim-postgresql.service did not become ready".
  const probe = join(copies[0], readdirSync(copies[0]).find((f) => f.endsWith('.sh')) ?? '');
  if (process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-r', probe]).status === 1) {
    throw new Error(`The service users cannot read ${probe}: ${tmpdir()} (TMPDIR) must be world-traversable, e.g. TMPDIR=/tmp.`);
  }
  return copies;
}

const [STAGED_HOST_DIR, STAGED_FAKES_DIR] = stageForServiceUsers([
  join(__dirname, '..', '..', 'src', 'constructs', 'graviton-data-host', 'host'),
  join(__dirname, 'host-fakes'),
]);
/** The construct's host scripts, as shipped (a copy the service users can read). */
export const HOST_DIR = STAGED_HOST_DIR;
/** The command-line fakes of systemd, SSM, S3 and friends (a copy the service users can read). */
export const FAKES_DIR = STAGED_FAKES_DIR;

export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(a) - Number(b))
    : [];
  if (versions.length === 0) throw new Error('Host-script tests need PostgreSQL server binaries: apt-get install -y postgresql');
  return join(root, versions[versions.length - 1], 'bin');
}

/** Permission bits of a file (what `ls -l` shows), e.g. 0o600. */
export function modeOf(path: string): number {
  return statSync(path).mode % 0o1000;
}

/** A temporary stand-in for a host of `service`: /data, /etc/<service>, logs, sockets, fake SSM and S3. */
export class HostSandbox {
  public readonly root = mkdtempSync(join(tmpdir(), 'graviton-host-'));
  public readonly dataDir = join(this.root, 'data');
  public readonly confDir = join(this.root, 'etc-zmanim');
  public readonly secretsDir = join(this.confDir, 'secrets');
  public readonly bootDir = join(this.confDir, 'boot.d');
  public readonly logDir = join(this.root, 'log');
  public readonly fakeLogDir = join(this.root, 'fake-log');
  public readonly apiDir = join(this.root, 'api');
  public readonly runDir = join(this.root, 'run');
  public readonly socketDir = join(this.root, 'pg-socket');
  public readonly ssmDir = join(this.root, 'ssm');
  public readonly s3Dir = join(this.root, 's3');
  public readonly byIdDir = join(this.root, 'by-id');
  public env: Record<string, string> = {};

  /** The settings prefix of `service` (ZMANIM for zmanim). */
  public readonly prefix: string;

  constructor(public readonly pgPort: number, public readonly redisPort: number, public readonly service = 'zmanim') {
    this.prefix = service.toUpperCase().replace(/-/g, '_');
    // The services run as postgres and redis: they must be able to traverse the tree.
    chmodSync(this.root, 0o755);
    const dirs = [this.dataDir, this.confDir, this.bootDir, this.logDir, this.fakeLogDir,
      this.apiDir, this.runDir, this.ssmDir, this.s3Dir, this.byIdDir];
    for (const dir of dirs) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    }
    // The fake API runs as a throwaway user and records what it saw here.
    chmodSync(this.fakeLogDir, 0o1777);
    const settings: Record<string, string> = {
      HOST_ENV: join(this.confDir, 'host.env'),
      DATA_DIR: this.dataDir,
      CONF_DIR: this.confDir,
      BOOT_D: this.bootDir,
      HOST_DIR: HOST_DIR,
      API_DIR: this.apiDir,
      LOG_DIR: this.logDir,
      UNITS_DIR: join(this.root, 'units'),
      PG_SOCKET_DIR: this.socketDir,
      PG_PORT: String(pgPort),
      REDIS_PORT: String(redisPort),
      MEMORY_MB: '4096',
      SYSTEMCTL: join(FAKES_DIR, 'systemctl'),
      AWS: join(FAKES_DIR, 'aws'),
      CWAGENT_CTL: join(FAKES_DIR, 'amazon-cloudwatch-agent-ctl'),
      CWAGENT_CONFIG: join(this.root, 'cwagent', 'zmanim.json'),
      INSTANCE_ID: 'i-0123456789abcdef0',
      DISK_BY_ID_DIR: this.byIdDir,
      FSTAB: join(this.root, 'fstab'),
    };

    this.env = {
      PATH: `${FAKES_DIR}:${process.env.PATH}`,
      FAKE_LOG_DIR: this.fakeLogDir,
      FAKE_RUN_DIR: this.runDir,
      FAKE_SSM_DIR: this.ssmDir,
      FAKE_S3_DIR: this.s3Dir,
      FAKE_BY_ID: this.byIdDir,
      FAKE_UNITS_SRC: join(HOST_DIR, 'units'),
      SHTETL_SERVICE: service,
      ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [`${this.prefix}_${k}`, v])),
    };
  }

  /** Puts a parameter into the fake SSM. */
  putParameter(name: string, value: string): void {
    mkdirSync(dirname(join(this.ssmDir, name)), { recursive: true });
    writeFileSync(join(this.ssmDir, name), value);
  }

  putObject(bucket: string, key: string, content: string, mode = 0o644): void {
    const path = join(this.s3Dir, bucket, key);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode });
  }

  writeHostEnv(lines: Record<string, string>): void {
    writeFileSync(join(this.confDir, 'host.env'), Object.entries(lines).map(([k, v]) => `${k}="${v}"`).join('\n') + '\n');
  }

  /** Runs a host script with the test paths; returns its exit status and output. */
  run(script: string, args: string[] = [], extraEnv: Record<string, string> = {}): SpawnSyncReturns<string> {
    return spawnSync('bash', [join(HOST_DIR, script), ...args], {
      env: { ...this.env, ...extraEnv },
      encoding: 'utf8',
      timeout: 180_000,
    });
  }

  stopServices(): void {
    spawnSync(join(FAKES_DIR, 'systemctl'), ['stop', ...['api', 'redis', 'postgresql'].map((u) => `${this.service}-${u}.service`)], { env: this.env });
  }
}
