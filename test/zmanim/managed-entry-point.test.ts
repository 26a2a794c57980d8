import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CanarySynth } from './canary-synth';

/**
 * The real entry point (src/app.ts, as `cdk synth -c zmanim:capacityProfile=managed` runs it)
 * switches to the managed profile by config alone, and, as no-secrets.test.ts checks for the
 * single host, no canary secret value from the environment or the context reaches cdk.out.
 */
const synth = new CanarySynth('zmanim-managed-', (name) => `CANARY-${name}-5b2e8d40`, (canary) => ({
  DATABASE_URL: `postgres://zmanim:${canary('postgres-password')}@db/zmanim`,
  REDIS_URL: `rediss://default:${canary('redis-password')}@cache:6379`,
}), {
  'zmanim:capacityProfile': 'managed',
  'zmanim:managed': JSON.stringify({ databaseReadReplica: true }),
});

test('the managed profile is chosen by context: Data and ApiFleet, no Compute stack', () => {
  const templates = readdirSync(synth.outdir).filter((f) => f.endsWith('.template.json'));
  expect(templates).toEqual(expect.arrayContaining(['ZmanimProdData.template.json', 'ZmanimProdApiFleet.template.json', 'ZmanimProdApi.template.json']));
  expect(templates).not.toContain('ZmanimProdCompute.template.json');
  const data = readFileSync(join(synth.outdir, 'ZmanimProdData.template.json'), 'utf8');
  expect(data).toMatch(/"SourceDBInstanceIdentifier"/);
});

test('no canary secret value appears in any file of cdk.out', () => {
  expect(synth.leaks()).toEqual([]);
});

test('the cache\'s AUTH token and the database password are references resolved by CloudFormation, never values', () => {
  const data = JSON.parse(readFileSync(join(synth.outdir, 'ZmanimProdData.template.json'), 'utf8'));
  const resources = Object.values<any>(data.Resources);
  const cache = resources.find((r) => r.Type === 'AWS::ElastiCache::ReplicationGroup');
  expect(cache.Properties.AuthToken).toBe('{{resolve:ssm-secure:/zmanim/prod/redis-password}}');
  const primary = resources.find((r) => r.Type === 'AWS::RDS::DBInstance' && r.Properties.MasterUserPassword);
  expect(JSON.stringify(primary.Properties.MasterUserPassword)).toMatch(/^\{"Fn::Join":\["",\["\{\{resolve:secretsmanager:",/);
});
