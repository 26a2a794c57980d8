import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GravitonDataHost } from '../../src/constructs/graviton-data-host';
import { DEFAULT_CONFIG } from '../../src/zmanim/config';
import { ApiStack } from '../../src/zmanim/stacks/api-stack';
import { MonitoringStack } from '../../src/zmanim/stacks/monitoring-stack';
import { NetworkStack } from '../../src/zmanim/stacks/network-stack';
import { appContext } from '../support/app-context';
import { findingsOf } from '../support/nag';

/**
 * The zmanim API stack with the real GravitonDataHost in a Compute stack of its own and a
 * CloudFront distribution in a Site stack, as the app composes them.
 */
describe('zmanim ApiStack', () => {
  const config = DEFAULT_CONFIG;
  const app = new App({ context: appContext() });
  const env = { account: '123456789012', region: config.region };
  const network = new NetworkStack(app, 'ZmanimProdNetwork', { env, config });
  const monitoring = new MonitoringStack(app, 'ZmanimProdMonitoring', { env, config });
  const compute = new Stack(app, 'ZmanimProdCompute', { env });
  const host = new GravitonDataHost(compute, 'Host', { serviceName: 'zmanim', vpc: network.vpc, secretsParameterPath: config.ssmPrefix });
  const apiStack = new ApiStack(app, 'ZmanimProdApi', { env, config, vpc: network.vpc, host, alarmTopic: monitoring.alarmTopic });
  const site = new Stack(app, 'ZmanimProdSite', { env });
  new cloudfront.Distribution(site, 'Distribution', {
    defaultBehavior: { origin: new origins.HttpOrigin('example.com') },
    additionalBehaviors: { '/backend/*': apiStack.api.cloudFrontBehavior() },
  });
  Aspects.of(apiStack).add(new AwsSolutionsChecks());
  const template = Template.fromStack(apiStack);

  test('the app synthesizes: Api depends on Network, Monitoring and Compute; nothing depends back', () => {
    const assembly = app.synth();
    expect(assembly.stacks).toHaveLength(5);
    expect(apiStack.dependencies.map((s) => s.stackName).sort()).toEqual(['ZmanimProdCompute', 'ZmanimProdMonitoring', 'ZmanimProdNetwork']);
    expect(compute.dependencies.map((s) => s.stackName)).toEqual(['ZmanimProdNetwork']);
    expect(site.dependencies.map((s) => s.stackName)).toEqual(['ZmanimProdApi']);
  });

  test('the host opens :8080 to the VPC link only, and the rule lives in the Api stack', () => {
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    expect(ingress).toEqual([expect.objectContaining({
      FromPort: 8080,
      ToPort: 8080,
      IpProtocol: 'tcp',
      GroupId: { 'Fn::ImportValue': expect.stringMatching(/^ZmanimProdCompute:.*HostSecurityGroup/) },
      SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/ApiVpcLinkSecurityGroup/), 'GroupId'] },
    })]);
    const computeIngress = Object.values(Template.fromStack(compute).findResources('AWS::EC2::SecurityGroup'))
      .flatMap((sg) => sg.Properties.SecurityGroupIngress ?? []);
    expect(computeIngress).toEqual([]);
  });

  test('the seed URLs map to the Go API; the protected groups need the origin header and the Clerk JWT', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    const authorizers = template.findResources('AWS::ApiGatewayV2::Authorizer');
    const byKey = Object.fromEntries(routes.map((r) => [r.RouteKey, authorizers[r.AuthorizerId.Ref].Properties]));
    for (const key of ['ANY /backend/api/v1/health', 'ANY /backend/swagger/{proxy+}', 'ANY /backend/api/v1/{proxy+}']) {
      expect(byKey[key]).toMatchObject({ AuthorizerType: 'REQUEST', IdentitySource: ['$request.header.x-origin-verify'] });
    }
    for (const group of ['admin', 'publisher', 'external', 'auth']) {
      for (const key of [`ANY /backend/api/v1/${group}`, `ANY /backend/api/v1/${group}/{proxy+}`]) {
        expect(byKey[key]).toMatchObject({
          AuthorizerType: 'REQUEST',
          IdentitySource: ['$request.header.x-origin-verify', '$request.header.Authorization'],
          AuthorizerResultTtlInSeconds: 0,
        });
        expect(apiStack.api.protectedRouteKeys).toContain(key);
      }
    }
    expect(routes.every((r) => r.AuthorizationType === 'CUSTOM' && r.AuthorizerId)).toBe(true);
    // No JWT-only authorizer is left: every route checks the origin header.
    expect(Object.values(authorizers).map((a) => a.Properties.AuthorizerType)).toEqual(['REQUEST', 'REQUEST']);
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((r) => /request authorizer/.test(r.Properties.Description))!;
    expect(fn.Properties.Environment.Variables).toMatchObject({
      JWT_ISSUER: 'https://clerk.zmanim.shtetl.io',
      JWT_AUDIENCE: '["https://zmanim.shtetl.io"]',
      PROTECTED_ROUTE_KEYS: JSON.stringify(apiStack.api.protectedRouteKeys),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.objectLike({ AllowOrigins: ['https://zmanim.shtetl.io'] }) });
  });

  test('rotation writes the parameter the host reads and refreshes the host through its own scripts', () => {
    const rotation = Object.values(template.findResources('AWS::Lambda::Function')).find((r) => /Rotates/.test(r.Properties.Description))!;
    expect(rotation.Properties.Environment.Variables).toMatchObject({
      HOST_PARAMETER_NAME: '/zmanim/prod/origin-verify-key',
      // The host's parameterless refresh document (read secrets, rewrite the env, restart).
      HOST_REFRESH_DOCUMENT: host.refreshApiCommand.documentName,
      // The current host's id, read from the SSM parameter Compute writes (HostReference).
      HOST_INSTANCE_ID: { Ref: expect.stringMatching(/^SsmParameterValuezmanimprodhostinstanceid/) },
    });
    expect(template.toJSON().Parameters[rotation.Properties.Environment.Variables.HOST_INSTANCE_ID.Ref]).toMatchObject({
      Type: 'AWS::SSM::Parameter::Value<String>', Default: '/zmanim/prod/host/instance-id',
    });
    // Run Command on that instance with that document only.
    const send = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement as any[])
      .filter((st) => [st.Action].flat().includes('ssm:SendCommand'));
    expect(send).toHaveLength(1);
    expect(JSON.stringify(send[0].Resource)).toContain(`document/${host.refreshApiCommand.documentName}`);
    expect(JSON.stringify(send[0].Resource)).toContain(rotation.Properties.Environment.Variables.HOST_INSTANCE_ID.Ref);
  });

  test('outputs name what the rotation runbook needs', () => {
    template.hasOutput('OriginVerifySecretArn', { Value: { Ref: Match.stringLikeRegexp('ApiSecret') } });
    template.hasOutput('RotationLogGroup', { Value: { Ref: Match.stringLikeRegexp('ApiRotationLogs') } });
    template.hasOutput('ApiUrl', {});
  });

  test('alarms notify the regional alarm topic', () => {
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ 'Fn::ImportValue': expect.stringMatching(/^ZmanimProdMonitoring:/) }]);
    }
  });

  test('cdk-nag AwsSolutions finds nothing in the Api stack', () => {
    const findings = findingsOf(apiStack);
    expect(findings.map((f) => `${f.id}: ${f.entry.data}`)).toEqual([]);
  });
});
