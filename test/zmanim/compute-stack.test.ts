import { App, Aspects } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_CONFIG } from '../../src/zmanim/config';
import { API_RELEASE_KEY } from '../../src/zmanim/stacks/compute-stack';
import { createZmanimStacks } from '../../src/zmanim/zmanim-app';
import { appContext } from '../support/app-context';
import { findingsOf } from '../support/nag';

function synthApp(context: Record<string, string> = {}) {
  const app = new App({ context: appContext(context) });
  const stacks = createZmanimStacks(app, { ...DEFAULT_CONFIG, account: '123456789012' });
  return { app, stacks, template: Template.fromStack(stacks.compute) };
}

describe('the app\'s Compute stack', () => {
  const { app, stacks, template } = synthApp();

  test('uses the config: m7g.medium in eu-west-1a, a 30 GiB data volume, secrets under /zmanim/prod', () => {
    template.hasResourceProperties('AWS::EC2::Instance', { InstanceType: 'm7g.medium' });
    template.hasResourceProperties('AWS::EC2::Volume', { AvailabilityZone: 'eu-west-1a', Size: 30, Encrypted: true });
    const doc = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    for (const name of ['postgres-password', 'redis-password', 'clerk-secret-key', 'clerk-publishable-key', 'mapbox-public-token', 'mapbox-api-key', 'jwt-secret', 'origin-verify-key', 'restic-password']) {
      expect(doc).toContain(`parameter/zmanim/prod/${name}`);
    }
  });

  test('in the Network stack\'s VPC, with the Monitoring topic, after the Secrets and BackupReplica stacks', () => {
    expect(stacks.compute.dependencies.map((s) => s.stackName).sort()).toEqual(['ZmanimProdBackupReplica', 'ZmanimProdMonitoring', 'ZmanimProdNetwork', 'ZmanimProdSecrets']);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'disk_used_percent',
      AlarmActions: [{ 'Fn::ImportValue': Match.stringLikeRegexp('^ZmanimProdMonitoring:') }],
    });
  });

  test('the release bucket is versioned, encrypted, TLS-only, logged and retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: Match.anyValue(),
        LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'release-bucket/' }),
        PublicAccessBlockConfiguration: Match.objectLike({ BlockPublicAcls: true, RestrictPublicBuckets: true }),
      }),
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).toContain(`/${API_RELEASE_KEY}`);
  });

  test('before any AMI build: stock Amazon Linux 2023 arm64 from the public parameter', () => {
    const parameters = Object.values(template.toJSON().Parameters as Record<string, { Default: string }>).map((p) => p.Default);
    expect(parameters).toContainEqual(expect.stringMatching(/^\/aws\/service\/ami-amazon-linux-latest\/al2023-ami-kernel-[\w.]+-arm64$/));
    expect(parameters).not.toContain('/zmanim/prod/ami-id');
  });

  test('-c zmanim:ami=packer switches to the built AMI, and keeps the data volume', () => {
    const packer = synthApp({ 'zmanim:ami': 'packer' }).template;
    const parameters = Object.values(packer.toJSON().Parameters as Record<string, { Default: string }>).map((p) => p.Default);
    expect(parameters).toContain('/zmanim/prod/ami-id');
    expect(packer.findResources('AWS::EC2::Volume')).toEqual(template.findResources('AWS::EC2::Volume'));
  });

  test('an unknown AMI choice fails with the accepted values', () => {
    expect(() => synthApp({ 'zmanim:ami': 'latest' })).toThrow(/Context zmanim:ami is "latest": use "bootstrap" .* or "packer"/);
  });

  test('outputs the SSM command that deploys an API release: the host\'s parameterless document', () => {
    const outputs = JSON.stringify(template.findOutputs('DeployApiCommand'));
    const [[, document]] = Object.entries(template.findResources('AWS::SSM::Document'))
      .filter(([, d]) => JSON.stringify(d).includes('deploy-api.sh'));
    const name = (document.Properties as { Name: string }).Name;
    expect(outputs).toContain(`--document-name ${name} --instance-ids `);
    expect(outputs).not.toContain('AWS-RunShellScript');
    expect(JSON.stringify(document)).toContain('bash /opt/zmanim/host/deploy-api.sh');
    expect(JSON.stringify(template.findOutputs('DeployApiDocumentName'))).toContain(name);
  });

  test('cdk-nag AwsSolutions: no unsuppressed finding in the Compute stack', () => {
    // The app the tests above read: findingsOf synthesizes it again, with the checks.
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
    const findings = findingsOf(stacks.compute);
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data).slice(0, 160)}`)).toEqual([]);
  });
});
