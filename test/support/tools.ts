/**
 * What every test that runs real programs needs: the programs themselves (a missing one fails
 * the test, naming the package to install; never a skip), a free TCP port on 127.0.0.1 for a
 * server it starts, and bash single-quoting for the command lines and files it writes.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

/** Bash single-quoting: `it's` -> `'it'\''s'`. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * Fails with what to install when a program is missing. `tools` maps each program (a name on
 * PATH or an absolute path) to what provides it, e.g. `{ restic: 'restic', pg_dump: 'postgresql-client' }`;
 * `who` says which tests need them.
 */
export function requireTools(tools: Record<string, string>, who = 'These tests'): void {
  const missing = Object.entries(tools).filter(([tool]) =>
    spawnSync('bash', ['-c', `command -v ${shellQuote(tool)} || test -x ${shellQuote(tool)}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length > 0) {
    throw new Error(`${who} need: ${missing.map(([tool, pkg]) => `${tool} (apt-get install -y ${pkg})`).join(', ')}`);
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
