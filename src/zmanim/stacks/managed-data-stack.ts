import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { notifyAlarmAndOk } from '../../internal/alarms';
import { NagSuppression, suppressNag } from '../../internal/nag';
import { ZmanimConfig } from '../config';
import { rdsParameters } from '../postgres-parameters';
import { managedCapacity } from '../profiles';

/** The PostgreSQL major version of the single host (AL2023 `postgresql16`), kept on RDS. */
export const POSTGRES_VERSION = rds.PostgresEngineVersion.VER_16;

/** Port of the cache (Valkey's default; changing it hides nothing from a scanner inside the VPC). */
export const CACHE_PORT = 6379;

export interface ManagedDataStackProps extends StackProps {
  readonly config: ZmanimConfig;
  /** The VPC with private subnets in at least two AZs (Network stack, `managed` profile). */
  readonly vpc: ec2.IVpc;
  /** The regional alarm topic (Monitoring stack). */
  readonly alarmTopic: sns.ITopic;
}

/**
 * The `managed` profile's data tier (README, "Scaling path"): RDS for PostgreSQL with the
 * single host's tuning (Multi-AZ and read-replica options, encrypted, automated backups,
 * deletion protection) and ElastiCache for Valkey (encrypted in transit and at rest, AUTH with
 * the generated `redis-password`), both in private subnets, reachable only from what
 * `connections` is opened to (the API fleet).
 *
 * Stateful and retained: removing the stack or the profile leaves a final snapshot of the
 * database; deletion protection must be turned off by hand first (README, the way back).
 */
export class ManagedDataStack extends Stack {
  public readonly database: rds.DatabaseInstance;
  public readonly readReplica?: rds.DatabaseInstanceReadReplica;
  public readonly cache: elasticache.CfnReplicationGroup;
  /** The cache's security group, as connections on the cache port. */
  public readonly cacheConnections: ec2.Connections;

  constructor(scope: Construct, id: string, props: ManagedDataStackProps) {
    super(scope, id, props);
    const { config, vpc } = props;
    const capacity = managedCapacity(config);
    const zones = capacity.availabilityZones;
    const subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, availabilityZones: capacity.availabilityZones };
    const engine = rds.DatabaseInstanceEngine.postgres({ version: POSTGRES_VERSION });

    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: `zmanim ${config.environment}: the single host's PostgreSQL settings (src/zmanim/postgres-parameters.ts)`,
      parameters: rdsParameters(),
    });
    const instanceType = new ec2.InstanceType(capacity.databaseInstanceClass.replace(/^db\./, ''));
    const securityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc,
      description: 'RDS for PostgreSQL: the API fleet only',
      allowAllOutbound: false,
    });
    this.database = new rds.DatabaseInstance(this, 'Database', {
      engine,
      instanceType,
      vpc,
      vpcSubnets: subnets,
      securityGroups: [securityGroup],
      multiAz: capacity.databaseMultiAz,
      availabilityZone: capacity.databaseMultiAz ? undefined : capacity.availabilityZones[0],
      // The master user's password is generated into Secrets Manager by CloudFormation; the
      // API connects as the application role `zmanim` with the generated `postgres-password`.
      credentials: rds.Credentials.fromGeneratedSecret('postgres', { secretName: `zmanim-${config.environment}/rds-master` }),
      // No database yet: migrate.sh restores zmanim from the single host's backup (README).
      parameterGroup,
      allocatedStorage: capacity.databaseStorageGiB,
      maxAllocatedStorage: capacity.databaseStorageGiB * 4,
      storageType: rds.StorageType.GP3,
      storageEncrypted: true,
      backupRetention: Duration.days(capacity.databaseBackupRetentionDays),
      preferredBackupWindow: '02:00-02:30',
      preferredMaintenanceWindow: 'sun:03:00-sun:03:30',
      deleteAutomatedBackups: false,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      copyTagsToSnapshot: true,
      autoMinorVersionUpgrade: true,
      enablePerformanceInsights: true,
      monitoringInterval: Duration.minutes(1),
      cloudwatchLogsExports: ['postgresql'],
      iamAuthentication: true,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
    });
    suppressNag(this.database, [{
      id: 'AwsSolutions-RDS11',
      reason: 'A non-default port hides nothing: the database is in private subnets and its security group admits the API fleet only',
    }]);
    if (!capacity.databaseMultiAz) {
      suppressNag(this.database, [{
        id: 'AwsSolutions-RDS3',
        reason: 'Multi-AZ is a config choice (managed.databaseMultiAz, step 4 of the scaling path); this deployment chose a single-AZ database restored from automated backups',
      }]);
    }
    suppressNag(this.database.node.findChild('Secret'), [{
      id: 'AwsSolutions-SMG4',
      reason: 'The master password is used only by operators for migrations and role changes (docs/scaling.md, "Scaling path"); the API uses the application role, whose password is the generated SSM parameter',
    }]);
    const enhancedMonitoring: NagSuppression[] = [{
      id: 'AwsSolutions-IAM4',
      reason: 'AmazonRDSEnhancedMonitoringRole is the policy AWS maintains for RDS Enhanced Monitoring',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole'],
    }];
    suppressNag(this.database.node.findChild('MonitoringRole'), enhancedMonitoring);

    if (capacity.databaseReadReplica) {
      // Step 2: reads off the primary. In the second zone, so a zone outage keeps one copy readable.
      this.readReplica = new rds.DatabaseInstanceReadReplica(this, 'ReadReplica', {
        sourceDatabaseInstance: this.database,
        instanceType,
        vpc,
        vpcSubnets: subnets,
        securityGroups: [securityGroup],
        availabilityZone: capacity.availabilityZones[1],
        parameterGroup,
        storageEncrypted: true,
        deletionProtection: true,
        removalPolicy: RemovalPolicy.DESTROY,
        autoMinorVersionUpgrade: true,
        enablePerformanceInsights: true,
        monitoringInterval: Duration.minutes(1),
        cloudwatchLogsExports: ['postgresql'],
        iamAuthentication: true,
        caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      });
      suppressNag(this.readReplica, [
        { id: 'AwsSolutions-RDS11', reason: 'As the primary: private subnets, fleet-only security group' },
        { id: 'AwsSolutions-RDS3', reason: 'A read replica is a single instance by design; the primary carries the Multi-AZ option' },
        { id: 'AwsSolutions-RDS13', reason: 'RDS does not back up read replicas; the primary\'s automated backups cover the data' },
      ]);
      suppressNag(this.readReplica.node.findChild('MonitoringRole'), enhancedMonitoring);
    }

    // ElastiCache for Valkey (Redis-compatible; the API's Redis client speaks to it unchanged).
    const cacheSecurityGroup = new ec2.SecurityGroup(this, 'CacheSecurityGroup', {
      vpc,
      description: 'ElastiCache for Valkey: the API fleet only',
      allowAllOutbound: false,
    });
    this.cacheConnections = new ec2.Connections({ securityGroups: [cacheSecurityGroup], defaultPort: ec2.Port.tcp(CACHE_PORT) });
    const cacheSubnets = new elasticache.CfnSubnetGroup(this, 'CacheSubnets', {
      description: `zmanim ${config.environment} cache subnets`,
      subnetIds: vpc.selectSubnets(subnets).subnetIds,
    });
    this.cache = new elasticache.CfnReplicationGroup(this, 'Cache', {
      replicationGroupDescription: `zmanim ${config.environment} cache (Valkey)`,
      engine: 'valkey',
      engineVersion: '8.0',
      cacheNodeType: capacity.cacheNodeType,
      numCacheClusters: 1 + capacity.cacheReplicas,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      // Primary in the first zone, replicas round the others.
      preferredCacheClusterAZs: Array.from({ length: 1 + capacity.cacheReplicas }, (_, i) => zones[i % zones.length]),
      cacheSubnetGroupName: cacheSubnets.ref,
      securityGroupIds: [cacheSecurityGroup.securityGroupId],
      port: CACHE_PORT,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      // AUTH with the same generated secret as the single host's Redis: a dynamic reference
      // that CloudFormation resolves at deploy time; the value is never in the template.
      authToken: `{{resolve:ssm-secure:${config.ssmPrefix}/redis-password}}`,
      snapshotRetentionLimit: 1,
      snapshotWindow: '01:00-02:00',
      preferredMaintenanceWindow: 'sun:04:00-sun:05:00',
      autoMinorVersionUpgrade: true,
    });
    this.cache.applyRemovalPolicy(RemovalPolicy.DESTROY);
    suppressNag(this.cache, [
      { id: 'AwsSolutions-AEC5', reason: 'A non-default port hides nothing: private subnets, fleet-only security group' },
    ]);

    this.createAlarms(props.alarmTopic, capacity.databaseStorageGiB);

    new CfnOutput(this, 'DatabaseEndpoint', { value: this.database.dbInstanceEndpointAddress, description: 'RDS for PostgreSQL (TLS required)' });
    new CfnOutput(this, 'DatabaseMasterSecretArn', { value: this.database.secret!.secretArn, description: 'Master credentials (migrations and role changes only)' });
    if (this.readReplica) {
      new CfnOutput(this, 'ReadReplicaEndpoint', { value: this.readReplica.dbInstanceEndpointAddress, description: 'Read replica (DATABASE_READ_URL)' });
    }
    new CfnOutput(this, 'CacheEndpoint', { value: this.cache.attrPrimaryEndPointAddress, description: 'ElastiCache for Valkey primary (rediss://, AUTH)' });
  }

  /** `host:port` of the database for connection URLs. */
  public get databaseAddress(): string {
    return `${this.database.dbInstanceEndpointAddress}:${this.database.dbInstanceEndpointPort}`;
  }

  /** `host:port` of the read replica, if any. */
  public get readReplicaAddress(): string | undefined {
    return this.readReplica ? `${this.readReplica.dbInstanceEndpointAddress}:${this.readReplica.dbInstanceEndpointPort}` : undefined;
  }

  /** `host:port` of the cache's primary endpoint. */
  public get cacheAddress(): string {
    return `${this.cache.attrPrimaryEndPointAddress}:${Token.asString(this.cache.attrPrimaryEndPointPort)}`;
  }

  private createAlarms(topic: sns.ITopic, storageGiB: number): void {
    const above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string, comparison = above) => {
      const a = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 3,
        comparisonOperator: comparison,
        treatMissingData: cloudwatch.TreatMissingData.MISSING,
        alarmDescription: description,
      });
      notifyAlarmAndOk(topic, a);
    };
    alarm('DatabaseCpu', this.database.metricCPUUtilization({ period: Duration.minutes(5) }), 80, 'RDS CPU above 80% for 15 minutes: a bigger class or a read replica (docs/scaling.md, "Scaling path")');
    alarm('DatabaseFreeStorage', this.database.metricFreeStorageSpace({ period: Duration.minutes(5) }), storageGiB * 1024 ** 3 * 0.1,
      'RDS free storage below 10% of the allocation (storage autoscaling should have grown it)', cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD);
    alarm('CacheMemory', new cloudwatch.Metric({
      namespace: 'AWS/ElastiCache',
      metricName: 'DatabaseMemoryUsagePercentage',
      dimensionsMap: { ReplicationGroupId: this.cache.ref },
      period: Duration.minutes(5),
      statistic: 'Maximum',
    }), 85, 'Cache memory above 85%: a bigger node type (managed.cacheNodeType)');
  }
}
