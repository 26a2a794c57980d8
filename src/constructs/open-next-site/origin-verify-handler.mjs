// Lambda handler of OpenNextSite's server functions, copied beside OpenNext's bundle. The
// Function URL takes no IAM auth (CloudFront's origin access control signs requests without
// their body, so every POST/PUT/PATCH with a body would be refused); instead this handler
// answers a Function URL request only when its origin-verify header, which the site's
// CloudFront Function adds from a KeyValueStore, equals a live value of the site's Secrets
// Manager secret. Anything else gets 403 before Next.js is even loaded for the request. The
// header is removed before OpenNext sees the event, so the app never sees or logs the value.
//
// Live values: AWSCURRENT, AWSPENDING (a rotation may already have written it to the store)
// and AWSPREVIOUS while AWSCURRENT is younger than the grace period (edges still sending the
// old value). They are cached for ORIGIN_VERIFY_CACHE_SECONDS; a header that matches none is
// checked again after a re-read, at most every 10 s, so a rotation is accepted at once and
// random headers cannot flood Secrets Manager. Events that are not Function URL requests
// (the warmer's Invoke, which IAM already guards) pass straight through.
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = process.env;
const HEADER = (env.ORIGIN_VERIFY_HEADER || 'x-origin-verify').toLowerCase();
const SECRET_ID = env.ORIGIN_VERIFY_SECRET_ID;
const CACHE_MS = Number(env.ORIGIN_VERIFY_CACHE_SECONDS || '300') * 1000;
const PREVIOUS_GRACE_MS = Number(env.ORIGIN_VERIFY_PREVIOUS_GRACE_SECONDS || '3600') * 1000;
const MIN_REFRESH_MS = Number(env.ORIGIN_VERIFY_MIN_REFRESH_SECONDS || '10') * 1000;
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');

if (!SECRET_ID) throw new Error('origin-verify: ORIGIN_VERIFY_SECRET_ID is not set');

// OpenNext's handler, e.g. "index.handler" in the same folder.
const spec = env.ORIGIN_VERIFY_HANDLER || 'index.handler';
const dot = spec.lastIndexOf('.');
const root = env.LAMBDA_TASK_ROOT || process.cwd();
const file = ['.mjs', '.js', '.cjs'].map((ext) => join(root, spec.slice(0, dot) + ext)).find((p) => existsSync(p));
if (!file) throw new Error(`origin-verify: no module for handler ${spec} in ${root}`);
const inner = (await import(pathToFileURL(file).href))[spec.slice(dot + 1)];
if (typeof inner !== 'function') throw new Error(`origin-verify: ${spec} is not a function`);

const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
const client = new SecretsManagerClient({});

const digest = (value) => createHash('sha256').update(value, 'utf8').digest();
let cache; // { digests: Buffer[], loadedAt: number }

async function readStage(stage) {
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: SECRET_ID, VersionStage: stage }));
    return out.SecretString ? { value: out.SecretString, created: out.CreatedDate } : undefined;
  } catch (e) {
    if (e && e.name === 'ResourceNotFoundException') return undefined;
    throw e;
  }
}

async function load(now) {
  const [current, pending, previous] = await Promise.all([readStage('AWSCURRENT'), readStage('AWSPENDING'), readStage('AWSPREVIOUS')]);
  if (!current) throw new Error(`secret ${SECRET_ID} has no AWSCURRENT string value`);
  const values = [current.value];
  if (pending) values.push(pending.value);
  const currentAge = current.created ? now - new Date(current.created).getTime() : 0;
  if (previous && currentAge < PREVIOUS_GRACE_MS) values.push(previous.value);
  cache = { digests: values.map(digest), loadedAt: now };
  return cache;
}

const matches = (c, d) => c.digests.some((v) => timingSafeEqual(v, d));

/** true when the request carries a live origin-verify value. Throws when the secret cannot be read. */
export async function verified(headerValue, now = Date.now()) {
  if (typeof headerValue !== 'string' || headerValue === '') return false;
  const d = digest(headerValue);
  let c = cache && now - cache.loadedAt < CACHE_MS ? cache : await load(now);
  if (matches(c, d)) return true;
  if (now - c.loadedAt >= MIN_REFRESH_MS) c = await load(now);
  return matches(c, d);
}

function headerOf(event) {
  const headers = event.headers || {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === HEADER) {
      delete headers[name];
      return value;
    }
  }
  return undefined;
}

/** 403 (not through CloudFront) or 503 (the secret could not be read), never reaching Next.js. */
async function decide(event) {
  if (!event || typeof event !== 'object' || !event.requestContext || !event.requestContext.http) return undefined;
  const value = headerOf(event);
  try {
    if (await verified(value)) return undefined;
    return { statusCode: 403, body: 'Forbidden: this origin only answers requests from its CloudFront distribution.\n' };
  } catch (e) {
    console.error(JSON.stringify({ originVerifyError: `${e && e.name}: ${e && e.message}` }));
    return { statusCode: 503, body: 'Service Unavailable: origin verification is unavailable.\n' };
  }
}

const headers = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };

export const handler = inner[STREAMING] === 'response'
  // Response streaming (OpenNext's aws-lambda-streaming wrapper): answer on the stream.
  ? globalThis.awslambda.streamifyResponse(async (event, responseStream, context) => {
    const refusal = await decide(event);
    if (!refusal) return inner(event, responseStream, context);
    const stream = globalThis.awslambda.HttpResponseStream.from(responseStream, { statusCode: refusal.statusCode, headers });
    stream.end(refusal.body);
    return undefined;
  })
  : async (event, context) => {
    const refusal = await decide(event);
    if (!refusal) return inner(event, context);
    return { statusCode: refusal.statusCode, headers, body: refusal.body, isBase64Encoded: false };
  };
