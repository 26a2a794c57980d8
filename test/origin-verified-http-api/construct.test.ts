import { App, Aspects, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OriginVerifiedHttpApi, OriginVerifiedHttpApiProps } from '../../src/constructs/origin-verified-http-api';
import { planRoutes } from '../../src/constructs/origin-verified-http-api/routes';
import { VpcHost } from '../support/vpc-host';

const ENV = { account: '123456789012', region: 'eu-west-1' };

const ZMANIM_PATHS = {
  '/backend/api/v1': '/api/v1',
  '/backend/api/v1/health': '/health',
  '/backend/swagger': '/swagger',
};
const PROTECTED = ['admin', 'publisher', 'external', 'auth'].map((p) => `/backend/api/v1/${p}`);

/** Compute (VPC + host), API and Site in three stacks, as the zmanim app splits them. */
function build(extra: Partial<OriginVerifiedHttpApiProps> = {}) {
  const app = new App();
  const compute = new Stack(app, 'Compute', { env: ENV });
  const vpc = new ec2.Vpc(compute, 'Vpc', {
    maxAzs: 1,
    natGateways: 0,
    subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
  });
  const host = new VpcHost(compute, 'Host', vpc);
  const stack = new Stack(app, 'Api', { env: ENV });
  const topic = new sns.Topic(stack, 'Alarms', { enforceSSL: true });
  const api = new OriginVerifiedHttpApi(stack, 'Api', {
    vpc,
    host,
    paths: ZMANIM_PATHS,
    protectedPaths: PROTECTED,
    jwtIssuer: 'https://clerk.zmanim.shtetl.io',
    jwtAudience: ['zmanim'],
    allowedOrigins: ['https://zmanim.shtetl.io'],
    alarmTopic: topic,
    hostParameterName: '/zmanim/prod/origin-verify-key',
    ...extra,
  });
  const site = new Stack(app, 'Site', { env: ENV });
  new cloudfront.Distribution(site, 'Distribution', {
    defaultBehavior: { origin: new origins.HttpOrigin('example.com') },
    additionalBehaviors: { '/backend/*': api.cloudFrontBehavior() },
  });
  return { app, compute, stack, site, api, host, topic };
}

describe('OriginVerifiedHttpApi', () => {
  const { app, compute, stack, site, api, host } = build();
  Aspects.of(stack).add(new AwsSolutionsChecks());
  const template = Template.fromStack(stack);
  const routes = template.findResources('AWS::ApiGatewayV2::Route');
  const authorizersById = template.findResources('AWS::ApiGatewayV2::Authorizer');

  test('the whole app synthesizes across stacks without cycles', () => {
    const assembly = app.synth();
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(['Api', 'Compute', 'Site']);
    // Api uses Compute (host, VPC); Site uses Api (origin, function); nothing points back.
    expect(stack.dependencies.map((s) => s.stackName)).toEqual(['Compute']);
    expect(site.dependencies.map((s) => s.stackName)).toEqual(['Api']);
    expect(compute.dependencies).toEqual([]);
  });

  test('every route has a Lambda request authorizer: protected prefixes the one keyed on origin header and token', () => {
    const byName: Record<string, any> = Object.fromEntries(Object.entries(authorizersById)
      .map(([id, r]) => [r.Properties.Name, { id, ...r.Properties }]));
    expect(Object.keys(byName).sort()).toEqual(['origin-verify', 'origin-verify-jwt']);
    // No JWT authorizer of API Gateway: it would not check the origin header.
    expect(Object.values(byName).map((a) => a.AuthorizerType)).toEqual(['REQUEST', 'REQUEST']);
    const keys: Record<string, string> = {};
    for (const route of Object.values(routes)) {
      const p = route.Properties;
      expect(p.AuthorizationType).toBe('CUSTOM');
      keys[p.RouteKey] = Object.values(byName).find((a) => a.id === p.AuthorizerId.Ref)!.Name;
    }
    const expected: Record<string, string> = {};
    for (const prefix of Object.keys(ZMANIM_PATHS)) {
      expected[`ANY ${prefix}`] = 'origin-verify';
      expected[`ANY ${prefix}/{proxy+}`] = 'origin-verify';
    }
    for (const prefix of PROTECTED) {
      expected[`ANY ${prefix}`] = 'origin-verify-jwt';
      expected[`ANY ${prefix}/{proxy+}`] = 'origin-verify-jwt';
    }
    expect(keys).toEqual(expected);
    expect([...api.protectedRouteKeys].sort()).toEqual(Object.keys(expected).filter((k) => expected[k] === 'origin-verify-jwt').sort());
    expect([...api.originVerifiedRouteKeys].sort()).toEqual(Object.keys(expected).filter((k) => expected[k] === 'origin-verify').sort());
  });

  test('both authorizers run the one function; API Gateway may invoke it for this API\'s authorizers only', () => {
    const fnId = Object.entries(template.findResources('AWS::Lambda::Function'))
      .find(([, r]) => /Origin-verify and JWT request authorizer/.test(r.Properties.Description))![0];
    for (const a of Object.values(authorizersById)) {
      expect(JSON.stringify(a.Properties.AuthorizerUri)).toContain(fnId);
    }
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'))
      .map((r) => r.Properties).filter((p) => p.Principal === 'apigateway.amazonaws.com');
    expect(permissions).toHaveLength(2);
    for (const p of permissions) {
      expect(p.FunctionName).toEqual({ 'Fn::GetAtt': [fnId, 'Arn'] });
      expect(JSON.stringify(p.SourceArn)).toMatch(/\/authorizers\//);
    }
  });

  test('protected routes: decisions keyed on the origin header AND the token, not cached by default', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      Name: 'origin-verify-jwt',
      AuthorizerType: 'REQUEST',
      IdentitySource: ['$request.header.x-origin-verify', '$request.header.Authorization'],
      AuthorizerResultTtlInSeconds: 0,
      EnableSimpleResponses: true,
      AuthorizerPayloadFormatVersion: '2.0',
    });
  });

  test('open routes: decisions keyed on the origin header and cached', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      Name: 'origin-verify',
      AuthorizerType: 'REQUEST',
      IdentitySource: ['$request.header.x-origin-verify'],
      AuthorizerResultTtlInSeconds: 300,
      EnableSimpleResponses: true,
      AuthorizerPayloadFormatVersion: '2.0',
    });
  });

  test('the function gets the secret, the protected route keys, issuer and audience from props', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))
      .find((r) => /Origin-verify and JWT request authorizer/.test(r.Properties.Description))!.Properties;
    expect(fn).toMatchObject({ Architectures: ['arm64'], Runtime: 'nodejs24.x', Timeout: 10 });
    expect(fn.Environment.Variables).toEqual({
      SECRET_ID: { Ref: expect.stringMatching(/ApiSecret/) },
      HEADER_NAME: 'x-origin-verify',
      CACHE_TTL_SECONDS: '300',
      PREVIOUS_GRACE_SECONDS: '3600',
      PROTECTED_ROUTE_KEYS: JSON.stringify(api.protectedRouteKeys),
      JWT_ISSUER: 'https://clerk.zmanim.shtetl.io',
      JWT_AUDIENCE: '["zmanim"]',
      FETCH_TIMEOUT_MS: '3000',
      AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
    });
    // The keys the function treats as protected are exactly the routes of the token authorizer.
    const jwtAuthorizerId = Object.entries(authorizersById).find(([, r]) => r.Properties.Name === 'origin-verify-jwt')![0];
    const tokenRoutes = Object.values(routes).filter((r) => r.Properties.AuthorizerId.Ref === jwtAuthorizerId).map((r) => r.Properties.RouteKey);
    expect(JSON.parse(fn.Environment.Variables.PROTECTED_ROUTE_KEYS).sort()).toEqual(tokenRoutes.sort());
  });

  test('a cache TTL for protected routes can be chosen, up to cacheTtl', () => {
    const t = Template.fromStack(build({ protectedRouteCacheTtl: Duration.seconds(30) }).stack);
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      Name: 'origin-verify-jwt',
      IdentitySource: ['$request.header.x-origin-verify', '$request.header.Authorization'],
      AuthorizerResultTtlInSeconds: 30,
    });
  });

  test('public paths reach the Go API paths through the VPC link and Cloud Map, 29 s timeout', () => {
    const integrations = Object.values(template.findResources('AWS::ApiGatewayV2::Integration')).map((r) => r.Properties);
    const byRoute: Record<string, string> = {};
    const integrationIds = template.findResources('AWS::ApiGatewayV2::Integration');
    for (const route of Object.values(routes)) {
      const target = route.Properties.Target['Fn::Join'][1][1].Ref as string;
      byRoute[route.Properties.RouteKey] = integrationIds[target].Properties.RequestParameters['overwrite:path'];
    }
    expect(byRoute['ANY /backend/api/v1/health']).toBe('/health');
    expect(byRoute['ANY /backend/api/v1/{proxy+}']).toBe('/api/v1/$request.path.proxy');
    expect(byRoute['ANY /backend/swagger/{proxy+}']).toBe('/swagger/$request.path.proxy');
    expect(byRoute['ANY /backend/api/v1/admin/{proxy+}']).toBe('/api/v1/admin/$request.path.proxy');
    for (const integration of integrations) {
      expect(integration).toMatchObject({
        ConnectionType: 'VPC_LINK',
        IntegrationType: 'HTTP_PROXY',
        IntegrationMethod: 'ANY',
        TimeoutInMillis: 29000,
        PayloadFormatVersion: '1.0',
      });
      expect(integration.IntegrationUri['Fn::GetAtt'][0]).toMatch(/ApiNamespaceBackend/);
    }
    template.hasResourceProperties('AWS::ServiceDiscovery::Instance', {
      InstanceAttributes: {
        AWS_INSTANCE_IPV4: { 'Fn::ImportValue': Match.stringLikeRegexp('HostEni') },
        AWS_INSTANCE_PORT: '8080',
      },
    });
    template.resourceCountIs('AWS::ServiceDiscovery::HttpNamespace', 1);
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 0);
  });

  test('the host port is open to the VPC link security group only, and the link reaches only that port', () => {
    const ingress = template.findResources('AWS::EC2::SecurityGroupIngress');
    expect(Object.values(ingress)).toHaveLength(1);
    expect(Object.values(ingress)[0].Properties).toMatchObject({
      IpProtocol: 'tcp',
      FromPort: 8080,
      ToPort: 8080,
      GroupId: { 'Fn::ImportValue': expect.stringMatching(/HostSg/) },
      SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/ApiVpcLinkSecurityGroup/), 'GroupId'] },
    });
    const linkSg = Object.values(template.findResources('AWS::EC2::SecurityGroup'))[0].Properties;
    expect(linkSg.SecurityGroupIngress).toBeUndefined();
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      IpProtocol: 'tcp',
      FromPort: 8080,
      ToPort: 8080,
      DestinationSecurityGroupId: { 'Fn::ImportValue': Match.stringLikeRegexp('HostSg') },
    });
    // Nothing in the compute stack opens the host to anything.
    expect(Template.fromStack(compute).findResources('AWS::EC2::SecurityGroupIngress')).toEqual({});
    expect(api.connections.securityGroups).toHaveLength(1);
    expect(host.connections.securityGroups).toHaveLength(1);
    template.hasResourceProperties('AWS::ApiGatewayV2::VpcLink', { SecurityGroupIds: [Match.anyValue()] });
  });

  test('the default stage is throttled and writes JSON access logs with retention', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ApiAccessLogs'), 'Arn'] } },
    });
    const stageProps = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0].Properties;
    const format = JSON.parse(stageProps.AccessLogSettings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status', authorizerError: '$context.authorizer.error' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
  });

  test('CORS allows the site origin only', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: { AllowOrigins: ['https://zmanim.shtetl.io'], AllowCredentials: true },
    });
  });

  test('no secret value anywhere: Secrets Manager generates it, rotation and the function read it at run time', () => {
    const secret = Object.values(template.findResources('AWS::SecretsManager::Secret'))[0].Properties;
    expect(secret.SecretString).toBeUndefined();
    expect(secret.GenerateSecretString).toEqual({ PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotateImmediatelyOnUpdate: true,
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
    const fn = Object.values(template.findResources('AWS::CloudFront::Function'))[0].Properties;
    const code = JSON.stringify(fn.FunctionCode);
    expect(code).toContain("cf.kvs('");
    expect(code).toContain("store.get('origin-verify')");
    expect(fn.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(fn.FunctionConfig.KeyValueStoreAssociations).toHaveLength(1);
    const siteTemplate = JSON.stringify(Template.fromStack(site).toJSON());
    expect(siteTemplate).not.toMatch(/x-origin-verify/i); // no static origin custom header
    expect(siteTemplate).not.toMatch(/OriginCustomHeaders/);
    // No Lambda environment and no resource property carries anything but references.
    for (const r of Object.values(template.findResources('AWS::Lambda::Function'))) {
      for (const [k, v] of Object.entries(r.Properties.Environment?.Variables ?? {})) {
        expect([k, typeof v === 'string' && v.length >= 32 && /^[A-Za-z0-9]+$/.test(v)]).toEqual([k, false]);
      }
    }
  });

  test('rotation may write the store, the host parameter and run one document on the host only', () => {
    const rotation = Object.values(template.findResources('AWS::Lambda::Function'))
      .find((r) => /Rotates the origin-verify/.test(r.Properties.Description))!.Properties;
    expect(rotation.Timeout).toBe(630);
    expect(rotation.Environment.Variables).toMatchObject({
      ACCEPT_DELAY_SECONDS: '330',
      KVS_ENTRY: 'origin-verify',
      HOST_PARAMETER_NAME: '/zmanim/prod/origin-verify-key',
      // The host's own parameterless refresh document, never arbitrary shell.
      HOST_REFRESH_DOCUMENT: host.refreshApiCommand.documentName,
      HOST_INSTANCE_ID: { 'Fn::ImportValue': expect.stringMatching(/HostEni/) },
    });
    expect(rotation.Environment.Variables.HOST_REFRESH_COMMANDS).toBeUndefined();
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
    const actions = (a: string) => statements.filter((s) => [s.Action].flat().includes(a));
    expect(actions('cloudfront-keyvaluestore:PutKey')[0].Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/ApiKeyValueStore/), 'Arn'] });
    expect(JSON.stringify(actions('ssm:PutParameter')[0].Resource)).toContain('parameter/zmanim/prod/origin-verify-key');
    const send = JSON.stringify(actions('ssm:SendCommand')[0].Resource);
    expect(send).toContain(`document/${host.refreshApiCommand.documentName}`);
    expect(send).not.toContain('AWS-RunShellScript');
    expect(actions('ssm:SendCommand')[0].Resource).toHaveLength(2);
    expect(actions('ssm:SendCommand')).toHaveLength(1);
  });

  test('only this account\'s Secrets Manager may invoke the rotation, and only for this secret', () => {
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'))
      .map((r) => r.Properties).filter((p) => p.Principal === 'secretsmanager.amazonaws.com');
    expect(permissions).toEqual([expect.objectContaining({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [expect.stringMatching(/ApiRotation/), 'Arn'] },
      SourceAccount: '123456789012',
      SourceArn: { Ref: expect.stringMatching(/ApiSecret/) },
    })]);
  });

  test('alarms for 5xx, latency, authorizer and rotation failures notify the topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    expect(alarms.map((a) => a.MetricName ?? a.Metrics).sort()).toEqual(['5xx', 'Errors', 'Errors', 'Latency']);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Alarms/) }]);
      expect(alarm.OKActions).toEqual(alarm.AlarmActions);
    }
  });

  test('the CloudFront behavior attaches the header function and sends /backend/* to the API uncached', () => {
    const t = Template.fromStack(site);
    t.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: {
        CacheBehaviors: [Match.objectLike({
          PathPattern: '/backend/*',
          AllowedMethods: Match.arrayWith(['POST', 'DELETE']),
          CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
          OriginRequestPolicyId: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
          FunctionAssociations: [{ EventType: 'viewer-request', FunctionARN: { 'Fn::ImportValue': Match.stringLikeRegexp('OriginVerifyFunction') } }],
        })],
        Origins: Match.arrayWith([Match.objectLike({
          DomainName: { 'Fn::Select': [2, { 'Fn::Split': ['/', { 'Fn::ImportValue': Match.stringLikeRegexp('HttpApi') }] }] },
          CustomOriginConfig: Match.objectLike({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] }),
        })]),
      },
    });
    expect(api.cloudFrontOrigin()).toBe(api.cloudFrontOrigin());
  });

  test('cdk-nag AwsSolutions finds nothing', () => {
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${e.entry.data}`)).toEqual([]);
    expect(warnings.map((e) => `${e.id}: ${e.entry.data}`)).toEqual([]);
  });
});

describe('OriginVerifiedHttpApi defaults and validation', () => {
  test('defaults: every path unchanged, no JWT, no host copy, alarms without actions', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
    new OriginVerifiedHttpApi(stack, 'Api', { vpc, host: new VpcHost(stack, 'Host', vpc) });
    const t = Template.fromStack(stack);
    const keys = Object.values(t.findResources('AWS::ApiGatewayV2::Route')).map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationType]);
    expect(keys.sort()).toEqual([['ANY /{proxy+}', 'CUSTOM']]);
    t.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    const authorizer = Object.values(t.findResources('AWS::Lambda::Function')).find((r) => /request authorizer/.test(r.Properties.Description))!;
    expect(Object.keys(authorizer.Properties.Environment.Variables)).not.toContain('PROTECTED_ROUTE_KEYS');
    const rotation = Object.values(t.findResources('AWS::Lambda::Function')).find((r) => /Rotates/.test(r.Properties.Description))!;
    expect(Object.keys(rotation.Properties.Environment.Variables).sort()).toEqual(['ACCEPT_DELAY_SECONDS', 'AWS_NODEJS_CONNECTION_REUSE_ENABLED', 'KVS_ARN', 'KVS_ENTRY']);
    for (const a of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) expect(a.Properties.AlarmActions).toBeUndefined();
    t.hasResourceProperties('AWS::ApiGatewayV2::Integration', { RequestParameters: { 'overwrite:path': '/$request.path.proxy' } });
  });

  test('port, origins and service come from the host: a host on 9000 gets the VPC link, security group and Cloud Map on 9000', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
    const host = new VpcHost(stack, 'Host', vpc, { serviceName: 'kehilla', apiPort: 9000 });
    host.allowedOrigins.push('https://kehilla.example.com');
    new OriginVerifiedHttpApi(stack, 'Api', { vpc, host });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::ServiceDiscovery::Instance', { InstanceAttributes: Match.objectLike({ AWS_INSTANCE_PORT: '9000' }) });
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => [r.Properties.FromPort, r.Properties.ToPort]);
    expect(ingress).toEqual([[9000, 9000]]);
    expect(JSON.stringify(t.toJSON())).not.toMatch(/8080/);
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://kehilla.example.com'] }) });
    for (const type of ['AWS::Lambda::Function', 'AWS::SecretsManager::Secret', 'AWS::EC2::SecurityGroup', 'AWS::Logs::LogGroup']) {
      for (const r of Object.values(t.findResources(type)).filter((x) => JSON.stringify(x).includes('Api'))) {
        expect(r.Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'shtetl:service', Value: 'kehilla' }]));
      }
    }
  });

  test('defaults are cdk-nag clean too (no host refresh: GetRandomPassword is the only wildcard)', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
    new OriginVerifiedHttpApi(stack, 'Api', { vpc, host: new VpcHost(stack, 'Host', vpc) });
    Aspects.of(stack).add(new AwsSolutionsChecks());
    const api = Annotations.fromStack(stack);
    const findings = [...api.findError('/S/Api/*', Match.stringLikeRegexp('AwsSolutions-.*')), ...api.findWarning('/S/Api/*', Match.stringLikeRegexp('AwsSolutions-.*'))];
    expect(findings.map((f) => `${f.id}: ${f.entry.data}`)).toEqual([]);
  });

  test('an internal load balancer listener as the backend: VPC link to the listener, its port open to the link only', () => {
    const app = new App();
    const compute = new Stack(app, 'Fleet', { env: ENV });
    const vpc = new ec2.Vpc(compute, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
    const alb = new elbv2.ApplicationLoadBalancer(compute, 'Alb', { vpc, internetFacing: false });
    const listener = alb.addListener('Http', { port: 8080, protocol: elbv2.ApplicationProtocol.HTTP, open: false, defaultAction: elbv2.ListenerAction.fixedResponse(503) });
    const stack = new Stack(app, 'Api', { env: ENV });
    new OriginVerifiedHttpApi(stack, 'Api', { vpc, backendListener: listener, hostParameterName: '/fleet/origin-verify-key' });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::ServiceDiscovery::HttpNamespace', 0);
    for (const integration of Object.values(t.findResources('AWS::ApiGatewayV2::Integration'))) {
      expect(integration.Properties).toMatchObject({
        ConnectionType: 'VPC_LINK',
        TimeoutInMillis: 29000,
        IntegrationUri: { 'Fn::ImportValue': expect.stringMatching(/AlbHttp/) },
      });
    }
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 8080,
      ToPort: 8080,
      GroupId: { 'Fn::ImportValue': Match.stringLikeRegexp('AlbSecurityGroup') },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('ApiVpcLinkSecurityGroup'), 'GroupId'] },
    });
    app.synth();
  });

  test('route planning maps public prefixes to backend paths, most specific first', () => {
    expect(planRoutes(ZMANIM_PATHS, ['/backend/api/v1/admin'])).toEqual([
      { path: '/backend/api/v1', backendPath: '/api/v1', protected: false },
      { path: '/backend/api/v1/{proxy+}', backendPath: '/api/v1/$request.path.proxy', protected: false },
      { path: '/backend/api/v1/health', backendPath: '/health', protected: false },
      { path: '/backend/api/v1/health/{proxy+}', backendPath: '/health/$request.path.proxy', protected: false },
      { path: '/backend/swagger', backendPath: '/swagger', protected: false },
      { path: '/backend/swagger/{proxy+}', backendPath: '/swagger/$request.path.proxy', protected: false },
      { path: '/backend/api/v1/admin', backendPath: '/api/v1/admin', protected: true },
      { path: '/backend/api/v1/admin/{proxy+}', backendPath: '/api/v1/admin/$request.path.proxy', protected: true },
    ]);
    expect(planRoutes({ '/': '/' }, [])).toEqual([{ path: '/{proxy+}', backendPath: '/$request.path.proxy', protected: false }]);
  });

  test.each<[string, Partial<OriginVerifiedHttpApiProps>, RegExp]>([
    ['protected path without issuer', { protectedPaths: ['/backend/api/v1/admin'], jwtIssuer: undefined }, /jwtIssuer must be the https issuer URL/],
    ['http issuer', { jwtIssuer: 'http://clerk.example.com' }, /jwtIssuer must be the https issuer URL.*"http:\/\/clerk.example.com"/],
    ['no audience', { jwtAudience: [] }, /jwtAudience must list at least one audience/],
    ['protected path outside the mappings', { protectedPaths: ['/other/admin'] }, /"\/other\/admin" is under none of the mapped prefixes/],
    ['path with trailing slash', { paths: { '/backend/': '/' } }, /paths key "\/backend\/" must be an absolute path/],
    ['a port that differs from the host\'s', { port: 9000 }, /port 9000 differs from the host's apiPort 8080.*Remove port \(it comes from the host\)/],
    ['bad header', { headerName: 'X-Origin' }, /headerName must be a lowercase header name.*"X-Origin"/],
    ['timeout over 29 s', { integrationTimeout: Duration.seconds(30) }, /integrationTimeout must be from 50 ms to 29 s.*30 seconds/],
    ['grace shorter than cache', { previousValueGracePeriod: Duration.minutes(1) }, /previousValueGracePeriod \(1 minute\) must be at least cacheTtl \(5 minutes\)/],
    ['cache longer than a rotation can wait', { cacheTtl: Duration.minutes(10) }, /cacheTtl must be from 0 to 5 minutes \(got 10 minutes\)/],
    ['rotation too often', { rotationInterval: Duration.hours(1) }, /rotationInterval must be from 4 hours to 1000 days/],
    ['both a host and a listener', { backendListener: {} as any }, /Give exactly one backend: host \(one instance\) or backendListener.*got both/],
    ['neither a host nor a listener', { host: undefined }, /Give exactly one backend.*got neither/],
    ['protected cache longer than cacheTtl', { cacheTtl: Duration.minutes(1), previousValueGracePeriod: Duration.hours(1), protectedRouteCacheTtl: Duration.minutes(2) }, /protectedRouteCacheTtl must be from 0 to cacheTtl \(1 minute\) \(got 2 minutes\)/],
    ['relative parameter name', { hostParameterName: 'zmanim/key' }, /hostParameterName must be an absolute SSM parameter name \(got "zmanim\/key"\), e.g. "\/<service>\/<env>\/origin-verify-key"/],
  ])('rejects %s with a message that names the fix', (_name, extra, message) => {
    expect(() => build(extra)).toThrow(message);
  });
});
