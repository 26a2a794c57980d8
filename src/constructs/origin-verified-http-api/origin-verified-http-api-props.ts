import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { OriginVerifiedHttpApi } from './origin-verified-http-api';
import { IManagedHost } from '../managed-host';

/**
 * Properties of {@link OriginVerifiedHttpApi}.
 */
export interface OriginVerifiedHttpApiProps {
  /** The VPC of the backend host; the VPC link's network interfaces go into it. */
  readonly vpc: ec2.IVpc;

  /**
   * Subnets for the VPC link's network interfaces (they must reach the host).
   *
   * @default - the VPC's default selection (private subnets, else isolated, else public)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The backend host. Its API port (`host.apiPort`) is opened to the VPC link only, and it
   * is registered in Cloud Map by its private IP address and that port. After each rotation
   * that wrote `hostParameterName`, the rotation runs the host's `refreshApiCommand`. The
   * construct's resources are tagged `shtetl:service=<host.serviceName>`.
   *
   * @default - none: give exactly one of `host` and `backendListener`
   */
  readonly host?: IManagedHost;

  /**
   * Instead of one host: the listener of an internal Application Load Balancer in front of
   * several backend instances (its health checks keep failed instances out of rotation).
   * The VPC link reaches the listener's `port`; the load balancer's security group is opened
   * to the VPC link only. There is no single instance to refresh after a rotation: the
   * backends must re-read `hostParameterName` themselves.
   *
   * @default - none: give exactly one of `host` and `backendListener`
   */
  readonly backendListener?: elbv2.IApplicationListener;

  /**
   * Port the backend listens on (plain HTTP inside the VPC). With `host` it is the host's
   * `apiPort`; giving another value is an error.
   *
   * @default - `host.apiPort`; with `backendListener`, 8080
   */
  readonly port?: number;

  /**
   * Public path prefix to backend path prefix. Each entry `P: B` creates the routes `P` and
   * `P/{proxy+}`, which reach the backend at `B` and `B/{proxy}`; the most specific prefix
   * wins, so an exact path (e.g. a health URL) can be mapped apart from its parent. Paths
   * nobody mapped get API Gateway's 404 and never reach the host.
   *
   * @example { '/backend/api/v1': '/api/v1', '/backend/api/v1/health': '/health' }
   * @default { '/': '/' } (every path, unchanged)
   */
  readonly paths?: { [publicPrefix: string]: string };

  /**
   * Public path prefixes that require a JWT (each must lie under a `paths` prefix). Their
   * routes need the origin-verify header AND a valid JWT (one Lambda request authorizer checks
   * both); every other route needs the origin-verify header.
   *
   * @example ['/backend/api/v1/admin', '/backend/api/v1/publisher']
   * @default - no protected routes
   */
  readonly protectedPaths?: string[];

  /**
   * Issuer URL of the JWTs on protected routes (e.g. your Clerk frontend API URL). The
   * authorizer finds the issuer's keys by OpenID Connect discovery
   * (`<issuer>/.well-known/openid-configuration`, then its `jwks_uri`), as API Gateway's JWT
   * authorizer does, and keeps them cached. Tokens must carry exactly this `iss`.
   *
   * @default - required when `protectedPaths` is not empty
   */
  readonly jwtIssuer?: string;

  /**
   * Accepted audiences of the JWTs on protected routes: the `aud` claim must contain one of
   * them (a token without `aud` is accepted when its `client_id` is one of them, as with API
   * Gateway's JWT authorizer).
   *
   * @default - required when `protectedPaths` is not empty
   */
  readonly jwtAudience?: string[];

  /**
   * Origins a browser may call the API from (CORS).
   *
   * @example ['https://www.example.com']
   * @default - the host's `allowedOrigins` (none: no CORS configuration, same-origin use through CloudFront only)
   */
  readonly allowedOrigins?: string[];

  /**
   * Steady-state request rate limit of the default stage, per second.
   *
   * @default 500
   */
  readonly throttlingRateLimit?: number;

  /**
   * Burst limit of the default stage.
   *
   * @default 1000
   */
  readonly throttlingBurstLimit?: number;

  /**
   * Timeout of the backend integration (API Gateway's maximum is 29 seconds).
   *
   * @default Duration.seconds(29)
   */
  readonly integrationTimeout?: Duration;

  /**
   * Retention of the JSON access logs.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly accessLogRetention?: logs.RetentionDays;

  /**
   * Topic that the API's alarms notify (5xx, latency, authorizer and rotation failures).
   *
   * @default - alarms are created without actions
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Name of the header CloudFront adds and the authorizer checks (lowercase).
   *
   * @default 'x-origin-verify'
   */
  readonly headerName?: string;

  /**
   * How often the origin-verify value rotates. The first rotation runs when the schedule is
   * created; it puts the value into CloudFront's KeyValueStore and the host parameter.
   *
   * @default Duration.days(30)
   */
  readonly rotationInterval?: Duration;

  /**
   * How long after a rotation the previous value stays valid (for CloudFront edges and
   * cached decisions that still carry it). After that only the current value (and a pending
   * one during a rotation) is accepted.
   *
   * @default Duration.hours(1)
   */
  readonly previousValueGracePeriod?: Duration;

  /**
   * How long the authorizer caches the secret's values, and API Gateway its decision for a
   * header value (at most 5 minutes). Each rotation waits this long (plus 30 s) after
   * creating the new value before CloudFront sends it, so every authorizer knows it by then.
   *
   * @default Duration.minutes(5)
   */
  readonly cacheTtl?: Duration;

  /**
   * How long API Gateway caches the authorizer's decision on a protected route, keyed on the
   * origin-verify header and the `Authorization` header together. With 0 every request to a
   * protected route is checked, so a token is refused from the second it expires (as API
   * Gateway's JWT authorizer does); with more, an allowed token stays allowed for up to this
   * long after it expires. At most `cacheTtl`.
   *
   * @default Duration.seconds(0)
   */
  readonly protectedRouteCacheTtl?: Duration;

  /**
   * SSM SecureString parameter that the host reads as its copy of the key (e.g.
   * `ORIGIN_VERIFY_KEY`); each rotation overwrites it with the new value.
   *
   * @default - the host gets no copy
   */
  readonly hostParameterName?: string;

  /**
   * What happens to the Secrets Manager secret when it leaves the stack. Destroying it is
   * safe: a new secret is generated and rotated into CloudFront and the host on re-creation.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}
