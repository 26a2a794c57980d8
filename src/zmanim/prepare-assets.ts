import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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
