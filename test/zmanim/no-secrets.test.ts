import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENERATED_SECRETS, OPERATOR_SECRETS } from '../../src/zmanim/secrets';

/**
 * Synthesizes the real app entry point (src/app.ts, as `cdk synth` runs it) with canary
 * values wherever a secret could reach it: environment variables a deploying machine or
 * workflow might carry, and CDK context. None may appear anywhere in cdk.out.
 */
const root = join(__dirname, '..', '..');
const names = [...GENERATED_SECRETS, ...OPERATOR_SECRETS];
const canary = (name: string) => `CANARY-${name}-7f3c9a1e`;
const envName = (name: string) => name.toUpperCase().replace(/-/g, '_');

let outdir: string;
beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'zmanim-canary-'));
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_OUTDIR: outdir, CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' };
  for (const name of names) env[envName(name)] = canary(name);
  Object.assign(env, {
    CLERK_SECRET_KEY: canary('clerk-secret-key'),
    ORIGIN_VERIFY_KEY: canary('origin-verify-key'),
    JWT_SECRET: canary('jwt-secret'),
    RESTIC_PASSWORD: canary('restic-password'),
    DATABASE_URL: `postgres://zmanim:${canary('postgres-password')}@localhost/zmanim`,
    REDIS_URL: `redis://:${canary('redis-password')}@localhost:6379`,
  });
  // Canaries in context too, under keys the app ignores: it refuses zmanim:<secret> outright (config.test.ts).
  const context = Object.fromEntries(names.map((name) => [name, canary(name)]));
  env.CDK_CONTEXT_JSON = JSON.stringify(context);
  execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/app.ts'], { cwd: root, env, stdio: 'pipe' });
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

test('the app synthesized every stack', () => {
  const templates = readdirSync(outdir).filter((f) => f.endsWith('.template.json'));
  expect(templates).toEqual(expect.arrayContaining(['ZmanimProdNetwork.template.json', 'ZmanimProdSecrets.template.json']));
});

test('no canary secret value appears in any file of cdk.out (templates, assets, manifests)', () => {
  const files = filesUnder(outdir);
  expect(files.length).toBeGreaterThan(5);
  const leaks = files.flatMap((file) => {
    const content = readFileSync(file).toString('latin1');
    return names.filter((name) => content.includes(canary(name))).map((name) => `${name} in ${file.slice(outdir.length)}`);
  });
  expect(leaks).toEqual([]);
});

test('the canary check would see a leak (a value planted in cdk.out is found)', () => {
  const planted = join(outdir, 'planted.txt');
  writeFileSync(planted, `x${canary('jwt-secret')}x`);
  const found = filesUnder(outdir).some((file) => readFileSync(file, 'latin1').includes(canary('jwt-secret')));
  rmSync(planted);
  expect(found).toBe(true);
});

test('templates hold no SecureString, no secret-looking CloudFormation parameter default, no secret in a Lambda environment', () => {
  for (const file of readdirSync(outdir).filter((f) => f.endsWith('.template.json'))) {
    const template = JSON.parse(readFileSync(join(outdir, file), 'utf8'));
    for (const [id, resource] of Object.entries<any>(template.Resources ?? {})) {
      expect({ id, type: resource.Properties?.Type }).not.toEqual({ id, type: 'SecureString' });
      const variables = resource.Type === 'AWS::Lambda::Function' ? resource.Properties?.Environment?.Variables ?? {} : {};
      for (const [key, value] of Object.entries(variables)) {
        // Parameter *names* are fine (read at run time); a literal value for a secret-named key is not.
        if (/SECRET|PASSWORD|TOKEN|_KEY$/.test(key) && typeof value === 'string') {
          expect({ file, id, key, value }).toEqual({ file, id, key, value: expect.stringMatching(/^\//) });
        }
      }
    }
    for (const [name, parameter] of Object.entries<any>(template.Parameters ?? {})) {
      if (parameter.Default !== undefined && !String(parameter.Type).startsWith('AWS::SSM::Parameter::Value')) {
        expect({ file, name, default: parameter.Default }).toEqual({ file, name, default: expect.not.stringMatching(/CANARY/) });
      }
    }
  }
});
