/**
 * The `shtetl-ops` bin as the package ships it: bundled by the projen task `bundle:ops`,
 * run with node against a local stand-in for the AWS endpoints (EC2's query API, and the
 * JSON APIs of the Tagging API and CloudWatch Logs), for a service that is not zmanim.
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
const requests: { target: string; body: string }[] = [];

/** What the stand-in answers, by the API action asked for. */
function answer(target: string, body: string): { type: string; body: string } {
  if (body.includes('Action=DescribeInstances')) {
    const tags = { 'shtetl:service': 'kehilla', 'shtetl:data-host': 'c8host', 'aws:cloudformation:stack-name': 'KehillaProdCompute' };
    return {
      type: 'text/xml',
      body: '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet><item><reservationId>r-1</reservationId>'
        + '<instancesSet><item><instanceId>i-0bundle</instanceId><instanceState><code>16</code><name>running</name></instanceState><tagSet>'
        + Object.entries(tags).map(([k, v]) => `<item><key>${k}</key><value>${v}</value></item>`).join('')
        + '</tagSet></item></instancesSet></item></reservationSet></DescribeInstancesResponse>',
    };
  }
  if (target.endsWith('.GetResources')) {
    return {
      type: 'application/x-amz-json-1.1',
      body: JSON.stringify({
        PaginationToken: '',
        ResourceTagMappingList: [{
          ResourceARN: 'arn:aws:logs:eu-central-1:111111111111:log-group:KehillaProdCompute-HostApiLogs-X1',
          Tags: [{ Key: 'shtetl:service', Value: 'kehilla' }, { Key: 'shtetl:log', Value: 'api' }],
        }],
      }),
    };
  }
  if (target.endsWith('.FilterLogEvents')) {
    return { type: 'application/x-amz-json-1.1', body: JSON.stringify({ events: [{ eventId: '1', timestamp: Date.now(), message: 'kehilla-api listening on :9000' }] }) };
  }
  return { type: 'application/x-amz-json-1.1', body: '{}' };
}

beforeAll(async () => {
  const tasks = JSON.parse(fs.readFileSync(path.join(root, '.projen/tasks.json'), 'utf8')).tasks;
  const task = tasks['bundle:ops'];
  if (!task) throw new Error('the projen task bundle:ops is missing: add it in .projenrc.ts (docs/CONTRIBUTING.md, "Layout") and run npx projen');
  expect(tasks.bundle.steps).toEqual(expect.arrayContaining([{ spawn: 'bundle:ops' }]));
  const command: string = task.steps[0].exec;
  execSync(command.replace('--outfile=assets/ops/shtetl-ops.js', `--outfile=${bundle}`), { cwd: root, stdio: 'pipe' });
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      requests.push({ target, body });
      const reply = answer(target, body);
      res.writeHead(200, { 'content-type': reply.type });
      res.end(reply.body);
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
      env: {
        PATH: process.env.PATH,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_ENDPOINT_URL: endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_REGION: 'eu-central-1',
        SHTETL_SERVICE: 'kehilla',
      },
      // No cdk.json above the temporary directory: the environment names the service.
      cwd: work,
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
  // 4.95 MB when it bundled the SDK's CommonJS builds unminified.
  expect(fs.statSync(bundle).size).toBeLessThan(2_000_000);
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

test('finds the host by its tags, and refuses a destructive command without a terminal', async () => {
  const r = await bin(['restart', 'api']);
  expect(r.code).toBe(1);
  const ec2 = requests[requests.length - 1].body;
  expect(ec2).toContain('Action=DescribeInstances');
  expect(decodeURIComponent(ec2)).toContain('Filter.1.Name=tag:shtetl:service&Filter.1.Value.1=kehilla');
  expect(r.stderr).toContain('error: Refusing to restart kehilla-api on i-0bundle');
  expect(r.stderr).toContain('what to do: Re-run it in a terminal to be asked, or add --yes');
});

test('finds a log group with the Tagging API and reads it', async () => {
  const r = await bin(['logs', 'api', '-n', '5']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('kehilla-api listening on :9000');
  const tagged = requests.find((q) => q.target.endsWith('.GetResources'))!;
  expect(JSON.parse(tagged.body)).toEqual({ TagFilters: [{ Key: 'shtetl:service', Values: ['kehilla'] }], ResourceTypeFilters: ['logs:log-group'] });
  expect(JSON.parse(requests[requests.length - 1].body)).toMatchObject({ logGroupName: 'KehillaProdCompute-HostApiLogs-X1' });
});

test('usage errors exit 2 without calling AWS', async () => {
  const before = requests.length;
  const r = await bin(['logs', 'nginx']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('Unknown unit "nginx"');
  expect(requests.length).toBe(before);
});
