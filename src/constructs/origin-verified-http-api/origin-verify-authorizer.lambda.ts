/**
 * API Gateway HTTP API Lambda request authorizer (simple responses): allows a request only
 * when its origin-verify header equals a live value of the Secrets Manager secret. Live
 * values are AWSCURRENT, AWSPENDING (CloudFront may already send it while a rotation is
 * finishing) and AWSPREVIOUS while the current value is younger than the grace period
 * (CloudFront edges still sending the old value). Values never leave this function: they are
 * not logged, returned or put into the authorizer context.
 *
 * Failure modes: a wrong or missing header is denied (API Gateway caches the decision per
 * header value); a secret store that cannot be read throws, so API Gateway answers 500 and
 * caches nothing (fail closed, and no denial outlives a Secrets Manager blip).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerResult } from 'aws-lambda';

const client = new SecretsManagerClient({});

interface Settings {
  readonly secretId: string;
  readonly headerName: string;
  readonly cacheTtlMs: number;
  readonly previousGraceMs: number;
  /** A miss triggers a re-read at most this often, so random headers cannot flood the store. */
  readonly minRefreshIntervalMs: number;
}

function settings(env: NodeJS.ProcessEnv = process.env): Settings {
  const secretId = env.SECRET_ID;
  if (!secretId) throw new Error('SECRET_ID is not set');
  return {
    secretId,
    headerName: (env.HEADER_NAME ?? 'x-origin-verify').toLowerCase(),
    cacheTtlMs: Number(env.CACHE_TTL_SECONDS ?? '300') * 1000,
    previousGraceMs: Number(env.PREVIOUS_GRACE_SECONDS ?? '3600') * 1000,
    minRefreshIntervalMs: Number(env.MIN_REFRESH_SECONDS ?? '10') * 1000,
  };
}

interface Cache {
  /** SHA-256 digests of the live values (equal length, so timingSafeEqual never throws). */
  readonly digests: Buffer[];
  readonly loadedAt: number;
}

let cache: Cache | undefined;

/** Forgets the cached values (tests; a new execution environment starts empty anyway). */
export function resetCache(): void {
  cache = undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

async function readStage(secretId: string, stage: string): Promise<{ value: string; created?: Date } | undefined> {
  try {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
    return out.SecretString ? { value: out.SecretString, created: out.CreatedDate } : undefined;
  } catch (e) {
    // No version carries this label (no rotation in progress, or never rotated): normal.
    if (stage !== 'AWSCURRENT' && e instanceof ResourceNotFoundException) return undefined;
    throw e;
  }
}

/** Reads the live values. Throws when AWSCURRENT cannot be read: callers fail closed. */
export async function loadLiveValues(s: Settings, now: number): Promise<Cache> {
  const [current, pending, previous] = await Promise.all([
    readStage(s.secretId, 'AWSCURRENT'),
    readStage(s.secretId, 'AWSPENDING'),
    readStage(s.secretId, 'AWSPREVIOUS'),
  ]);
  if (!current) throw new Error(`secret ${s.secretId} has no AWSCURRENT string value`);
  const values = [current.value];
  if (pending) values.push(pending.value);
  const currentAge = current.created ? now - current.created.getTime() : Infinity;
  if (previous && currentAge < s.previousGraceMs) values.push(previous.value);
  return { digests: values.map(digest), loadedAt: now };
}

function matches(candidate: Buffer, digests: Buffer[]): boolean {
  // Compare against every value without stopping early: the time taken does not reveal
  // which value (or how much of one) matched.
  let ok = false;
  for (const d of digests) ok = timingSafeEqual(candidate, d) || ok;
  return ok;
}

function headerValue(event: APIGatewayRequestAuthorizerEventV2, name: string): string | undefined {
  const headers = event.headers ?? {};
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

export async function handler(event: APIGatewayRequestAuthorizerEventV2): Promise<APIGatewaySimpleAuthorizerResult> {
  const s = settings();
  const value = headerValue(event, s.headerName);
  if (!value) {
    log('deny', 'missing header', event);
    return { isAuthorized: false };
  }
  const candidate = digest(value);
  const now = Date.now();
  if (!cache || now - cache.loadedAt >= s.cacheTtlMs) {
    cache = await loadLiveValues(s, now);
  }
  if (matches(candidate, cache.digests)) return { isAuthorized: true };

  // A miss may be a value rotated in since the last read: re-read once, rate-limited.
  if (now - cache.loadedAt >= s.minRefreshIntervalMs) {
    cache = await loadLiveValues(s, now);
    if (matches(candidate, cache.digests)) return { isAuthorized: true };
  }
  log('deny', 'wrong header', event);
  return { isAuthorized: false };
}

function log(decision: string, reason: string, event: APIGatewayRequestAuthorizerEventV2) {
  // Never the header value: only what an operator needs to find the caller.
  console.log(JSON.stringify({
    decision,
    reason,
    routeKey: event.routeKey,
    sourceIp: event.requestContext?.http?.sourceIp,
    requestId: event.requestContext?.requestId,
  }));
}
