import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENERATED_SECRETS, OPERATOR_SECRETS } from '../../src/zmanim/secrets';

/** Every secret the app knows of: generated in AWS, or set by an operator. */
export const SECRET_NAMES = [...GENERATED_SECRETS, ...OPERATOR_SECRETS];

/**
 * A synth of the real entry point (src/app.ts, as `cdk synth` runs it) with a canary value
 * wherever a secret could reach it: each secret's environment variable (POSTGRES_PASSWORD...),
 * `env` (e.g. connection strings), and the CDK context under keys the app ignores (it refuses
 * zmanim:<secret> outright, config.test.ts). Synthesizes before the file's tests into a
 * temporary cdk.out, removed after them.
 */
export class CanarySynth {
  public outdir = '';

  constructor(prefix: string, public readonly canary: (name: string) => string,
    env: (canary: (name: string) => string) => NodeJS.ProcessEnv, context: Record<string, unknown> = {}) {
    beforeAll(() => {
      this.outdir = mkdtempSync(join(tmpdir(), prefix));
      const all: NodeJS.ProcessEnv = { ...process.env, CDK_OUTDIR: this.outdir, CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' };
      for (const name of SECRET_NAMES) all[name.toUpperCase().replace(/-/g, '_')] = canary(name);
      Object.assign(all, env(canary));
      all.CDK_CONTEXT_JSON = JSON.stringify({ ...context, ...Object.fromEntries(SECRET_NAMES.map((name) => [name, canary(name)])) });
      execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/app.ts'], { cwd: join(__dirname, '..', '..'), env: all, stdio: 'pipe' });
    });
    afterAll(() => rmSync(this.outdir, { recursive: true, force: true }));
  }

  /** Every file of the synthesized cdk.out. */
  files(dir = this.outdir): string[] {
    return readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? this.files(path) : [path];
    });
  }

  /** `<secret> in <file>` for each canary found in a file of cdk.out. */
  leaks(): string[] {
    return this.files().flatMap((file) => {
      const content = readFileSync(file).toString('latin1');
      return SECRET_NAMES.filter((name) => content.includes(this.canary(name))).map((name) => `${name} in ${file.slice(this.outdir.length)}`);
    });
  }
}
