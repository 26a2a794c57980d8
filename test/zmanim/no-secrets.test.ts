import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CanarySynth } from './canary-synth';

/**
 * Synthesizes the real app entry point (src/app.ts, as `cdk synth` runs it) with canary
 * values wherever a secret could reach it: environment variables a deploying machine or
 * workflow might carry, and CDK context. None may appear anywhere in cdk.out.
 */
const synth = new CanarySynth('zmanim-canary-', (name) => `CANARY-${name}-7f3c9a1e`, (canary) => ({
  CLERK_SECRET_KEY: canary('clerk-secret-key'),
  ORIGIN_VERIFY_KEY: canary('origin-verify-key'),
  JWT_SECRET: canary('jwt-secret'),
  RESTIC_PASSWORD: canary('restic-password'),
  DATABASE_URL: `postgres://zmanim:${canary('postgres-password')}@localhost/zmanim`,
  REDIS_URL: `redis://:${canary('redis-password')}@localhost:6379`,
}));

test('the app synthesized every stack', () => {
  const templates = readdirSync(synth.outdir).filter((f) => f.endsWith('.template.json'));
  expect(templates).toEqual(expect.arrayContaining(['ZmanimProdNetwork.template.json', 'ZmanimProdSecrets.template.json']));
});

test('no canary secret value appears in any file of cdk.out (templates, assets, manifests)', () => {
  expect(synth.files().length).toBeGreaterThan(5);
  expect(synth.leaks()).toEqual([]);
});

test('the canary check would see a leak (a value planted in cdk.out is found)', () => {
  const planted = join(synth.outdir, 'planted.txt');
  writeFileSync(planted, `x${synth.canary('jwt-secret')}x`);
  const found = synth.leaks();
  rmSync(planted);
  expect(found).toEqual(['jwt-secret in /planted.txt']);
});

test('templates hold no SecureString, no secret-looking CloudFormation parameter default, no secret in a Lambda environment', () => {
  for (const file of readdirSync(synth.outdir).filter((f) => f.endsWith('.template.json'))) {
    const template = JSON.parse(readFileSync(join(synth.outdir, file), 'utf8'));
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
