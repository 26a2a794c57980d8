import { Duration, Fn, Names, RemovalPolicy, Stack, Tags, Token } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cw_actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { originVerifyFunctionCode } from './cloudfront-function-code';
import { OriginVerifyAuthorizerFunction } from './origin-verify-authorizer-function';
import { OriginVerifyRotationFunction } from './origin-verify-rotation-function';
import { PATH, planRoutes } from './routes';
import { functionLogging } from '../../internal/function-logging';
import { suppressNag } from '../../internal/nag';
import { IManagedHost } from '../managed-host';

/** Key of the origin-verify value in the CloudFront KeyValueStore. */
const KVS_ENTRY = 'origin-verify';

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

/**
 * An API Gateway HTTP API that answers only requests that came through your CloudFront
 * distribution, in front of a private backend host.
 *
 * - The backend is reached through an HTTP API VPC link and Cloud Map (no hourly charge);
 *   the host's port is open to the VPC link's security group only.
 * - Every route has a Lambda request authorizer that compares the origin-verify header in
 *   constant time with the current (and, briefly after a rotation, the previous) value of a
 *   Secrets Manager secret; on protected prefixes the same function then verifies the JWT
 *   (signature against the issuer's cached JWKS, issuer, audience, expiry). A request straight
 *   to the execute-api URL gets 401 or 403, with or without a valid token.
 * - The secret is generated by Secrets Manager and rotated on a schedule by a function that
 *   writes the new value to a CloudFront KeyValueStore (read by a CloudFront Function that
 *   adds the header) and to the host's SSM parameter. No value is ever in a template.
 *
 * @example
 * const api = new OriginVerifiedHttpApi(this, 'Api', { vpc, host });
 * new cloudfront.Distribution(this, 'Site', {
 *   defaultBehavior: { origin },
 *   additionalBehaviors: { '/backend/*': api.cloudFrontBehavior() },
 * });
 */
export class OriginVerifiedHttpApi extends Construct implements ec2.IConnectable {
  /** The HTTP API. */
  public readonly httpApi: apigwv2.HttpApi;
  /** The HTTP API's `$default` stage (throttled, access-logged). */
  public readonly stage: apigwv2.HttpStage;
  /** The execute-api URL of the default stage, ending in `/`. */
  public readonly url: string;
  /** The secret holding the origin-verify value (AWSCURRENT, AWSPREVIOUS, AWSPENDING). */
  public readonly secret: secretsmanager.ISecret;
  /** The KeyValueStore that the rotation writes and the CloudFront Function reads. */
  public readonly keyValueStore: cloudfront.IKeyValueStore;
  /** The CloudFront Function that adds the origin-verify header (viewer request). */
  public readonly originVerifyFunction: cloudfront.IFunction;
  /** The Lambda request authorizer function (origin-verify header, and the JWT on protected routes). */
  public readonly authorizerFunction: lambda.IFunction;
  /** The Secrets Manager rotation function. */
  public readonly rotationFunction: lambda.IFunction;
  /** The VPC link to the backend. */
  public readonly vpcLink: apigwv2.IVpcLink;
  /** Log group of the authorizer (denied requests, never the header value). */
  public readonly authorizerLogGroup: logs.ILogGroup;
  /** Log group of the rotation function. */
  public readonly rotationLogGroup: logs.ILogGroup;
  /** The access log group. */
  public readonly accessLogGroup: logs.ILogGroup;
  /** The header CloudFront adds. */
  public readonly headerName: string;
  /** The VPC link's security group (the only source allowed to reach the host's port). */
  public readonly connections: ec2.Connections;
  /** Route keys (`ANY /path`) that need the origin-verify header and a JWT. */
  public readonly protectedRouteKeys: string[] = [];
  /** Route keys (`ANY /path`) that need the origin-verify header only. */
  public readonly originVerifiedRouteKeys: string[] = [];

  private origin?: cloudfront.IOrigin;

  constructor(scope: Construct, id: string, props: OriginVerifiedHttpApiProps) {
    super(scope, id);
    const settings = validate(props);
    const protectedCacheTtl = protectedRouteCacheTtl(props, settings.cacheTtl);
    this.headerName = settings.headerName;
    if (props.host) Tags.of(this).add('shtetl:service', props.host.serviceName);
    const stack = Stack.of(this);

    // The secret: generated by Secrets Manager inside AWS, letters and digits only (a valid
    // header value), never in the template.
    const secret = new secretsmanager.Secret(this, 'Secret', {
      description: `Origin-verify value CloudFront sends to ${this.node.path} (rotated; never set by hand)`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.secret = secret;

    const store = new cloudfront.KeyValueStore(this, 'KeyValueStore', {
      comment: `Origin-verify value for ${this.node.path}, written by its rotation`,
    });
    this.keyValueStore = store;
    this.originVerifyFunction = new cloudfront.Function(this, 'OriginVerifyFunction', {
      comment: 'Adds the origin-verify header from the KeyValueStore',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      keyValueStore: store,
      code: cloudfront.FunctionCode.fromInline(originVerifyFunctionCode(store.keyValueStoreId, this.headerName, KVS_ENTRY)),
    });

    // The authorizer: one function for every route; the route key tells it whether the route
    // also needs a JWT.
    const routes = planRoutes(settings.paths, settings.protectedPaths);
    for (const route of routes) (route.protected ? this.protectedRouteKeys : this.originVerifiedRouteKeys).push(`ANY ${route.path}`);
    const authorizerLogging = functionLogging(this, 'Authorizer');
    const authorizerFn = new OriginVerifyAuthorizerFunction(this, 'Authorizer', {
      role: authorizerLogging.role,
      logGroup: authorizerLogging.logGroup,
      description: `Origin-verify and JWT request authorizer of ${this.node.path}`,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(10),
      environment: {
        SECRET_ID: secret.secretArn,
        HEADER_NAME: this.headerName,
        CACHE_TTL_SECONDS: String(settings.cacheTtl.toSeconds()),
        PREVIOUS_GRACE_SECONDS: String(settings.previousGrace.toSeconds()),
        ...(this.protectedRouteKeys.length > 0 ? {
          PROTECTED_ROUTE_KEYS: JSON.stringify(this.protectedRouteKeys),
          JWT_ISSUER: props.jwtIssuer!,
          JWT_AUDIENCE: stack.toJsonString(props.jwtAudience!),
          // Bounds each discovery and JWKS fetch (the function times out after 10 s).
          FETCH_TIMEOUT_MS: '3000',
        } : {}),
      },
    });
    secret.grantRead(authorizerFn);
    this.authorizerFunction = authorizerFn;
    this.authorizerLogGroup = authorizerLogging.logGroup;

    // The rotation.
    const rotationLogging = functionLogging(this, 'Rotation');
    // The host loads a rotated value through its own parameterless refresh command.
    const hostRefresh = props.host && props.hostParameterName ? props.host.refreshApiCommand : undefined;
    const rotationFn = new OriginVerifyRotationFunction(this, 'Rotation', {
      role: rotationLogging.role,
      logGroup: rotationLogging.logGroup,
      description: `Rotates the origin-verify value of ${this.node.path} into CloudFront and the host`,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      // One authorizer cache TTL of waiting, the host refresh (3 min) and the API calls.
      timeout: Duration.seconds(settings.cacheTtl.toSeconds() + 30 + 180 + 120),
      environment: {
        ACCEPT_DELAY_SECONDS: String(settings.cacheTtl.toSeconds() + 30),
        KVS_ARN: store.keyValueStoreArn,
        KVS_ENTRY,
        ...(props.hostParameterName ? { HOST_PARAMETER_NAME: props.hostParameterName } : {}),
        ...(hostRefresh ? {
          HOST_INSTANCE_ID: hostRefresh.instanceId,
          HOST_REFRESH_DOCUMENT: hostRefresh.documentName,
          COMMAND_TIMEOUT_SECONDS: '180',
        } : {}),
      },
    });
    rotationFn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['cloudfront-keyvaluestore:DescribeKeyValueStore', 'cloudfront-keyvaluestore:GetKey', 'cloudfront-keyvaluestore:PutKey'],
      resources: [store.keyValueStoreArn],
    }));
    if (props.hostParameterName) {
      rotationFn.addToRolePolicy(new iam.PolicyStatement({
        actions: ['ssm:PutParameter'],
        resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: props.hostParameterName.replace(/^\//, '') })],
      }));
    }
    if (hostRefresh) {
      hostRefresh.grantRun(rotationFn);
      suppressNag(rotationLogging.role.node.findChild('DefaultPolicy'), [{
        id: 'AwsSolutions-IAM5',
        reason: 'ssm:GetCommandInvocation and secretsmanager:GetRandomPassword support no resource-level permissions; they only read command status and draw a random string',
        appliesTo: ['Resource::*'],
      }]);
    } else {
      suppressNag(rotationLogging.role.node.findChild('DefaultPolicy'), [{
        id: 'AwsSolutions-IAM5',
        reason: 'secretsmanager:GetRandomPassword supports no resource-level permissions; it only returns a random string',
        appliesTo: ['Resource::*'],
      }]);
    }
    this.rotationFunction = rotationFn;
    this.rotationLogGroup = rotationLogging.logGroup;
    const schedule = secret.addRotationSchedule('Rotation', {
      rotationLambda: rotationFn,
      automaticallyAfter: settings.rotationInterval,
      rotateImmediatelyOnUpdate: true,
    });
    schedule.node.addDependency(store);
    // Secrets Manager may invoke the rotation for this secret in this account only (the
    // schedule's grant has no condition: any account's Secrets Manager could otherwise).
    for (const child of rotationFn.node.children) {
      if (child instanceof lambda.CfnPermission && child.principal === 'secretsmanager.amazonaws.com') {
        child.sourceAccount = stack.account;
        child.sourceArn = secret.secretArn;
      }
    }

    // The backend: a VPC link whose security group is the only source of the host's port,
    // and the host in a Cloud Map HTTP namespace (no hosted zone, no hourly charge).
    const linkSecurityGroup = new ec2.SecurityGroup(this, 'VpcLinkSecurityGroup', {
      vpc: props.vpc,
      description: `VPC link of ${this.node.path}: may reach the backend port only`,
      allowAllOutbound: false,
    });
    this.connections = linkSecurityGroup.connections;
    linkSecurityGroup.connections.allowTo(props.backendListener ?? props.host!, ec2.Port.tcp(settings.port), `API Gateway VPC link of ${this.node.path}`);
    this.vpcLink = new apigwv2.VpcLink(this, 'VpcLink', {
      vpc: props.vpc,
      subnets: props.vpcSubnets ?? {},
      securityGroups: [linkSecurityGroup],
    });
    let service: servicediscovery.Service | undefined;
    if (props.host) {
      const namespace = new servicediscovery.HttpNamespace(this, 'Namespace', {
        name: Names.uniqueResourceName(this, { maxLength: 64, separator: '-' }).toLowerCase(),
        description: `Backend discovery for ${this.node.path}`,
      });
      service = namespace.createService('Backend', { description: 'The backend host' });
      service.registerIpInstance('Host', { ipv4: props.host.instancePrivateIp, port: settings.port });
    }

    // The API.
    const allowedOrigins = props.allowedOrigins ?? props.host?.allowedOrigins ?? [];
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: `Origin-verified API of ${this.node.path}`,
      createDefaultStage: false,
      corsPreflight: allowedOrigins.length > 0 ? {
        allowOrigins: allowedOrigins,
        allowMethods: [apigwv2.CorsHttpMethod.ANY],
        allowHeaders: ['authorization', 'content-type'],
        allowCredentials: true,
        maxAge: Duration.hours(1),
      } : undefined,
    });
    const accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.accessLogGroup = accessLogGroup;
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: settings.rateLimit, burstLimit: settings.burstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogGroup),
        format: apigateway.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.url = this.httpApi.apiEndpoint + '/';

    // Two API Gateway authorizers on the same function, so that each caches its decisions on
    // what it checks: the origin header, or the origin header and the token together.
    const originAuthorizer = new authorizers.HttpLambdaAuthorizer('OriginVerifyAuthorizer', authorizerFn, {
      authorizerName: 'origin-verify',
      identitySource: [`$request.header.${this.headerName}`],
      responseTypes: [authorizers.HttpLambdaResponseType.SIMPLE],
      resultsCacheTtl: settings.cacheTtl,
    });
    const protectedAuthorizer = settings.protectedPaths.length > 0
      ? new authorizers.HttpLambdaAuthorizer('OriginVerifyJwtAuthorizer', authorizerFn, {
        authorizerName: 'origin-verify-jwt',
        identitySource: [`$request.header.${this.headerName}`, '$request.header.Authorization'],
        responseTypes: [authorizers.HttpLambdaResponseType.SIMPLE],
        resultsCacheTtl: protectedCacheTtl,
      })
      : undefined;

    const integrationsByTarget = new Map<string, apigwv2.HttpRouteIntegration>();
    const integrationFor = (backendPath: string) => {
      let integration = integrationsByTarget.get(backendPath);
      if (!integration) {
        const options = {
          vpcLink: this.vpcLink,
          method: apigwv2.HttpMethod.ANY,
          timeout: settings.integrationTimeout,
          parameterMapping: new apigwv2.ParameterMapping().overwritePath(apigwv2.MappingValue.custom(backendPath)),
        };
        integration = service
          ? new TimedServiceDiscoveryIntegration(`Backend${integrationsByTarget.size}`, service, options)
          : new TimedAlbIntegration(`Backend${integrationsByTarget.size}`, props.backendListener!, options);
        integrationsByTarget.set(backendPath, integration);
      }
      return integration;
    };
    for (const route of routes) {
      const authorizer = route.protected ? protectedAuthorizer! : originAuthorizer;
      this.httpApi.addRoutes({ path: route.path, methods: [apigwv2.HttpMethod.ANY], integration: integrationFor(route.backendPath), authorizer });
    }

    this.createAlarms(props.alarmTopic);
  }

  /**
   * A CloudFront origin for the API (HTTPS only, TLS 1.2). Use it with
   * {@link originVerifyFunction} on the viewer request of the behavior, or use
   * {@link cloudFrontBehavior}, which does both.
   */
  public cloudFrontOrigin(): cloudfront.IOrigin {
    if (!this.origin) {
      this.origin = new origins.HttpOrigin(Fn.select(2, Fn.split('/', this.httpApi.apiEndpoint)), {
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
        readTimeout: Duration.seconds(30),
      });
    }
    return this.origin;
  }

  /**
   * Everything a CloudFront behavior for the API needs (e.g. `/backend/*`): the origin, the
   * function that adds the origin-verify header, no caching, all methods, and every viewer
   * header, cookie and query string except Host forwarded.
   */
  public cloudFrontBehavior(): cloudfront.BehaviorOptions {
    return {
      origin: this.cloudFrontOrigin(),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      functionAssociations: [{ function: this.originVerifyFunction, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
    };
  }

  /** Grants reading the origin-verify secret's values (e.g. to a backend that checks it too). */
  public grantReadSecret(grantee: iam.IGrantable): iam.Grant {
    return this.secret.grantRead(grantee);
  }

  /** Requests answered with 4xx (includes requests the authorizers rejected). */
  public metricClientError(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi.metricClientError({ period: Duration.minutes(5), ...props });
  }

  /** Requests answered with 5xx. */
  public metricServerError(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi.metricServerError({ period: Duration.minutes(5), ...props });
  }

  /** Time from request to response, in milliseconds (p99 unless given). */
  public metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi.metricLatency({ period: Duration.minutes(5), statistic: 'p99', ...props });
  }

  /** Time the backend took, in milliseconds (p99 unless given). */
  public metricIntegrationLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi.metricIntegrationLatency({ period: Duration.minutes(5), statistic: 'p99', ...props });
  }

  /** Number of requests. */
  public metricCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.httpApi.metricCount({ period: Duration.minutes(5), ...props });
  }

  private createAlarms(topic?: sns.ITopic) {
    const alarms = [
      this.metricServerError().createAlarm(this, 'ServerErrorAlarm', {
        alarmDescription: `${this.node.path}: 10 or more 5xx answers in 5 minutes (backend down, VPC link or authorizer failing)`,
        threshold: 10,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      this.metricLatency().createAlarm(this, 'LatencyAlarm', {
        alarmDescription: `${this.node.path}: p99 latency above 5 s for 15 minutes`,
        threshold: 5000,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      this.authorizerFunction.metricErrors({ period: Duration.minutes(5) }).createAlarm(this, 'AuthorizerErrorAlarm', {
        alarmDescription: `${this.node.path}: the request authorizer failed (cannot read its secret or the JWT issuer's keys: requests are refused)`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      this.rotationFunction.metricErrors({ period: Duration.minutes(5) }).createAlarm(this, 'RotationErrorAlarm', {
        alarmDescription: `${this.node.path}: the origin-verify rotation failed (see README, rotation runbook)`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    if (topic) {
      for (const alarm of alarms) {
        alarm.addAlarmAction(new cw_actions.SnsAction(topic));
        alarm.addOkAction(new cw_actions.SnsAction(topic));
      }
    }
  }
}

/**
 * aws-cdk-lib 2.257's HttpServiceDiscoveryIntegration accepts `timeout` but leaves it out of
 * the integration (API Gateway would use its 30 s default); this passes it through.
 */
class TimedServiceDiscoveryIntegration extends integrations.HttpServiceDiscoveryIntegration {
  private readonly timeout?: Duration;

  constructor(id: string, service: servicediscovery.IService, props: integrations.HttpServiceDiscoveryIntegrationProps) {
    super(id, service, props);
    this.timeout = props.timeout;
  }

  public bind(options: apigwv2.HttpRouteIntegrationBindOptions): apigwv2.HttpRouteIntegrationConfig {
    return { ...super.bind(options), timeout: this.timeout };
  }
}

/** An ALB integration with the route's timeout (as above). */
class TimedAlbIntegration extends integrations.HttpAlbIntegration {
  private readonly timeout?: Duration;

  constructor(id: string, listener: elbv2.IApplicationListener, props: integrations.HttpAlbIntegrationProps) {
    super(id, listener, props);
    this.timeout = props.timeout;
  }

  public bind(options: apigwv2.HttpRouteIntegrationBindOptions): apigwv2.HttpRouteIntegrationConfig {
    return { ...super.bind(options), timeout: this.timeout };
  }
}

/** JSON access log line: who, what, outcome, timings, and why an authorizer refused. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integrationStatus',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  userAgent: '$context.identity.userAgent',
};

interface Settings {
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

function validate(props: OriginVerifiedHttpApiProps): Settings {
  const fail = (message: string): never => {
    throw new Error(`OriginVerifiedHttpApi: ${message}`);
  };
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
function protectedRouteCacheTtl(props: OriginVerifiedHttpApiProps, cacheTtl: Duration): Duration {
  const ttl = props.protectedRouteCacheTtl ?? Duration.seconds(0);
  if (ttl.toSeconds() < 0 || ttl.toSeconds() > cacheTtl.toSeconds()) {
    // A longer cache would keep allowing an origin value past the rotation's grace period.
    throw new Error(`OriginVerifiedHttpApi: protectedRouteCacheTtl must be from 0 to cacheTtl (${cacheTtl.toHumanString()}) (got ${ttl.toHumanString()}).`);
  }
  return ttl;
}
