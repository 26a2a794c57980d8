import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENERATED_SECRETS, OPERATOR_SECRETS } from '../../src/zmanim/secrets';

/**
 * The real entry point (src/app.ts, as `cdk synth -c zmanim:capacityProfile=managed` runs it)
 * switches to the managed profile by config alone, and, as no-secrets.test.ts checks for the
 * single host, no canary secret value from the environment or the context reaches cdk.out.
 */
const root = join(__dirname, '..', '..');
const names = [...GENERATED_SECRETS, ...OPERATOR_SECRETS];
const canary = (name: string) => `CANARY-${name}-5b2e8d40`;

let outdir: string;
beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'zmanim-managed-'));
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_OUTDIR: outdir, CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' };
  for (const name of names) env[name.toUpperCase().replace(/-/g, '_')] = canary(name);
  env.DATABASE_URL = `postgres://zmanim:${canary('postgres-password')}@db/zmanim`;
  env.REDIS_URL = `rediss://default:${canary('redis-password')}@cache:6379`;
  env.CDK_CONTEXT_JSON = JSON.stringify({
    'zmanim:capacityProfile': 'managed',
    'zmanim:managed': JSON.stringify({ databaseReadReplica: true }),
    // Under keys the app ignores: it refuses zmanim:<secret> outright (config.test.ts).
    ...Object.fromEntries(names.map((name) => [name, canary(name)])),
  });
  execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/app.ts'], { cwd: root, env, stdio: 'pipe' });
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

test('the managed profile is chosen by context: Data and ApiFleet, no Compute stack', () => {
  const templates = readdirSync(outdir).filter((f) => f.endsWith('.template.json'));
  expect(templates).toEqual(expect.arrayContaining(['ZmanimProdData.template.json', 'ZmanimProdApiFleet.template.json', 'ZmanimProdApi.template.json']));
  expect(templates).not.toContain('ZmanimProdCompute.template.json');
  const data = readFileSync(join(outdir, 'ZmanimProdData.template.json'), 'utf8');
  expect(data).toMatch(/"SourceDBInstanceIdentifier"/);
});

test('no canary secret value appears in any file of cdk.out', () => {
  const leaks = filesUnder(outdir).flatMap((file) => {
    const content = readFileSync(file).toString('latin1');
    return names.filter((name) => content.includes(canary(name))).map((name) => `${name} in ${file.slice(outdir.length)}`);
  });
  expect(leaks).toEqual([]);
});

test('the cache\'s AUTH token and the database password are references resolved by CloudFormation, never values', () => {
  const data = JSON.parse(readFileSync(join(outdir, 'ZmanimProdData.template.json'), 'utf8'));
  const resources = Object.values<any>(data.Resources);
  const cache = resources.find((r) => r.Type === 'AWS::ElastiCache::ReplicationGroup');
  expect(cache.Properties.AuthToken).toBe('{{resolve:ssm-secure:/zmanim/prod/redis-password}}');
  const primary = resources.find((r) => r.Type === 'AWS::RDS::DBInstance' && r.Properties.MasterUserPassword);
  expect(JSON.stringify(primary.Properties.MasterUserPassword)).toMatch(/^\{"Fn::Join":\["",\["\{\{resolve:secretsmanager:",/);
});
