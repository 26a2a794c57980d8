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

// src/constructs/origin-verified-http-api/origin-verify-authorizer.lambda.ts
var origin_verify_authorizer_lambda_exports = {};
__export(origin_verify_authorizer_lambda_exports, {
  handler: () => handler,
  loadLiveValues: () => loadLiveValues,
  resetCache: () => resetCache
});
module.exports = __toCommonJS(origin_verify_authorizer_lambda_exports);
var import_node_crypto = require("node:crypto");
var import_client_secrets_manager = require("@aws-sdk/client-secrets-manager");
var client = new import_client_secrets_manager.SecretsManagerClient({});
function settings(env = process.env) {
  const secretId = env.SECRET_ID;
  if (!secretId) throw new Error("SECRET_ID is not set");
  return {
    secretId,
    headerName: (env.HEADER_NAME ?? "x-origin-verify").toLowerCase(),
    cacheTtlMs: Number(env.CACHE_TTL_SECONDS ?? "300") * 1e3,
    previousGraceMs: Number(env.PREVIOUS_GRACE_SECONDS ?? "3600") * 1e3,
    minRefreshIntervalMs: Number(env.MIN_REFRESH_SECONDS ?? "10") * 1e3
  };
}
var cache;
function resetCache() {
  cache = void 0;
}
function digest(value) {
  return (0, import_node_crypto.createHash)("sha256").update(value, "utf8").digest();
}
async function readStage(secretId, stage) {
  try {
    const out = await client.send(new import_client_secrets_manager.GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
    return out.SecretString ? { value: out.SecretString, created: out.CreatedDate } : void 0;
  } catch (e) {
    if (stage !== "AWSCURRENT" && e instanceof import_client_secrets_manager.ResourceNotFoundException) return void 0;
    throw e;
  }
}
async function loadLiveValues(s, now) {
  const [current, pending, previous] = await Promise.all([
    readStage(s.secretId, "AWSCURRENT"),
    readStage(s.secretId, "AWSPENDING"),
    readStage(s.secretId, "AWSPREVIOUS")
  ]);
  if (!current) throw new Error(`secret ${s.secretId} has no AWSCURRENT string value`);
  const values = [current.value];
  if (pending) values.push(pending.value);
  const currentAge = current.created ? now - current.created.getTime() : Infinity;
  if (previous && currentAge < s.previousGraceMs) values.push(previous.value);
  return { digests: values.map(digest), loadedAt: now };
}
function matches(candidate, digests) {
  let ok = false;
  for (const d of digests) ok = (0, import_node_crypto.timingSafeEqual)(candidate, d) || ok;
  return ok;
}
function headerValue(event, name) {
  const headers = event.headers ?? {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return void 0;
}
async function handler(event) {
  const s = settings();
  const value = headerValue(event, s.headerName);
  if (!value) {
    log("deny", "missing header", event);
    return { isAuthorized: false };
  }
  const candidate = digest(value);
  const now = Date.now();
  if (!cache || now - cache.loadedAt >= s.cacheTtlMs) {
    cache = await loadLiveValues(s, now);
  }
  if (matches(candidate, cache.digests)) return { isAuthorized: true };
  if (now - cache.loadedAt >= s.minRefreshIntervalMs) {
    cache = await loadLiveValues(s, now);
    if (matches(candidate, cache.digests)) return { isAuthorized: true };
  }
  log("deny", "wrong header", event);
  return { isAuthorized: false };
}
function log(decision, reason, event) {
  console.log(JSON.stringify({
    decision,
    reason,
    routeKey: event.routeKey,
    sourceIp: event.requestContext?.http?.sourceIp,
    requestId: event.requestContext?.requestId
  }));
}
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  handler,
  loadLiveValues,
  resetCache
});
