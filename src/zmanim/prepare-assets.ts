import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Makes sure every Lambda bundle under assets/ is at least as new as its handler source, and
 * runs `npx projen bundle` when one is missing or stale. Synth from a fresh clone
 * (`npx cdk synth` right after `npm ci`) then works, and a synth after editing a handler
 * never deploys the old bundle.
 */
export function ensureLambdaBundles(root: string): void {
  const stale = findLambdaSources(join(root, 'src')).filter((source) => {
    const bundle = join(root, 'assets', relative(join(root, 'src'), source).replace(/\.ts$/, ''), 'index.js');
    return !existsSync(bundle) || statSync(bundle).mtimeMs < statSync(source).mtimeMs;
  });
  if (stale.length === 0) return;
  process.stderr.write(`Bundling Lambda handlers (${stale.length} missing or stale)...\n`);
  execFileSync('npx', ['projen', 'bundle'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

function findLambdaSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return findLambdaSources(path);
    return entry.name.endsWith('.lambda.ts') ? [path] : [];
  });
}

/** The Next.js app this repository can build itself: the default site of the zmanim app and the tests' fixture. */
export const FIXTURE_SITE_DIR = join('test', 'fixtures', 'nextjs-app');

/**
 * Builds the fixture Next.js app with OpenNext (`npm ci` when its node_modules are missing
 * or older than its lock file, then `open-next build`) when `.open-next/` is missing or
 * older than any of its sources. Synth from a fresh clone then has a site to deploy; the
 * frontend workflow passes the real web app's build instead (`-c zmanim:site=...`).
 * Returns the `.open-next` folder.
 */
export function ensureFixtureSite(root: string, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): string {
  const dir = join(root, FIXTURE_SITE_DIR);
  const output = join(dir, '.open-next', 'open-next.output.json');
  const sources = ['app', 'public', 'next.config.mjs', 'open-next.config.ts', 'package.json', 'package-lock.json'].map((p) => join(dir, p));
  const upToDate = () => existsSync(output) && statSync(output).mtimeMs >= Math.max(...sources.flatMap((p) => existsSync(p) ? [newestMtime(p)] : []));
  if (upToDate()) return join(dir, '.open-next');

  // Parallel jest workers and synths would otherwise build into the same folder at once.
  const lock = join(dir, '.open-next.lock');
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (Date.now() - statSync(lock).mtimeMs > 15 * 60_000) { rmSync(lock, { recursive: true, force: true }); continue; }
      if (Date.now() > deadline) throw new Error(`Waited 15 minutes for another build of ${dir} (lock ${lock}); remove the lock if no build is running.`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
  try {
    if (!upToDate()) buildFixture(dir, output, log);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return join(dir, '.open-next');
}

function buildFixture(dir: string, output: string, log: (line: string) => void) {
  // The first synth of a fresh clone spends minutes here: say why before it starts.
  log('Building the test fixture Next.js app, the site when site.openNextPath is not set (once: npm ci and an OpenNext build, about 2 minutes; '
    + 'later synths reuse it). A deploy needs your web app\'s build instead: -c zmanim:site=\'{"openNextPath":"../web/.open-next"}\'.');
  const installed = join(dir, 'node_modules', '.package-lock.json');
  if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(join(dir, 'package-lock.json')).mtimeMs) {
    log(`Installing the fixture Next.js app's dependencies (npm ci in ${dir})...`);
    run('npm', ['ci', '--no-audit', '--no-fund'], dir);
  }
  log(`Building the fixture Next.js app with OpenNext (${dir}, ~1 min)...`);
  run('npm', ['run', 'build:open-next'], dir);
  if (!existsSync(output)) {
    throw new Error(`open-next build in ${dir} finished without writing ${output}; run \`npm run build:open-next\` there to see why.`);
  }
}

function run(command: string, args: string[], cwd: string) {
  try {
    execFileSync(command, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } });
  } catch (e) {
    throw new Error(`\`${command} ${args.join(' ')}\` failed in ${cwd} (${(e as Error).message}). It needs Node.js 20+ and the npm registry (OpenNext installs sharp for linux-arm64).`);
  }
}

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}
