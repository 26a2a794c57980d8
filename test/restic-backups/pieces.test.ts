/**
 * restic-backups-pieces, the tool that keeps a dump as content-defined pieces on the host:
 * run for real with python3 on generated streams.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const TOOL = path.resolve(__dirname, '../../src/constructs/restic-backups/host/restic-backups-pieces');
const PIECE = 16384;
let dir: string;

beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rb-pieces-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Lines shaped like a COPY block of a dump: varied lengths, every line distinct. */
function stream(rows: number, change: (i: number, line: string) => string | undefined = (_i, l) => l): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const line = change(i, `${i}\tLocality ${i.toString(36).repeat(1 + (i % 7))}\t${(i * 0.37) % 90}\t${(i * 1.13) % 180}\tEurope/London\n`);
    if (line !== undefined) lines.push(line);
  }
  return Buffer.from(lines.join(''));
}

function split(input: Buffer, pieceSize = PIECE) {
  const r = spawnSync(TOOL, ['split', dir, String(pieceSize)], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`split exited ${r.status}: ${r.stderr}`);
  const [, count, rewritten] = /in (\d+) pieces, (\d+) rewritten/.exec(r.stderr)!.map(Number);
  return { count, rewritten };
}

function join() {
  const r = spawnSync(TOOL, ['join', dir], { maxBuffer: 1_073_741_824 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

function pieceFiles(): string[] {
  return fs.readdirSync(path.join(dir, 'pieces'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
}

test('split then join gives the stream back, byte for byte, in pieces of about the size asked', () => {
  const input = stream(40_000);
  const { count } = split(input);
  const files = pieceFiles();
  expect(files).toHaveLength(count);
  const average = input.length / count;
  expect(average).toBeGreaterThan(PIECE * 0.7);
  expect(average).toBeLessThan(PIECE * 1.4);
  expect(Math.min(...files.map((f) => fs.statSync(f).size))).toBeGreaterThanOrEqual(PIECE / 4 - 200);
  expect(fs.readFileSync(path.join(dir, 'stream.sha256'), 'utf8')).toMatch(new RegExp(`^[0-9a-f]{64} ${input.length} ${count}\\n$`));
  const out = join();
  expect(out.status).toBe(0);
  expect(Buffer.compare(out.stdout, input)).toBe(0);
});

test('the same stream again rewrites no piece: inodes and mtimes stay, so restic skips them unread', () => {
  const input = stream(20_000);
  split(input);
  const before = pieceFiles().map((f) => [f, fs.statSync(f).ino, fs.statSync(f).mtimeMs]);
  expect(split(input).rewritten).toBe(0);
  expect(pieceFiles().map((f) => [f, fs.statSync(f).ino, fs.statSync(f).mtimeMs])).toEqual(before);
});

test('a changed, an inserted and a deleted line each rewrite about one piece, wherever they are', () => {
  const input = stream(40_000);
  const { count } = split(input);
  const edited = stream(40_000, (i, l) => {
    if (i === 5_000) return l.replace('Europe/London', 'Europe/Paris');
    if (i === 20_000) return `${l}20000.5\tNew place\t1\t2\tAsia/Jerusalem\n`;
    if (i === 30_000) return undefined;
    return l;
  });
  const r = split(edited);
  expect(r.rewritten).toBeGreaterThanOrEqual(3);
  // A piece boundary that moved renumbers at most the pieces of its group (~64).
  expect(r.rewritten).toBeLessThan(count / 4);
  expect(Buffer.compare(join().stdout, edited)).toBe(0);
});

test('a shorter stream removes the pieces and groups beyond its end', () => {
  split(stream(40_000));
  const shorter = stream(3_000);
  const { count } = split(shorter);
  expect(pieceFiles()).toHaveLength(count);
  expect(Buffer.compare(join().stdout, shorter)).toBe(0);
});

test('a line longer than the largest piece stays whole; an empty stream is zero pieces', () => {
  const long = Buffer.from(`${'x'.repeat(PIECE * 10)}\nshort\n`);
  split(long);
  expect(Buffer.compare(join().stdout, long)).toBe(0);
  expect(split(Buffer.alloc(0)).count).toBe(0);
  const out = join();
  expect(out.status).toBe(0);
  expect(out.stdout.length).toBe(0);
});

test('join refuses damaged pieces with exit 65 and writes nothing', () => {
  split(stream(20_000));
  const files = pieceFiles();
  const victim = files[Math.floor(files.length / 2)];
  const original = fs.readFileSync(victim);
  const flipped = Buffer.from(original);
  flipped[10] = flipped[10] === 65 ? 66 : 65;
  fs.writeFileSync(victim, flipped);
  let out = join();
  expect(out.status).toBe(65);
  expect(out.stdout.length).toBe(0);
  expect(out.stderr).toMatch(/do not match stream.sha256 \(\d+ bytes\): damaged/);

  fs.rmSync(victim);
  out = join();
  expect(out.status).toBe(65);
  expect(out.stdout.length).toBe(0);
  expect(out.stderr).toMatch(/missing/);

  fs.writeFileSync(victim, original);
  expect(join().status).toBe(0);
  fs.rmSync(path.join(dir, 'stream.sha256'));
  out = join();
  expect(out.status).toBe(65);
  expect(out.stderr).toMatch(/stream.sha256 is missing/);
});

test('a split that dies midway leaves no stream.sha256: the directory never passes for a whole stream', async () => {
  split(stream(10_000));
  expect(join().status).toBe(0);
  // A producer that writes part of a stream and then hangs; the split is killed meanwhile.
  const child = spawn('bash', ['-c', `{ seq 1 300000; sleep 60; } | ${TOOL} split ${dir} ${PIECE}`], { detached: true, stdio: 'ignore' });
  // Killed once it has rewritten pieces with the new stream (which starts "1\n2\n").
  const first = () => fs.readFileSync(pieceFiles()[0], 'utf8');
  const end = Date.now() + 20_000;
  while (!first().startsWith('1\n2\n') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(first().startsWith('1\n2\n')).toBe(true);
  process.kill(-child.pid!, 'SIGKILL');
  await new Promise((r) => child.once('exit', r));
  expect(fs.existsSync(path.join(dir, 'stream.sha256'))).toBe(false);
  const out = join();
  expect(out.status).toBe(65);
  expect(out.stdout.length).toBe(0);
});

test('split --pending leaves the checksum as .pending: join refuses it until the caller, knowing the producer exited 0, renames it', () => {
  const input = stream(5000);
  split(input); // an earlier complete stream
  const r = spawnSync(TOOL, ['split', dir, String(PIECE), '--pending'], { input: stream(3000) });
  expect(r.status).toBe(0);
  expect(fs.readdirSync(dir).filter((f) => f.startsWith('stream.sha256'))).toEqual(['stream.sha256.pending']);
  const refused = join();
  expect(refused.status).toBe(65);
  expect(refused.stdout.length).toBe(0);
  fs.renameSync(path.join(dir, 'stream.sha256.pending'), path.join(dir, 'stream.sha256'));
  expect(join().stdout.equals(stream(3000))).toBe(true);
});

test('bad arguments exit 64 with the usage', () => {
  const r = spawnSync(TOOL, ['split', dir, '10'], { encoding: 'utf8' });
  expect(r.status).toBe(64);
  expect(r.stderr).toMatch(/usage: restic-backups-pieces split DIR PIECE_SIZE/);
});
