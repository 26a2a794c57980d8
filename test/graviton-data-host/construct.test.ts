import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Aspects, Aws, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { requireTools } from './harness';
import { GravitonDataHost, GravitonDataHostProps } from '../../src';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function build(overrides: Partial<GravitonDataHostProps> = {}, configure?: (host: GravitonDataHost, stack: Stack) => void) {
  const app = new App();
  const stack = new Stack(app, 'HostStack', { env: ENV });
  const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['eu-west-1a'], natGateways: 0, subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });
  const releases = s3.Bucket.fromBucketName(stack, 'Releases', 'shtetl-releases');
  const host = new GravitonDataHost(stack, 'Host', {
    vpc,
    secretsParameterPath: '/zmanim/test',
    releaseBucket: releases,
    alarmTopic: new sns.Topic(stack, 'Alarms', { enforceSSL: true, masterKey: undefined }),
    allowedOrigins: ['https://zmanim.shtetl.io'],
    additionalSecretNames: ['restic-password'],
    ...overrides,
  });
  configure?.(host, stack);
  return { app, stack, host, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
function resourcesOfType(template: Template, type: string) {
  return Object.entries(template.toJSON().Resources as Resources).filter(([, r]) => r.Type === type);
}

/** The user data as deployed, with each token replaced by a plausible value. */
function renderedUserData(template: Template): string {
  const [[, instance]] = resourcesOfType(template, 'AWS::EC2::Instance');
  const encoded = (instance.Properties.UserData as { 'Fn::Base64': unknown })['Fn::Base64'];
  const flatten = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if (o['Fn::Join']) { const [sep, parts] = o['Fn::Join'] as [string, unknown[]]; return parts.map(flatten).join(sep); }
    if (o.Ref) return o.Ref === 'AWS::Region' ? 'eu-west-1' : `ref-${String(o.Ref).toLowerCase()}`;
    if (o['Fn::GetAtt']) return `getatt-${(o['Fn::GetAtt'] as string[]).join('-').toLowerCase()}`;
    if (o['Fn::Sub']) return 'sub-value';
    throw new Error(`unexpected token in user data: ${JSON.stringify(v)}`);
  };
  return flatten(encoded);
}

describe('GravitonDataHost template', () => {
  const { template, host } = build();

  test('a Graviton instance with IMDSv2, detailed monitoring, encrypted root and a creation policy', () => {
    template.hasResource('AWS::EC2::Instance', {
      Properties: Match.objectLike({
        InstanceType: 'm7g.medium',
        Monitoring: true,
        DisableApiTermination: false,
        BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true, VolumeType: 'gp3' }) })],
      }),
      CreationPolicy: { ResourceSignal: { Count: 1, Timeout: 'PT30M' } },
    });
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
    });
  });

  test('the AMI comes from the packer build parameter (a CloudFormation SSM parameter, no look-up)', () => {
    const parameters = template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    expect(Object.values(parameters)).toContainEqual(expect.objectContaining({
      Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>',
      Default: '/zmanim/test/ami-id',
    }));
  });

  test('a retained, encrypted gp3 data volume in the instance zone, never attached by CloudFormation', () => {
    template.hasResource('AWS::EC2::Volume', {
      Properties: Match.objectLike({ AvailabilityZone: 'eu-west-1a', Size: 30, VolumeType: 'gp3', Encrypted: true }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.resourceCountIs('AWS::EC2::VolumeAttachment', 0);
  });

  test('no inbound rule at all; an Elastic IP on the instance', () => {
    const [[, sg]] = resourcesOfType(template, 'AWS::EC2::SecurityGroup');
    expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    template.resourceCountIs('AWS::EC2::EIP', 1);
    template.hasResourceProperties('AWS::EC2::EIPAssociation', { InstanceId: { Ref: Match.stringLikeRegexp('^HostInstance') } });
  });

  test('the role reads only its own secrets and release, and attaches only its volume to its own instances', () => {
    const policies = resourcesOfType(template, 'AWS::IAM::Policy').map(([, p]) => JSON.stringify(p.Properties.PolicyDocument));
    const doc = policies.join('\n');
    for (const name of ['postgres-password', 'redis-password', 'clerk-secret-key', 'restic-password']) {
      expect(doc).toContain(`:parameter/zmanim/test/${name}`);
    }
    expect(doc).not.toMatch(/parameter\/zmanim\/test\/\*/);
    expect(doc).toContain('shtetl-releases/releases/zmanim-api/current/api-linux-arm64');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['ec2:AttachVolume', 'ec2:DetachVolume', 'ec2:StopInstances'],
            Condition: { StringEquals: { 'aws:ResourceTag/shtetl:data-host': host.node.addr } },
          }),
          Match.objectLike({ Action: 'cloudwatch:PutMetricData', Condition: { StringEquals: { 'cloudwatch:namespace': 'Shtetl/DataHost' } } }),
        ]),
      },
    });
    expect(doc).not.toMatch(/"kms:Decrypt"/);
  });

  test('alarms: status checks (with EC2 recovery), /data above 80 %, memory above 90 %, to the topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'StatusCheckFailed_System',
      AlarmActions: Match.arrayWith([{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':automate:eu-west-1:ec2:recover']] }]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'disk_used_percent', Threshold: 80, Namespace: 'Shtetl/DataHost' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'mem_used_percent', Threshold: 90 });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
  });

  test('daily snapshots of the data volume with retention', () => {
    template.hasResourceProperties('AWS::DLM::LifecyclePolicy', {
      PolicyDetails: Match.objectLike({
        ResourceTypes: ['VOLUME'],
        TargetTags: [{ Key: 'shtetl:data-volume', Value: host.node.addr }],
        Schedules: [Match.objectLike({ RetainRule: { Count: 14 }, CreateRule: Match.objectLike({ Interval: 24 }) })],
      }),
    });
    template.hasResourceProperties('AWS::EC2::Volume', { Tags: Match.arrayWith([{ Key: 'shtetl:data-volume', Value: host.node.addr }]) });
  });

  test('log groups with retention for the API, PostgreSQL, Redis and boot', () => {
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 4);
  });

  test('user data is cloud-config, holds no secret, and stays far below 16 KB', () => {
    const userData = renderedUserData(template);
    expect(userData.startsWith('#cloud-config\n')).toBe(true);
    expect(userData).toContain('ZMANIM_SECRET_NAMES="postgres-password redis-password clerk-secret-key');
    expect(userData).toContain('ALLOWED_ORIGINS=https://zmanim.shtetl.io');
    expect(userData).not.toMatch(/PASSWORD=|SECRET_KEY=/);
    expect(Buffer.byteLength(userData)).toBeLessThan(8 * 1024);
  });

  test('cloud-init schema accepts the rendered user data', () => {
    requireTools({ 'cloud-init': 'cloud-init' });
    const { template: withExtras } = build({}, (h) => {
      h.addFiles({ path: '/etc/zmanim/backup.env', content: `BUCKET=backups-${Aws.ACCOUNT_ID}-${Stack.of(h).region}\nREPOSITORY=s3:${Aws.URL_SUFFIX}/backups\n`, mode: '0600' });
      h.addBootCommands('systemctl enable --now zmanim-backup.timer');
    });
    const file = join(mkdtempSync(join(tmpdir(), 'userdata-')), 'user-data');
    writeFileSync(file, renderedUserData(withExtras));
    const result = spawnSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`).toMatch(/Valid cloud-config/);
    expect(result.status).toBe(0);
    const content = renderedUserData(withExtras);
    expect(content).toContain('systemctl enable --now zmanim-backup.timer');
    expect(content).toContain('path: /etc/zmanim/backup.env');
  });

  test('addFiles without tokens ships the files as an S3 asset, not in user data', () => {
    const big = 'x'.repeat(40_000);
    const { template: t } = build({}, (h) => h.addFiles({ path: '/opt/zmanim/backup/backup.sh', content: big, mode: '0755' }));
    const userData = renderedUserData(t);
    expect(userData).not.toContain(big.slice(0, 100));
    expect(userData.match(/s3:\/\/[^ "]+\.zip/g)?.length).toBe(2);
  });

  test('opens :8080 only to what the API layer allows through connections', () => {
    const { template: t } = build({}, (h, stack) => {
      const link = new ec2.SecurityGroup(stack, 'Link', { vpc: ec2.Vpc.fromVpcAttributes(stack, 'V', { vpcId: 'vpc-1', availabilityZones: ['eu-west-1a'] }) });
      h.connections.allowFrom(link, ec2.Port.tcp(8080));
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 8080, ToPort: 8080, SourceSecurityGroupId: Match.anyValue() });
  });

  test('grantSendCommand allows Run Command on this instance only', () => {
    const { template: t } = build({}, (h, stack) => h.grantSendCommand(new iam.Role(stack, 'Deployer', { assumedBy: new iam.AccountRootPrincipal() })));
    const doc = JSON.stringify(resourcesOfType(t, 'AWS::IAM::Policy').map(([, p]) => p.Properties.PolicyDocument));
    expect(doc).toContain('ssm:SendCommand');
    expect(doc).toContain('document/AWS-RunShellScript');
  });

  test('grantSession allows Session Manager shells and port forwarding on this instance only', () => {
    const { template: t } = build({}, (h, stack) => h.grantSession(new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() })));
    const doc = JSON.stringify(resourcesOfType(t, 'AWS::IAM::Policy').map(([, p]) => p.Properties.PolicyDocument));
    expect(doc).toContain('ssm:StartSession');
    expect(doc).toContain('document/AWS-StartPortForwardingSession');
    expect(doc).toMatch(/instance\/",\{"Ref":"HostInstance/);
    expect(doc).toContain('session/${aws:userid}-*');
  });

  test('cdk-nag AwsSolutions: no unsuppressed error or warning', () => {
    const { app, stack } = build();
    Aspects.of(stack).add(new AwsSolutionsChecks());
    app.synth();
    const findings = [...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))]
      .filter((f) => !f.id.startsWith('/HostStack/Vpc') && !f.id.startsWith('/HostStack/Alarms'));
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data).slice(0, 120)}`)).toEqual([]);
  });
});

describe('replacement keeps the data volume', () => {
  const volumeOf = (t: Template) => resourcesOfType(t, 'AWS::EC2::Volume');
  const instanceOf = (t: Template) => resourcesOfType(t, 'AWS::EC2::Instance')[0];
  const base = build({ machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-00000000000000001' }) });

  test.each([
    ['the AMI', { machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-00000000000000002' }) }, undefined],
    ['the instance type', { instanceType: new ec2.InstanceType('m7g.large') }, undefined],
    ['the user data', { allowedOrigins: ['https://other.shtetl.io'] }, undefined],
    ['boot commands', {}, (h: GravitonDataHost) => h.addBootCommands('true')],
  ])('changing %s replaces the instance, not the volume', (_what, change, configure) => {
    const changed = build({ machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-00000000000000001' }), ...change }, configure);
    const [baseId, baseInstance] = instanceOf(base.template);
    const [changedId, changedInstance] = instanceOf(changed.template);
    // A new logical id, or a new ImageId (which CloudFormation can only apply by replacement).
    expect(changedId !== baseId || JSON.stringify(changedInstance.Properties.ImageId) !== JSON.stringify(baseInstance.Properties.ImageId)).toBe(true);
    expect(changedId).not.toBe(baseId);
    expect(volumeOf(changed.template)).toEqual(volumeOf(base.template));
  });

  test('the same props give the same instance logical id (no replacement on every deploy)', () => {
    const again = build({ machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-00000000000000001' }) });
    expect(instanceOf(again.template)[0]).toBe(instanceOf(base.template)[0]);
  });
});

describe('props are validated with messages that say how to fix them', () => {
  test.each<[string, Partial<GravitonDataHostProps>, RegExp]>([
    ['x86 instance type', { instanceType: new ec2.InstanceType('m7i.large') }, /instanceType m7i.large is not an ARM64 \(Graviton\) type.*Use e.g. m7g.medium/],
    ['data volume too big', { dataVolumeSize: Size.gibibytes(20000) }, /dataVolumeSize 20000 GiB is outside what gp3 allows/],
    ['fractional data volume', { dataVolumeSize: Size.mebibytes(1500) }, /dataVolumeSize .* is outside what gp3 allows \(a whole number of GiB/],
    ['relative secrets path', { secretsParameterPath: 'zmanim/prod/' }, /secretsParameterPath "zmanim\/prod\/" must be an absolute SSM path/],
    ['snapshot retention', { snapshotRetentionCount: 5000 }, /snapshotRetentionCount 5000 must be a whole number from 0/],
    ['release key', { releaseKey: '/releases/api' }, /releaseKey "\/releases\/api" must be an S3 object key without a leading slash/],
    ['database name', { databaseName: 'Zmanim-DB' }, /databaseName "Zmanim-DB" must be a lowercase PostgreSQL identifier/],
    ['API port', { apiPort: 5432 }, /apiPort 5432 must be an unprivileged port/],
    ['origin with path', { allowedOrigins: ['https://zmanim.shtetl.io/'] }, /allowedOrigins entry "https:\/\/zmanim.shtetl.io\/" is not an origin/],
    ['SSH to the world', { sshAllowedCidrs: ['0.0.0.0/0'] }, /sshAllowedCidrs entry "0.0.0.0\/0" opens SSH to the whole internet/],
    ['SSH to the world (IPv6)', { sshAllowedCidrs: ['::/0'] }, /opens SSH to the whole internet/],
    ['not a CIDR', { sshAllowedCidrs: ['office'] }, /sshAllowedCidrs entry "office" is not a CIDR/],
    ['managed variable', { apiEnvironment: { DATABASE_URL: 'x' } }, /apiEnvironment sets DATABASE_URL, which the host writes itself/],
    ['lowercase variable', { apiEnvironment: { debug: '1' } }, /apiEnvironment name "debug" must be UPPER_SNAKE_CASE/],
    ['zone without subnet', { availabilityZone: 'eu-west-1b' }, /availabilityZone "eu-west-1b" has none of the selected subnets \(they are in eu-west-1a\)/],
    ['bad secret name', { additionalSecretNames: ['Restic_Password'] }, /secret name "Restic_Password" must be lowercase/],
  ])('%s', (_name, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  test('addFiles rejects a relative path and a bad mode', () => {
    expect(() => build({}, (h) => h.addFiles({ path: 'etc/x', content: '' }))).toThrow(/path "etc\/x" must be an absolute file path/);
    expect(() => build({}, (h) => h.addFiles({ path: '/etc/x', content: '', mode: 'rwx' }))).toThrow(/mode "rwx" of \/etc\/x must be octal/);
    expect(() => build({}, (h) => h.addFiles({ path: '/etc/../x', content: '' }))).toThrow(/without "\.\."/);
  });

  test('DESTROY removal policy is honoured for test stacks', () => {
    const { template } = build({ dataVolumeRemovalPolicy: RemovalPolicy.DESTROY });
    template.hasResource('AWS::EC2::Volume', { DeletionPolicy: 'Delete' });
  });
});
