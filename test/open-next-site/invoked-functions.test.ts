import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { Stack } from 'aws-cdk-lib';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeAws } from './fake-aws';
import { fixtureOpenNextPath } from './fixture';
import { functionUrlEvent } from './function-url-event';
import { answerDeploymentCalls, runImageBundleOnThisCpu, synthesizeSiteAgainstFakeAws, SITE_NAMES, siteDeploymentEvent, siteStandInNames } from './invoke-real-bundle';
import { deployedFunction, HandlerCrash, runHandler } from './lambda-runner';
import { OpenNextSite } from '../../src';
import { onEvent } from '../../src/constructs/open-next-site/site-deployment.lambda';

/**
 * Every function that something the construct deploys invokes, run from its real bundle (the
 * staged asset of the synthesized template) with the event that the caller sends and the
 * environment in the template; the AWS SDK calls inside go to FakeAws.
 */
const NAMES = SITE_NAMES;

let outdir: string;
let site: OpenNextSite;
let stack: Stack;
let fake: FakeAws;
const fn = (f: any) => deployedFunction(stack, outdir, f, siteStandInNames(stack, site));

beforeAll(async () => {
  ({ outdir, stack, site, fake } = await synthesizeSiteAgainstFakeAws('Site', fixtureOpenNextPath(), 2));
});
afterAll(async () => {
  await fake.stop();
  rmSync(outdir, { recursive: true, force: true });
});

describe('tag cache seed (initialization function), invoked by the SiteDeployment custom resource', () => {
  const s3 = mockClient(S3Client);
  const cloudfront = mockClient(CloudFrontClient);
  const lambda = mockClient(LambdaClient);
  afterAll(() => { s3.restore(); cloudfront.restore(); lambda.restore(); });

  const cfnEvent = (requestType: 'Create' | 'Update', seed: string) =>
    siteDeploymentEvent(requestType, { buildId: site.buildId, assetsBucket: NAMES.assets, cacheBucket: NAMES.cache, seedFunction: seed });

  test('the real dynamodb-provider bundle answers the construct\'s event and writes every tag of the build', async () => {
    const seed = fn(site.node.findChild('TagCacheSeedFunction'));
    const invoked: string[] = [];
    answerDeploymentCalls({ s3, cloudfront, lambda }, seed, fake.env(), invoked);

    for (const requestType of ['Create', 'Update'] as const) {
      fake.tables.clear();
      const result = await onEvent(cfnEvent(requestType, 'seed-fn'), new Date());
      expect(result?.seeded).toBe(true);
      const expected = JSON.parse(readFileSync(join(seed.dir, 'dynamodb-cache.json'), 'utf8'));
      expect(expected.length).toBeGreaterThan(0);
      const items = fake.tables.get(NAMES.table) ?? [];
      expect(items).toHaveLength(expected.length);
      expect(items.map((i) => `${i.tag.S} ${i.path.S}`).sort()).toEqual(expected.map((i: any) => `${i.tag.S} ${i.path.S}`).sort());
    }
    expect(invoked).toEqual(['seed-fn {"requestType":"create"}', 'seed-fn {"requestType":"update"}']);
  });

  test('an event with a "type" key (the earlier shape) is taken for a warmer ping and kills the 4.x bundle', async () => {
    const seed = fn(site.node.findChild('TagCacheSeedFunction'));
    await expect(runHandler(seed, [{ type: 'initializationFunction', requestType: 'create' }], fake.env()))
      .rejects.toThrow(HandlerCrash);
    await expect(runHandler(seed, [{ type: 'initializationFunction', requestType: 'create' }], fake.env()))
      .rejects.toThrow(/serverId is not defined/);
  });

  test('the custom resource refuses an answer that is not the initializer\'s (e.g. a warmer reply)', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: Buffer.from('{"serverId":"x","type":"warmer"}') as any });
    await expect(onEvent(cfnEvent('Create', 'seed-fn'), new Date())).rejects.toThrow(/not OpenNext's initialization result/);
  });
});

describe('warmer, invoked by its EventBridge schedule, invokes the real server bundle', () => {
  test('each of warmerConcurrency server instances answers the warmer\'s event', async () => {
    const warmer = fn(site.node.findChild('WarmerFunction'));
    const server = fn(site.serverFunction);
    const serverPayloads: any[] = [];
    fake.onInvoke = async (name, payload) => {
      expect(name).toBe(NAMES.server);
      serverPayloads.push(JSON.parse(payload));
      const run = await runHandler(server, [JSON.parse(payload)], fake.env());
      return { payload: JSON.stringify(run.results[0].result) };
    };
    const scheduled = {
      'version': '0',
      'id': 'e1',
      'detail-type': 'Scheduled Event',
      'source': 'aws.events',
      'account': '111111111111',
      'time': new Date().toISOString(),
      'region': 'eu-west-1',
      'resources': ['arn:aws:events:eu-west-1:111111111111:rule/warm'],
      'detail': {},
    };
    const run = await runHandler(warmer, [scheduled], fake.env());
    expect(run.results[0].error).toBeUndefined();
    expect(serverPayloads).toHaveLength(2);
    for (const p of serverPayloads) expect(p).toMatchObject({ type: 'warmer', concurrency: 2 });
  }, 120_000);
});

describe('server function through its public Function URL: only requests with a live origin-verify value reach Next.js', () => {
  const page = (headers: Record<string, string> = {}) => functionUrlEvent('GET', '/dynamic', '', { accept: 'text/html', ...headers });
  const statuses = async (events: unknown[], env: Record<string, string> = {}) => {
    const run = await runHandler(fn(site.serverFunction), events, { ...fake.env(), ...env });
    return run.results.map((r) => r.error ? `error ${r.error.message}` : r.result.statusCode);
  };

  test('the current value passes (the page renders); none, a wrong or an empty value gets 403 without Next.js', async () => {
    const run = await runHandler(fn(site.serverFunction), [
      page({ 'x-origin-verify': 'current-value' }), page(), page({ 'x-origin-verify': 'current-valuf' }), page({ 'x-origin-verify': '' }),
    ], fake.env());
    const [ok, none, wrong, empty] = run.results.map((r) => r.result);
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain('<h1>Dynamic page</h1>');
    for (const refused of [none, wrong, empty]) {
      expect(refused.statusCode).toBe(403);
      expect(refused.body).toMatch(/^Forbidden: this origin only answers requests from its CloudFront distribution/);
      expect(refused.headers['cache-control']).toBe('no-store');
    }
  }, 60_000);

  test('during a rotation: AWSPENDING is accepted, AWSPREVIOUS only within the grace period after AWSCURRENT changed', async () => {
    fake.secrets.set(NAMES.secret, { AWSCURRENT: 'new-value', AWSPENDING: 'next-value', AWSPREVIOUS: 'old-value', currentCreated: new Date() });
    expect(await statuses([page({ 'x-origin-verify': 'new-value' }), page({ 'x-origin-verify': 'next-value' }), page({ 'x-origin-verify': 'old-value' })]))
      .toEqual([200, 200, 200]);
    fake.secrets.set(NAMES.secret, { AWSCURRENT: 'new-value', AWSPREVIOUS: 'old-value', currentCreated: new Date(Date.now() - 2 * 3600_000) });
    expect(await statuses([page({ 'x-origin-verify': 'old-value' }), page({ 'x-origin-verify': 'new-value' })])).toEqual([403, 200]);
    fake.secrets.set(NAMES.secret, { AWSCURRENT: 'current-value', currentCreated: new Date() });
  }, 60_000);

  test('a value rotated in while an instance has the old ones cached is accepted after one re-read', async () => {
    const server = fn(site.serverFunction);
    const before = fake.calls.filter((c) => c.startsWith('secretsmanager:')).length;
    // The first request loads the values (3 reads: AWSCURRENT, AWSPENDING, AWSPREVIOUS); then
    // the secret rotates behind the warm instance's back.
    let firstRead = -1;
    fake.onSecretRead = (count) => {
      if (firstRead < 0) firstRead = count;
      if (count === firstRead + 2) fake.secrets.set(NAMES.secret, { AWSCURRENT: 'rotated-value', AWSPREVIOUS: 'current-value', currentCreated: new Date() });
    };
    try {
      const run = await runHandler(server, [page({ 'x-origin-verify': 'current-value' }), page({ 'x-origin-verify': 'rotated-value' }), page({ 'x-origin-verify': 'current-value' })],
        { ...fake.env(), ORIGIN_VERIFY_MIN_REFRESH_SECONDS: '0' });
      expect(run.results.map((r) => r.result.statusCode)).toEqual([200, 200, 200]);
      // One load at the first request, one re-read for the unknown value; the third is cached.
      expect(fake.calls.filter((c) => c.startsWith('secretsmanager:')).length - before).toBe(6);
    } finally {
      fake.onSecretRead = undefined;
      fake.secrets.set(NAMES.secret, { AWSCURRENT: 'current-value', currentCreated: new Date() });
    }
  }, 60_000);

  test('Secrets Manager unavailable: 503, fail closed', async () => {
    fake.secretsOutage = 'boom';
    try {
      expect(await statuses([page({ 'x-origin-verify': 'current-value' })])).toEqual([503]);
    } finally {
      fake.secretsOutage = undefined;
    }
  }, 60_000);
});

describe('image optimisation, invoked through its Function URL', () => {
  test('reads the source image from the assets bucket and answers with a resized WebP', async () => {
    const image = fn(site.imageFunction);
    const logo = readFileSync(join(fixtureOpenNextPath(), 'assets', 'images', 'logo.png'));
    fake.objects.set(`${NAMES.assets}/_assets/images/logo.png`, { body: logo, contentType: 'image/png' });
    const event = functionUrlEvent('GET', '/_next/image', 'url=%2Fimages%2Flogo.png&w=64&q=75', { accept: 'image/avif,image/webp,*/*' });
    const run = await runImageBundleOnThisCpu(image, join(fixtureOpenNextPath(), '..'), [event], fake.env());
    const res = run.results[0].result;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/webp');
    const body = Buffer.from(res.body, res.isBase64Encoded ? 'base64' : 'utf8');
    expect(body.subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(body.subarray(8, 12).toString('latin1')).toBe('WEBP');
    expect(fake.calls).toContain(`s3:GET:${NAMES.assets}/_assets/images/logo.png`);
  }, 120_000);
});
