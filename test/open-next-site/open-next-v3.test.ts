import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { Stack } from 'aws-cdk-lib';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeAws } from './fake-aws';
import { v3FixtureOpenNextPath } from './fixture';
import { functionUrlEvent } from './function-url-event';
import { answerDeploymentCalls, runImageBundleOnThisCpu, synthesizeSiteAgainstFakeAws, SITE_NAMES, siteDeploymentEvent, siteStandInNames } from './invoke-real-bundle';
import { deployedFunction, HandlerCrash, runHandler } from './lambda-runner';
import { OpenNextSite } from '../../src';
import { onEvent } from '../../src/constructs/open-next-site/site-deployment.lambda';

/**
 * OpenNextSite with a build of `@opennextjs/aws` 3.x (test/fixtures/nextjs-v3): the construct
 * accepts its output, and the functions it invokes answer from the real 3.x bundles (staged
 * assets of the synthesized template) with the construct's events; AWS calls go to FakeAws.
 */
const NAMES = SITE_NAMES;

let openNextPath: string;
let outdir: string;
let site: OpenNextSite;
let stack: Stack;
let fake: FakeAws;
const fn = (f: any) => deployedFunction(stack, outdir, f, siteStandInNames(stack, site));

beforeAll(async () => {
  openNextPath = v3FixtureOpenNextPath();
  ({ outdir, stack, site, fake } = await synthesizeSiteAgainstFakeAws('SiteV3', openNextPath, 1));
}, 300_000);
afterAll(async () => {
  await fake?.stop();
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

test('the fixture is an OpenNext 3.x build, and the construct deploys every function its output lists', () => {
  const installed = JSON.parse(readFileSync(join(openNextPath, '..', 'node_modules', '@opennextjs', 'aws', 'package.json'), 'utf8'));
  expect(installed.version).toMatch(/^3\./);
  expect(site.buildId).toBe('opennext-site-fixture-v3');
  expect(site.tagCacheTable).toBeDefined();
  expect(site.revalidationQueue).toBeDefined();
  expect(site.revalidationFunction).toBeDefined();
  expect(site.imageFunction).toBeDefined();
  for (const id of ['TagCacheSeedFunction', 'WarmerFunction']) expect(site.node.tryFindChild(id)).toBeDefined();
});

describe('tag cache seed: the SiteDeployment custom resource invokes the real 3.x dynamodb-provider bundle', () => {
  const s3 = mockClient(S3Client);
  const cloudfront = mockClient(CloudFrontClient);
  const lambda = mockClient(LambdaClient);
  afterAll(() => { s3.restore(); cloudfront.restore(); lambda.restore(); });

  const cfnEvent = (requestType: 'Create' | 'Update') =>
    siteDeploymentEvent(requestType, { buildId: site.buildId, assetsBucket: NAMES.assets, cacheBucket: NAMES.cache, seedFunction: 'seed-fn' });

  test('on create and update it answers the construct\'s event and writes every entry of dynamodb-cache.json', async () => {
    const seed = fn(site.node.findChild('TagCacheSeedFunction'));
    const expected = JSON.parse(readFileSync(join(seed.dir, 'dynamodb-cache.json'), 'utf8'));
    // The fixture's explicit tag (unstable_cache) is in the build's seed, beside the implicit ones.
    expect(expected.map((i: any) => i.tag.S)).toContain('opennext-site-fixture-v3/greeting');
    const invoked: string[] = [];
    answerDeploymentCalls({ s3, cloudfront, lambda }, seed, fake.env(), invoked);

    for (const requestType of ['Create', 'Update'] as const) {
      fake.tables.clear();
      const result = await onEvent(cfnEvent(requestType), new Date());
      expect(result?.seeded).toBe(true);
      const items = fake.tables.get(NAMES.table) ?? [];
      expect(items).toHaveLength(expected.length);
      expect(items.map((i) => `${i.tag.S} ${i.path.S} ${i.revalidatedAt.N}`).sort())
        .toEqual(expected.map((i: any) => `${i.tag.S} ${i.path.S} ${i.revalidatedAt.N}`).sort());
    }
    expect(invoked).toEqual(['seed-fn {"requestType":"create"}', 'seed-fn {"requestType":"update"}']);
  }, 120_000);

  test('3.x, like 4.x, takes an event with a "type" key for a warmer ping and dies: the construct\'s event has none', async () => {
    const seed = fn(site.node.findChild('TagCacheSeedFunction'));
    const crash = runHandler(seed, [{ type: 'initializationFunction', requestType: 'create' }], fake.env());
    await expect(crash).rejects.toThrow(HandlerCrash);
    await expect(crash).rejects.toThrow(/serverId is not defined/);
  }, 60_000);
});

test('the real 3.x server bundle, behind the construct\'s origin-verify wrapper, renders a page for CloudFront and refuses a direct request', async () => {
  const page = (headers: Record<string, string> = {}) => functionUrlEvent('GET', '/', '', { accept: 'text/html', ...headers });
  const run = await runHandler(fn(site.serverFunction), [page({ 'x-origin-verify': 'current-value' }), page()], fake.env());
  const [ok, direct] = run.results.map((r) => r.result);
  expect(ok.statusCode).toBe(200);
  expect(ok.body).toContain('<h1>OpenNext 3.x fixture</h1>');
  expect(direct.statusCode).toBe(403);
  expect(direct.body).toMatch(/^Forbidden: this origin only answers requests from its CloudFront distribution/);
}, 120_000);

test('the real 3.x warmer, on its schedule, invokes the server function, and the 3.x server answers its event', async () => {
  const server = fn(site.serverFunction);
  const payloads: any[] = [];
  const answers: any[] = [];
  fake.onInvoke = async (name, payload) => {
    expect(name).toBe(NAMES.server);
    payloads.push(JSON.parse(payload));
    const run = await runHandler(server, [JSON.parse(payload)], fake.env());
    answers.push(run.results[0].result);
    return { payload: JSON.stringify(run.results[0].result) };
  };
  const scheduled = { 'version': '0', 'id': 'e1', 'detail-type': 'Scheduled Event', 'source': 'aws.events', 'account': '111111111111', 'time': new Date().toISOString(), 'region': 'eu-west-1', 'resources': [], 'detail': {} };
  const run = await runHandler(fn(site.node.findChild('WarmerFunction')), [scheduled], fake.env());
  expect(run.results[0].error).toBeUndefined();
  expect(payloads).toHaveLength(1);
  expect(payloads[0]).toMatchObject({ type: 'warmer', concurrency: 1 });
  expect(answers[0]).toMatchObject({ type: 'warmer', serverId: expect.any(String) });
}, 120_000);

test('the real 3.x image bundle reads the source image from the assets bucket and answers with a resized WebP', async () => {
  fake.objects.set(`${NAMES.assets}/_assets/images/logo.png`, { body: readFileSync(join(openNextPath, 'assets', 'images', 'logo.png')), contentType: 'image/png' });
  const event = functionUrlEvent('GET', '/_next/image', 'url=%2Fimages%2Flogo.png&w=64&q=75', { accept: 'image/avif,image/webp,*/*' });
  const run = await runImageBundleOnThisCpu(fn(site.imageFunction), join(openNextPath, '..'), [event], fake.env());
  const res = run.results[0].result;
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('image/webp');
  const body = Buffer.from(res.body, res.isBase64Encoded ? 'base64' : 'utf8');
  expect(body.subarray(8, 12).toString('latin1')).toBe('WEBP');
  expect(fake.calls).toContain(`s3:GET:${NAMES.assets}/_assets/images/logo.png`);
}, 120_000);
