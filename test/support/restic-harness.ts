/**
 * Real components for the restic-backups host script, started on 127.0.0.1 in a temp dir:
 * PostgreSQL 15 (run as the `postgres` OS user, peer auth over a private socket directory),
 * s3rver over HTTPS (a self-signed certificate; restic needs TLS with s3rver) and restic.
 * Used by the tests and by bench/backup.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as os from 'os';
import * as path from 'path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { fileId, rewrapKeyFile } from './restic-key';
import { freePort, requireTools, shellQuote } from './tools';

/** The tool under test (RESTIC_BACKUPS_TOOL: another build of it, e.g. an earlier version to compare). */
export const SCRIPT = process.env.RESTIC_BACKUPS_TOOL ?? path.resolve(__dirname, '../../src/constructs/restic-backups/host/restic-backups');
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const S3RVER = path.resolve(__dirname, '../../node_modules/.bin/s3rver');
const HOST_PG_HBA = path.resolve(__dirname, '../../src/constructs/graviton-data-host/host/config/pg_hba.conf');

/** Fails with a message naming the package to install when a tool is missing. */
function requireServiceTools(): void {
  requireTools({
    restic: 'restic',
    openssl: 'openssl',
    runuser: 'util-linux',
    python3: 'python3',
    [`${PG_BIN}/initdb`]: 'postgresql (15)',
    [`${PG_BIN}/pg_ctl`]: 'postgresql (15)',
    pg_dump: 'postgresql-client',
    [S3RVER]: 's3rver (npm devDependency)',
  }, 'restic-backups tests');
  if (spawnSync('id', ['postgres']).status !== 0) throw new Error('restic-backups tests need the postgres OS user (apt-get install -y postgresql)');
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface RunResult { readonly status: number; readonly stdout: string; readonly stderr: string }

export interface SourceConfig {
  readonly name: string;
  readonly kind: 'postgres' | 'command' | 'paths';
  readonly database?: string;
  readonly pgDumpArgs?: string;
  readonly full?: boolean;
  readonly command?: string;
  readonly paths?: string;
  readonly verifySql?: string;
  /** Keep the dump as pieces of about this many bytes in the spool (SOURCE_PIECE_SIZE). */
  readonly pieceSize?: number;
  readonly keep?: Partial<Record<'LAST' | 'HOURLY' | 'DAILY' | 'WEEKLY' | 'MONTHLY', number>>;
}

/** What the S3 proxy does with a request it matches: answer with an HTTP status, or hold it (no answer). */
export interface ProxyFault {
  readonly method?: string;
  /** Matched against the request path (with query). */
  readonly path: RegExp;
  readonly action: number | 'hold';
}

export interface HarnessOptions {
  /** Put an HTTPS proxy between restic and s3rver that can fail or hold requests (`faults`). */
  readonly proxy?: boolean;
}

/** The S3 proxy (node -e PROXY PORT S3PORT KEY CERT FAULTS_FILE). */
const PROXY = `
const fs = require('fs'), https = require('https');
const [port, s3Port, key, cert, faultsFile] = process.argv.slice(1);
const ca = fs.readFileSync(cert);
https.createServer({ key: fs.readFileSync(key), cert: ca }, (req, res) => {
  const faults = JSON.parse(fs.readFileSync(faultsFile, 'utf8'));
  const f = faults.find((x) => (!x.method || x.method === req.method) && new RegExp(x.path).test(req.url));
  if (f && f.action === 'hold') return;
  if (f) {
    req.resume();
    res.writeHead(f.action, { 'Content-Type': 'application/xml' });
    res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>' + (f.action === 403 ? 'AccessDenied' : 'InternalError') + '</Code><Message>injected by the test proxy</Message></Error>');
    return;
  }
  const up = https.request({ host: '127.0.0.1', port: s3Port, method: req.method, path: req.url, headers: req.headers, ca }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}).listen(Number(port), '127.0.0.1');
`;

export class Harness {
  readonly dir: string;
  readonly pgData: string;
  readonly s3Dir: string;
  readonly configDir: string;
  readonly metricsFile: string;
  readonly passwordFile: string;
  pgPort = 0;
  s3Port = 0;
  private s3?: ChildProcess;
  readonly bucket = 'backups';
  proxyPort = 0;
  private proxy?: ChildProcess;
  private currentFaults: ProxyFault[] = [];

  constructor(private readonly options: HarnessOptions = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restic-backups-'));
    fs.chmodSync(this.dir, 0o755);
    this.pgData = path.join(this.dir, 'pg');
    this.s3Dir = path.join(this.dir, 's3');
    this.configDir = path.join(this.dir, 'etc');
    this.metricsFile = path.join(this.dir, 'metrics.log');
    this.passwordFile = path.join(this.dir, 'password');
    fs.mkdirSync(path.join(this.configDir, 'sources'), { recursive: true });
    fs.mkdirSync(this.s3Dir);
    // A throwaway test password, written to a file the test owns (never a real secret).
    fs.writeFileSync(this.passwordFile, 'test-only-password\n', { mode: 0o600 });
    // Stands in for `aws cloudwatch put-metric-data`: records each call's arguments.
    const fake = path.join(this.dir, 'put-metric');
    fs.writeFileSync(fake, `#!/bin/bash\nprintf '%s\\n' "$*" >> ${shellQuote(this.metricsFile)}\n`, { mode: 0o755 });
  }

  get repository(): string { return `s3:https://127.0.0.1:${this.proxyPort || this.s3Port}/${this.bucket}/restic`; }
  get faultsFile(): string { return path.join(this.dir, 'proxy-faults.json'); }
  get cacert(): string { return path.join(this.dir, 'cert.pem'); }
  get spoolDir(): string { return path.join(this.dir, 'spool'); }

  async start(): Promise<void> {
    requireServiceTools();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(this.dir, 'key.pem'), '-out', this.cacert], { stdio: 'ignore' });
    await this.startS3();
    if (this.options.proxy) await this.startProxy();
    await this.startPostgres();
    this.writeConfig();
  }

  async startS3(): Promise<void> {
    this.s3Port = this.s3Port || await freePort();
    this.s3 = spawn(S3RVER, ['-d', this.s3Dir, '-a', '127.0.0.1', '-p', String(this.s3Port), '-s',
      '--key', path.join(this.dir, 'key.pem'), '--cert', this.cacert, '--configure-bucket', this.bucket], { stdio: 'ignore' });
    await waitFor(() => spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${this.s3Port}`]).status === 0, 's3rver');
  }

  /**
   * Forwards to s3rver unless a fault matches; stopProxy() makes the storage unreachable. A
   * process of its own: the tests run the tool with spawnSync, which blocks this one.
   */
  async startProxy(): Promise<void> {
    this.proxyPort = this.proxyPort || await freePort();
    this.setFaults(this.currentFaults);
    this.proxy = spawn(process.execPath, ['-e', PROXY, String(this.proxyPort), String(this.s3Port), path.join(this.dir, 'key.pem'), this.cacert, this.faultsFile],
      { stdio: 'ignore' });
    await waitFor(() => spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${this.proxyPort}`]).status === 0, 'the S3 proxy');
  }

  /** Requests matching one of these are failed or held by the proxy (read at each request). */
  setFaults(faults: ProxyFault[]): void {
    this.currentFaults = faults;
    fs.writeFileSync(this.faultsFile, JSON.stringify(faults.map((f) => ({ method: f.method, path: f.path.source, action: f.action }))));
  }

  /** Stops the proxy: its port refuses connections (the storage is unreachable). */
  async stopProxy(): Promise<void> {
    const p = this.proxy;
    this.proxy = undefined;
    if (!p || p.exitCode !== null) return;
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
  }

  async startPostgres(): Promise<void> {
    this.pgPort = await freePort();
    fs.mkdirSync(this.pgData, { mode: 0o700 });
    execFileSync('chown', ['postgres:postgres', this.pgData]);
    this.asPostgres([`${PG_BIN}/initdb`, '-D', this.pgData, '-A', 'peer', '-U', 'postgres', '--no-sync']);
    // Who may connect as on a GravitonDataHost: postgres by peer, every other role with a
    // SCRAM password (the tool's restore loads snapshots as a role of its own that way).
    fs.copyFileSync(HOST_PG_HBA, path.join(this.pgData, 'pg_hba.conf'));
    execFileSync('chown', ['postgres:postgres', path.join(this.pgData, 'pg_hba.conf')]);
    this.pgStart();
  }

  pgStart(): void {
    this.asPostgres([`${PG_BIN}/pg_ctl`, '-D', this.pgData, '-l', path.join(this.pgData, 'log'), '-o',
      `-p ${this.pgPort} -k ${this.pgData} -c listen_addresses='' -c fsync=off -c max_wal_size=4GB`, '-w', 'start']);
  }

  pgStop(mode = 'fast'): void {
    this.asPostgres([`${PG_BIN}/pg_ctl`, '-D', this.pgData, '-m', mode, '-w', 'stop']);
  }

  asPostgres(argv: string[], input?: string): string {
    return execFileSync('runuser', ['-u', 'postgres', '--', ...argv], { input, encoding: 'utf8', env: this.env(), maxBuffer: 1_073_741_824 });
  }

  /** Runs SQL as postgres; returns unaligned, tuples-only output. */
  psql(db: string, sql: string): string {
    return this.asPostgres(['psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', db], sql).trim();
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PGHOST: this.pgData,
      PGPORT: String(this.pgPort),
      RESTIC_BACKUPS_CONFIG_DIR: this.configDir,
      ...extra,
    };
  }

  writeConfig(extra = ''): void {
    fs.writeFileSync(path.join(this.configDir, 'restic-backups.env'), [
      `RESTIC_REPOSITORY=${shellQuote(this.repository)}`,
      `[[ -v RESTIC_PASSWORD_COMMAND ]] || RESTIC_PASSWORD_COMMAND=${shellQuote(`cat ${this.passwordFile}`)}`,
      `[[ -v RESTIC_BACKUPS_PUT_METRIC_COMMAND ]] || RESTIC_BACKUPS_PUT_METRIC_COMMAND=${shellQuote(path.join(this.dir, 'put-metric'))}`,
      'RESTIC_BACKUPS_SET=test',
      `RESTIC_CACERT=${shellQuote(this.cacert)}`,
      `RESTIC_CACHE_DIR=${shellQuote(path.join(this.dir, 'cache'))}`,
      `RESTIC_BACKUPS_SPOOL_DIR=${shellQuote(this.spoolDir)}`,
      'AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER',
      'export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY',
      '[[ -v RESTIC_BACKUPS_LOCK_WAIT_SECONDS ]] || RESTIC_BACKUPS_LOCK_WAIT_SECONDS=20',
      '[[ -v RESTIC_BACKUPS_LOCK_RETRY_SECONDS ]] || RESTIC_BACKUPS_LOCK_RETRY_SECONDS=2',
      extra,
    ].join('\n') + '\n');
  }

  addSource(s: SourceConfig): void {
    const lines = [
      `SOURCE_KIND=${s.kind}`,
      s.database ? `SOURCE_DATABASE=${shellQuote(s.database)}` : '',
      s.pgDumpArgs ? `SOURCE_PG_DUMP_ARGS=${shellQuote(s.pgDumpArgs)}` : '',
      s.full ? 'SOURCE_PG_FULL=1' : '',
      s.command ? `SOURCE_COMMAND=${shellQuote(s.command)}` : '',
      s.paths ? `SOURCE_PATHS=${shellQuote(s.paths)}` : '',
      s.kind !== 'paths' ? `SOURCE_FILENAME=${shellQuote(`${s.name}.${s.kind === 'postgres' ? 'sql' : 'out'}`)}` : '',
      s.verifySql ? `SOURCE_VERIFY_SQL=${shellQuote(s.verifySql)}` : '',
      s.pieceSize ? `SOURCE_PIECE_SIZE=${s.pieceSize}` : '',
      ...Object.entries(s.keep ?? { DAILY: 7, WEEKLY: 4, MONTHLY: 3 }).map(([k, v]) => `KEEP_${k}=${v}`),
    ];
    fs.writeFileSync(path.join(this.configDir, 'sources', `${s.name}.env`), lines.filter(Boolean).join('\n') + '\n');
  }

  removeSource(name: string): void { fs.rmSync(path.join(this.configDir, 'sources', `${name}.env`), { force: true }); }

  /** Runs the host script. */
  run(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 600_000): RunResult {
    const r = spawnSync(SCRIPT, args, { env: this.env(extraEnv), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 268_435_456 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * Re-wraps the repository's key at a test-only scrypt cost (see restic-key.ts): call it after
   * `init`. Each later restic command then opens the repository in milliseconds instead of
   * ~0.5 s of CPU. Talks to s3rver directly (not through the fault proxy).
   */
  async useTestKeyCost(): Promise<void> {
    const s3 = new S3Client({
      endpoint: `https://127.0.0.1:${this.s3Port}`,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestHandler: { httpsAgent: new https.Agent({ ca: fs.readFileSync(this.cacert) }) },
    });
    try {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: 'restic/keys/' }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!);
      if (keys.length !== 1) throw new Error(`expected one restic key after init, found ${keys.length}`);
      const old = await s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: keys[0] }));
      const rewrapped = rewrapKeyFile(Buffer.from(await old.Body!.transformToByteArray()), fs.readFileSync(this.passwordFile, 'utf8').trim());
      await s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: `restic/keys/${fileId(rewrapped)}`, Body: rewrapped }));
      await s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: keys[0] }));
    } finally {
      s3.destroy();
    }
  }

  /** Runs restic directly against the repository. */
  restic(args: string[], input?: string): RunResult {
    const r = spawnSync('restic', ['--cacert', this.cacert, ...args], {
      input,
      encoding: 'utf8',
      maxBuffer: 268_435_456,
      env: { ...process.env, RESTIC_REPOSITORY: this.repository, RESTIC_PASSWORD_FILE: this.passwordFile, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', RESTIC_CACHE_DIR: path.join(this.dir, 'cache') },
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  resticOk(args: string[], input?: string): string {
    const r = this.restic(args, input);
    if (r.status !== 0) throw new Error(`restic ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  }

  snapshots(tag?: string): Array<{ id: string; time: string; tags?: string[]; hostname: string }> {
    const r = this.restic(['snapshots', '--no-lock', '--json', ...(tag ? ['--tag', tag] : [])]);
    if (r.status !== 0) throw new Error(`restic snapshots failed: ${r.stderr}`);
    return JSON.parse(r.stdout) ?? [];
  }

  metrics(): string[] {
    return fs.existsSync(this.metricsFile) ? fs.readFileSync(this.metricsFile, 'utf8').trim().split('\n').filter(Boolean) : [];
  }

  /** Bytes the repository holds under data/ (packs). */
  repoDataBytes(): number {
    return this.bucketBytes('restic/data');
  }

  /** Bytes of every object the bucket holds under `prefix` (read from s3rver's folder). */
  bucketBytes(prefix: string): number {
    let total = 0;
    const walk = (d: string) => {
      if (!fs.existsSync(d)) return;
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p); else if (e.name.endsWith('._S3rver_object')) total += fs.statSync(p).size;
      }
    };
    walk(path.join(this.s3Dir, this.bucket, prefix));
    return total;
  }

  async stop(): Promise<void> {
    await this.stopProxy();
    try { this.pgStop('immediate'); } catch { /* already stopped */ }
    if (this.s3 && this.s3.exitCode === null) {
      this.s3.kill('SIGTERM');
      await new Promise((r) => this.s3!.once('exit', r));
    }
    if (!process.env.KEEP_RESTIC_BACKUPS_TEST_DIR) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
