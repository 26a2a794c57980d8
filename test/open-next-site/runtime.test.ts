import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cloudFrontFunction, viewerRequestEvent } from './cloudfront-function';
import { fixtureOpenNextPath } from './fixture';
import { viewerRequestFunctionCode } from '../../src/constructs/open-next-site/viewer-request';

const run = promisify(execFile);
const SRC = join(__dirname, '..', '..', 'src', 'constructs', 'open-next-site');

interface Invocation { importMs: number; results: { path: string; ms: number; statusCode: number; headers: Record<string, string>; body: string }[] }

describe('the built server function, invoked like Lambda with a Function URL event', () => {
  let out: Invocation;
  beforeAll(async () => {
    const dir = join(fixtureOpenNextPath(), 'server-functions', 'default');
    const { stdout } = await run(process.execPath, [join(__dirname, 'invoke-server.mjs'), dir, '/dynamic', '/', '/does-not-exist'], { maxBuffer: 64 * 1024 * 1024 });
    out = JSON.parse(stdout);
  });

  test('renders the dynamic page per request, with the viewer host from x-forwarded-host', () => {
    const dynamic = out.results[0];
    expect(dynamic.statusCode).toBe(200);
    expect(dynamic.headers['content-type']).toMatch(/^text\/html/);
    expect(dynamic.headers['cache-control']).toMatch(/no-store/);
    expect(dynamic.body).toContain('<h1>Dynamic page</h1>');
    expect(dynamic.body).toMatch(/host=(<!-- -->)?zmanim\.example\.com/);
  });

  test('serves the prerendered static page with a CDN-cacheable Cache-Control', () => {
    const home = out.results[1];
    expect(home.statusCode).toBe(200);
    expect(home.body).toContain('Static home page');
    expect(home.headers['cache-control']).toMatch(/s-maxage=\d+/);
    // next/image points at the optimiser behaviour, with the query string that keys its cache.
    expect(home.body).toMatch(/\/_next\/image\?url=%2Fimages%2Flogo\.png&amp;w=\d+&amp;q=75/);
  });

  test('answers an unknown path with 404', () => {
    expect(out.results[2].statusCode).toBe(404);
  });
});

describe('the viewer-request CloudFront Function, executed on sample viewer-request events', () => {
  const store = new Map([['origin-verify', 'current-value-from-the-store']]);
  const handler = cloudFrontFunction(viewerRequestFunctionCode('kvs-id', 'x-origin-verify', 'origin-verify'), store);

  test('copies the viewer Host into x-forwarded-host, adds the origin-verify value and keeps the rest', async () => {
    const request = await handler(viewerRequestEvent('GET', '/dynamic', { host: 'zmanim.shtetl.io', accept: 'text/html' }, { a: '1' }));
    expect(request.headers['x-forwarded-host']).toEqual({ value: 'zmanim.shtetl.io' });
    expect(request.headers['x-origin-verify']).toEqual({ value: 'current-value-from-the-store' });
    expect(request.headers.host).toEqual({ value: 'zmanim.shtetl.io' });
    expect(request.headers.accept).toEqual({ value: 'text/html' });
    expect(request.uri).toBe('/dynamic');
    expect(request.querystring).toEqual({ a: { value: '1' } });
  });

  test('overwrites a spoofed x-forwarded-host and a viewer\'s own origin-verify header', async () => {
    const request = await handler(viewerRequestEvent('POST', '/', { 'host': 'zmanim.shtetl.io', 'x-forwarded-host': 'evil.example', 'x-origin-verify': 'guess' }));
    expect(request.headers['x-forwarded-host']).toEqual({ value: 'zmanim.shtetl.io' });
    expect(request.headers['x-origin-verify']).toEqual({ value: 'current-value-from-the-store' });
  });

  test('drops x-forwarded-host when there is no Host', async () => {
    const request = await handler(viewerRequestEvent('GET', '/', { 'x-forwarded-host': 'evil.example' }));
    expect(request.headers['x-forwarded-host']).toBeUndefined();
  });

  test('an empty store (not yet rotated) fails closed: the viewer\'s header is dropped, none added', async () => {
    const empty = cloudFrontFunction(viewerRequestFunctionCode('kvs-id', 'x-origin-verify', 'origin-verify'), new Map());
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const request = await empty(viewerRequestEvent('GET', '/', { 'host': 'a.example', 'x-origin-verify': 'guess' }));
    log.mockRestore();
    expect(request.headers['x-origin-verify']).toBeUndefined();
  });
});

describe('ssm-env layer: secrets from SSM into process.env before the handler', () => {
  let server: Server;
  let endpoint: string;
  const requests: { target: string; body: any }[] = [];
  const store: Record<string, string> = { '/zmanim/test/clerk-secret-key': 'sk_test_value_from_ssm', '/zmanim/test/other': 'v2' };

  beforeAll(async () => {
    // A stand-in for the SSM endpoint (JSON 1.1 protocol), so the real SDK call runs.
    server = createServer((req: IncomingMessage, res) => {
      let raw = '';
      req.on('data', (c) => { raw += c; });
      req.on('end', () => {
        const body = JSON.parse(raw);
        requests.push({ target: String(req.headers['x-amz-target']), body });
        const names: string[] = body.Names;
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        res.end(JSON.stringify({
          Parameters: names.filter((n) => n in store).map((n) => ({ Name: n, Type: 'SecureString', Value: store[n] })),
          InvalidParameters: names.filter((n) => !(n in store)),
        }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const runWithLayer = (parameters: string) => run(process.execPath, [
    '--import', join(SRC, 'ssm-env-layer', 'ssm-env.mjs'),
    '-e', 'console.log(JSON.stringify({ clerk: process.env.CLERK_SECRET_KEY, other: process.env.OTHER }))',
  ], {
    env: {
      PATH: process.env.PATH,
      NODE_PATH: join(__dirname, '..', '..', 'node_modules'),
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL_SSM: endpoint,
      SSM_ENV_PARAMETERS: parameters,
    },
  });

  test('sets each variable from its parameter, decrypted, in one GetParameters call', async () => {
    const { stdout } = await runWithLayer('CLERK_SECRET_KEY=/zmanim/test/clerk-secret-key,OTHER=/zmanim/test/other');
    expect(JSON.parse(stdout)).toEqual({ clerk: 'sk_test_value_from_ssm', other: 'v2' });
    const call = requests[requests.length - 1];
    expect(call.target).toBe('AmazonSSM.GetParameters');
    expect(call.body).toEqual({ Names: ['/zmanim/test/clerk-secret-key', '/zmanim/test/other'], WithDecryption: true });
  });

  test('a missing parameter fails the cold start, naming it', async () => {
    await expect(runWithLayer('CLERK_SECRET_KEY=/zmanim/test/missing')).rejects.toThrow(/SSM parameter\(s\) not found: \/zmanim\/test\/missing/);
  });

  test('a malformed SSM_ENV_PARAMETERS entry fails with the expected format', async () => {
    await expect(runWithLayer('CLERK_SECRET_KEY')).rejects.toThrow(/is not ENV_NAME=\/parameter\/name/);
  });

  test('does nothing (no SSM call) without parameters', async () => {
    const before = requests.length;
    const { stdout } = await runWithLayer('');
    expect(JSON.parse(stdout)).toEqual({});
    expect(requests.length).toBe(before);
  });
});

describe('origin-verify handler with a response-streaming server (aws-lambda-streaming wrapper)', () => {
  // The Lambda runtime's streaming API as the Node.js runtime provides it: streamifyResponse
  // marks the handler, HttpResponseStream.from writes the status and headers first.
  const runtime = `
    import { register } from 'node:module';
    import { join } from 'node:path';
    import { pathToFileURL } from 'node:url';
    // The runtime provides the AWS SDK (resolved from RUNTIME_NODE_MODULES, as in run-handler.mjs).
    const parent = pathToFileURL(join(process.env.RUNTIME_NODE_MODULES, 'noop.js')).href;
    register('data:text/javascript,' + encodeURIComponent(
      'export async function resolve(s, c, next) { try { return await next(s, c); } catch (e) {' +
      ' if (!s.startsWith("@aws-sdk/") && !s.startsWith("@smithy/")) throw e; return next(s, { ...c, parentURL: ' + JSON.stringify(parent) + ' }); } }'));
    globalThis.awslambda = {
      streamifyResponse(fn) { fn[Symbol.for('aws.lambda.runtime.handler.streaming')] = 'response'; return fn; },
      HttpResponseStream: { from(stream, prelude) { stream.prelude = prelude; return stream; } },
    };`;
  const inner = 'export const handler = awslambda.streamifyResponse(async (event, stream) => { stream.write(\'inner saw \' + event.rawPath + \' verify=\' + (event.headers[\'x-origin-verify\'] ?? \'none\')); stream.end(); });';
  const caller = (headers: string) => `
    const { handler } = await import(process.argv[1] + '/shtetl-origin-verify.mjs');
    const chunks = [];
    const stream = { write: (c) => chunks.push(String(c)), end: (c) => { if (c) chunks.push(String(c)); } };
    await handler({ rawPath: '/x', headers: ${headers}, requestContext: { http: { method: 'POST' } } }, stream, {});
    console.log(JSON.stringify({ streaming: handler[Symbol.for('aws.lambda.runtime.handler.streaming')], prelude: stream.prelude ?? null, body: chunks.join('') }));`;
  let server: Server;
  let dir: string;
  let endpoint: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'verify-stream-'));
    copyFileSync(join(SRC, 'origin-verify-handler.mjs'), join(dir, 'shtetl-origin-verify.mjs'));
    writeFileSync(join(dir, 'index.mjs'), inner);
    writeFileSync(join(dir, 'runtime.mjs'), runtime);
    server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => { raw += c; });
      req.on('end', () => {
        const stage = JSON.parse(raw).VersionStage;
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        if (stage !== 'AWSCURRENT') {
          res.statusCode = 400;
          res.end(JSON.stringify({ __type: 'ResourceNotFoundException', message: 'none' }));
          return;
        }
        res.end(JSON.stringify({ SecretString: 'live-value', CreatedDate: Date.now() / 1000 }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const call = async (headers: string) => JSON.parse((await run(process.execPath, ['--import', join(dir, 'runtime.mjs'), '--input-type=module', '-e', caller(headers), dir], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      NODE_PATH: join(__dirname, '..', '..', 'node_modules'),
      LAMBDA_TASK_ROOT: dir,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL: endpoint,
      ORIGIN_VERIFY_SECRET_ID: 'secret',
      ORIGIN_VERIFY_HANDLER: 'index.handler',
      RUNTIME_NODE_MODULES: join(__dirname, '..', '..', 'node_modules'),
    },
  })).stdout);

  test('stays a streaming handler; a live value streams the inner answer without the header, others get 403 on the stream', async () => {
    const ok = await call("{ 'x-origin-verify': 'live-value' }");
    expect(ok).toEqual({ streaming: 'response', prelude: null, body: 'inner saw /x verify=none' });
    const refused = await call("{ 'x-origin-verify': 'guess' }");
    expect(refused.streaming).toBe('response');
    expect(refused.prelude).toEqual({ statusCode: 403, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
    expect(refused.body).toMatch(/^Forbidden/);
  });
});

