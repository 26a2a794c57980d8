import { Match, Template } from 'aws-cdk-lib/assertions';
import { synthZmanimApp } from './app-fixture';

const { stacks } = synthZmanimApp();

describe('Network stack', () => {
  const template = Template.fromStack(stacks.network);

  test('one AZ, public subnets only, no NAT gateway', () => {
    template.resourceCountIs('AWS::EC2::Subnet', 1);
    template.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: 'eu-west-1a', MapPublicIpOnLaunch: true });
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 1);
  });

  test('an S3 gateway endpoint keeps backups and releases off the internet', () => {
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }),
    });
  });

  test('rejected traffic is logged with a retention period; the default security group is closed', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT', LogDestinationType: 'cloud-watch-logs' });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    template.hasResourceProperties('Custom::VpcRestrictDefaultSG', {});
  });
});

describe('Secrets stack', () => {
  const template = Template.fromStack(stacks.secrets);

  test('each generated secret is created inside AWS by the custom resource, under /zmanim/prod', () => {
    for (const name of ['postgres-password', 'redis-password', 'jwt-secret', 'restic-password', 'origin-verify-key']) {
      template.hasResourceProperties('Custom::GeneratedSecureParameter', {
        ParameterName: `/zmanim/prod/${name}`,
        Length: '48',
        DeleteOnRemoval: 'false',
      });
    }
    template.resourceCountIs('Custom::GeneratedSecureParameter', 5);
  });

  test('no parameter value is in the template: no AWS::SSM::Parameter, no CloudFormation parameter with a default', () => {
    template.resourceCountIs('AWS::SSM::Parameter', 0);
    const parameters = template.toJSON().Parameters ?? {};
    for (const [name, parameter] of Object.entries<any>(parameters)) {
      expect({ name, default: parameter.Default }).toEqual({ name, default: expect.not.stringMatching(/secret|password|key/i) });
    }
  });

  test('the generator may only put the five parameters, and cannot delete them (retained)', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'ssm:PutParameter',
          Effect: 'Allow',
          Resource: Match.arrayWith([Match.stringLikeRegexp(':parameter/zmanim/prod/postgres-password$')]),
        })]),
      },
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).not.toContain('ssm:DeleteParameter');
    expect(policies).not.toMatch(/"Resource":"\*"/);
  });

  test('the generator runs on Node.js 24, arm64', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Architectures: ['arm64'] });
  });
});

describe('Monitoring stack', () => {
  const template = Template.fromStack(stacks.monitoring);

  test('the alarm topic is encrypted with a key CloudWatch may use, TLS-only, and emails the operators', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@shtetl.io' });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } })]) },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });
});

describe('Certificate stack', () => {
  const template = Template.fromStack(stacks.certificate);

  test('lives in us-east-1 (CloudFront) and is DNS-validated in the imported zone', () => {
    expect(stacks.certificate.region).toBe('us-east-1');
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'zmanim.shtetl.io',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'zmanim.shtetl.io', HostedZoneId: 'Z04310813Q8GM3J9ZMANM' }],
    });
    template.resourceCountIs('AWS::Route53::HostedZone', 0);
  });
});

describe('Health check stack', () => {
  const template = Template.fromStack(stacks.healthCheck!);

  test('Route 53 checks the public health URL over HTTPS for "healthy"', () => {
    expect(stacks.healthCheck!.region).toBe('us-east-1');
    template.hasResourceProperties('AWS::Route53::HealthCheck', {
      HealthCheckConfig: Match.objectLike({
        Type: 'HTTPS_STR_MATCH',
        FullyQualifiedDomainName: 'zmanim.shtetl.io',
        ResourcePath: '/backend/api/v1/health',
        SearchString: 'healthy',
        Port: 443,
        EnableSNI: true,
      }),
    });
  });

  test('an alarm on the check status notifies the topic on alarm and on recovery', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Route53',
      MetricName: 'HealthCheckStatus',
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlertsTopic') }],
      OKActions: [{ Ref: Match.stringLikeRegexp('AlertsTopic') }],
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@shtetl.io' });
  });

  test('health check off: no health-check stack', () => {
    expect(synthZmanimApp({ enableHealthCheck: false }).stacks.healthCheck).toBeUndefined();
  });
});
