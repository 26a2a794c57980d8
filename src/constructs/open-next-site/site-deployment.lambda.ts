/**
 * CloudFormation custom resource of OpenNextSite, run after every deployment of a new
 * build (its properties carry the build id, so CloudFormation calls it only then):
 *
 * 1. records the build in `<deployments>/history.json` (build id, time it went live);
 * 2. invalidates the paths whose content may have changed (never the hashed files: a new
 *    build gives changed files new names);
 * 3. deletes the files of builds that were replaced longer ago than the retention period:
 *    static assets no build still kept lists in its manifest (`<deployments>/<id>.json`,
 *    uploaded beside the assets), and their prerendered ISR cache (`<cache>/<id>/`).
 *
 * Assets are uploaded without pruning, so a browser still running the previous build can
 * load its chunks until the retention period after it was replaced has passed.
 */
import { CloudFrontClient, CreateInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { respondToCloudFormation } from '../../internal/cfn-response';

const s3 = new S3Client({});
const cloudfront = new CloudFrontClient({});
const lambda = new LambdaClient({});

export interface SiteDeploymentProperties {
  readonly BuildId: string;
  readonly AssetsBucket: string;
  /** Key prefix of the static assets, e.g. `_assets`. */
  readonly AssetsPrefix: string;
  /** Key prefix of the deployment manifests and history, e.g. `_deployments`. */
  readonly DeploymentsPrefix: string;
  readonly CacheBucket?: string;
  /** Key prefix of the ISR cache, e.g. `_cache`; holds one folder per build id. */
  readonly CachePrefix?: string;
  readonly DistributionId: string;
  readonly InvalidationPaths: string[];
  /** Days a replaced build's files stay available. */
  readonly RetentionDays: string;
  /** OpenNext's tag cache initialization function, invoked to seed the build's tags ('' for none). */
  readonly SeedFunction?: string;
}

export interface BuildRecord {
  readonly buildId: string;
  /** ISO time the build went live. */
  readonly deployedAt: string;
}

export interface DeploymentResult {
  readonly kept: string[];
  readonly expired: string[];
  readonly deletedAssets: number;
  readonly deletedCacheBuilds: string[];
  readonly invalidationId?: string;
  readonly seeded: boolean;
}

const DAY = 24 * 60 * 60 * 1000;

/**
 * The builds whose files must stay: the current one, and every build that was replaced
 * (by the next one in the history) less than `retentionDays` ago.
 */
export function buildsToKeep(history: BuildRecord[], now: Date, retentionDays: number): { kept: string[]; expired: string[] } {
  const kept: string[] = [];
  const expired: string[] = [];
  history.forEach((record, i) => {
    const replacedAt = i + 1 < history.length ? Date.parse(history[i + 1].deployedAt) : undefined;
    if (replacedAt === undefined || now.getTime() - replacedAt < retentionDays * DAY) kept.push(record.buildId);
    else expired.push(record.buildId);
  });
  // A build id deployed twice (a rollback) is kept if any of its records is.
  return { kept: [...new Set(kept)], expired: [...new Set(expired)].filter((id) => !kept.includes(id)) };
}

export async function onEvent(event: CloudFormationCustomResourceEvent, now = new Date()): Promise<DeploymentResult | undefined> {
  if (event.RequestType === 'Delete') return undefined;
  const p = event.ResourceProperties as unknown as SiteDeploymentProperties;
  const retentionDays = Number(p.RetentionDays);
  if (!p.BuildId || !p.AssetsBucket || !p.DistributionId || !Number.isFinite(retentionDays) || retentionDays < 0) {
    throw new Error(`Invalid properties: BuildId, AssetsBucket, DistributionId and RetentionDays >= 0 are required (got ${JSON.stringify({ ...p, ServiceToken: undefined })})`);
  }

  // The build's revalidation tags must be in the tag cache before its pages are served from
  // the cache; OpenNext's initialization function writes them (idempotent).
  if (p.SeedFunction) await seedTagCache(p.SeedFunction, event.RequestType === 'Create' ? 'create' : 'update');

  const historyKey = `${p.DeploymentsPrefix}/history.json`;
  const history = await readHistory(p.AssetsBucket, historyKey);
  if (history.length === 0 || history[history.length - 1].buildId !== p.BuildId) {
    history.push({ buildId: p.BuildId, deployedAt: now.toISOString() });
  }
  await s3.send(new PutObjectCommand({
    Bucket: p.AssetsBucket, Key: historyKey, Body: JSON.stringify(history, null, 2), ContentType: 'application/json',
  }));

  // New pages and public files are live now: drop what the edge cached from the old build.
  const invalidation = p.InvalidationPaths.length === 0 ? undefined : await cloudfront.send(new CreateInvalidationCommand({
    DistributionId: p.DistributionId,
    InvalidationBatch: {
      CallerReference: `${p.BuildId}-${event.RequestId}`,
      Paths: { Quantity: p.InvalidationPaths.length, Items: p.InvalidationPaths },
    },
  }));

  const { kept, expired } = buildsToKeep(history, now, retentionDays);
  let deletedAssets = 0;
  const deletedCacheBuilds: string[] = [];
  try {
    if (expired.length > 0) {
      const keep = new Set<string>();
      for (const buildId of kept) {
        for (const file of await readManifest(p.AssetsBucket, `${p.DeploymentsPrefix}/${buildId}.json`)) {
          keep.add(`${p.AssetsPrefix}/${file}`);
        }
      }
      // Only ever delete files older than the retention period, whatever the manifests say.
      const cutoff = now.getTime() - retentionDays * DAY;
      const stale = (await listKeys(p.AssetsBucket, `${p.AssetsPrefix}/`))
        .filter((o) => !keep.has(o.key) && o.lastModified < cutoff)
        .map((o) => o.key);
      deletedAssets = await deleteKeys(p.AssetsBucket, stale);
      if (p.CacheBucket && p.CachePrefix) {
        for (const buildId of expired) {
          const keys = (await listKeys(p.CacheBucket, `${p.CachePrefix}/${buildId}/`)).map((o) => o.key);
          await deleteKeys(p.CacheBucket, keys);
          deletedCacheBuilds.push(buildId);
        }
      }
      await deleteKeys(p.AssetsBucket, expired.map((id) => `${p.DeploymentsPrefix}/${id}.json`));
      const remaining = history.filter((r) => kept.includes(r.buildId));
      await s3.send(new PutObjectCommand({
        Bucket: p.AssetsBucket, Key: historyKey, Body: JSON.stringify(remaining, null, 2), ContentType: 'application/json',
      }));
    }
  } catch (e) {
    // Cleanup is retried at the next deployment; a failed cleanup must not roll back a site
    // that is already live.
    console.error(JSON.stringify({ cleanupError: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }));
  }
  return { kept, expired, deletedAssets, deletedCacheBuilds, invalidationId: invalidation?.Invalidation?.Id, seeded: Boolean(p.SeedFunction) };
}

/**
 * The event OpenNext's initialization function (`dynamodb-provider`, 3.x and 4.x) is invoked
 * with. It must have no `type` key: OpenNext's aws-lambda wrapper answers any event with a
 * `type` as a warmer ping (and 4.x then dies with "serverId is not defined"). The wrapper
 * hands the event to a pass-through converter, and the provider writes the build's tags for
 * every request type but "delete", so `requestType` is informational.
 */
export function tagCacheSeedEvent(requestType: 'create' | 'update'): { requestType: 'create' | 'update' } {
  return { requestType };
}

/**
 * Invokes the initialization function and checks that it answered as the tag cache
 * initializer (resource id `dynamodb-cache`, possibly wrapped by the converter as
 * `{ type: 'dummy', original }`), not as a warmer or with an error.
 */
async function seedTagCache(functionName: string, requestType: 'create' | 'update'): Promise<void> {
  const seeded = await lambda.send(new InvokeCommand({
    FunctionName: functionName,
    Payload: Buffer.from(JSON.stringify(tagCacheSeedEvent(requestType))),
  }));
  const text = seeded.Payload ? Buffer.from(seeded.Payload).toString('utf8') : '';
  if (seeded.FunctionError) {
    throw new Error(`seeding the tag cache with ${functionName} failed (${seeded.FunctionError}): ${text.slice(0, 500)}`);
  }
  let answer: any;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  const result = answer?.type === 'dummy' ? answer.original : answer;
  if (result?.resourceId !== 'dynamodb-cache') {
    throw new Error(`seeding the tag cache with ${functionName} returned ${text.slice(0, 200) || 'nothing'}, not OpenNext's initialization result (resourceId "dynamodb-cache"); is it the build's dynamodb-provider function?`);
  }
}

async function readJson<T>(bucket: string, key: string, fallback: T): Promise<T> {
  try {
    const result = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await result.Body!.transformToString()) as T;
  } catch (e) {
    if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') return fallback;
    throw e;
  }
}

async function readHistory(bucket: string, key: string): Promise<BuildRecord[]> {
  const history = await readJson<unknown>(bucket, key, []);
  return Array.isArray(history) ? history.filter((r): r is BuildRecord => typeof r?.buildId === 'string' && typeof r?.deployedAt === 'string') : [];
}

async function readManifest(bucket: string, key: string): Promise<string[]> {
  const manifest = await readJson<{ files?: string[] } | undefined>(bucket, key, undefined);
  if (!manifest || !Array.isArray(manifest.files)) {
    // Without the list of a kept build's files nothing can be told apart safely.
    throw new Error(`manifest s3://${bucket}/${key} is missing or has no "files"; not deleting any asset`);
  }
  return manifest.files;
}

async function listKeys(bucket: string, prefix: string): Promise<{ key: string; lastModified: number }[]> {
  const out: { key: string; lastModified: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, lastModified: o.LastModified?.getTime() ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function deleteKeys(bucket: string, keys: string[]): Promise<number> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    if (result.Errors && result.Errors.length > 0) {
      throw new Error(`deleting from s3://${bucket} failed for ${result.Errors.length} key(s), e.g. ${result.Errors[0].Key}: ${result.Errors[0].Code}`);
    }
  }
  return keys.length;
}

export async function handler(event: CloudFormationCustomResourceEvent, context: Context): Promise<void> {
  const physicalId = event.RequestType === 'Create' ? `site-deployment-${event.LogicalResourceId}` : event.PhysicalResourceId;
  await respondToCloudFormation(event, context, async () => {
    const result = await onEvent(event);
    return { physicalResourceId: physicalId, data: { InvalidationId: result?.invalidationId ?? '' }, logFields: { ...result } };
  }, physicalId);
}
