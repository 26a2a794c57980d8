/**
 * The `shtetl-ops` bin as the package ships it: bundled by the projen task `bundle:ops`,
 * run with node against a local stand-in for the CloudFormation endpoint.
 */
import { execSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import { builtinModules } from 'module';
import * as os from 'os';
import * as path from 'path';

jest.setTimeout(120_000);

const root = path.resolve(__dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'shtetl-ops-bundle-'));
const bundle = path.join(work, 'shtetl-ops.js');
let server: http.Server;
let endpoint: string;
const requests: string[] = [];

beforeAll(async () => {
  const tasks = JSON.parse(fs.readFileSync(path.join(root, '.projen/tasks.json'), 'utf8')).tasks;
  const task = tasks['bundle:ops'];
  if (!task) throw new Error('the projen task bundle:ops is missing: add it in .projenrc.ts (README "Operations") and run npx projen');
  expect(tasks.bundle.steps).toEqual(expect.arrayContaining([{ spawn: 'bundle:ops' }]));
  const command: string = task.steps[0].exec;
  execSync(command.replace('--outfile=assets/ops/shtetl-ops.js', `--outfile=${bundle}`), { cwd: root, stdio: 'pipe' });
  // CloudFormation's query API, answering DescribeStacks with one stack.
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      requests.push(body);
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end('<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>'
        + '<StackName>ZmanimProdCompute</StackName><StackStatus>UPDATE_COMPLETE</StackStatus><CreationTime>2026-01-01T00:00:00Z</CreationTime>'
        + '<Outputs><member><OutputKey>InstanceId</OutputKey><OutputValue>i-0bundle</OutputValue></member></Outputs>'
        + '</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeStacksResponse>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => {
  server?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

function bin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, ...args], {
      // Fake credentials for the local endpoint only; stdin is not a terminal.
      env: { PATH: process.env.PATH, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_ENDPOINT_URL: endpoint, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'eu-west-1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('one self-contained file with a node shebang, without the CDK', () => {
  const text = fs.readFileSync(bundle, 'utf8');
  expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
  // Nothing outside node itself, but the SDK's optional SigV4a signer (required in a try).
  const builtins = new Set(builtinModules);
  const external = [...new Set([...text.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]))]
    .filter((name) => !name.startsWith('node:') && !builtins.has(name));
  expect(external).toEqual(['@aws-sdk/signature-v4-crt']);
  expect(fs.statSync(bundle).size).toBeLessThan(8_000_000);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  expect(pkg.bin).toEqual({ 'shtetl-ops': 'assets/ops/shtetl-ops.js' });
});

test('help lists every command and exits 0', async () => {
  const r = await bin(['help']);
  expect(r.code).toBe(0);
  for (const c of ['shell', 'psql', 'status', 'restart', 'logs', 'health', 'backup', 'snapshots', 'restore', 'drill', 'redis-flush', 'invalidate', 'deploy-api', 'replace-instance', 'region-failover']) {
    expect(r.stdout).toContain(`  ${c}`);
  }
});

test('finds the host from the stack outputs, and refuses a destructive command without a terminal', async () => {
  const r = await bin(['restart', 'api']);
  expect(r.code).toBe(1);
  expect(requests[requests.length - 1]).toContain('Action=DescribeStacks');
  expect(r.stderr).toContain('error: Refusing to restart zmanim-api on i-0bundle');
  expect(r.stderr).toContain('what to do: Re-run it in a terminal to be asked, or add --yes');
});

test('usage errors exit 2 without calling AWS', async () => {
  const before = requests.length;
  const r = await bin(['logs', 'nginx']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('Unknown service "nginx"');
  expect(requests.length).toBe(before);
});
