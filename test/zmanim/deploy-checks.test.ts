import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { offlineEnv } from './offline-env';
import { DEFAULT_CONFIG, PLACEHOLDER_HOSTED_ZONE_ID, ZmanimConfig } from '../../src/zmanim/config';
import { checkDeployable, DeployCheckError, deployProblems, FIXTURE_BUILD_ID } from '../../src/zmanim/deploy-checks';
import { FIXTURE_SITE_DIR } from '../../src/zmanim/prepare-assets';

const root = join(__dirname, '..', '..');
const ACCOUNT = '123456789012';
const REAL_ZONE = { zoneId: 'Z0987654321ABCDEFGHIJ', zoneName: 'shtetl.io' };

let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'zmanim-deploy-checks-')); });
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A folder that looks like an OpenNext build with the given build id. */
function openNextBuild(name: string, buildId: string): string {
  const dir = join(work, name, '.open-next');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'open-next.output.json'), '{}');
  writeFileSync(join(dir, 'assets', 'BUILD_ID'), buildId);
  return dir;
}

const deployable = (): ZmanimConfig => ({
  ...DEFAULT_CONFIG,
  account: ACCOUNT,
  hostedZone: REAL_ZONE,
  site: { ...DEFAULT_CONFIG.site, openNextPath: openNextBuild('web', 'a1b2c3') },
});
const credentials = { CDK_DEFAULT_ACCOUNT: ACCOUNT };
const settings = (config: ZmanimConfig, env: NodeJS.ProcessEnv = credentials) => deployProblems(config, env, root, true).map((p) => p.setting);

describe('deploy checks', () => {
  test('the fixture build id is the one the fixture app gives itself', () => {
    expect(readFileSync(join(root, FIXTURE_SITE_DIR, 'next.config.mjs'), 'utf8')).toContain(`generateBuildId: async () => '${FIXTURE_BUILD_ID}'`);
  });

  test('the default config is refused for its site, its hosted zone and a missing account', () => {
    const problems = deployProblems({ ...DEFAULT_CONFIG }, {}, root, true);
    expect(problems.map((p) => p.setting)).toEqual(['AWS account', 'site.openNextPath', 'hostedZone.zoneId']);
    expect(problems[0].fix).toMatch(/Set AWS_PROFILE .* -c zmanim:account=123456789012/);
    expect(problems[1].problem).toBe(`not set, so the site would be the test fixture app (${FIXTURE_SITE_DIR})`);
    expect(problems[1].fix).toMatch(/npx @opennextjs\/aws build.*-c zmanim:site='\{"openNextPath":"\.\.\/web\/\.open-next"\}'/);
    expect(problems[2].problem).toContain(PLACEHOLDER_HOSTED_ZONE_ID);
    expect(problems[2].fix).toMatch(/Route 53 > Hosted zones > shtetl\.io .* -c zmanim:hostedZone=/);
  });

  test('a named build of the web app, a real zone and matching credentials pass', () => {
    expect(settings(deployable())).toEqual([]);
  });

  test('the fixture is refused even when named, and so is a copy of its build', () => {
    expect(settings({ ...deployable(), site: { ...DEFAULT_CONFIG.site, openNextPath: join(root, FIXTURE_SITE_DIR, '.open-next') } })).toEqual(['site.openNextPath']);
    const copy = openNextBuild('copied-fixture', `${FIXTURE_BUILD_ID}\n`);
    const problems = deployProblems({ ...deployable(), site: { ...DEFAULT_CONFIG.site, openNextPath: copy } }, credentials, root, true);
    expect(problems.map((p) => p.problem)).toEqual([`"${copy}" is the test fixture app's build (build id ${FIXTURE_BUILD_ID})`]);
  });

  test('a folder without an OpenNext build is refused', () => {
    const problems = deployProblems({ ...deployable(), site: { ...DEFAULT_CONFIG.site, openNextPath: join(work, 'nothing-here') } }, credentials, root, true);
    expect(problems.map((p) => p.problem)).toEqual([expect.stringMatching(/holds no OpenNext build \(no open-next\.output\.json in .*nothing-here\)/)]);
  });

  test('credentials of another account, or none for the named account, are refused', () => {
    expect(deployProblems(deployable(), { CDK_DEFAULT_ACCOUNT: '999999999999' }, root, true).map((p) => `${p.setting}: ${p.problem}`))
      .toEqual([`zmanim:account: is ${ACCOUNT}, but your AWS credentials are for 999999999999`]);
    expect(deployProblems(deployable(), {}, root, true).map((p) => `${p.setting}: ${p.problem}`))
      .toEqual([`AWS credentials: zmanim:account is ${ACCOUNT}, but no AWS credentials were found for it`]);
  });

  test('under projen deploy/diff every problem is one error; otherwise a synth for an account warns and one without is quiet', () => {
    const lines: string[] = [];
    const check = (config: ZmanimConfig, env: NodeJS.ProcessEnv) => checkDeployable(config, env, root, (l) => lines.push(l));
    expect(() => check({ ...DEFAULT_CONFIG }, { ZMANIM_CDK_COMMAND: 'deploy' })).toThrow(DeployCheckError);
    expect(() => check({ ...DEFAULT_CONFIG }, { ZMANIM_CDK_COMMAND: 'diff' })).toThrow(/^zmanim diff: stopped before anything reached CloudFormation\. Set these first:\n {2}- AWS account: .*\n {2}- site\.openNextPath: .*\n {2}- hostedZone\.zoneId: /);
    expect(() => check(deployable(), { ...credentials, ZMANIM_CDK_COMMAND: 'deploy' })).not.toThrow();
    // The deploy workflows' synth job has no credentials: the site and the zone are still checked.
    expect(() => check({ ...DEFAULT_CONFIG }, { ZMANIM_CDK_COMMAND: 'release' })).toThrow(/^zmanim release: stopped before anything reached CloudFormation\. Set these first:\n {2}- site\.openNextPath: .*\n {2}- hostedZone\.zoneId: /);
    expect(() => check({ ...deployable(), account: undefined }, { ZMANIM_CDK_COMMAND: 'release' })).not.toThrow();
    check({ ...DEFAULT_CONFIG }, {});
    expect(lines).toEqual([]);
    check({ ...DEFAULT_CONFIG, account: ACCOUNT }, credentials);
    expect(lines).toEqual([`Warning: this synth for account ${ACCOUNT} is not deployable (site.openNextPath, hostedZone.zoneId): npx projen deploy refuses it and says what to set.`]);
  });
});

/**
 * The real commands, without AWS credentials or network: an operator's mistake ends in one
 * line (or the deploy checks' list) and exit 1, no stack trace, and nothing reaches AWS.
 */
describe('the entry points', () => {
  const offline = offlineEnv();

  test('src/app.ts: a config mistake is one line on stderr and exit 1', () => {
    const outdir = join(work, 'app-out');
    const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/app.ts'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...offline, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ 'zmanim:enableHealthCheck': 'yes' }) },
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('Error: Invalid zmanim config "enableHealthCheck" ("yes") from context zmanim:enableHealthCheck: '
      + 'is not true or false. Use -c zmanim:enableHealthCheck=true or -c zmanim:enableHealthCheck=false.\n');
    expect(existsSync(join(outdir, 'manifest.json'))).toBe(false);
  });

  test('npx projen deploy of the default config stops before AWS, naming site.openNextPath and AWS_PROFILE', () => {
    const outdir = join(work, 'deploy-out');
    const result = spawnSync('npx', ['projen', 'deploy', '--no-notices', '-o', outdir], { cwd: root, encoding: 'utf8', env: offline, timeout: 120_000 });
    const output = result.stdout + result.stderr;
    expect(result.status).not.toBe(0);
    expect(output).toContain('Error: zmanim deploy: stopped before anything reached CloudFormation. Set these first:');
    expect(output).toMatch(/- AWS account: no AWS credentials were found.* Set AWS_PROFILE/);
    expect(output).toMatch(/- site\.openNextPath: not set, so the site would be the test fixture app/);
    expect(output).toMatch(/- hostedZone\.zoneId: Z04310813Q8GM3J9ZMANM is the placeholder/);
    expect(output).not.toMatch(/Unable to resolve AWS account|\n\s+at /);
    // The app stopped before any stack existed: nothing for the CLI to deploy.
    expect(existsSync(join(outdir, 'manifest.json'))).toBe(false);
  });
});
