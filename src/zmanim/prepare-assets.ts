import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
 * The richer fixture of the OpenNextSite tests: App and Pages Router, middleware, ISR with
 * revalidatePath/revalidateTag, a Server Action, route handlers with bodies, i18n, next/image.
 */
export const FULL_FIXTURE_SITE_DIR = join('test', 'fixtures', 'nextjs-full');
/** A minimal app built with `@opennextjs/aws` 3.x, the older major that OpenNextSite supports. */
export const V3_FIXTURE_SITE_DIR = join('test', 'fixtures', 'nextjs-v3');

/** Entries of a fixture app that are not inputs of its build. */
const NOT_INPUTS = new Set(['node_modules', '.open-next', '.next', '.open-next.lock', '.turbo']);

/**
 * Builds the fixture Next.js app with OpenNext when its `.open-next/` is missing or was
 * built from other inputs. Synth from a fresh clone then has a site to deploy; the frontend
 * workflow passes the real web app's build instead (`-c zmanim:site=...`). Returns the
 * `.open-next` folder.
 */
export function ensureFixtureSite(root: string, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): string {
  // The first synth of a fresh clone spends minutes building it: say why before it starts.
  const explain = () => log('Building the test fixture Next.js app, the site when site.openNextPath is not set (once: npm ci and an OpenNext build, about 2 minutes; '
    + 'later synths reuse it). A deploy needs your web app\'s build instead: -c zmanim:site=\'{"openNextPath":"../web/.open-next"}\'.');
  return ensureNextFixture(join(root, FIXTURE_SITE_DIR), log, explain);
}

/**
 * Builds the Next.js app in `dir` with OpenNext (`npm ci`, then `npm run build:open-next`)
 * unless its `.open-next/` was built from the same inputs. The cache is keyed on content,
 * not times: a SHA-256 of every source file (everything but node_modules and build output)
 * and the Node.js major version, written into `.open-next/.inputs-sha256` after a build
 * succeeds; `npm ci` runs when node_modules differs from package-lock.json. A fresh
 * checkout (new mtimes, same files) therefore reuses a build, and an edit rebuilds it.
 * Parallel jest workers and synths wait for each other on a lock folder.
 */
export function ensureNextFixture(dir: string, log: (line: string) => void = (l) => process.stderr.write(l + '\n'), beforeBuild?: () => void): string {
  const outputDir = join(dir, '.open-next');
  const stampFile = join(outputDir, '.inputs-sha256');
  const inputs = fixtureInputsHash(dir);
  const upToDate = () => existsSync(join(outputDir, 'open-next.output.json')) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === inputs;
  if (upToDate()) return outputDir;

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
    if (!upToDate()) {
      beforeBuild?.();
      buildFixture(dir, log);
      writeFileSync(stampFile, inputs);
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  return outputDir;
}

/** SHA-256 over the relative path and content of every build input of the app in `dir`. */
export function fixtureInputsHash(dir: string): string {
  const hash = createHash('sha256').update(`node${process.versions.node.split('.')[0]}\0`);
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (d === dir && NOT_INPUTS.has(entry.name)) continue;
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) hash.update(relative(dir, path).split('\\').join('/')).update('\0').update(readFileSync(path)).update('\0');
    }
  };
  walk(dir);
  return hash.digest('hex');
}

function buildFixture(dir: string, log: (line: string) => void) {
  if (!installMatchesLock(dir)) {
    log(`Installing the fixture Next.js app's dependencies (npm ci in ${dir})...`);
    run('npm', ['ci', '--no-audit', '--no-fund'], dir);
  }
  log(`Building the fixture Next.js app with OpenNext (${dir}, ~1 min)...`);
  rmSync(join(dir, '.open-next'), { recursive: true, force: true });
  run('npm', ['run', 'build:open-next'], dir);
  if (!existsSync(join(dir, '.open-next', 'open-next.output.json'))) {
    throw new Error(`open-next build in ${dir} finished without writing .open-next/open-next.output.json; run \`npm run build:open-next\` there to see why.`);
  }
}

/** Whether node_modules holds exactly the package versions of package-lock.json (npm's own record of the install). */
function installMatchesLock(dir: string): boolean {
  const installed = join(dir, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return false;
  const wanted = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')).packages ?? {};
  const have = JSON.parse(readFileSync(installed, 'utf8')).packages ?? {};
  return Object.entries(wanted).every(([path, p]) => path === '' || (p as { optional?: boolean }).optional === true && !have[path]
    || have[path]?.version === (p as { version?: string }).version);
}

function run(command: string, args: string[], cwd: string) {
  try {
    execFileSync(command, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' } });
  } catch (e) {
    throw new Error(`\`${command} ${args.join(' ')}\` failed in ${cwd} (${(e as Error).message}). It needs Node.js 20+ and the npm registry (OpenNext installs sharp for linux-arm64).`);
  }
}
