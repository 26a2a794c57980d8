import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { App, Aspects, Aws, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GravitonDataHost, GravitonDataHostProps } from '../../src';
import { requireTools } from '../support/tools';

const ENV = { account: '123456789012', region: 'eu-west-1' };

function build(overrides: Partial<GravitonDataHostProps> = {}, configure?: (host: GravitonDataHost, stack: Stack) => void) {
  const app = new App();
  const stack = new Stack(app, 'HostStack', { env: ENV });
  const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['eu-west-1a'], natGateways: 0, subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });
  const releases = s3.Bucket.fromBucketName(stack, 'Releases', 'shtetl-releases');
  const host = new GravitonDataHost(stack, 'Host', {
    vpc,
    serviceName: 'kehilla',
    secretsParameterPath: '/kehilla/test',
    releaseBucket: releases,
    alarmTopic: new sns.Topic(stack, 'Alarms', { enforceSSL: true, masterKey: undefined }),
    allowedOrigins: ['https://kehilla.example.com'],
    apiSecretNames: ['session-key'],
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

  test('without an AMI parameter the host boots stock Amazon Linux 2023 arm64 (works without this repository\'s packer)', () => {
    const parameters = template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    expect(Object.values(parameters)).toContainEqual(expect.objectContaining({
      Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>',
      Default: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-arm64',
    }));
    const withAmi = build({ amiParameterName: '/kehilla/test/ami-id' }).template.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    expect(Object.values(withAmi)).toContainEqual(expect.objectContaining({
      Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>',
      Default: '/kehilla/test/ami-id',
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
    for (const name of ['postgres-password', 'redis-password', 'session-key', 'restic-password']) {
      expect(doc).toContain(`:parameter/kehilla/test/${name}`);
    }
    expect(doc).not.toMatch(/parameter\/kehilla\/test\/\*/);
    expect(doc).toContain('shtetl-releases/releases/kehilla-api/current/api-linux-arm64');
    // Session Manager and Run Command, but not AmazonSSMManagedInstanceCore's GetParameter* on *.
    expect(JSON.stringify(template.toJSON())).not.toContain('AmazonSSMManagedInstanceCore');
    const readsAnyParameter = resourcesOfType(template, 'AWS::IAM::Policy').flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement)
      .filter((st) => [st.Action].flat().some((a) => /^ssm:(GetParameter|\*)/.test(a)) && JSON.stringify(st.Resource).match(/"\*"|parameter\/\*/));
    expect(readsAnyParameter).toEqual([]);
    expect(doc).toContain('ssmmessages:OpenDataChannel');
    expect(doc).toContain('ec2messages:GetMessages');
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
    expect(userData).toContain('KEHILLA_SECRET_NAMES="postgres-password redis-password session-key restic-password"');
    expect(userData).toContain('KEHILLA_API_SECRET_NAMES="session-key"');
    expect(userData).toContain('ALLOWED_ORIGINS=https://kehilla.example.com');
    expect(userData).toContain('path: /etc/kehilla/host.env');
    expect(userData).toContain('  - [bash, /usr/local/sbin/kehilla-bootstrap, kehilla]');
    // Every asset with the SHA-256 of the zip that was synthesized (and is uploaded unchanged).
    expect(userData).toMatch(/KEHILLA_HOST_ASSETS="s3:\/\/[^ "#]+\.zip#[0-9a-f]{64}"/);
    expect(userData).not.toMatch(/PASSWORD=|SECRET_KEY=/);
    expect(Buffer.byteLength(userData)).toBeLessThan(8 * 1024);
  });

  test('cloud-init schema accepts the rendered user data', () => {
    requireTools({ 'cloud-init': 'cloud-init' });
    const { template: withExtras } = build({}, (h) => {
      h.addFiles({ path: '/etc/kehilla/backup.env', content: `BUCKET=backups-${Aws.ACCOUNT_ID}-${Stack.of(h).region}\nREPOSITORY=s3:${Aws.URL_SUFFIX}/backups\n`, mode: '0600' });
      h.addBootCommands('systemctl enable --now kehilla-backup.timer');
    });
    const file = join(mkdtempSync(join(tmpdir(), 'userdata-')), 'user-data');
    writeFileSync(file, renderedUserData(withExtras));
    const result = spawnSync('cloud-init', ['schema', '--config-file', file], { encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`).toMatch(/Valid cloud-config/);
    expect(result.status).toBe(0);
    const content = renderedUserData(withExtras);
    expect(content).toContain('systemctl enable --now kehilla-backup.timer');
    expect(content).toContain('path: /etc/kehilla/backup.env');
  });

  test('the SHA-256 in user data is the one of the zip that is uploaded, and the zip holds the host scripts', () => {
    const { app, template: t } = build({}, (h) => h.addFiles({ path: '/etc/kehilla/extra.conf', content: 'x=1\n' }));
    const assembly = app.synth();
    const userData = renderedUserData(t);
    const entries = [...userData.matchAll(/s3:\/\/[^/ ]+\/([0-9a-f]{64}\.zip)#([0-9a-f]{64})/g)];
    expect(entries).toHaveLength(2);
    const dir = mkdtempSync(join(tmpdir(), 'host-zip-'));
    for (const [, key, sha] of entries) {
      const file = join(assembly.directory, `asset.${key}`);
      expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(sha);
      const extracted = join(dir, key);
      expect(spawnSync('python3', ['-m', 'zipfile', '-e', file, extracted]).status).toBe(0);
    }
    const [hostZip, filesZip] = entries.map(([, key]) => join(dir, key));
    expect(readFileSync(join(hostZip, 'lib.sh'), 'utf8')).toBe(readFileSync(join(__dirname, '../../src/constructs/graviton-data-host/host/lib.sh'), 'utf8'));
    expect(readFileSync(join(filesZip, 'MANIFEST'), 'utf8')).toBe('0644 root:root /etc/kehilla/extra.conf\n');
    // Built the same way twice, the zip is the same (the hash is stable across synths).
    expect(renderedUserData(build({}, (h) => h.addFiles({ path: '/etc/kehilla/extra.conf', content: 'x=1\n' })).template)).toBe(userData);
  });

  test('the zips are staged into the cloud assembly only: nothing is left in the temporary directory', () => {
    const before = new Set(readdirSync(tmpdir()));
    const outdir = mkdtempSync(join(tmpdir(), 'assembly-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'HostStack', { env: ENV });
    const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['eu-west-1a'], natGateways: 0, subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });
    new GravitonDataHost(stack, 'Host', { vpc, serviceName: 'kehilla', secretsParameterPath: '/kehilla/test' })
      .addFiles({ path: '/etc/kehilla/extra.conf', content: 'x=1\n' });
    app.synth();
    expect(readdirSync(tmpdir()).filter((entry) => !before.has(entry))).toEqual([basename(outdir)]);
    rmSync(outdir, { recursive: true, force: true });
  });

  test('addFiles without tokens ships the files as an S3 asset, not in user data', () => {
    const big = 'x'.repeat(40_000);
    const { template: t } = build({}, (h) => h.addFiles({ path: '/opt/kehilla/backup/backup.sh', content: big, mode: '0755' }));
    const userData = renderedUserData(t);
    expect(userData).not.toContain(big.slice(0, 100));
    expect(userData.match(/s3:\/\/[^ "]+\.zip#[0-9a-f]{64}/g)?.length).toBe(2);
  });

  test('opens :8080 only to what the API layer allows through connections', () => {
    const { template: t } = build({}, (h, stack) => {
      const link = new ec2.SecurityGroup(stack, 'Link', { vpc: ec2.Vpc.fromVpcAttributes(stack, 'V', { vpcId: 'vpc-1', availabilityZones: ['eu-west-1a'] }) });
      h.connections.allowFrom(link, ec2.Port.tcp(8080));
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 8080, ToPort: 8080, SourceSecurityGroupId: Match.anyValue() });
  });

  test('the host\'s fixed actions are parameterless SSM Command documents that run its scripts', () => {
    const documents = resourcesOfType(template, 'AWS::SSM::Document').map(([, d]) => d.Properties as { Name: string; DocumentType: string; UpdateMethod: string; Content: { parameters?: unknown; mainSteps: { inputs: { runCommand: string[] } }[] } });
    expect(documents.map((d) => d.Name).sort()).toEqual([host.deployApiCommand.documentName, host.refreshApiCommand.documentName].sort());
    for (const d of documents) {
      expect(d.Name).toMatch(/^kehilla-[A-Za-z0-9-]+-(deploy|refresh)-api$/);
      expect(d.DocumentType).toBe('Command');
      expect(d.UpdateMethod).toBe('NewVersion');
      expect(d.Content.parameters).toBeUndefined();
    }
    const run = (name: string) => documents.find((d) => d.Name === name)!.Content.mainSteps[0].inputs.runCommand;
    expect(run(host.deployApiCommand.documentName)).toEqual(['set -euo pipefail', 'bash /opt/kehilla/host/deploy-api.sh']);
    expect(run(host.refreshApiCommand.documentName)).toEqual(['set -euo pipefail', 'bash /opt/kehilla/host/read-secrets.sh', 'bash /opt/kehilla/host/write-api-env.sh', 'bash /opt/kehilla/host/deploy-api.sh']);
  });

  test('grantRun allows exactly one document on this instance, never AWS-RunShellScript', () => {
    const { template: t, host: h } = build({}, (hh, stack) => hh.deployApiCommand.grantRun(new iam.Role(stack, 'Deployer', { assumedBy: new iam.AccountRootPrincipal() })));
    const [[, policy]] = resourcesOfType(t, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('Deployer'));
    const statements = (policy.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement;
    const send = statements.find((st) => st.Action === 'ssm:SendCommand')!;
    const resources = JSON.stringify(send.Resource);
    expect(resources).toContain(`document/${h.deployApiCommand.documentName}`);
    expect(resources).toMatch(/instance\/",\{"Ref":"HostInstance/);
    expect(resources).not.toContain(h.refreshApiCommand.documentName);
    expect(JSON.stringify(t.toJSON())).not.toContain('AWS-RunShellScript');
  });

  test('every resource of the host is tagged shtetl:service=<serviceName>', () => {
    for (const type of ['AWS::EC2::Instance', 'AWS::EC2::Volume', 'AWS::EC2::SecurityGroup', 'AWS::IAM::Role', 'AWS::SSM::Document']) {
      for (const [id, resource] of resourcesOfType(template, type).filter(([rid]) => rid.startsWith('Host'))) {
        const tags = resource.Properties.Tags;
        const list = Array.isArray(tags) ? tags : Object.entries((tags ?? {}) as Record<string, string>).map(([Key, Value]) => ({ Key, Value }));
        expect([id, list]).toEqual([id, expect.arrayContaining([{ Key: 'shtetl:service', Value: 'kehilla' }])]);
      }
    }
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

test('SSH from a /24 or an IPv6 /56 (your own addresses) is allowed', () => {
  const { template } = build({ sshAllowedCidrs: ['203.0.113.0/24', '2001:db8:0:100::/56'] });
  template.hasResourceProperties('AWS::EC2::SecurityGroup', {
    SecurityGroupIngress: Match.arrayWith([
      Match.objectLike({ CidrIp: '203.0.113.0/24', FromPort: 22 }),
      Match.objectLike({ CidrIpv6: '2001:db8:0:100::/56', FromPort: 22 }),
    ]),
  });
});

describe('props are validated with messages that say how to fix them', () => {
  test.each<[string, Partial<GravitonDataHostProps>, RegExp]>([
    ['x86 instance type', { instanceType: new ec2.InstanceType('m7i.large') }, /instanceType m7i.large is not an ARM64 \(Graviton\) type.*Use e.g. m7g.medium/],
    ['data volume too big', { dataVolumeSize: Size.gibibytes(20000) }, /dataVolumeSize 20000 GiB is outside what gp3 allows/],
    ['fractional data volume', { dataVolumeSize: Size.mebibytes(1500) }, /dataVolumeSize .* is outside what gp3 allows \(a whole number of GiB/],
    ['relative secrets path', { secretsParameterPath: 'kehilla/prod/' }, /secretsParameterPath "kehilla\/prod\/" must be an absolute SSM path.*e.g. "\/kehilla\/prod"/],
    ['service name with capitals', { serviceName: 'Kehilla' }, /serviceName "Kehilla" must be 2 to 24 lowercase letters.*Use e.g. "kehilla"/],
    ['service name too long', { serviceName: 'a-very-long-service-name-x' }, /serviceName "a-very-long-service-name-x" must be 2 to 24/],
    ['service name starting with aws', { serviceName: 'aws-thing' }, /serviceName "aws-thing" .*not starting with "aws"/],
    ['snapshot retention', { snapshotRetentionCount: 5000 }, /snapshotRetentionCount 5000 must be a whole number from 0/],
    ['release key', { releaseKey: '/releases/api' }, /releaseKey "\/releases\/api" must be an S3 object key without a leading slash/],
    ['database name', { databaseName: 'Kehilla-DB' }, /databaseName "Kehilla-DB" must be a lowercase PostgreSQL identifier/],
    ['API port', { apiPort: 5432 }, /apiPort 5432 must be an unprivileged port/],
    ['origin with path', { allowedOrigins: ['https://kehilla.example.com/'] }, /allowedOrigins entry "https:\/\/kehilla.example.com\/" is not an origin.*e.g. "https:\/\/kehilla.example.com"/],
    ['SSH to the world', { sshAllowedCidrs: ['0.0.0.0/0'] }, /sshAllowedCidrs entry "0.0.0.0\/0" opens SSH to 4294967296 addresses; allow at most a \/24/],
    ['SSH to a /8', { sshAllowedCidrs: ['10.0.0.0/8'] }, /sshAllowedCidrs entry "10.0.0.0\/8" opens SSH to 16777216 addresses; allow at most a \/24/],
    ['SSH to the world (IPv6)', { sshAllowedCidrs: ['::/0'] }, /sshAllowedCidrs entry "::\/0" opens SSH to 2\^128 addresses; allow at most a \/56/],
    ['SSH to a /32 of IPv6', { sshAllowedCidrs: ['2001:db8::/32'] }, /opens SSH to 2\^96 addresses/],
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
