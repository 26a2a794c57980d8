import * as crypto from 'node:crypto';
import * as path from 'node:path';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';

// The deployed bundle itself (esbuild output of origin-verify-authorizer.lambda.ts with jose
// inside; `npx projen bundle` builds it). The AWS SDK stays external, so the mock reaches it.
type Handler = typeof import('../../src/constructs/origin-verified-http-api/origin-verify-authorizer.lambda');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler, resetCache }: Handler = require(path.join(__dirname, '../../assets/constructs/origin-verified-http-api/origin-verify-authorizer.lambda/index.js'));

const sm = mockClient(SecretsManagerClient);
// The module object itself (the TypeScript namespace import is frozen), for spying.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cryptoModule: typeof crypto = require('node:crypto');

// Random per run: nothing here is a real secret, and no fixture value can leak into code.
const random = () => crypto.randomBytes(48).toString('base64url').replace(/[-_]/g, 'x').slice(0, 64);
let CURRENT = random();
let PREVIOUS = random();
const T0 = Date.parse('2026-01-01T00:00:00Z');
let now = T0;

function event(headers?: Record<string, string>): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc/$default/GET/backend/api/v1/health',
    identitySource: headers ? Object.values(headers) : [],
    routeKey: 'ANY /backend/api/v1/health',
    rawPath: '/backend/api/v1/health',
    rawQueryString: '',
    headers,
    requestContext: { requestId: 'req-1', http: { sourceIp: '198.51.100.7', method: 'GET', path: '/backend/api/v1/health' } },
  } as unknown as APIGatewayRequestAuthorizerEventV2;
}
const call = (value?: string, name = 'x-origin-verify') => handler(event(value === undefined ? undefined : { [name]: value }));

/** The store: AWSCURRENT created `currentAgeMs` ago, AWSPREVIOUS and optionally AWSPENDING. */
function store(opts: { current?: string; previous?: string; pending?: string; currentAgeMs?: number } = {}) {
  sm.reset();
  const notFound = () => new ResourceNotFoundException({ message: 'no version with that label', $metadata: {} });
  sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' })
    .resolves({ SecretString: opts.current ?? CURRENT, CreatedDate: new Date(now - (opts.currentAgeMs ?? 60_000)) });
  if (opts.previous === undefined) {
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves({ SecretString: PREVIOUS, CreatedDate: new Date(T0 - 86_400_000) });
  } else if (opts.previous === '') {
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).rejects(notFound());
  } else {
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' }).resolves({ SecretString: opts.previous });
  }
  if (opts.pending) sm.on(GetSecretValueCommand, { VersionStage: 'AWSPENDING' }).resolves({ SecretString: opts.pending });
  else sm.on(GetSecretValueCommand, { VersionStage: 'AWSPENDING' }).rejects(notFound());
}
const reads = () => sm.commandCalls(GetSecretValueCommand).length;

let logs: string[];
beforeEach(() => {
  CURRENT = random();
  PREVIOUS = random();
  now = T0;
  jest.spyOn(Date, 'now').mockImplementation(() => now);
  logs = [];
  jest.spyOn(console, 'log').mockImplementation((...args) => void logs.push(args.join(' ')));
  jest.spyOn(console, 'error').mockImplementation((...args) => void logs.push(args.join(' ')));
  process.env.SECRET_ID = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:origin-verify-AbCdEf';
  process.env.HEADER_NAME = 'x-origin-verify';
  process.env.CACHE_TTL_SECONDS = '300';
  process.env.PREVIOUS_GRACE_SECONDS = '3600';
  resetCache();
  store();
});
afterEach(() => {
  jest.restoreAllMocks();
  // The values of this test never appear in a log line.
  for (const line of logs) {
    expect(line).not.toContain(CURRENT);
    expect(line).not.toContain(PREVIOUS);
  }
});

describe('accepts', () => {
  test('the current value', async () => {
    expect(await call(CURRENT)).toEqual({ isAuthorized: true });
  });

  test('the previous value while the current one is younger than the grace period', async () => {
    store({ currentAgeMs: 59 * 60_000 });
    expect(await call(PREVIOUS)).toEqual({ isAuthorized: true });
  });

  test('the pending value during a rotation (CloudFront may send it before promotion)', async () => {
    const pending = random();
    store({ pending });
    expect(await call(pending)).toEqual({ isAuthorized: true });
    expect(await call(CURRENT)).toEqual({ isAuthorized: true });
  });

  test('the header whatever the case of its name', async () => {
    expect(await call(CURRENT, 'X-Origin-Verify')).toEqual({ isAuthorized: true });
  });

  test('when the secret was never rotated (no AWSPREVIOUS)', async () => {
    store({ previous: '' });
    expect(await call(CURRENT)).toEqual({ isAuthorized: true });
  });
});

describe('rejects', () => {
  test('a missing header, without reading the store', async () => {
    expect(await call()).toEqual({ isAuthorized: false });
    expect(await call('')).toEqual({ isAuthorized: false });
    expect(reads()).toBe(0);
    expect(logs.join('\n')).toMatch(/"decision":"deny","reason":"missing header".*"sourceIp":"198.51.100.7"/);
  });

  test('a wrong value', async () => {
    expect(await call(random())).toEqual({ isAuthorized: false });
    expect(await call('origin-verify')).toEqual({ isAuthorized: false });
  });

  test('values of the wrong length, including the current value with extra or missing characters', async () => {
    expect(await call(CURRENT.slice(0, -1))).toEqual({ isAuthorized: false });
    expect(await call(`${CURRENT}x`)).toEqual({ isAuthorized: false });
    expect(await call(`${CURRENT} `)).toEqual({ isAuthorized: false });
    expect(await call(CURRENT + CURRENT)).toEqual({ isAuthorized: false });
    expect(await call('x')).toEqual({ isAuthorized: false });
  });

  test('almost-right values: one character changed anywhere, or a different case', async () => {
    for (const i of [0, 31, 63]) {
      const c = CURRENT[i] === 'a' ? 'b' : 'a';
      expect(await call(CURRENT.slice(0, i) + c + CURRENT.slice(i + 1))).toEqual({ isAuthorized: false });
    }
    const flipped = CURRENT.replace(/[a-z]/, (ch) => ch.toUpperCase());
    if (flipped !== CURRENT) expect(await call(flipped)).toEqual({ isAuthorized: false });
  });

  test('the previous value once the current one is older than the grace period', async () => {
    store({ currentAgeMs: 61 * 60_000 });
    expect(await call(PREVIOUS)).toEqual({ isAuthorized: false });
    expect(await call(CURRENT)).toEqual({ isAuthorized: true });
  });

  test('a header of another name carrying the right value', async () => {
    expect(await call(CURRENT, 'x-origin-verified')).toEqual({ isAuthorized: false });
  });
});

describe('compares in constant time', () => {
  test('equal-length digests through timingSafeEqual, against every live value without stopping early', async () => {
    store({ pending: random(), currentAgeMs: 60_000 });
    const spy = jest.spyOn(cryptoModule, 'timingSafeEqual');
    await call(CURRENT); // matches the first value: the others are still compared
    expect(spy).toHaveBeenCalledTimes(3);
    for (const [a, b] of spy.mock.calls) {
      expect((a as Buffer).length).toBe(32);
      expect((b as Buffer).length).toBe(32);
    }
    spy.mockClear();
    await call('short');
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(3);
  });
});

describe('caches', () => {
  test('the values for the TTL, then reads them again', async () => {
    await call(CURRENT);
    expect(reads()).toBe(3); // AWSCURRENT, AWSPENDING, AWSPREVIOUS in one load
    now += 299_000;
    await call(CURRENT);
    await call(PREVIOUS);
    expect(reads()).toBe(3);
    now += 2_000;
    await call(CURRENT);
    expect(reads()).toBe(6);
  });

  test('an unknown value triggers one re-read, so a rotated-in value is accepted at once', async () => {
    await call(CURRENT);
    const next = random();
    now += 11_000;
    store({ pending: next });
    expect(await call(next)).toEqual({ isAuthorized: true });
    expect(reads()).toBe(3);
  });

  test('re-reads on a miss at most every 10 s, so random headers cannot flood the store', async () => {
    await call(CURRENT);
    for (let i = 0; i < 20; i++) expect(await call(random())).toEqual({ isAuthorized: false });
    expect(reads()).toBe(3);
    now += 10_000;
    for (let i = 0; i < 20; i++) expect(await call(random())).toEqual({ isAuthorized: false });
    expect(reads()).toBe(6);
  });
});

describe('fails closed', () => {
  test('when the store is unreachable: throws (API Gateway answers 500, caches nothing), never allows', async () => {
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('connect ETIMEDOUT secretsmanager.eu-west-1.amazonaws.com:443'), { name: 'TimeoutError' }));
    await expect(call(CURRENT)).rejects.toThrow(/ETIMEDOUT/);
    await expect(call(random())).rejects.toThrow(/ETIMEDOUT/);
  });

  test('when access is denied or the secret is gone', async () => {
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'Secrets Manager can not find the specified secret', $metadata: {} }));
    await expect(call(CURRENT)).rejects.toThrow(/can not find/);
  });

  test('when the store becomes unreachable after the TTL, values are not served stale', async () => {
    expect(await call(CURRENT)).toEqual({ isAuthorized: true });
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(new Error('socket hang up'));
    now += 301_000;
    await expect(call(CURRENT)).rejects.toThrow(/socket hang up/);
  });

  test('when the current value has no string (binary secret)', async () => {
    sm.reset();
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    await expect(call(CURRENT)).rejects.toThrow(/has no AWSCURRENT string value/);
  });

  test('when SECRET_ID is not configured', async () => {
    delete process.env.SECRET_ID;
    await expect(call(CURRENT)).rejects.toThrow(/SECRET_ID is not set/);
  });
});
