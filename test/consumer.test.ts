import { execFileSync, execSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ensureFixtureSite } from '../src/zmanim/prepare-assets';

/**
 * The library as a user gets it: build it, `npm pack` it, install the tarball into a fresh
 * project with aws-cdk-lib and constructs, compile a TypeScript app against the published
 * typings, and synthesize a stack that uses every exported construct. Catches files missing
 * from the package (handler bundles, host scripts) and app code leaking into it.
 */
const root = join(__dirname, '..');
const run = (cmd: string, cwd: string) => execSync(cmd, { cwd, stdio: 'pipe', env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' } }).toString();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

let work: string;
let tarball: string;
let packedFiles: string[];
let outdir: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'shtetl-consumer-'));
  // jsii compile + the post-compile copy of host files, exactly as `npx projen build` does.
  run('npx projen bundle && npx projen compile && npx projen post-compile', root);
  const packed = JSON.parse(run(`npm pack --json --pack-destination ${work}`, root));
  tarball = join(work, packed[0].filename);
  packedFiles = packed[0].files.map((f: { path: string }) => f.path);

  const project = join(work, 'project');
  run(`mkdir -p ${project}`, work);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '0.0.0', private: true }));
  run([
    'npm install --no-audit --no-fund --prefer-offline --loglevel=error',
    tarball,
    `aws-cdk-lib@${pkg.devDependencies['aws-cdk-lib']}`,
    `constructs@${pkg.devDependencies.constructs}`,
  ].join(' '), project);
  copyFileSync(join(__dirname, 'consumer', 'app.ts'), join(project, 'app.ts'));
  copyFileSync(join(__dirname, 'consumer', 'tsconfig.json'), join(project, 'tsconfig.json'));
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { cwd: project, stdio: 'pipe' });
  outdir = join(work, 'cdk.out');
  const openNextPath = ensureFixtureSite(root);
  execFileSync(process.execPath, [join(project, 'dist', 'app.js')], { cwd: project, stdio: 'pipe', env: { ...process.env, CDK_OUTDIR: outdir, OPEN_NEXT_PATH: openNextPath } });
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the package holds the library, its bundled handlers and docs, and nothing of the app', () => {
  expect(packedFiles).toEqual(expect.arrayContaining(['lib/index.js', 'lib/index.d.ts', '.jsii', 'README.md', 'API.md']));
  const bundles = readdirSync(join(root, 'assets'), { recursive: true }).map(String).filter((f) => f.endsWith('index.js')).map((f) => `assets/${f}`);
  expect(bundles.length).toBeGreaterThan(0);
  expect(packedFiles).toEqual(expect.arrayContaining(bundles));
  const leaked = packedFiles.filter((f) => /^(lib\/app\.|lib\/zmanim\/|src\/|test\/|integ\/|packer\/|bench\/|cdk\.out\/|cdk\.json)/.test(f));
  expect(leaked).toEqual([]);
});

test('the package ships the shtetl-ops bin, bundled, and it runs where the package is installed', () => {
  expect(pkg.bin).toEqual({ 'shtetl-ops': 'assets/ops/shtetl-ops.js' });
  expect(packedFiles).toContain('assets/ops/shtetl-ops.js');
  expect(packedFiles.filter((f) => f.startsWith('lib/ops/'))).toEqual([]);
  const help = execFileSync(join(work, 'project', 'node_modules', '.bin', 'shtetl-ops'), ['help'], { encoding: 'utf8' });
  expect(help).toContain('replace-instance');
});

test('every non-TypeScript file a construct ships (host scripts, units, function code) is in the package', () => {
  const constructs = join(root, 'src', 'constructs');
  const shipped = readdirSync(constructs, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !/\.(ts|md)$/.test(entry.name))
    .map((entry) => relative(constructs, join(entry.parentPath, entry.name)));
  for (const file of shipped) expect(packedFiles).toContain(`lib/constructs/${file}`);
});

test('a fresh project compiles against the published typings and synthesizes every construct', () => {
  const template = JSON.parse(readFileSync(join(outdir, 'ConsumerStack.template.json'), 'utf8'));
  const types = new Set(Object.values<any>(template.Resources).map((r) => r.Type));
  expect([...types]).toEqual(expect.arrayContaining([
    'Custom::GeneratedSecureParameter', // GeneratedSecrets
    'AWS::EC2::Instance', 'AWS::EC2::Volume', 'AWS::EC2::EIP', // GravitonDataHost
    'AWS::S3::Bucket', 'AWS::CloudWatch::Alarm', // ResticBackups
    'AWS::ApiGatewayV2::Api', 'AWS::ApiGatewayV2::VpcLink', 'AWS::CloudFront::KeyValueStore', // OriginVerifiedHttpApi
    'AWS::CloudFront::Distribution', 'AWS::Lambda::Url', 'AWS::SQS::Queue', 'AWS::DynamoDB::Table', // OpenNextSite
    'AWS::IAM::OIDCProvider', // GitHubOidcProvider, GitHubDeployRole
  ]));
  // The site routes /backend/* to the API through the origin-verify function.
  const distribution = Object.values<any>(template.Resources).find((r) => r.Type === 'AWS::CloudFront::Distribution');
  expect(distribution.Properties.DistributionConfig.CacheBehaviors.map((b: any) => b.PathPattern)).toContain('/backend/*');
});

test('every Lambda asset the consumer stack references exists in its cdk.out', () => {
  const assets = JSON.parse(readFileSync(join(outdir, 'ConsumerStack.assets.json'), 'utf8'));
  const paths = Object.values<any>(assets.files).map((f) => f.source.path);
  expect(paths.length).toBeGreaterThan(0);
  for (const path of paths) expect(existsSync(join(outdir, path))).toBe(true);
});
