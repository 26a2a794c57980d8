import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as sns from 'aws-cdk-lib/aws-sns';
import { synthZmanimApp, TEST_ACCOUNT } from './app-fixture';
import { OPS_TAGS } from '../../src/constructs/ops-tags';
import { ConfigError, DEFAULT_CONFIG, resolveConfig, validateConfig, ZmanimConfig } from '../../src/zmanim/config';
import { rdsParameters } from '../../src/zmanim/postgres-parameters';
import { CACHE_GRAVITON_NODE_TYPES, GRAVITON_INSTANCE_TYPES, managedCapacity, RDS_GRAVITON_CLASSES } from '../../src/zmanim/profiles';
import { ApiFleetStack } from '../../src/zmanim/stacks/api-fleet-stack';
import { ManagedDataStack } from '../../src/zmanim/stacks/managed-data-stack';
import { NetworkStack } from '../../src/zmanim/stacks/network-stack';
import { appContext } from '../support/app-context';
import { findingsOf } from '../support/nag';

const MANAGED: Partial<ZmanimConfig> = { capacityProfile: 'managed', managed: { databaseReadReplica: true } };
const withConfig = (overrides: Partial<ZmanimConfig>) => validateConfig({ ...DEFAULT_CONFIG, ...overrides });

describe('capacity profile config', () => {
  test('the default is single-host on m7g.medium', () => {
    expect(DEFAULT_CONFIG.capacityProfile).toBe('single-host');
    expect(resolveConfig(() => undefined, {}).capacityProfile).toBe('single-host');
  });

  test('switches by context: -c zmanim:capacityProfile=managed and -c zmanim:managed=JSON', () => {
    const context: Record<string, unknown> = { 'zmanim:capacityProfile': 'managed', 'zmanim:managed': '{"databaseReadReplica":true,"apiMaxInstances":8}' };
    const config = resolveConfig((key) => context[key], {});
    expect(config.capacityProfile).toBe('managed');
    expect(managedCapacity(config)).toMatchObject({ databaseReadReplica: true, apiMaxInstances: 8, databaseMultiAz: true, availabilityZones: ['eu-west-1a', 'eu-west-1b'] });
  });

  test('an unknown profile names the two that exist', () => {
    expect(() => withConfig({ capacityProfile: 'cluster' })).toThrow(ConfigError);
    expect(() => withConfig({ capacityProfile: 'cluster' })).toThrow(/capacityProfile.*"cluster".*Use "single-host".*or "managed"/);
  });

  test.each(['t3.medium', 'c7g.large', 't4g.large', 'm7g.metal', 'M7G.LARGE'])('instance type %s is refused with the validated list', (type) => {
    expect(() => withConfig({ instanceType: type })).toThrow(new RegExp(`instanceType.*"${type.replace('.', '\\.')}".*Use one of: m7g\\.medium, m7g\\.large`));
  });

  test('step (1), a bigger host: every type of the validated list is Graviton and accepted', () => {
    for (const type of GRAVITON_INSTANCE_TYPES) {
      expect(type).toMatch(/^[mr][67]g\.(medium|\d*x?large)$/);
      expect(() => withConfig({ instanceType: type })).not.toThrow();
    }
    for (const type of RDS_GRAVITON_CLASSES) expect(type).toMatch(/^db\.[mrt][47]g\./);
    for (const type of CACHE_GRAVITON_NODE_TYPES) expect(type).toMatch(/^cache\.[mrt][47]g\./);
  });

  test.each([
    [{ availabilityZones: ['eu-west-1a'] }, /managed\.availabilityZones.*at least two different zones/],
    [{ availabilityZones: ['eu-west-1a', 'us-east-1b'] }, /"us-east-1b".*not an Availability Zone of eu-west-1/],
    [{ databaseInstanceClass: 'db.m5.large' }, /managed\.databaseInstanceClass.*"db\.m5\.large".*Use one of: db\.t4g\.medium/],
    [{ cacheNodeType: 'cache.m5.large' }, /managed\.cacheNodeType.*"cache\.m5\.large"/],
    [{ apiInstanceType: 'c6i.large' }, /managed\.apiInstanceType.*"c6i\.large"/],
    [{ apiMinInstances: 1 }, /managed\.apiMinInstances.*from 2 to 50.*one per Availability Zone/],
    [{ apiMinInstances: 4, apiMaxInstances: 3 }, /managed\.apiMaxInstances.*from 4 to 50/],
    [{ databaseBackupRetentionDays: 1 }, /managed\.databaseBackupRetentionDays.*from 7 to 35/],
    [{ cacheReplicas: 0 }, /managed\.cacheReplicas.*from 1 to 5/],
    [{ databaseMultiAz: 'yes' }, /managed\.databaseMultiAz.*must be a boolean/],
    [{ readReplica: true }, /managed\.readReplica.*not a setting of the managed profile.*databaseReadReplica/],
    [{ migrationBackupBucketName: 'Not_A_Bucket' }, /managed\.migrationBackupBucketName.*BackupBucketName output/],
  ])('managed %j is refused', (managed, message) => {
    expect(() => withConfig({ capacityProfile: 'managed', managed: managed as never })).toThrow(message);
  });
});

describe('managed profile templates', () => {
  const { stacks, all } = synthZmanimApp(MANAGED);
  const names = all.map((s) => s.stackName);

  test('Data and ApiFleet replace the Compute stack; every other stack is shared', () => {
    expect(names).toEqual(expect.arrayContaining(['ZmanimProdNetwork', 'ZmanimProdSecrets', 'ZmanimProdMonitoring', 'ZmanimProdData', 'ZmanimProdApiFleet', 'ZmanimProdApi', 'ZmanimProdNextjs', 'ZmanimProdGitHubOidc', 'ZmanimProdDashboard']));
    expect(names).not.toContain('ZmanimProdCompute');
    expect(() => stacks.compute).toThrow(/"managed" capacity profile has no Compute stack.*stacks\.data and stacks\.fleet/);
  });

  test.each(all.map((stack) => [stack.stackName, stack] as const))('%s is cdk-nag clean (AwsSolutions)', (_name, stack) => {
    const findings = findingsOf(stack).map((f) => `${f.id}: ${String(f.entry.data).split(':')[0]}`);
    expect(findings).toEqual([]);
  });

  describe('Network', () => {
    const t = Template.fromStack(stacks.network);
    test('two AZs, private subnets with one NAT gateway; the single host\'s public subnet keeps its CIDR', () => {
      t.resourceCountIs('AWS::EC2::Subnet', 4);
      t.resourceCountIs('AWS::EC2::NatGateway', 1);
      for (const az of ['eu-west-1a', 'eu-west-1b']) {
        t.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: az, MapPublicIpOnLaunch: false });
        t.hasResourceProperties('AWS::EC2::Subnet', { AvailabilityZone: az, MapPublicIpOnLaunch: true });
      }
      const before = JSON.parse(readFileSync(join(__dirname, 'single-host-templates', 'ZmanimProdNetwork.json'), 'utf8'));
      type Tpl = { Resources: Record<string, { Properties: { CidrBlock: string } }> };
      const cidr = (tpl: Tpl) => tpl.Resources.VpcpublicSubnet1Subnet2BB74ED7?.Properties.CidrBlock;
      expect(cidr(t.toJSON() as Tpl)).toBe(cidr(before));
      expect(cidr(before)).toBe('10.40.0.0/24');
    });
  });

  describe('Data', () => {
    const t = Template.fromStack(stacks.data!);
    test('RDS for PostgreSQL 16: Multi-AZ, encrypted, backups, deletion protection, snapshot on delete, TLS', () => {
      t.hasResource('AWS::RDS::DBInstance', {
        Properties: Match.objectLike({
          Engine: 'postgres',
          EngineVersion: '16',
          DBInstanceClass: 'db.m7g.large',
          MultiAZ: true,
          StorageEncrypted: true,
          BackupRetentionPeriod: 14,
          DeletionProtection: true,
          StorageType: 'gp3',
          PubliclyAccessible: false,
          MasterUsername: Match.anyValue(),
          MasterUserPassword: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
        }),
        DeletionPolicy: 'Snapshot',
        UpdateReplacePolicy: 'Snapshot',
      });
    });

    test('the read replica option: a replica of the primary in the second AZ, same parameters', () => {
      t.hasResourceProperties('AWS::RDS::DBInstance', {
        SourceDBInstanceIdentifier: Match.anyValue(),
        AvailabilityZone: 'eu-west-1b',
        DBParameterGroupName: { Ref: Match.stringLikeRegexp('^Parameters') },
        DeletionProtection: true,
      });
    });

    test('the parameter group carries the host\'s PostgreSQL tuning (memory as fractions of the class)', () => {
      t.hasResourceProperties('AWS::RDS::DBParameterGroup', { Family: 'postgres16', Parameters: rdsParameters() });
      t.hasResourceProperties('AWS::RDS::DBParameterGroup', {
        Parameters: Match.objectLike({
          'shared_buffers': '{DBInstanceClassMemory/32768}',
          'random_page_cost': '1.1',
          'max_wal_size': '2048',
          'log_min_duration_statement': '1000',
          'password_encryption': 'scram-sha-256',
          'rds.force_ssl': '1',
        }),
      });
    });

    test('ElastiCache for Valkey: encrypted in transit and at rest, AUTH from the generated SSM secret, failover across AZs', () => {
      t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
        Engine: 'valkey',
        TransitEncryptionEnabled: true,
        TransitEncryptionMode: 'required',
        AtRestEncryptionEnabled: true,
        AuthToken: '{{resolve:ssm-secure:/zmanim/prod/redis-password}}',
        MultiAZEnabled: true,
        AutomaticFailoverEnabled: true,
        NumCacheClusters: 2,
        PreferredCacheClusterAZs: ['eu-west-1a', 'eu-west-1b'],
      });
    });

    test('database and cache admit the API fleet only', () => {
      const fleet = Template.fromStack(stacks.fleet!);
      const ingress = [...Object.values(t.findResources('AWS::EC2::SecurityGroupIngress')), ...Object.values(fleet.findResources('AWS::EC2::SecurityGroupIngress'))]
        .map((r) => r.Properties).filter((p) => p.FromPort === 5432 || p.FromPort === 6379);
      expect(ingress.map((p) => p.FromPort).sort()).toEqual([5432, 6379]);
      for (const p of ingress) expect(JSON.stringify(p.SourceSecurityGroupId)).toMatch(/InstanceSecurityGroup/);
      for (const sg of Object.values(t.findResources('AWS::EC2::SecurityGroup'))) expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
    });
  });

  describe('ApiFleet', () => {
    const t = Template.fromStack(stacks.fleet!);
    test('an Auto Scaling group of Graviton instances in the private subnets of two AZs, IMDSv2 only', () => {
      const asg = Object.values(t.findResources('AWS::AutoScaling::AutoScalingGroup'))[0];
      expect(asg.Properties).toMatchObject({ MinSize: '2', MaxSize: '6', HealthCheckType: 'ELB' });
      expect(asg.Properties.VPCZoneIdentifier).toHaveLength(2);
      expect(JSON.stringify(asg.Properties.VPCZoneIdentifier)).toMatch(/privateSubnet1.*privateSubnet2/);
      expect(asg.CreationPolicy.ResourceSignal).toMatchObject({ Count: 2 });
      expect(asg.UpdatePolicy.AutoScalingRollingUpdate).toMatchObject({ MinInstancesInService: 2, WaitOnResourceSignals: true });
      t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
        LaunchTemplateData: Match.objectLike({
          InstanceType: 'm7g.medium',
          MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
          BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ Encrypted: true }) })],
          ImageId: { Ref: Match.stringLikeRegexp('arm64') },
        }),
      });
    });

    test('behind an internal ALB on :8080 whose health check is the API\'s /health', () => {
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal' });
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 8080, Protocol: 'HTTP' });
      t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 8080, HealthCheckPath: '/health', TargetType: 'instance' });
    });

    test('the boot config holds endpoints and names, never a secret value', () => {
      const lt = Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0];
      const userData = JSON.stringify(lt.Properties.LaunchTemplateData.UserData);
      expect(userData).toMatch(/ZMANIM_DB_ADDRESS/);
      expect(userData).toMatch(/ZMANIM_DB_READ_ADDRESS/);
      expect(userData).toMatch(/ZMANIM_CACHE_ADDRESS/);
      expect(userData).toMatch(/ZMANIM_SECRET_NAMES=\\+"postgres-password redis-password/);
      expect(userData).not.toMatch(/PASSWORD=|resolve:ssm-secure|SecretString/);
    });
  });

  test('the fleet\'s instances carry their parameterless deploy document, the only one the backend role may send', () => {
    const t = Template.fromStack(stacks.fleet!);
    const name = stacks.fleet!.deployApiDocumentName;
    expect(name).toMatch(/^zmanim-ZmanimProdApiFleet-[\w-]*[0-9A-F]{8}-deploy-api$/);
    t.hasResourceProperties('AWS::SSM::Document', {
      Name: name,
      DocumentType: 'Command',
      Content: {
        schemaVersion: '2.2',
        description: Match.anyValue(),
        mainSteps: [{ action: 'aws:runShellScript', name: 'deploy-api', inputs: { timeoutSeconds: '600', runCommand: ['set -euo pipefail', 'bash /opt/zmanim/host/deploy-api.sh'] } }],
      },
    });
    const asg = Object.values(t.findResources('AWS::AutoScaling::AutoScalingGroup'))[0];
    expect(asg.Properties.Tags).toEqual(expect.arrayContaining([{ Key: OPS_TAGS.deployApiDocument, Value: name, PropagateAtLaunch: true }]));
    const backend = JSON.stringify(Template.fromStack(stacks.githubOidc).toJSON());
    expect(backend).toContain(`:document/${name}"`);
    expect(backend).not.toMatch(/AWS-Run|-Host-[0-9A-F]{8}-deploy-api/);
  });

  test('the API reaches the fleet through its VPC link and the ALB listener (no Cloud Map, no host refresh)', () => {
    const t = Template.fromStack(stacks.api);
    t.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'HTTP_PROXY', ConnectionType: 'VPC_LINK', IntegrationUri: { 'Fn::ImportValue': Match.stringLikeRegexp('^ZmanimProdApiFleet:ExportsOutputRefLoadBalancerApi') },
    });
    t.resourceCountIs('AWS::ServiceDiscovery::HttpNamespace', 0);
    const rotation = Object.values(t.findResources('AWS::Lambda::Function')).find((f) => f.Properties.Environment?.Variables?.KVS_ENTRY);
    expect(rotation!.Properties.Environment.Variables.HOST_INSTANCE_ID).toBeUndefined();
  });

  test('the deploy roles get the fleet\'s release bucket', () => {
    expect(JSON.stringify(Template.fromStack(stacks.githubOidc).toJSON())).toMatch(/ZmanimProdApiFleet:ExportsOutputRefReleaseBucket/);
  });
});

describe('managed, while migrating from the single host', () => {
  const app = new App({ context: appContext() });
  const config = validateConfig({ ...DEFAULT_CONFIG, account: TEST_ACCOUNT, capacityProfile: 'managed', managed: { migrationBackupBucketName: 'zmanimprodcompute-backupsbucket-abc123' } });
  const env = { account: TEST_ACCOUNT, region: 'eu-west-1' };
  const network = new NetworkStack(app, 'Network', { env, config });
  const alarmTopic = new sns.Topic(new Stack(app, 'Topics', { env }), 'Alarms');
  const data = new ManagedDataStack(app, 'Data', { env, config, vpc: network.vpc, alarmTopic });
  const t = Template.fromStack(new ApiFleetStack(app, 'Fleet', { env, config, vpc: network.vpc, data, alarmTopic }));

  test('instances may read and write the single host\'s backup bucket and read the restic password and the RDS master secret', () => {
    const policies = JSON.stringify(t.findResources('AWS::IAM::Policy'));
    expect(policies).toMatch(/zmanimprodcompute-backupsbucket-abc123/);
    expect(policies).toMatch(/s3:PutObject/);
    expect(policies).toMatch(/parameter\/zmanim\/prod\/restic-password/);
    expect(policies).toMatch(/secretsmanager:GetSecretValue/);
    const userData = JSON.stringify(Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0].Properties.LaunchTemplateData.UserData);
    expect(userData).toMatch(/ZMANIM_MIGRATION_REPOSITORY=.*zmanimprodcompute-backupsbucket-abc123\/restic/);
  });

  test('the load balancer\'s failing health checks neither replace instances nor page anyone', () => {
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { HealthCheckType: 'EC2' });
    for (const alarm of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) expect(alarm.Properties.ActionsEnabled).toBe(false);
  });
});

describe('managed options on their own', () => {
  const data = (managed: ZmanimConfig['managed']) => {
    const app = new App({ context: appContext() });
    const config = validateConfig({ ...DEFAULT_CONFIG, account: TEST_ACCOUNT, capacityProfile: 'managed', managed });
    const env = { account: TEST_ACCOUNT, region: 'eu-west-1' };
    const network = new NetworkStack(app, 'Network', { env, config });
    const topics = new Stack(app, 'Topics', { env });
    const stack = new ManagedDataStack(app, 'Data', { env, config, vpc: network.vpc as ec2.IVpc, alarmTopic: new sns.Topic(topics, 'Alarms') });
    return Template.fromStack(stack);
  };

  test('single-AZ database, no replica, a bigger class and three cache nodes', () => {
    const t = data({ databaseMultiAz: false, databaseInstanceClass: 'db.r7g.xlarge', cacheReplicas: 2, cacheNodeType: 'cache.m7g.large' });
    t.resourceCountIs('AWS::RDS::DBInstance', 1);
    t.hasResourceProperties('AWS::RDS::DBInstance', { MultiAZ: false, AvailabilityZone: 'eu-west-1a', DBInstanceClass: 'db.r7g.xlarge' });
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { NumCacheClusters: 3, CacheNodeType: 'cache.m7g.large', PreferredCacheClusterAZs: ['eu-west-1a', 'eu-west-1b', 'eu-west-1a'] });
    // The single-AZ choice is explained to cdk-nag on the instance itself.
    const db = Object.values(t.findResources('AWS::RDS::DBInstance'))[0];
    expect(JSON.stringify(db.Metadata)).toMatch(/AwsSolutions-RDS3.*managed\.databaseMultiAz/);
  });
});
