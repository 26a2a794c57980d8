/**
 * Jest's node environment, with a temporary directory of its own for each test file, removed
 * when the file ends. Every `new App()` without an outdir synthesizes into a fresh
 * `$TMPDIR/cdk.outXXXX` that aws-cdk-lib never removes (with the site's assets, ~60 MB), and
 * the suite makes a few hundred of them: on a shared machine /tmp filled up run after run.
 *
 * The directory is world-traversable: the host tests run PostgreSQL as the postgres user on
 * files under it. A worker runs one file at a time, so setting the worker's own TMPDIR (read by
 * os.tmpdir() and every child process) is safe.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnvironment as NodeEnvironment } from 'jest-environment-node';

export default class TestFileTmpdirEnvironment extends NodeEnvironment {
  private dir = '';
  private previous: string | undefined;

  async setup(): Promise<void> {
    await super.setup();
    this.previous = process.env.TMPDIR;
    this.dir = mkdtempSync(join(tmpdir(), 'jest-file-'));
    chmodSync(this.dir, 0o755);
    process.env.TMPDIR = this.dir;
    this.global.process.env.TMPDIR = this.dir;
  }

  async teardown(): Promise<void> {
    if (this.previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = this.previous;
    if (this.dir && !process.env.KEEP_TEST_TMPDIR) rmSync(this.dir, { recursive: true, force: true });
    await super.teardown();
  }
}
