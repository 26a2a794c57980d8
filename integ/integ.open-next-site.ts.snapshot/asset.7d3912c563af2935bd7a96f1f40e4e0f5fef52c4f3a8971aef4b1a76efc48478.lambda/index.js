"use strict";
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

// src/constructs/open-next-site/site-deployment.lambda.ts
var site_deployment_lambda_exports = {};
__export(site_deployment_lambda_exports, {
  buildsToKeep: () => buildsToKeep,
  handler: () => handler,
  onEvent: () => onEvent,
  tagCacheSeedEvent: () => tagCacheSeedEvent
});
module.exports = __toCommonJS(site_deployment_lambda_exports);
var import_client_cloudfront = require("@aws-sdk/client-cloudfront");
var import_client_lambda = require("@aws-sdk/client-lambda");
var import_client_s3 = require("@aws-sdk/client-s3");

// src/internal/cfn-response.ts
async function respondToCloudFormation(event, context, work, physicalResourceIdOnFailure) {
  const base = { StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId };
  let response;
  try {
    const result = await work();
    console.log(JSON.stringify({ requestType: event.RequestType, physicalResourceId: result.physicalResourceId, ...result.logFields }));
    response = { ...base, Status: "SUCCESS", PhysicalResourceId: result.physicalResourceId, Data: result.data ?? {} };
  } catch (e) {
    const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    console.error(JSON.stringify({ requestType: event.RequestType, error: reason }));
    response = { ...base, Status: "FAILED", Reason: `${reason} (log stream ${context.logStreamName})`, PhysicalResourceId: physicalResourceIdOnFailure };
  }
  const body = JSON.stringify(response);
  const put = await fetch(event.ResponseURL, {
    method: "PUT",
    body,
    headers: { "content-type": "", "content-length": String(Buffer.byteLength(body)) }
  });
  if (!put.ok) throw new Error(`CloudFormation response upload failed: HTTP ${put.status}`);
}

// src/constructs/open-next-site/site-deployment.lambda.ts
var s3 = new import_client_s3.S3Client({});
var cloudfront = new import_client_cloudfront.CloudFrontClient({});
var lambda = new import_client_lambda.LambdaClient({});
var DAY = 24 * 60 * 60 * 1e3;
function buildsToKeep(history, now, retentionDays) {
  const kept = [];
  const expired = [];
  history.forEach((record, i) => {
    const replacedAt = i + 1 < history.length ? Date.parse(history[i + 1].deployedAt) : void 0;
    if (replacedAt === void 0 || now.getTime() - replacedAt < retentionDays * DAY) kept.push(record.buildId);
    else expired.push(record.buildId);
  });
  return { kept: [...new Set(kept)], expired: [...new Set(expired)].filter((id) => !kept.includes(id)) };
}
async function onEvent(event, now = /* @__PURE__ */ new Date()) {
  if (event.RequestType === "Delete") return void 0;
  const p = event.ResourceProperties;
  const retentionDays = Number(p.RetentionDays);
  if (!p.BuildId || !p.AssetsBucket || !p.DistributionId || !Number.isFinite(retentionDays) || retentionDays < 0) {
    throw new Error(`Invalid properties: BuildId, AssetsBucket, DistributionId and RetentionDays >= 0 are required (got ${JSON.stringify({ ...p, ServiceToken: void 0 })})`);
  }
  if (p.SeedFunction) await seedTagCache(p.SeedFunction, event.RequestType === "Create" ? "create" : "update");
  const historyKey = `${p.DeploymentsPrefix}/history.json`;
  const history = await readHistory(p.AssetsBucket, historyKey);
  if (history.length === 0 || history[history.length - 1].buildId !== p.BuildId) {
    history.push({ buildId: p.BuildId, deployedAt: now.toISOString() });
  }
  await s3.send(new import_client_s3.PutObjectCommand({
    Bucket: p.AssetsBucket,
    Key: historyKey,
    Body: JSON.stringify(history, null, 2),
    ContentType: "application/json"
  }));
  const invalidation = p.InvalidationPaths.length === 0 ? void 0 : await cloudfront.send(new import_client_cloudfront.CreateInvalidationCommand({
    DistributionId: p.DistributionId,
    InvalidationBatch: {
      CallerReference: `${p.BuildId}-${event.RequestId}`,
      Paths: { Quantity: p.InvalidationPaths.length, Items: p.InvalidationPaths }
    }
  }));
  const { kept, expired } = buildsToKeep(history, now, retentionDays);
  let deletedAssets = 0;
  const deletedCacheBuilds = [];
  try {
    if (expired.length > 0) {
      const keep = /* @__PURE__ */ new Set();
      for (const buildId of kept) {
        for (const file of await readManifest(p.AssetsBucket, `${p.DeploymentsPrefix}/${buildId}.json`)) {
          keep.add(`${p.AssetsPrefix}/${file}`);
        }
      }
      const cutoff = now.getTime() - retentionDays * DAY;
      const stale = (await listKeys(p.AssetsBucket, `${p.AssetsPrefix}/`)).filter((o) => !keep.has(o.key) && o.lastModified < cutoff).map((o) => o.key);
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
      await s3.send(new import_client_s3.PutObjectCommand({
        Bucket: p.AssetsBucket,
        Key: historyKey,
        Body: JSON.stringify(remaining, null, 2),
        ContentType: "application/json"
      }));
    }
  } catch (e) {
    console.error(JSON.stringify({ cleanupError: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }));
  }
  return { kept, expired, deletedAssets, deletedCacheBuilds, invalidationId: invalidation?.Invalidation?.Id, seeded: Boolean(p.SeedFunction) };
}
function tagCacheSeedEvent(requestType) {
  return { requestType };
}
async function seedTagCache(functionName, requestType) {
  const seeded = await lambda.send(new import_client_lambda.InvokeCommand({
    FunctionName: functionName,
    Payload: Buffer.from(JSON.stringify(tagCacheSeedEvent(requestType)))
  }));
  const text = seeded.Payload ? Buffer.from(seeded.Payload).toString("utf8") : "";
  if (seeded.FunctionError) {
    throw new Error(`seeding the tag cache with ${functionName} failed (${seeded.FunctionError}): ${text.slice(0, 500)}`);
  }
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = void 0;
  }
  const result = answer?.type === "dummy" ? answer.original : answer;
  if (result?.resourceId !== "dynamodb-cache") {
    throw new Error(`seeding the tag cache with ${functionName} returned ${text.slice(0, 200) || "nothing"}, not OpenNext's initialization result (resourceId "dynamodb-cache"); is it the build's dynamodb-provider function?`);
  }
}
async function readJson(bucket, key, fallback) {
  try {
    const result = await s3.send(new import_client_s3.GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await result.Body.transformToString());
  } catch (e) {
    if (e instanceof import_client_s3.NoSuchKey || e.name === "NoSuchKey") return fallback;
    throw e;
  }
}
async function readHistory(bucket, key) {
  const history = await readJson(bucket, key, []);
  return Array.isArray(history) ? history.filter((r) => typeof r?.buildId === "string" && typeof r?.deployedAt === "string") : [];
}
async function readManifest(bucket, key) {
  const manifest = await readJson(bucket, key, void 0);
  if (!manifest || !Array.isArray(manifest.files)) {
    throw new Error(`manifest s3://${bucket}/${key} is missing or has no "files"; not deleting any asset`);
  }
  return manifest.files;
}
async function listKeys(bucket, prefix) {
  const out = [];
  let token;
  do {
    const page = await s3.send(new import_client_s3.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key, lastModified: o.LastModified?.getTime() ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : void 0;
  } while (token);
  return out;
}
async function deleteKeys(bucket, keys) {
  for (let i = 0; i < keys.length; i += 1e3) {
    const batch = keys.slice(i, i + 1e3);
    const result = await s3.send(new import_client_s3.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
    if (result.Errors && result.Errors.length > 0) {
      throw new Error(`deleting from s3://${bucket} failed for ${result.Errors.length} key(s), e.g. ${result.Errors[0].Key}: ${result.Errors[0].Code}`);
    }
  }
  return keys.length;
}
async function handler(event, context) {
  const physicalId = event.RequestType === "Create" ? `site-deployment-${event.LogicalResourceId}` : event.PhysicalResourceId;
  await respondToCloudFormation(event, context, async () => {
    const result = await onEvent(event);
    return { physicalResourceId: physicalId, data: { InvalidationId: result?.invalidationId ?? "" }, logFields: { ...result } };
  }, physicalId);
}
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  buildsToKeep,
  handler,
  onEvent,
  tagCacheSeedEvent
});
