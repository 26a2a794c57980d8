import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { HostReference, IManagedHost } from '../../constructs/managed-host';
import { OriginVerifiedHttpApi } from '../../constructs/origin-verified-http-api';
import { ZmanimConfig } from '../config';

/**
 * The seed's public API layout: `https://<domain>/backend/api/v1/...` reaches the Go API's
 * `/api/v1/...`, its health URL `/health`, and the Swagger UI `/swagger/...`.
 */
export const ZMANIM_API_PATHS = {
  '/backend/api/v1': '/api/v1',
  '/backend/api/v1/health': '/health',
  '/backend/swagger': '/swagger',
};

/** Route groups of the Go API that require a Clerk session token. */
export const ZMANIM_PROTECTED_GROUPS = ['admin', 'publisher', 'external', 'auth'];

export interface ApiStackProps extends StackProps {
  readonly config: ZmanimConfig;
  /** The VPC of the host (Network stack). */
  readonly vpc: ec2.IVpc;
  /** The data host whose Go API listens on :8080 (Compute stack; `single-host` profile). */
  readonly host?: IManagedHost;
  /** Instead of `host`: the API fleet's internal load balancer listener on :8080 (`managed` profile). */
  readonly backendListener?: elbv2.IApplicationListener;
  /** The regional alarm topic (Monitoring stack). */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Issuer of the Clerk session tokens.
   * @default `https://clerk.${config.domain}` (a Clerk production instance's frontend API)
   */
  readonly jwtIssuer?: string;
  /**
   * Audience the Clerk session token template puts into `aud`.
   * @default [`https://${config.domain}`]
   */
  readonly jwtAudience?: string[];
}

/**
 * The seed's API Gateway stack: the HTTP API under `https://<domain>/backend/`, reachable
 * only through CloudFront (origin-verify header, rotated monthly), Clerk JWTs on the
 * protected route groups, and a VPC link to the host's :8080.
 */
export class ApiStack extends Stack {
  public readonly api: OriginVerifiedHttpApi;

  constructor(scope: Construct, id: string, props: ApiStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.api = new OriginVerifiedHttpApi(this, 'Api', {
      vpc: props.vpc,
      // Read from SSM at each deploy: the host is replaced when its scripts change (HostReference).
      host: props.host ? new HostReference(this, 'Host', { host: props.host, parameterPrefix: config.ssmPrefix }) : undefined,
      backendListener: props.backendListener,
      // The fleet's listener port; a host brings its own (apiPort).
      port: props.host ? undefined : 8080,
      paths: ZMANIM_API_PATHS,
      protectedPaths: ZMANIM_PROTECTED_GROUPS.map((group) => `/backend/api/v1/${group}`),
      jwtIssuer: props.jwtIssuer ?? `https://clerk.${config.domain}`,
      jwtAudience: props.jwtAudience ?? [`https://${config.domain}`],
      allowedOrigins: [`https://${config.domain}`],
      alarmTopic: props.alarmTopic,
      // The host reads this parameter as ORIGIN_VERIFY_KEY (GeneratedSecrets created it; the
      // first rotation, at deploy, overwrites it with the value CloudFront sends).
      hostParameterName: `${config.ssmPrefix}/origin-verify-key`,
      // The host then runs its refresh command (HostCommand); a fleet re-reads the key on a
      // timer (ApiFleetStack): no single instance to run on.
    });
    // For the runbook (README, OriginVerifiedHttpApi: rotation).
    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'execute-api URL (answers 401/403 without CloudFront)' });
    new CfnOutput(this, 'OriginVerifySecretArn', { value: this.api.secret.secretArn, description: 'aws secretsmanager rotate-secret --secret-id <this>' });
    new CfnOutput(this, 'RotationLogGroup', { value: this.api.rotationLogGroup.logGroupName, description: 'aws logs tail <this> --since 1d' });
    new CfnOutput(this, 'AuthorizerLogGroup', { value: this.api.authorizerLogGroup.logGroupName, description: 'Denied requests (never the header value)' });
    new CfnOutput(this, 'AccessLogGroup', { value: this.api.accessLogGroup.logGroupName, description: 'JSON access logs of the API' });
  }
}
