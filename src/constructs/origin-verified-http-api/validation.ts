import { Duration, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { OriginVerifiedHttpApiProps } from './origin-verified-http-api-props';
import { PATH } from './routes';
import { failer, ValidationError } from '../../internal/validation-error';

/** The props with their defaults, validated. */
export interface Settings {
  readonly port: number;
  readonly headerName: string;
  readonly paths: { [publicPrefix: string]: string };
  readonly protectedPaths: string[];
  readonly rateLimit: number;
  readonly burstLimit: number;
  readonly integrationTimeout: Duration;
  readonly cacheTtl: Duration;
  readonly previousGrace: Duration;
  readonly rotationInterval: Duration;
}

export function validateProps(scope: IConstruct, props: OriginVerifiedHttpApiProps): Settings {
  const fail = failer('OriginVerifiedHttpApi', scope);
  if (props.host && props.port !== undefined && props.port !== props.host.apiPort) {
    fail(`port ${props.port} differs from the host's apiPort ${props.host.apiPort}; the VPC link must reach the port the API listens on. Remove port (it comes from the host) or change the host's apiPort.`);
  }
  const port = props.host ? props.host.apiPort : props.port ?? 8080;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    fail(`port must be a TCP port from 1 to 65535 (got ${port}).`);
  }
  const headerName = props.headerName ?? 'x-origin-verify';
  if (!/^x-[a-z0-9-]{1,60}$/.test(headerName)) {
    fail(`headerName must be a lowercase header name starting with "x-" (got "${headerName}"). Use e.g. "x-origin-verify".`);
  }
  const paths = props.paths ?? { '/': '/' };
  if (Object.keys(paths).length === 0) {
    fail('paths is empty; map at least one public prefix, e.g. { "/api": "/" } (or leave paths out: every path, unchanged).');
  }
  for (const [publicPrefix, backendPrefix] of Object.entries(paths)) {
    if (publicPrefix !== '/' && !PATH.test(publicPrefix)) {
      fail(`paths key "${publicPrefix}" must be an absolute path without a trailing slash or variables, e.g. "/backend/api/v1".`);
    }
    if (backendPrefix !== '/' && !PATH.test(backendPrefix)) {
      fail(`paths["${publicPrefix}"] = "${backendPrefix}" must be an absolute path without a trailing slash, e.g. "/api/v1" (or "/").`);
    }
  }
  const protectedPaths = props.protectedPaths ?? [];
  const mapped = Object.keys(paths);
  for (const p of protectedPaths) {
    if (!PATH.test(p)) {
      fail(`protectedPaths entry "${p}" must be an absolute path without a trailing slash, e.g. "/backend/api/v1/admin".`);
    }
    if (!mapped.some((m) => m === '/' || p === m || p.startsWith(`${m}/`))) {
      fail(`protectedPaths entry "${p}" is under none of the mapped prefixes (${mapped.join(', ')}); add a paths entry that covers it.`);
    }
    if (paths[p] !== undefined) {
      fail(`"${p}" is both a paths key and a protected path; a route has one authorizer. Remove it from one of them.`);
    }
  }
  const dupes = protectedPaths.filter((p, i) => protectedPaths.indexOf(p) !== i);
  if (dupes.length > 0) fail(`protectedPaths lists "${dupes[0]}" twice.`);
  if (protectedPaths.length > 0) {
    if (!props.jwtIssuer || (!Token.isUnresolved(props.jwtIssuer) && !/^https:\/\/[^\s/]+/.test(props.jwtIssuer))) {
      fail(`jwtIssuer must be the https issuer URL of your tokens when protectedPaths is set (got ${JSON.stringify(props.jwtIssuer)}), e.g. "https://clerk.example.com".`);
    }
    if (!props.jwtAudience || props.jwtAudience.length === 0) {
      fail('jwtAudience must list at least one audience when protectedPaths is set (the "aud" claim your tokens carry).');
    }
  }
  const rateLimit = props.throttlingRateLimit ?? 500;
  const burstLimit = props.throttlingBurstLimit ?? 1000;
  if (!(rateLimit > 0) || !Number.isInteger(burstLimit) || burstLimit < 1) {
    fail(`throttlingRateLimit must be positive and throttlingBurstLimit a positive whole number (got ${rateLimit}, ${burstLimit}).`);
  }
  const integrationTimeout = props.integrationTimeout ?? Duration.seconds(29);
  if (integrationTimeout.toMilliseconds() < 50 || integrationTimeout.toMilliseconds() > 29_000) {
    fail(`integrationTimeout must be from 50 ms to 29 s, API Gateway's limits (got ${integrationTimeout.toHumanString()}).`);
  }
  const cacheTtl = props.cacheTtl ?? Duration.minutes(5);
  if (cacheTtl.toSeconds() < 0 || cacheTtl.toSeconds() > 300) {
    // The rotation waits one TTL inside a Lambda invocation before CloudFront switches.
    fail(`cacheTtl must be from 0 to 5 minutes (got ${cacheTtl.toHumanString()}): each rotation waits one TTL before CloudFront sends the new value.`);
  }
  const previousGrace = props.previousValueGracePeriod ?? Duration.hours(1);
  if (previousGrace.toSeconds() < cacheTtl.toSeconds()) {
    fail(`previousValueGracePeriod (${previousGrace.toHumanString()}) must be at least cacheTtl (${cacheTtl.toHumanString()}), or edges still sending the old value would be refused.`);
  }
  const rotationInterval = props.rotationInterval ?? Duration.days(30);
  if (rotationInterval.toHours() < 4 || rotationInterval.toDays({ integral: false }) > 1000) {
    fail(`rotationInterval must be from 4 hours to 1000 days, Secrets Manager's limits (got ${rotationInterval.toHumanString()}).`);
  }
  if (rotationInterval.toSeconds() <= previousGrace.toSeconds()) {
    fail(`rotationInterval (${rotationInterval.toHumanString()}) must be longer than previousValueGracePeriod (${previousGrace.toHumanString()}).`);
  }
  if (props.hostParameterName !== undefined && !/^(\/[a-zA-Z0-9_.-]+)+$/.test(props.hostParameterName)) {
    fail(`hostParameterName must be an absolute SSM parameter name (got "${props.hostParameterName}"), e.g. "/<service>/<env>/origin-verify-key".`);
  }
  if ((props.host === undefined) === (props.backendListener === undefined)) {
    fail(`Give exactly one backend: host (one instance) or backendListener (an internal ALB); got ${props.host ? 'both' : 'neither'}.`);
  }
  return { port, headerName, paths, protectedPaths, rateLimit, burstLimit, integrationTimeout, cacheTtl, previousGrace, rotationInterval };
}

/** The decision cache of protected routes: at most cacheTtl (see `protectedRouteCacheTtl`). */
export function protectedRouteCacheTtl(scope: IConstruct, props: OriginVerifiedHttpApiProps, cacheTtl: Duration): Duration {
  const ttl = props.protectedRouteCacheTtl ?? Duration.seconds(0);
  if (ttl.toSeconds() < 0 || ttl.toSeconds() > cacheTtl.toSeconds()) {
    // A longer cache would keep allowing an origin value past the rotation's grace period.
    throw new ValidationError('OriginVerifiedHttpApi', scope, `protectedRouteCacheTtl must be from 0 to cacheTtl (${cacheTtl.toHumanString()}) (got ${ttl.toHumanString()}).`);
  }
  return ttl;
}
