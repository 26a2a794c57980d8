/**
 * API Gateway HTTP API Lambda request authorizer (simple responses) of every route. It allows
 * a request only when
 *
 * 1. its origin-verify header equals a live value of the Secrets Manager secret (so it came
 *    through CloudFront), and
 * 2. on a protected route (`PROTECTED_ROUTE_KEYS`), its `Authorization` header carries a JWT
 *    signed by a key of the issuer's JWKS, with the configured issuer, an accepted audience
 *    (`aud`, or `client_id` when there is no `aud`, as API Gateway's JWT authorizer does), an
 *    `exp` in the future and no `nbf`/`iat` in the future (30 s clock skew).
 *
 * Live origin-verify values are AWSCURRENT, AWSPENDING (CloudFront may already send it while a
 * rotation is finishing) and AWSPREVIOUS while the current value is younger than the grace
 * period (CloudFront edges still sending the old value). Values never leave this function:
 * they are not logged, returned or put into the authorizer context. Neither are tokens.
 *
 * Failure modes: a wrong or missing header, or a bad token, is denied (403; API Gateway caches
 * the decision per identity). A secret store, issuer or JWKS that cannot be read throws, so
 * API Gateway answers 500 and caches nothing (fail closed, and no denial outlives a blip).
 * The origin is checked first: a direct caller never makes this function fetch a JWKS.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerResult } from 'aws-lambda';

// jose is an ES module; this file compiles to CommonJS (jsii), so it is loaded with import(),
// which esbuild resolves into the bundle. Only the three parts used, to keep the bundle small.
type Jose = typeof import('jose/jwt/verify', { with: { 'resolution-mode': 'import' } })
  & typeof import('jose/jwks/remote', { with: { 'resolution-mode': 'import' } })
  & { errors: typeof import('jose/errors', { with: { 'resolution-mode': 'import' } }) };
type KeySet = ReturnType<Jose['createRemoteJWKSet']>;
let jose: Promise<Jose> | undefined;
const loadJose = (): Promise<Jose> => (jose ??= Promise.all([import('jose/jwt/verify'), import('jose/jwks/remote'), import('jose/errors')])
  .then(([verify, remote, errors]) => ({ ...verify, ...remote, errors })));

const client = new SecretsManagerClient({});

/** Asymmetric algorithms only: never `none` or HMAC (a public key must not work as a secret). */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384'];
/** Clock skew tolerated on exp, nbf and iat, in seconds. */
const CLOCK_SKEW_SECONDS = 30;

interface Settings {
  readonly secretId: string;
  readonly headerName: string;
  readonly cacheTtlMs: number;
  readonly previousGraceMs: number;
  /** A miss triggers a re-read at most this often, so random headers cannot flood the store. */
  readonly minRefreshIntervalMs: number;
  /** Route keys (`ANY /path`) that also need a JWT. */
  readonly protectedRouteKeys: ReadonlySet<string>;
  readonly jwtIssuer?: string;
  readonly jwtAudience: readonly string[];
  /** Bound of each issuer/JWKS fetch. */
  readonly fetchTimeoutMs: number;
}

function settings(env: NodeJS.ProcessEnv = process.env): Settings {
  const secretId = env.SECRET_ID;
  if (!secretId) throw new Error('SECRET_ID is not set');
  const protectedRouteKeys = new Set<string>(JSON.parse(env.PROTECTED_ROUTE_KEYS ?? '[]'));
  const jwtAudience: string[] = JSON.parse(env.JWT_AUDIENCE ?? '[]');
  if (protectedRouteKeys.size > 0 && (!env.JWT_ISSUER || jwtAudience.length === 0)) {
    throw new Error('PROTECTED_ROUTE_KEYS is set without JWT_ISSUER and JWT_AUDIENCE');
  }
  return {
    secretId,
    headerName: (env.HEADER_NAME ?? 'x-origin-verify').toLowerCase(),
    cacheTtlMs: Number(env.CACHE_TTL_SECONDS ?? '300') * 1000,
    previousGraceMs: Number(env.PREVIOUS_GRACE_SECONDS ?? '3600') * 1000,
    minRefreshIntervalMs: Number(env.MIN_REFRESH_SECONDS ?? '10') * 1000,
    protectedRouteKeys,
    jwtIssuer: env.JWT_ISSUER,
    jwtAudience,
    fetchTimeoutMs: Number(env.FETCH_TIMEOUT_MS ?? '3000'),
  };
}

interface Cache {
  /** SHA-256 digests of the live values (equal length, so timingSafeEqual never throws). */
  readonly digests: Buffer[];
  readonly loadedAt: number;
}

let cache: Cache | undefined;
/** The issuer's key set, kept for the life of the execution environment (jose caches the keys). */
let keySet: { issuer: string; jwks: KeySet } | undefined;

/** Forgets the cached values and keys (tests; a new execution environment starts empty anyway). */
export function resetCache(): void {
  cache = undefined;
  keySet = undefined;
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

async function originVerified(s: Settings, value: string): Promise<boolean> {
  const candidate = digest(value);
  const now = Date.now();
  if (!cache || now - cache.loadedAt >= s.cacheTtlMs) {
    cache = await loadLiveValues(s, now);
  }
  if (matches(candidate, cache.digests)) return true;
  // A miss may be a value rotated in since the last read: re-read once, rate-limited.
  if (now - cache.loadedAt >= s.minRefreshIntervalMs) {
    cache = await loadLiveValues(s, now);
    return matches(candidate, cache.digests);
  }
  return false;
}

/** Plain HTTP only to the local machine (tests); an issuer's keys come over HTTPS. */
function checkedUrl(raw: unknown, what: string): URL {
  const url = new URL(String(raw));
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error(`${what} must be an https URL (got ${url.href})`);
  }
  return url;
}

/**
 * The issuer's JWKS, found by OpenID Connect discovery as API Gateway's JWT authorizer does.
 * A failed discovery is not kept: the next request tries again.
 */
async function issuerKeys(s: Settings, { createRemoteJWKSet }: Jose): Promise<KeySet> {
  const issuer = s.jwtIssuer!;
  if (keySet?.issuer === issuer) return keySet.jwks;
  const discovery = new URL(`${checkedUrl(issuer, 'JWT_ISSUER').href.replace(/\/+$/, '')}/.well-known/openid-configuration`);
  const response = await fetch(discovery, { signal: AbortSignal.timeout(s.fetchTimeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`OpenID configuration ${discovery.href} answered ${response.status}`);
  const config = await response.json() as { issuer?: unknown; jwks_uri?: unknown };
  if (config.issuer !== issuer) {
    throw new Error(`OpenID configuration ${discovery.href} names issuer ${JSON.stringify(config.issuer)}, not ${issuer}`);
  }
  const jwks = createRemoteJWKSet(checkedUrl(config.jwks_uri, 'jwks_uri'), {
    timeoutDuration: s.fetchTimeoutMs,
    // An unknown kid (a key the issuer just added) refetches at most every 30 s.
    cooldownDuration: 30_000,
    cacheMaxAge: 10 * 60_000,
  });
  keySet = { issuer, jwks };
  return jwks;
}

/** Failures that are the token's fault (deny); anything else (network, timeout) throws. */
const tokenErrors = ({ errors: e }: Jose): Function[] => [
  e.JWTExpired, e.JWTClaimValidationFailed, e.JWTInvalid, e.JWSInvalid, e.JWSSignatureVerificationFailed,
  e.JOSEAlgNotAllowed, e.JWKSNoMatchingKey, e.JWKSMultipleMatchingKeys, e.JOSENotSupported,
];

/** Verifies the bearer token; returns why it is refused, or undefined when it is good. */
async function tokenProblem(s: Settings, authorization: string | undefined): Promise<string | undefined> {
  const token = authorization?.replace(/^bearer\s+/i, '').trim();
  if (!token) return 'missing token';
  const lib = await loadJose();
  const keys = await issuerKeys(s, lib);
  const now = Date.now();
  let payload: Awaited<ReturnType<Jose['jwtVerify']>>['payload'];
  try {
    ({ payload } = await lib.jwtVerify(token, keys, {
      issuer: s.jwtIssuer,
      algorithms: ALGORITHMS,
      requiredClaims: ['exp'],
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: new Date(now),
    }));
  } catch (e) {
    if (tokenErrors(lib).some((type) => e instanceof type)) return `bad token (${(e as { code?: string }).code ?? 'invalid'})`;
    throw e;
  }
  if (payload.iat !== undefined && payload.iat > now / 1000 + CLOCK_SKEW_SECONDS) return 'bad token (iat in the future)';
  // As API Gateway's JWT authorizer: `aud` must match; only without `aud`, `client_id` must.
  const audiences = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const accepted = payload.aud !== undefined
    ? audiences.some((a) => s.jwtAudience.includes(a))
    : typeof payload.client_id === 'string' && s.jwtAudience.includes(payload.client_id);
  return accepted ? undefined : 'bad token (audience)';
}

export async function handler(event: APIGatewayRequestAuthorizerEventV2): Promise<APIGatewaySimpleAuthorizerResult> {
  const s = settings();
  const value = headerValue(event, s.headerName);
  if (!value) return deny('missing header', event);
  if (!await originVerified(s, value)) return deny('wrong header', event);
  if (s.protectedRouteKeys.has(event.routeKey)) {
    const problem = await tokenProblem(s, headerValue(event, 'authorization'));
    if (problem) return deny(problem, event);
  }
  return { isAuthorized: true };
}

function deny(reason: string, event: APIGatewayRequestAuthorizerEventV2): APIGatewaySimpleAuthorizerResult {
  // Never the header value or the token: only what an operator needs to find the caller.
  console.log(JSON.stringify({
    decision: 'deny',
    reason,
    routeKey: event.routeKey,
    sourceIp: event.requestContext?.http?.sourceIp,
    requestId: event.requestContext?.requestId,
  }));
  return { isAuthorized: false };
}
