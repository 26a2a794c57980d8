/**
 * The request authorizer on protected routes: the deployed bundle checks the origin header
 * and then a real RS256-signed token against an OpenID issuer served on 127.0.0.1 (discovery
 * document and JWKS), with keys generated here. Tokens are signed with node:crypto, not with
 * the library the authorizer uses, so the two cannot share a mistake. Only Secrets Manager is
 * mocked.
 */
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { OriginVerifiedHttpApi } from '../../src/constructs/origin-verified-http-api';
import { VpcHost } from '../support/vpc-host';

type Handler = typeof import('../../src/constructs/origin-verified-http-api/origin-verify-authorizer.lambda');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler, resetCache }: Handler = require(path.join(__dirname, '../../assets/constructs/origin-verified-http-api/origin-verify-authorizer.lambda/index.js'));

const sm = mockClient(SecretsManagerClient);
const ORIGIN = crypto.randomBytes(32).toString('hex');
const AUDIENCE = 'https://app.example.com';
const PROTECTED = 'ANY /backend/api/v1/admin/{proxy+}';
const OPEN = 'ANY /backend/api/v1/{proxy+}';

const b64url = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const rsa = () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = rsa();
const otherKey = rsa();

/** A compact JWS: header and payload as given, RS256 (or `alg` of the header) over both. */
function sign(payload: Record<string, unknown>, opts: { kid?: string; key?: crypto.KeyObject; alg?: string; hmacSecret?: Buffer } = {}): string {
  const header = { alg: opts.alg ?? 'RS256', typ: 'JWT', kid: opts.kid ?? 'key-1' };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  if (header.alg === 'none') return `${input}.`;
  const signature = opts.hmacSecret
    ? crypto.createHmac('sha256', opts.hmacSecret).update(input).digest()
    : crypto.sign('sha256', Buffer.from(input), opts.key ?? signingKey.privateKey);
  return `${input}.${b64url(signature)}`;
}

// The issuer: discovery document and JWKS on 127.0.0.1, counting what it serves.
let server: http.Server;
let issuer: string;
let keys: crypto.JsonWebKey[] = [];
let served: { discovery: number; jwks: number };
let stall = false;
let discoveryIssuer: string | undefined;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (stall) return; // never answers: the authorizer's timeout must end the wait
    if (req.url === '/.well-known/openid-configuration') {
      served.discovery++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ issuer: discoveryIssuer ?? issuer, jwks_uri: `${issuer}/keys` }));
    } else if (req.url === '/keys') {
      served.jwks++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const jwk = (key: crypto.KeyObject, kid: string): crypto.JsonWebKey => ({ ...key.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });
const nowSeconds = () => Math.floor(Date.now() / 1000);
/** Claims of a good token, overridable. */
const claims = (extra: Record<string, unknown> = {}) => ({ iss: issuer, aud: AUDIENCE, sub: 'user_1', iat: nowSeconds() - 5, nbf: nowSeconds() - 5, exp: nowSeconds() + 60, ...extra });

function event(routeKey: string, headers: Record<string, string>): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    routeArn: 'arn:aws:execute-api:eu-west-1:123456789012:abc/$default/GET/backend/api/v1/admin/users',
    identitySource: Object.values(headers),
    routeKey,
    rawPath: '/backend/api/v1/admin/users',
    rawQueryString: '',
    headers,
    requestContext: { requestId: 'req-1', http: { sourceIp: '198.51.100.7', method: 'GET', path: '/backend/api/v1/admin/users' } },
  } as unknown as APIGatewayRequestAuthorizerEventV2;
}
/** Through CloudFront (the origin header) with the given Authorization header. */
const viaCloudFront = (authorization?: string, routeKey = PROTECTED) =>
  handler(event(routeKey, { 'x-origin-verify': ORIGIN, ...(authorization === undefined ? {} : { authorization }) }));
const bearer = (token: string) => `Bearer ${token}`;
const allowed = { isAuthorized: true };
const denied = { isAuthorized: false };

let logs: string[];
beforeEach(() => {
  sm.reset();
  // No rotation under way: only AWSCURRENT exists.
  sm.on(GetSecretValueCommand).rejects(new ResourceNotFoundException({ message: 'no version with that label', $metadata: {} }));
  sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({ SecretString: ORIGIN, CreatedDate: new Date() });
  Object.assign(process.env, {
    SECRET_ID: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:origin-verify-AbCdEf',
    HEADER_NAME: 'x-origin-verify',
    PROTECTED_ROUTE_KEYS: JSON.stringify([PROTECTED, 'ANY /backend/api/v1/admin']),
    JWT_ISSUER: issuer,
    JWT_AUDIENCE: JSON.stringify(['https://other.example.com', AUDIENCE]),
    FETCH_TIMEOUT_MS: '500',
  });
  keys = [jwk(signingKey.publicKey, 'key-1')];
  served = { discovery: 0, jwks: 0 };
  stall = false;
  discoveryIssuer = undefined;
  resetCache();
  logs = [];
  jest.spyOn(console, 'log').mockImplementation((...args) => void logs.push(args.join(' ')));
});
afterEach(() => {
  jest.restoreAllMocks();
  for (const line of logs) {
    expect(line).not.toContain(ORIGIN);
    expect(line).not.toMatch(/eyJ/); // no token (every JWT starts with the encoded `{"`)
  }
});

describe('through CloudFront with a good token', () => {
  test('is allowed, with or without the "Bearer" scheme (as API Gateway\'s JWT authorizer)', async () => {
    const token = sign(claims());
    expect(await viaCloudFront(bearer(token))).toEqual(allowed);
    expect(await viaCloudFront(`bearer ${token}`)).toEqual(allowed);
    expect(await viaCloudFront(token)).toEqual(allowed);
  });

  test('is allowed with an audience list that contains an accepted one, or client_id when there is no aud', async () => {
    expect(await viaCloudFront(bearer(sign(claims({ aud: ['https://unrelated.example.com', AUDIENCE] }))))).toEqual(allowed);
    expect(await viaCloudFront(bearer(sign(claims({ aud: undefined, client_id: AUDIENCE }))))).toEqual(allowed);
  });

  test('signed with ES256 by an EC key of the issuer', async () => {
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    keys = [...keys, { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec-1', alg: 'ES256', use: 'sig' }];
    const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'ec-1' }));
    const input = `${header}.${b64url(JSON.stringify(claims()))}`;
    const signature = crypto.sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(await viaCloudFront(bearer(`${input}.${b64url(signature)}`))).toEqual(allowed);
  });

  test('within 30 s of clock skew on exp, nbf and iat', async () => {
    expect(await viaCloudFront(bearer(sign(claims({ exp: nowSeconds() - 20 }))))).toEqual(allowed);
    expect(await viaCloudFront(bearer(sign(claims({ nbf: nowSeconds() + 20, iat: nowSeconds() + 20 }))))).toEqual(allowed);
  });
});

describe('a direct call (no or a wrong origin header) with a good token', () => {
  test('is denied (403) before any token work: the issuer is never contacted', async () => {
    const token = bearer(sign(claims()));
    expect(await handler(event(PROTECTED, { authorization: token }))).toEqual(denied);
    expect(await handler(event(PROTECTED, { 'authorization': token, 'x-origin-verify': crypto.randomBytes(32).toString('hex') }))).toEqual(denied);
    expect(await handler(event(OPEN, { authorization: token }))).toEqual(denied);
    expect(served).toEqual({ discovery: 0, jwks: 0 });
    expect(logs.join('\n')).toMatch(/"reason":"missing header".*\n.*"reason":"wrong header"/);
  });
});

describe('through CloudFront, the token is refused (403) when it is', () => {
  const refused = async (authorization: string | undefined, reason: RegExp) => {
    expect(await viaCloudFront(authorization)).toEqual(denied);
    expect(logs.at(-1)).toMatch(reason);
  };

  test('missing or empty', async () => {
    await refused(undefined, /missing token/);
    await refused('Bearer ', /missing token/);
  });

  test('expired beyond the skew, not yet valid, or issued in the future', async () => {
    await refused(bearer(sign(claims({ exp: nowSeconds() - 31 }))), /bad token \(ERR_JWT_EXPIRED\)/);
    await refused(bearer(sign(claims({ nbf: nowSeconds() + 40 }))), /bad token \(ERR_JWT_CLAIM_VALIDATION_FAILED\)/);
    await refused(bearer(sign(claims({ iat: nowSeconds() + 40 }))), /iat in the future/);
  });

  test('without exp', async () => {
    await refused(bearer(sign(claims({ exp: undefined }))), /ERR_JWT_CLAIM_VALIDATION_FAILED/);
  });

  test('for another audience, or with a matching client_id but a foreign aud', async () => {
    await refused(bearer(sign(claims({ aud: 'https://evil.example.com' }))), /audience/);
    await refused(bearer(sign(claims({ aud: [] }))), /audience/);
    await refused(bearer(sign(claims({ aud: undefined }))), /audience/);
    await refused(bearer(sign(claims({ aud: 'https://evil.example.com', client_id: AUDIENCE }))), /audience/);
  });

  test('from another issuer (even one whose keys we hold)', async () => {
    await refused(bearer(sign(claims({ iss: 'https://evil.example.com' }))), /ERR_JWT_CLAIM_VALIDATION_FAILED/);
    await refused(bearer(sign(claims({ iss: `${issuer}/` }))), /ERR_JWT_CLAIM_VALIDATION_FAILED/);
  });

  test('signed by a key that is not the issuer\'s, under a known or an unknown kid', async () => {
    await refused(bearer(sign(claims(), { key: otherKey.privateKey })), /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    await refused(bearer(sign(claims(), { key: otherKey.privateKey, kid: 'key-9' })), /ERR_JWKS_NO_MATCHING_KEY/);
  });

  test('altered after signing', async () => {
    const [h, , sig] = sign(claims({ sub: 'user_1' })).split('.');
    await refused(bearer(`${h}.${b64url(JSON.stringify(claims({ sub: 'admin' })))}.${sig}`), /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  test('unsigned (alg none) or HMAC-signed with the issuer\'s public key as the secret', async () => {
    await refused(bearer(sign(claims(), { alg: 'none' })), /bad token/);
    const pem = signingKey.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    await refused(bearer(sign(claims(), { alg: 'HS256', hmacSecret: Buffer.from(pem) })), /ERR_JOSE_ALG_NOT_ALLOWED/);
  });

  test('not a JWT at all', async () => {
    await refused('Bearer not-a-token', /bad token/);
    await refused(`Bearer ${b64url('{}')}.${b64url('{}')}.`, /bad token/);
  });
});

describe('routes and keys', () => {
  test('open routes need only the origin header: no token is looked at', async () => {
    expect(await viaCloudFront(undefined, OPEN)).toEqual(allowed);
    expect(await viaCloudFront('Bearer not-a-token', OPEN)).toEqual(allowed);
    expect(served).toEqual({ discovery: 0, jwks: 0 });
  });

  test('the issuer\'s keys are fetched once and cached across requests', async () => {
    for (let i = 0; i < 10; i++) expect(await viaCloudFront(bearer(sign(claims({ sub: `user_${i}` }))))).toEqual(allowed);
    expect(served).toEqual({ discovery: 1, jwks: 1 });
  });

  test('a key the issuer adds is picked up; unknown kids refetch at most every 30 s', async () => {
    expect(await viaCloudFront(bearer(sign(claims())))).toEqual(allowed);
    const nextKey = rsa();
    keys = [...keys, jwk(nextKey.publicKey, 'key-2')];
    const realNow = Date.now();
    // Within the cooldown: the new kid is not fetched yet (a flood of random kids costs nothing).
    jest.spyOn(Date, 'now').mockReturnValue(realNow + 5_000);
    for (let i = 0; i < 5; i++) expect(await viaCloudFront(bearer(sign(claims(), { key: nextKey.privateKey, kid: 'key-2' })))).toEqual(denied);
    expect(served.jwks).toBe(1);
    jest.spyOn(Date, 'now').mockReturnValue(realNow + 31_000);
    expect(await viaCloudFront(bearer(sign(claims(), { key: nextKey.privateKey, kid: 'key-2' })))).toEqual(allowed);
    expect(served.jwks).toBe(2);
  });
});

describe('with the environment the construct gives the function', () => {
  test('every route the API has gets the check its authorizer promises: token routes refuse a request without a token', async () => {
    const stack = new Stack(new App(), 'Api', { env: { account: '123456789012', region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
    new OriginVerifiedHttpApi(stack, 'Api', {
      vpc,
      host: new VpcHost(stack, 'Host', vpc),
      paths: { '/backend/api/v1': '/api/v1', '/backend/swagger': '/swagger' },
      protectedPaths: ['/backend/api/v1/admin', '/backend/api/v1/publisher'],
      jwtIssuer: 'https://issuer.example.com',
      jwtAudience: [AUDIENCE],
    });
    const template = Template.fromStack(stack);
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((r) => /request authorizer/.test(r.Properties.Description))!;
    const { SECRET_ID: _secretRef, ...env } = fn.Properties.Environment.Variables as Record<string, string>;
    Object.assign(process.env, env);
    const authorizers = template.findResources('AWS::ApiGatewayV2::Authorizer');
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    expect(routes).toHaveLength(8);
    for (const route of routes) {
      const needsToken = authorizers[route.AuthorizerId.Ref].Properties.IdentitySource.includes('$request.header.Authorization');
      const logged = logs.length;
      expect([route.RouteKey, await viaCloudFront(undefined, route.RouteKey)]).toEqual([route.RouteKey, needsToken ? denied : allowed]);
      expect(logs.slice(logged).map((l) => JSON.parse(l).reason)).toEqual(needsToken ? ['missing token'] : []);
    }
    expect(routes.filter((r) => authorizers[r.AuthorizerId.Ref].Properties.IdentitySource.length === 2).map((r) => r.RouteKey).sort())
      .toEqual(['ANY /backend/api/v1/admin', 'ANY /backend/api/v1/admin/{proxy+}', 'ANY /backend/api/v1/publisher', 'ANY /backend/api/v1/publisher/{proxy+}']);
  });
});

describe('fails closed (throws: API Gateway answers 500 and caches nothing)', () => {
  test('when the issuer does not answer: within the fetch timeout, then recovers', async () => {
    stall = true;
    const started = Date.now();
    await expect(viaCloudFront(bearer(sign(claims())))).rejects.toThrow(/timeout|aborted/i);
    expect(Date.now() - started).toBeLessThan(2_000);
    stall = false;
    expect(await viaCloudFront(bearer(sign(claims())))).toEqual(allowed);
  });

  test('when the issuer is unreachable', async () => {
    process.env.JWT_ISSUER = 'http://127.0.0.1:1';
    await expect(viaCloudFront(bearer(sign(claims({ iss: 'http://127.0.0.1:1' }))))).rejects.toThrow();
  });

  test('when the discovery document names another issuer', async () => {
    discoveryIssuer = 'https://evil.example.com';
    await expect(viaCloudFront(bearer(sign(claims())))).rejects.toThrow(/names issuer "https:\/\/evil.example.com"/);
  });

  test('when the issuer is plain HTTP to anything but this machine', async () => {
    process.env.JWT_ISSUER = 'http://issuer.example.com';
    await expect(viaCloudFront(bearer(sign(claims())))).rejects.toThrow(/must be an https URL/);
  });

  test('when protected routes are configured without issuer or audience', async () => {
    delete process.env.JWT_ISSUER;
    await expect(viaCloudFront(bearer(sign(claims())))).rejects.toThrow(/without JWT_ISSUER and JWT_AUDIENCE/);
  });
});
