// What the origin-verify check costs the server function, measured on the full fixture's
// real server bundle in warm local instances (the same machine, the same requests):
//   npx ts-node --transpile-only bench/site-origin-verify.ts [--requests 300]
// Prints: the median and p95 time of GET /api/echo through the wrapper and straight into
// OpenNext's handler, the time to refuse a request without the value, and the largest body
// a Function URL request can carry (Lambda's 6 MB invocation payload, base64 for binary).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { OpenNextSite } from '../src';
import { ensureNextFixture, FULL_FIXTURE_SITE_DIR } from '../src/zmanim/prepare-assets';
import { FakeAws } from '../test/open-next-site/fake-aws';
import { deployedFunction, LambdaInstance } from '../test/open-next-site/lambda-runner';

const arg = process.argv.indexOf('--requests');
const requests = arg > 0 ? Number(process.argv[arg + 1]) : 300;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
const print = (name: string, value: number, unit: string, digits = 2) => console.log(`${name}: ${value.toFixed(digits)} ${unit}`);

function event(headers: Record<string, string>, body?: Buffer) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/api/echo',
    rawQueryString: 'x=1',
    headers: { 'host': 'abc.lambda-url.eu-west-1.on.aws', 'x-forwarded-host': 'site.test', 'x-forwarded-proto': 'https', 'accept': '*/*', 'user-agent': 'bench', ...headers },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc',
      domainName: 'abc.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abc',
      http: { method: body ? 'POST' : 'GET', path: '/api/echo', protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'bench' },
      requestId: 'r',
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body ? { body: body.toString('base64'), isBase64Encoded: true } : { isBase64Encoded: false }),
  };
}

async function main() {
  const openNextPath = ensureNextFixture(join(__dirname, '..', FULL_FIXTURE_SITE_DIR));
  const outdir = mkdtempSync(join(tmpdir(), 'bench-verify-'));
  const fake = new FakeAws();
  await fake.start();
  const instances: LambdaInstance[] = [];
  try {
    const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'Bench', { env: { account: '111111111111', region: 'eu-west-1' } });
    const site = new OpenNextSite(stack, 'Web', { openNextPath });
    app.synth();
    const secretId = stack.getLogicalId(site.originVerifySecret.node.defaultChild as any);
    fake.secrets.set('secret', { AWSCURRENT: 'current-value', currentCreated: new Date() });
    // /api/echo lives in the fixture's split "api" function.
    const wrapped = deployedFunction(stack, outdir, site.splitServerFunctions.api ?? site.serverFunction, { [secretId]: 'secret' });
    const inner = { ...wrapped, handler: wrapped.environment.ORIGIN_VERIFY_HANDLER };
    const viaWrapper = new LambdaInstance(wrapped, fake.env());
    const direct = new LambdaInstance(inner, fake.env());
    instances.push(viaWrapper, direct);
    const ok = event({ 'x-origin-verify': 'current-value' });
    // Warm both (module loading, first render, the secret's first read).
    for (let i = 0; i < 20; i++) { await viaWrapper.invoke(ok); await direct.invoke(ok); }
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < requests; i++) {
      const x = await viaWrapper.invoke(ok);
      const y = await direct.invoke(ok);
      if (x.result?.statusCode !== 200 || y.result?.statusCode !== 200) throw new Error(`unexpected answer ${JSON.stringify(x.result ?? x.error)}`);
      a.push(x.ms);
      b.push(y.ms);
    }
    print('echo_via_origin_verify_median', quantile(a, 0.5), 'ms');
    print('echo_direct_median', quantile(b, 0.5), 'ms');
    print('origin_verify_added_median', quantile(a, 0.5) - quantile(b, 0.5), 'ms');
    print('echo_via_origin_verify_p95', quantile(a, 0.95), 'ms');
    print('echo_direct_p95', quantile(b, 0.95), 'ms');
    const refused: number[] = [];
    for (let i = 0; i < requests; i++) {
      const r = await viaWrapper.invoke(event({ 'x-origin-verify': `wrong-${i}` }));
      if (r.result?.statusCode !== 403) throw new Error('a wrong value was not refused');
      refused.push(r.ms);
    }
    print('refusal_median', quantile(refused, 0.5), 'ms');
    const reads = fake.calls.filter((c) => c.startsWith('secretsmanager:')).length;
    console.log(`secrets_manager_reads_total: ${reads} (for ${2 * requests + 20} verified or refused requests)`);
    // Lambda's invocation payload limit (6 MB) holds the whole event; binary bodies are base64.
    const overhead = JSON.stringify(event({ 'x-origin-verify': 'current-value', 'content-type': 'multipart/form-data; boundary=x' }, Buffer.alloc(0))).length;
    const limit = 6 * 1024 * 1024;
    print('max_binary_body', Math.floor((limit - overhead) * 3 / 4) / 1e6, 'MB (decimal)');
    print('max_text_body', (limit - overhead) / 1e6, 'MB (decimal)');
  } finally {
    for (const i of instances) i.stop();
    await fake.stop();
    rmSync(outdir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
