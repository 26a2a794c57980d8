import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { buildsToKeep, onEvent } from '../../src/constructs/open-next-site/site-deployment.lambda';

const s3 = mockClient(S3Client);
const cloudfront = mockClient(CloudFrontClient);
const lambda = mockClient(LambdaClient);

const NOW = new Date('2026-06-01T00:00:00Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86400_000);

/** An in-memory bucket pair behind the mocked S3 client. */
function fakeS3(objects: Record<string, { body?: string; modified: Date }>) {
  const store = new Map(Object.entries(objects));
  s3.on(GetObjectCommand).callsFake(({ Bucket, Key }) => {
    const o = store.get(`${Bucket}/${Key}`);
    if (!o) throw new NoSuchKey({ message: 'no such key', $metadata: {} });
    return { Body: { transformToString: async () => o.body ?? '' } };
  });
  s3.on(PutObjectCommand).callsFake(({ Bucket, Key, Body }) => { store.set(`${Bucket}/${Key}`, { body: String(Body), modified: NOW }); return {}; });
  s3.on(ListObjectsV2Command).callsFake(({ Bucket, Prefix }) => ({
    Contents: [...store.entries()].filter(([k]) => k.startsWith(`${Bucket}/${Prefix}`))
      .map(([k, o]) => ({ Key: k.slice(Bucket.length + 1), LastModified: o.modified })),
    IsTruncated: false,
  }));
  s3.on(DeleteObjectsCommand).callsFake(({ Bucket, Delete }) => {
    for (const { Key } of Delete.Objects) store.delete(`${Bucket}/${Key}`);
    return { Errors: [] };
  });
  return store;
}

const event = (buildId: string, extra: Record<string, unknown> = {}): CloudFormationCustomResourceEvent => ({
  RequestType: 'Update',
  ServiceToken: 'arn',
  ResponseURL: 'https://example.com',
  StackId: 'stack',
  RequestId: 'req-1',
  LogicalResourceId: 'SiteDeployment',
  ResourceType: 'Custom::OpenNextSiteDeployment',
  PhysicalResourceId: 'site-deployment',
  OldResourceProperties: { ServiceToken: 'arn' },
  ResourceProperties: {
    ServiceToken: 'arn',
    BuildId: buildId,
    AssetsBucket: 'assets',
    AssetsPrefix: '_assets',
    DeploymentsPrefix: '_deployments',
    CacheBucket: 'cache',
    CachePrefix: '_cache',
    DistributionId: 'E123',
    InvalidationPaths: ['/*'],
    RetentionDays: '30',
    SeedFunction: 'seed-fn',
    ...extra,
  },
} as CloudFormationCustomResourceEvent);

beforeEach(() => {
  s3.reset(); cloudfront.reset(); lambda.reset();
  cloudfront.on(CreateInvalidationCommand).resolves({ Invalidation: { Id: 'I1', Status: 'InProgress', CreateTime: NOW, InvalidationBatch: undefined as any } });
  // What OpenNext's initialization function answers through its pass-through converter (the
  // real bundle is run in invoked-functions.test.ts).
  lambda.on(InvokeCommand).resolves({
    StatusCode: 200,
    Payload: Buffer.from('{"type":"dummy","original":{"type":"initializationFunction","resourceId":"dynamodb-cache"}}') as any,
  });
});

test('buildsToKeep: current build always, replaced ones until the retention period after their replacement', () => {
  const history = [
    { buildId: 'a', deployedAt: daysAgo(90).toISOString() },
    { buildId: 'b', deployedAt: daysAgo(40).toISOString() }, // a replaced 40 days ago: expired
    { buildId: 'c', deployedAt: daysAgo(10).toISOString() }, // b replaced 10 days ago: kept
    { buildId: 'd', deployedAt: daysAgo(0).toISOString() },
  ];
  expect(buildsToKeep(history, NOW, 30)).toEqual({ kept: ['b', 'c', 'd'], expired: ['a'] });
  expect(buildsToKeep(history, NOW, 0)).toEqual({ kept: ['d'], expired: ['a', 'b', 'c'] });
  // A rolled-back build id that is current again is never expired.
  expect(buildsToKeep([...history, { buildId: 'a', deployedAt: NOW.toISOString() }], NOW, 30).expired).toEqual([]);
});

test('first deployment: records the build, seeds the tag cache, invalidates, deletes nothing', async () => {
  const store = fakeS3({ 'assets/_deployments/B1.json': { body: JSON.stringify({ files: ['_next/static/x.js'] }), modified: NOW } });
  const result = await onEvent(event('B1', {}), NOW);
  expect(result).toMatchObject({ kept: ['B1'], expired: [], deletedAssets: 0, invalidationId: 'I1', seeded: true });
  expect(JSON.parse(store.get('assets/_deployments/history.json')!.body!)).toEqual([{ buildId: 'B1', deployedAt: NOW.toISOString() }]);
  const seedCall = lambda.commandCalls(InvokeCommand)[0].args[0].input;
  expect(seedCall.FunctionName).toBe('seed-fn');
  // No "type" key: OpenNext's wrapper would take the event for a warmer ping.
  expect(JSON.parse(Buffer.from(seedCall.Payload as Uint8Array).toString('utf8'))).toEqual({ requestType: 'update' });
  const inv = cloudfront.commandCalls(CreateInvalidationCommand)[0].args[0].input;
  expect(inv).toEqual({ DistributionId: 'E123', InvalidationBatch: { CallerReference: 'B1-req-1', Paths: { Quantity: 1, Items: ['/*'] } } });
  expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
});

test('keeps the previous build\'s chunks within retention, deletes an expired build\'s files and ISR cache', async () => {
  const history = [
    { buildId: 'OLD', deployedAt: daysAgo(100).toISOString() },
    { buildId: 'PREV', deployedAt: daysAgo(45).toISOString() }, // OLD replaced 45 days ago -> expired
  ];
  const store = fakeS3({
    'assets/_deployments/history.json': { body: JSON.stringify(history), modified: daysAgo(45) },
    'assets/_deployments/OLD.json': { body: JSON.stringify({ files: ['_next/static/old.js', '_next/static/shared.js', 'favicon.ico'] }), modified: daysAgo(100) },
    'assets/_deployments/PREV.json': { body: JSON.stringify({ files: ['_next/static/prev.js', '_next/static/shared.js', 'favicon.ico'] }), modified: daysAgo(45) },
    'assets/_deployments/NEW.json': { body: JSON.stringify({ files: ['_next/static/new.js', '_next/static/shared.js', 'favicon.ico'] }), modified: NOW },
    'assets/_assets/_next/static/old.js': { modified: daysAgo(100) },
    'assets/_assets/_next/static/prev.js': { modified: daysAgo(45) },
    'assets/_assets/_next/static/shared.js': { modified: daysAgo(100) },
    'assets/_assets/_next/static/new.js': { modified: NOW },
    'assets/_assets/favicon.ico': { modified: daysAgo(100) },
    'cache/_cache/OLD/route-cache/x.cache': { modified: daysAgo(100) },
    'cache/_cache/PREV/route-cache/x.cache': { modified: daysAgo(45) },
  });
  const result = await onEvent(event('NEW'), NOW);
  expect(result).toMatchObject({ kept: ['PREV', 'NEW'], expired: ['OLD'], deletedAssets: 1, deletedCacheBuilds: ['OLD'] });
  const keys = [...store.keys()].sort();
  expect(keys).toEqual([
    'assets/_assets/_next/static/new.js',
    'assets/_assets/_next/static/prev.js', // a browser on the previous build still loads it
    'assets/_assets/_next/static/shared.js',
    'assets/_assets/favicon.ico',
    'assets/_deployments/NEW.json',
    'assets/_deployments/PREV.json',
    'assets/_deployments/history.json',
    'cache/_cache/PREV/route-cache/x.cache',
  ]);
  expect(JSON.parse(store.get('assets/_deployments/history.json')!.body!).map((r: any) => r.buildId)).toEqual(['PREV', 'NEW']);
});

test('a kept build without a manifest stops the cleanup (nothing deleted) but not the deployment', async () => {
  const history = [{ buildId: 'OLD', deployedAt: daysAgo(100).toISOString() }, { buildId: 'PREV', deployedAt: daysAgo(45).toISOString() }];
  const store = fakeS3({
    'assets/_deployments/history.json': { body: JSON.stringify(history), modified: daysAgo(45) },
    'assets/_deployments/NEW.json': { body: JSON.stringify({ files: [] }), modified: NOW },
    'assets/_assets/_next/static/prev.js': { modified: daysAgo(45) },
  });
  const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  const result = await onEvent(event('NEW'), NOW);
  expect(result?.deletedAssets).toBe(0);
  expect(store.has('assets/_assets/_next/static/prev.js')).toBe(true);
  expect(error.mock.calls[0][0]).toMatch(/PREV\.json is missing/);
  error.mockRestore();
});

test('a failing seed function fails the deployment with its error', async () => {
  fakeS3({});
  lambda.on(InvokeCommand).resolves({ FunctionError: 'Unhandled', Payload: Buffer.from('{"errorMessage":"AccessDenied"}') as any });
  await expect(onEvent(event('B1'), NOW)).rejects.toThrow(/seeding the tag cache with seed-fn failed \(Unhandled\).*AccessDenied/);
});

test('delete does nothing (the buckets\' removal policy decides)', async () => {
  fakeS3({});
  await expect(onEvent({ ...event('B1'), RequestType: 'Delete' } as CloudFormationCustomResourceEvent, NOW)).resolves.toBeUndefined();
  expect(s3.calls()).toHaveLength(0);
  expect(cloudfront.calls()).toHaveLength(0);
});
