import { exec, execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ensureFixtureSite } from '../src/zmanim/prepare-assets';

/**
 * The library as another shtetl project gets it: build it, `npm pack` it once, install the
 * tarball with plain `npm install` into a fresh project next to the lowest aws-cdk-lib the
 * peer range allows and next to the newest the registry serves, compile a TypeScript app of a
 * second service ("kehilla": port 9000, its own secrets and database) against the published
 * typings, and synthesize it with both. Catches files missing from the package (handler
 * bundles, host scripts), a peer range npm refuses, and the app's names leaking into it.
 */
const root = join(__dirname, '..');
/** Runs a shell command; resolves to its stdout, or rejects with its stderr. Asynchronous, so installs and the build overlap. */
async function run(cmd: string, cwd: string): Promise<string> {
  try {
    const { stdout } = await promisify(exec)(cmd, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' } });
    return stdout;
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} (in ${cwd}) failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** The lowest version each peer range allows (`^2.257.0` -> `2.257.0`). */
const lowest = (range: string) => {
  const match = /^\^(\d+\.\d+\.\d+)$/.exec(range);
  if (!match) throw new Error(`peer range "${range}" is not a caret range from the lowest supported version`);
  return match[1];
};

let work: string;
let tarball: string;
let packedFiles: string[];
let openNextPath: string;

interface Consumer {
  readonly project: string;
  readonly outdir: string;
  readonly cdkVersion: string;
}
const consumers: { [name: string]: Consumer } = {};

/** A fresh project with the given aws-cdk-lib installed, for the tarball to go into next. */
async function prepare(name: string, cdkSpec: string): Promise<string> {
  const project = join(work, name);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: `consumer-${name}`, version: '0.0.0', private: true }));
  await run(`npm install --no-audit --no-fund --prefer-offline --loglevel=error ${cdkSpec} constructs`, project);
  return project;
}

/** The tarball installed into a prepared project; its kehilla app compiled and synthesized. */
async function consume(project: string): Promise<Consumer> {
  // Plain npm install: no --legacy-peer-deps, no --force; npm fails on an unsatisfiable peer.
  await run(`npm install --no-audit --no-fund --prefer-offline --loglevel=error ${tarball}`, project);
  const cdkVersion = JSON.parse(readFileSync(join(project, 'node_modules', 'aws-cdk-lib', 'package.json'), 'utf8')).version;
  copyFileSync(join(__dirname, 'consumer', 'app.ts'), join(project, 'app.ts'));
  copyFileSync(join(__dirname, 'consumer', 'tsconfig.json'), join(project, 'tsconfig.json'));
  try {
    await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    throw new Error(`the kehilla app does not compile against the package with aws-cdk-lib ${cdkVersion}:\n${(e as { stdout?: string }).stdout}`);
  }
  const outdir = join(project, 'cdk.out');
  await promisify(execFile)(process.execPath, [join(project, 'dist', 'app.js')], { cwd: project, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, CDK_OUTDIR: outdir, OPEN_NEXT_PATH: openNextPath } });
  return { project, outdir, cdkVersion };
}

/** Modification times (ms) of the files under `paths` (directories walked). */
function mtimes(paths: string[]): number[] {
  return paths.filter((p) => existsSync(p)).flatMap((p) => statSync(p).isDirectory()
    ? mtimes(readdirSync(p).map((entry) => join(p, entry)))
    : [statSync(p).mtimeMs]);
}

/**
 * Whether the package's build outputs (jsii's lib/ and .jsii, the docs, the handler bundles)
 * are all newer than everything they are built from: then `npx projen build` (which compiles
 * before it tests) or an earlier run already built this source, and packing it is enough.
 */
function buildIsFresh(): boolean {
  const outputs = ['.jsii', 'API.md', join('lib', 'index.js'), join('lib', 'index.d.ts')].map((f) => join(root, f));
  if (!outputs.every((f) => existsSync(f))) return false;
  const built = Math.min(...mtimes([...outputs, join(root, 'assets')]));
  const sources = Math.max(...mtimes(['src', 'README.md', 'package.json', 'tsconfig.json'].map((f) => join(root, f))));
  return built >= sources;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'shtetl-consumer-'));
  // The consumers' aws-cdk-lib installs (network-bound) overlap the library's build (CPU-bound).
  const projects = Promise.all([
    prepare('lowest', `aws-cdk-lib@${lowest(pkg.peerDependencies['aws-cdk-lib'])}`),
    prepare('newest', 'aws-cdk-lib@latest'),
  ]);
  // jsii compile + the post-compile copy of host files, exactly as `npx projen build` does,
  // unless that build's outputs are already newer than every source. The handler bundles are
  // the test command's first step (as for every template test).
  if (!buildIsFresh()) await run('npx projen compile && npx projen post-compile', root);
  const packed = JSON.parse(await run(`npm pack --json --pack-destination ${work}`, root));
  tarball = join(work, packed[0].filename);
  packedFiles = packed[0].files.map((f: { path: string }) => f.path);
  openNextPath = ensureFixtureSite(root);
  const [lowestProject, newestProject] = await projects;
  [consumers.lowest, consumers.newest] = await Promise.all([consume(lowestProject), consume(newestProject)]);
}, 900_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

test('the peer dependencies are caret ranges from the lowest supported version; the dev toolchain is pinned to it', () => {
  expect(lowest(pkg.peerDependencies['aws-cdk-lib'])).toBe(pkg.devDependencies['aws-cdk-lib']);
  expect(lowest(pkg.peerDependencies.constructs)).toBe(pkg.devDependencies.constructs);
  expect(consumers.lowest.cdkVersion).toBe(pkg.devDependencies['aws-cdk-lib']);
});

test('the package holds the library, its bundled handlers and docs, and nothing of the app', () => {
  expect(packedFiles).toEqual(expect.arrayContaining(['lib/index.js', 'lib/index.d.ts', '.jsii', 'README.md', 'API.md']));
  // Each construct's README ships beside its code; the app's guides (docs/) do not.
  const readmes = readdirSync(join(root, 'src', 'constructs'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(root, 'src', 'constructs', entry.name, 'README.md')))
    .map((entry) => `lib/constructs/${entry.name}/README.md`);
  expect(readmes.length).toBeGreaterThan(0);
  expect(packedFiles).toEqual(expect.arrayContaining(readmes));
  const bundles = readdirSync(join(root, 'assets'), { recursive: true }).map(String).filter((f) => f.endsWith('index.js')).map((f) => `assets/${f}`);
  expect(bundles.length).toBeGreaterThan(0);
  expect(packedFiles).toEqual(expect.arrayContaining(bundles));
  const leaked = packedFiles.filter((f) => /^(lib\/app\.|lib\/zmanim\/|src\/|test\/|integ\/|packer\/|bench\/|docs\/|cdk\.out\/|cdk\.json)/.test(f));
  expect(leaked).toEqual([]);
});

test('the package ships the shtetl-ops bin, bundled, and it runs where the package is installed', () => {
  expect(pkg.bin).toEqual({ 'shtetl-ops': 'assets/ops/shtetl-ops.js' });
  expect(packedFiles).toContain('assets/ops/shtetl-ops.js');
  expect(packedFiles.filter((f) => f.startsWith('lib/ops/'))).toEqual([]);
  const help = execFileSync(join(consumers.newest.project, 'node_modules', '.bin', 'shtetl-ops'), ['help'], { encoding: 'utf8' });
  expect(help).toContain('replace-instance');
});

test('every non-TypeScript file a construct ships (host scripts, units, function code) is in the package', () => {
  const constructs = join(root, 'src', 'constructs');
  const shipped = readdirSync(constructs, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !/\.(ts|md)$/.test(entry.name))
    .map((entry) => relative(constructs, join(entry.parentPath, entry.name)));
  for (const file of shipped) expect(packedFiles).toContain(`lib/constructs/${file}`);
});

type Resource = { Type: string; Properties: any };
const templateOf = (c: Consumer, stack: string) => JSON.parse(readFileSync(join(c.outdir, `${stack}.template.json`), 'utf8')) as { Resources: Record<string, Resource> };
const resources = (c: Consumer, stack: string, type: string) => Object.values(templateOf(c, stack).Resources).filter((r) => r.Type === type);

/** The instance's user data with CloudFormation's joins flattened (tokens as placeholders). */
function userData(c: Consumer): string {
  const [instance] = resources(c, 'KehillaData', 'AWS::EC2::Instance');
  const flatten = (v: any): string => {
    if (typeof v === 'string') return v;
    if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(flatten).join(v['Fn::Join'][0]);
    return '<token>';
  };
  return flatten(instance.Properties.UserData['Fn::Base64']);
}

/** Every file in cdk.out, zips (the host asset and added files) opened, as [path, text]. */
function everyFile(c: Consumer): [string, string][] {
  const out: [string, string][] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        walk(path);
      } else if (name.endsWith('.zip')) {
        const extracted = mkdtempSync(join(work, 'zip-'));
        execFileSync('python3', ['-m', 'zipfile', '-e', path, extracted]);
        walk(extracted);
        out.push([path, '(zip)']);
      } else {
        out.push([path, readFileSync(path, 'latin1')]);
      }
    }
  };
  walk(c.outdir);
  return out;
}

describe.each(['lowest', 'newest'])('the kehilla service synthesized with the %s aws-cdk-lib', (which) => {
  const c = () => consumers[which];

  test('every construct of the package is in it', () => {
    const types = new Set(['KehillaData', 'KehillaEdge'].flatMap((s) => Object.values(templateOf(c(), s).Resources).map((r) => r.Type)));
    expect([...types]).toEqual(expect.arrayContaining([
      'Custom::GeneratedSecureParameter', // GeneratedSecrets
      'AWS::EC2::Instance', 'AWS::EC2::Volume', 'AWS::EC2::EIP', 'AWS::SSM::Document', // GravitonDataHost
      'AWS::S3::Bucket', 'AWS::CloudWatch::Alarm', // ResticBackups
      'AWS::SSM::Parameter', // HostReference.publish
      'AWS::ApiGatewayV2::Api', 'AWS::ApiGatewayV2::VpcLink', 'AWS::CloudFront::KeyValueStore', // OriginVerifiedHttpApi
      'AWS::CloudFront::Distribution', 'AWS::Lambda::Url', 'AWS::SQS::Queue', 'AWS::DynamoDB::Table', // OpenNextSite
      'AWS::IAM::OIDCProvider', // GitHubOidcProvider, GitHubDeployRole
    ]));
    const distribution = resources(c(), 'KehillaEdge', 'AWS::CloudFront::Distribution')[0];
    expect(distribution.Properties.DistributionConfig.CacheBehaviors.map((b: any) => b.PathPattern)).toContain('/api/*');
  });

  test('no template, user data or asset (host zips opened) says zmanim', () => {
    const files = everyFile(c());
    expect(files.length).toBeGreaterThan(10);
    expect(files.filter(([path]) => /graviton|host/i.test(path) || path.endsWith('.zip')).length).toBeGreaterThan(0);
    expect(files.filter(([, text]) => /zmanim/i.test(text)).map(([path]) => relative(c().outdir, path))).toEqual([]);
    expect(userData(c())).not.toMatch(/zmanim/i);
  });

  test('the port it chose (9000) is the one the host, the VPC link and Cloud Map use', () => {
    const ud = userData(c());
    expect(ud).toContain('KEHILLA_API_PORT="9000"');
    expect(ud).not.toContain('8080');
    const ingress = ['KehillaData', 'KehillaEdge'].flatMap((s) => resources(c(), s, 'AWS::EC2::SecurityGroupIngress')).map((r) => [r.Properties.FromPort, r.Properties.ToPort]);
    expect(ingress).toEqual([[9000, 9000]]);
    const [instance] = resources(c(), 'KehillaEdge', 'AWS::ServiceDiscovery::Instance');
    expect(instance.Properties.InstanceAttributes.AWS_INSTANCE_PORT).toBe('9000');
  });

  test('the names it chose are the ones used: paths, units, settings, database, secrets, release key, documents, tags', () => {
    const ud = userData(c());
    for (const expected of [
      'path: /etc/kehilla/host.env', 'path: /usr/local/sbin/kehilla-bootstrap', '[bash, /usr/local/sbin/kehilla-bootstrap, kehilla]',
      'KEHILLA_DB_NAME="kehilla"', 'KEHILLA_DB_USER="kehilla"', 'KEHILLA_SSM_PATH="/kehilla/prod"',
      'KEHILLA_SECRET_NAMES="postgres-password redis-password session-key payments-api-key restic-password"',
      'KEHILLA_API_SECRET_NAMES="session-key payments-api-key"', 'ALLOWED_ORIGINS=https://kehilla.example.org',
    ]) expect(ud).toContain(expected);
    // No Clerk or Mapbox: those are another service's secrets.
    expect(ud).not.toMatch(/clerk|mapbox/i);
    const policies = JSON.stringify(resources(c(), 'KehillaData', 'AWS::IAM::Policy'));
    expect(policies).toContain('parameter/kehilla/prod/payments-api-key');
    expect(policies).not.toMatch(/parameter\/kehilla\/prod\/\*/);
    const documents = resources(c(), 'KehillaData', 'AWS::SSM::Document');
    expect(documents.map((d) => d.Properties.Name).every((n: string) => /^kehilla-.*-(deploy|refresh)-api$/.test(n))).toBe(true);
    expect(JSON.stringify(documents)).toContain('bash /opt/kehilla/host/deploy-api.sh');
    // The deploy role may run the deploy document on the host, nothing else with Run Command.
    const edgePolicies = JSON.stringify(resources(c(), 'KehillaEdge', 'AWS::IAM::Policy'));
    expect(edgePolicies).toMatch(/document\/kehilla-[A-Za-z0-9-]+-deploy-api/);
    expect(edgePolicies).not.toContain('AWS-RunShellScript');
    const tagged = [...resources(c(), 'KehillaData', 'AWS::EC2::Instance'), ...resources(c(), 'KehillaData', 'AWS::S3::Bucket'), ...resources(c(), 'KehillaEdge', 'AWS::ApiGatewayV2::Api')];
    expect(tagged.length).toBeGreaterThanOrEqual(3);
    for (const r of tagged) expect(JSON.stringify(r.Properties.Tags)).toMatch(/"Key":"shtetl:service","Value":"kehilla"|"shtetl:service":"kehilla"/);
  });

  test('every asset the stacks reference exists in its cdk.out', () => {
    for (const stack of ['KehillaData', 'KehillaEdge']) {
      const assets = JSON.parse(readFileSync(join(c().outdir, `${stack}.assets.json`), 'utf8'));
      const paths = Object.values<any>(assets.files).map((f) => f.source.path);
      expect(paths.length).toBeGreaterThan(0);
      for (const path of paths) expect(existsSync(join(c().outdir, path))).toBe(true);
    }
  });
});
