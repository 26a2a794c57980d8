import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { CloudFrontHarness, HarnessResponse } from './cloudfront-harness';
import { FakeAws } from './fake-aws';
import { deployedFunction, runHandler } from './lambda-runner';
import { OpenNextSite } from '../../src';
import { tagCacheSeedEvent } from '../../src/constructs/open-next-site/site-deployment.lambda';
import { ensureNextFixture, FULL_FIXTURE_SITE_DIR } from '../../src/zmanim/prepare-assets';

/**
 * The richer fixture app (App and Pages Router, middleware, ISR, a Server Action, route
 * handlers with bodies, i18n, public files, next/image), synthesized with OpenNextSite and
 * served through the local CloudFront harness: the template's behaviours, its viewer-request
 * function and origins, the real server, image and revalidation handlers. AWS APIs are FakeAws.
 */
jest.setTimeout(120_000);

const SECRET = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:origin-verify-AbCdEf';
const CACHE_BUCKET = 'full-site-cache';
const TABLE = 'full-site-tags';
const ASSETS_BUCKET = 'full-site-assets';
// The SQS client sends to the host of the queue URL: the queue lives on FakeAws.
let QUEUE: string;

let outdir: string;
let stack: Stack;
let site: OpenNextSite;
let fake: FakeAws;
let harness: CloudFrontHarness;
/** The viewer's Host (the site's domain); the harness listens on 127.0.0.1 for real requests to it. */
const host = 'site.test';
let listening: string;
let imageDir: string;
const id = (c: any) => stack.getLogicalId(c.node.defaultChild);

beforeAll(async () => {
  const openNextPath = ensureNextFixture(join(__dirname, '..', '..', FULL_FIXTURE_SITE_DIR), () => undefined);
  outdir = mkdtempSync(join(tmpdir(), 'open-next-full-'));
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  stack = new Stack(app, 'Full', { env: { account: '111111111111', region: 'eu-west-1' } });
  site = new OpenNextSite(stack, 'Web', { openNextPath });
  app.synth();

  fake = new FakeAws();
  await fake.start();
  fake.secrets.set(SECRET, { AWSCURRENT: 'current-value', currentCreated: new Date() });
  QUEUE = `${fake.url}/111111111111/full-site-revalidation.fifo`;
  harness = new CloudFrontHarness(stack, outdir, new Map([['origin-verify', 'current-value']]), {
    [id(site.originVerifySecret)]: SECRET,
    [id(site.cacheBucket)]: CACHE_BUCKET,
    [id(site.assetsBucket)]: ASSETS_BUCKET,
    [id(site.tagCacheTable)]: TABLE,
    [id(site.revalidationQueue)]: QUEUE,
  }, fake.env());
  // The prerendered ISR cache as the deployment uploads it, written long ago (stale).
  for (const [key, file] of harness.uploadedFiles(id(site.cacheBucket))) {
    fake.objects.set(`${CACHE_BUCKET}/${key}`, { body: readFileSync(file), modified: new Date(Date.now() - 86400_000) });
  }
  // The deployment seeds the tag cache: the real seed bundle with the custom resource's event.
  const seed = deployedFunction(stack, outdir, site.node.findChild('TagCacheSeedFunction') as any, { [id(site.tagCacheTable)]: TABLE });
  const seeded = await runHandler(seed, [tagCacheSeedEvent('create')], fake.env());
  expect(seeded.results[0].result.original).toMatchObject({ resourceId: 'dynamodb-cache' });
  expect(fake.tables.get(TABLE)!.length).toBeGreaterThan(0);
  // The assets bucket, which the image function reads its source images from.
  for (const [key, file] of harness.uploadedFiles(id(site.assetsBucket))) {
    fake.objects.set(`${ASSETS_BUCKET}/${key}`, { body: readFileSync(file) });
  }
  // The image bundle ships sharp for linux-arm64: run a copy with this CPU's sharp package.
  imageDir = mkdtempSync(join(tmpdir(), 'full-image-'));
  const staged = join(outdir, assetPathOf(id(site.imageFunction)));
  cpSync(staged, imageDir, { recursive: true });
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const img = join(openNextPath, '..', 'node_modules', '@img');
  for (const pkg of readdirSync(img).filter((p) => p.endsWith(`linux-${arch}`))) {
    if (!existsSync(join(imageDir, 'node_modules', '@img', pkg))) symlinkSync(join(img, pkg), join(imageDir, 'node_modules', '@img', pkg));
  }
  harness.codeOverrides.set(id(site.imageFunction), imageDir);
  listening = await harness.listen(selfSignedCertificate());
}, 600_000);

afterAll(async () => {
  if (process.env.HARNESS_LOGS) {
    for (const fnId of new Set(harness.originRequests.map((r) => r.functionId))) {
      writeFileSync(join(process.env.HARNESS_LOGS, `${fnId}.log`), harness.instance(fnId).logs);
    }
  }
  harness?.stop();
  await fake?.stop();
  rmSync(outdir, { recursive: true, force: true });
  rmSync(imageDir, { recursive: true, force: true });
});

function assetPathOf(logicalId: string): string {
  const template = JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8'));
  return template.Resources[logicalId].Metadata['aws:asset:path'];
}

function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'harness-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  rmSync(dir, { recursive: true, force: true });
  return tls;
}

const get = (path: string, headers: Record<string, string> = {}) => harness.fetch(host, path, { headers: { 'user-agent': 'jest', ...headers } });
const send = (method: string, path: string, body: Buffer | string, contentType: string, headers: Record<string, string> = {}) =>
  harness.fetch(host, path, { method, body, headers: { 'content-type': contentType, 'origin': `https://${host}`, ...headers } });

function multipart(fields: Record<string, string | { name: string; data: Buffer; type: string }>): { body: Buffer; type: string } {
  const boundary = '----harness' + 'x'.repeat(16);
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string') {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
    } else {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${value.name}"\r\nContent-Type: ${value.type}\r\n\r\n`));
      parts.push(value.data, Buffer.from('\r\n'));
    }
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), type: `multipart/form-data; boundary=${boundary}` };
}

describe('pages and public files', () => {
  let home: HarnessResponse;
  beforeAll(async () => { home = await get('/', { accept: 'text/html' }); });

  test('the home page (App Router, prerendered) comes from the server function, through the middleware', () => {
    expect(home.route).toEqual({ pattern: '*', origin: 'function' });
    expect(home.status).toBe(200);
    expect(home.text()).toContain('Full fixture home');
    expect(home.headers['x-middleware']).toBe('seen');
  });

  test('hashed chunks and public files come from S3 with their Cache-Control; a missing public file is 403', async () => {
    const chunk = /\/_next\/static\/[^"]+\.js/.exec(home.text())![0];
    const js = await get(chunk);
    expect(js.route).toEqual({ pattern: '/_next/static/*', origin: 's3' });
    expect(js.status).toBe(200);
    expect(js.headers['cache-control']).toBe('public,max-age=31536000,immutable');
    for (const [path, pattern, text] of [['/robots.txt', '/robots.txt', 'User-agent'], ['/docs/readme.txt', '/docs/*', 'public text file']]) {
      const r = await get(path);
      expect(r.route).toEqual({ pattern, origin: 's3' });
      expect(r.status).toBe(200);
      expect(r.text()).toContain(text);
      expect(r.headers['cache-control']).toBe('public,max-age=0,s-maxage=31536000,must-revalidate');
    }
    expect((await get('/favicon.ico')).status).toBe(200);
    expect((await get('/docs/missing.txt')).status).toBe(403);
  });

  test('next/image: the optimiser resizes the public logo to WebP', async () => {
    const src = /\/_next\/image\?url=%2Fimages%2Flogo\.png&amp;w=(\d+)&amp;q=75/.exec(home.text())!;
    const r = await get(`/_next/image?url=%2Fimages%2Flogo.png&w=${src[1]}&q=75`, { accept: 'image/avif,image/webp,*/*' });
    expect(r.route).toEqual({ pattern: '/_next/image*', origin: 'function' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/webp');
    expect(r.body.subarray(8, 12).toString('latin1')).toBe('WEBP');
  });

  test('a dynamic page sees the viewer host and never the origin-verify header', async () => {
    const r = await get('/dynamic', { accept: 'text/html' });
    expect(r.status).toBe(200);
    expect(r.text()).toMatch(new RegExp(`host=(<!-- -->)?${host.replace(/\./g, '\\.')}`));
    expect(r.text()).toMatch(/origin-verify-seen=(<!-- -->)?false/);
  });

  test('Pages Router with i18n: /hello and /he/hello; getStaticProps page', async () => {
    expect((await get('/hello')).text()).toMatch(/hello(<!-- -->)? locale=(<!-- -->)?en/);
    const he = await get('/he/hello');
    expect(he.status).toBe(200);
    expect(he.text()).toMatch(/shalom(<!-- -->)? locale=(<!-- -->)?he/);
    const sp = await get('/static-props');
    expect(sp.status).toBe(200);
    expect(sp.text()).toContain('static-props');
  });

  test('middleware: a redirect and a rewrite', async () => {
    const redirect = await get('/old-page');
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toMatch(/\/isr$/);
    const rewrite = await get('/rewritten', { accept: 'text/html' });
    expect(rewrite.status).toBe(200);
    expect(rewrite.text()).toContain('<h1>Dynamic page</h1>');
  });

  test('known limit of split builds: a middleware rewrite into another function\'s route is not served', async () => {
    // CloudFront picks the function by the viewer's path (/rewritten-to-api: default), and the
    // default function has no /api/echo route: Next.js answers 500.
    const r = await get('/rewritten-to-api');
    expect(r.route).toEqual({ pattern: '*', origin: 'function' });
    expect(r.status).toBe(500);
  });
});

describe('route handlers: every method, with bodies', () => {
  test('GET with a query, HEAD, OPTIONS, DELETE', async () => {
    const r = await get('/api/echo?x=1&y=two');
    expect(r.route).toEqual({ pattern: '/api/*', origin: 'function' });
    expect(r.json()).toEqual({ method: 'GET', contentType: '', query: { x: '1', y: 'two' }, host, originVerifySeen: false, body: null });
    const head = await harness.fetch(host, '/api/echo', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    const options = await harness.fetch(host, '/api/echo', { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.allow).toContain('PATCH');
    const del = await harness.fetch(host, '/api/echo', { method: 'DELETE' });
    expect(del.json()).toMatchObject({ method: 'DELETE' });
  });

  test('POST JSON, PUT bytes, PATCH urlencoded', async () => {
    const post = await send('POST', '/api/echo', JSON.stringify({ a: 1, b: ['x'] }), 'application/json');
    expect(post.status).toBe(200);
    expect(post.json()).toMatchObject({ method: 'POST', body: { a: 1, b: ['x'] }, originVerifySeen: false });
    const put = await send('PUT', '/api/echo', Buffer.alloc(300_000, 7), 'application/octet-stream');
    expect(put.json()).toMatchObject({ method: 'PUT', body: { bytes: 300_000 } });
    const patch = await send('PATCH', '/api/echo', 'name=Ada&lang=he', 'application/x-www-form-urlencoded');
    expect(patch.json()).toMatchObject({ method: 'PATCH', body: { name: 'Ada', lang: 'he' } });
  });

  test('POST multipart formData with a 1 MB file', async () => {
    const form = multipart({ title: 'upload', file: { name: 'a.bin', data: Buffer.alloc(1024 * 1024, 1), type: 'application/octet-stream' } });
    const r = await send('POST', '/api/echo', form.body, form.type);
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ body: { title: 'upload', file: { file: 'a.bin', size: 1024 * 1024 } } });
    // The Function URL event carries the body base64-encoded: its size against Lambda's 6 MB.
    const event = harness.originRequests[harness.originRequests.length - 1].event;
    expect(event.isBase64Encoded).toBe(true);
    expect(JSON.stringify(event).length).toBeLessThan(6 * 1024 * 1024);
  });
});

describe('a Server Action posted by the form (no JavaScript), with a file', () => {
  const actionForm = async () => {
    const page = await get('/actions', { accept: 'text/html' });
    expect(page.status).toBe(200);
    return /name="(\$ACTION_ID_[0-9a-f]+)"/.exec(page.text())![1];
  };

  test('runs the action and redirects with what it received (file just under 1 MB)', async () => {
    const actionField = await actionForm();
    const form = multipart({ [actionField]: '', name: 'Ada', file: { name: 'f.bin', data: Buffer.alloc(900_000, 2), type: 'application/octet-stream' } });
    const r = await send('POST', '/actions', form.body, form.type, { accept: 'text/html' });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/actions/done?name=Ada&bytes=900000');
    const done = await get(r.headers.location, { accept: 'text/html' });
    expect(done.text()).toMatch(/name=(<!-- -->)?Ada(<!-- -->)? bytes=(<!-- -->)?900000/);
  });

  test('a body over Next.js\'s 1 MB Server Action limit is refused by Next.js, not by the origin', async () => {
    const actionField = await actionForm();
    const form = multipart({ [actionField]: '', name: 'Big', file: { name: 'f.bin', data: Buffer.alloc(1_200_000, 3), type: 'application/octet-stream' } });
    const r = await send('POST', '/actions', form.body, form.type, { accept: 'text/html' });
    expect(r.route.origin).toBe('function');
    // Next.js 16 answers 500 (its error carries statusCode 413) and the action does not run.
    expect(r.status).toBe(500);
    expect(r.headers.location).toBeUndefined();
    expect(harness.instance(id(site.serverFunction)).logs).toContain('Body exceeded 1mb limit');
  });
});

describe('ISR: stale page, revalidation queue, revalidatePath and revalidateTag', () => {
  test('a stale prerendered page is served and queued; the revalidation function regenerates it through the distribution', async () => {
    const first = await get('/isr', { accept: 'text/html' });
    expect(first.status).toBe(200);
    expect(first.headers['x-nextjs-cache']).toBe('STALE');
    const message = fake.messages.find((m) => JSON.parse(m.body).url === '/isr');
    expect(message).toBeDefined();
    expect(message!.queueUrl).toBe(QUEUE);
    expect(JSON.parse(message!.body).host).toBe(host);
    // The SQS event source hands the message to the revalidation function (the real bundle),
    // which asks the site over HTTPS to regenerate the page.
    // Its request for https://site.test/isr reaches the harness (host-map.mjs plays DNS; the
    // harness's certificate is self-signed).
    const revalidation = harness.instance(id(site.revalidationFunction), {
      NODE_OPTIONS: `--import ${join(__dirname, 'host-map.mjs')}`, HOST_MAP: `${host}=${listening}`, NODE_TLS_REJECT_UNAUTHORIZED: '0',
    });
    const sqsEvent = { Records: [{ messageId: 'm1', receiptHandle: 'r', body: message!.body, attributes: { MessageGroupId: message!.groupId }, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:eu-west-1:111111111111:q.fifo', awsRegion: 'eu-west-1' }] };
    const answer = await revalidation.invoke(sqsEvent);
    expect(answer.error).toBeUndefined();
    // Nothing to retry: with reportBatchItemFailures the event source deletes the message.
    expect(answer.result).toEqual({ type: 'revalidate', batchItemFailures: [] });
    const after = await get('/isr', { accept: 'text/html' });
    expect(after.headers['x-nextjs-cache']).toBe('HIT');
    expect(/generated-at=(?:<!-- -->)?([^<]+)/.exec(after.text())![1]).not.toBe(/generated-at=(?:<!-- -->)?([^<]+)/.exec(first.text())![1]);
  });

  test('revalidatePath from a route handler: the tag cache marks the page and the next request regenerates it', async () => {
    const before = await get('/isr', { accept: 'text/html' });
    const r = await send('POST', '/api/revalidate', JSON.stringify({ path: '/isr' }), 'application/json');
    expect(r.json()).toEqual({ revalidated: true, path: '/isr', tag: null });
    expect(fake.calls.some((c) => c === 'dynamodb:BatchWriteItem' || c === 'dynamodb:PutItem')).toBe(true);
    const revalidated = (fake.tables.get(TABLE) ?? []).filter((i) => Number(i.revalidatedAt.N) > 1);
    expect(revalidated.map((i) => i.tag.S).join(' ')).toContain('/isr');
    const after = await get('/isr', { accept: 'text/html' });
    expect(/generated-at=(?:<!-- -->)?([^<]+)/.exec(after.text())![1]).not.toBe(/generated-at=(?:<!-- -->)?([^<]+)/.exec(before.text())![1]);
  });

  test('revalidateTag: the data cached under the tag is fetched again', async () => {
    const clock = async () => /clock=(?:<!-- -->)?([^<]+)/.exec((await get('/tagged', { accept: 'text/html' })).text())![1];
    const before = await clock();
    expect(await clock()).toBe(before);
    const r = await send('POST', '/api/revalidate', JSON.stringify({ tag: 'clock' }), 'application/json');
    expect(r.json()).toEqual({ revalidated: true, path: null, tag: 'clock' });
    expect((fake.tables.get(TABLE) ?? []).some((i) => String(i.tag.S).endsWith('clock') && Number(i.revalidatedAt.N) > 1)).toBe(true);
    let now = await clock();
    // A tag revalidation may serve the stale value once while regenerating.
    if (now === before) now = await clock();
    expect(now).not.toBe(before);
  });
});

describe('the Function URL called directly (not through CloudFront)', () => {
  test('GET and POST with a body get 403 from the origin-verify handler, before Next.js', async () => {
    const server = harness.instance(id(site.serverFunction));
    const direct = (method: string, body?: string, headers: Record<string, string> = {}) => server.invoke({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/api/echo',
      rawQueryString: '',
      headers: { 'host': 'abc.lambda-url.eu-west-1.on.aws', 'content-type': 'application/json', ...headers },
      requestContext: { http: { method, path: '/api/echo', protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'curl' }, domainName: 'abc.lambda-url.eu-west-1.on.aws' },
      body,
      isBase64Encoded: false,
    });
    for (const r of [await direct('GET'), await direct('POST', '{"a":1}'), await direct('POST', '{"a":1}', { 'x-origin-verify': 'guess' })]) {
      expect(r.result.statusCode).toBe(403);
      expect(r.result.body).toMatch(/^Forbidden/);
    }
  });
});

describe('split server functions (functions in open-next.config.ts) through the distribution', () => {
  // The fixture's open-next.config.ts puts the route handlers under /api/* into their own
  // function "api"; OpenNext's output lists its origin and the pattern api/*.
  test('/api/* reaches the api function, everything else the default one; both check the origin-verify value', async () => {
    expect(Object.keys(site.splitServerFunctions)).toEqual(['api']);
    const apiId = id(site.splitServerFunctions.api);
    const defaultId = id(site.serverFunction);
    expect(harness.functionOrigins()).toMatchObject({ '/api/*': apiId, '*': defaultId, '/_next/data/*': defaultId });
    expect(site.behaviors.slice(0, 3)).toEqual(['/_next/image*', '/api/*', '/_next/data/*']);
    const before = harness.originRequests.length;
    const post = await send('POST', '/api/echo?x=1', '{"split":true}', 'application/json');
    expect(post.route).toEqual({ pattern: '/api/*', origin: 'function' });
    expect(post.json()).toMatchObject({ method: 'POST', body: { split: true }, originVerifySeen: false });
    const page = await get('/dynamic', { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(harness.originRequests.slice(before).map((r) => r.functionId)).toEqual([apiId, defaultId]);
    // Without the value (a direct call, or an empty store) the split function refuses too.
    harness.keyValueStore.delete('origin-verify');
    try {
      expect((await get('/api/echo')).status).toBe(403);
    } finally {
      harness.keyValueStore.set('origin-verify', 'current-value');
    }
  });
});
