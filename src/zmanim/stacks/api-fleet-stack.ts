import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, CfnOutput, Duration, Lazy, Names, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { GravitonDataHost } from '../../constructs/graviton-data-host';
import { hostFilesZipEntries } from '../../constructs/graviton-data-host/user-data';
import { HostFile } from '../../constructs/managed-host';
import { OPS_TAGS } from '../../constructs/ops-tags';
import { notifyAlarmAndOk } from '../../internal/alarms';
import { cloudConfigBlockFile } from '../../internal/cloud-config';
import { managedInstanceStatements } from '../../internal/managed-instance';
import { suppressNag } from '../../internal/nag';
import { directoryEntries, verifiedZipAsset } from '../../internal/zip';
import { ZmanimConfig } from '../config';
import { managedCapacity } from '../profiles';
import { OPERATOR_SECRETS } from '../secrets';
import { AMI_CONTEXT_KEY, API_RELEASE_KEY, createReleaseBucket } from './compute-stack';
import { CACHE_PORT, ManagedDataStack } from './managed-data-stack';

/** The single host's scripts (lib.sh, read-secrets.sh, fetch-api.sh, deploy-api.sh, units), reused by the fleet. */
const HOST_DIR = join(__dirname, '..', '..', 'constructs', 'graviton-data-host', 'host');
/** The ResticBackups host script (migrate.sh runs it). */
const RESTIC_DIR = join(__dirname, '..', '..', 'constructs', 'restic-backups', 'host');
/** The fleet's own boot scripts, and where an instance has them. */
const FLEET_DIR = join(__dirname, '..', 'fleet');
const FLEET_INSTALL_DIR = '/opt/zmanim/fleet';

/** The files of a folder as HostFiles under `target` (executables stay executable). */
function filesUnder(dir: string, target: string): HostFile[] {
  return directoryEntries(dir).map((entry) => ({ path: `${target}/${entry.name}`, content: entry.data.toString('utf8'), mode: entry.executable ? '0755' : '0644' }));
}
/** The Go API's port and health URL (as on the single host). */
export const API_PORT = 8080;
export const API_HEALTH_PATH = '/health';

export interface ApiFleetStackProps extends StackProps {
  readonly config: ZmanimConfig;
  /** The VPC with private subnets in at least two AZs (Network stack, `managed` profile). */
  readonly vpc: ec2.IVpc;
  /** RDS and ElastiCache (ManagedDataStack). */
  readonly data: ManagedDataStack;
  /** The regional alarm topic (Monitoring stack). */
  readonly alarmTopic: sns.ITopic;
}

/**
 * The `managed` profile's API tier (README, "Scaling path", step 3): the Go API on an Auto
 * Scaling group of Graviton instances in private subnets of at least two AZs, behind an
 * internal Application Load Balancer that the HTTP API's VPC link reaches.
 *
 * Why an ALB and not Cloud Map (which the single host uses): Auto Scaling registers and
 * deregisters instances in a target group by itself, the ALB health-checks `/health` every
 * 15 seconds and stops routing to a failed instance, and the group replaces instances the ALB
 * reports unhealthy. With Cloud Map, instances would have to register themselves and API
 * Gateway would keep sending requests to a dead one (an HTTP namespace has no health checks
 * of its own). The price is about USD 18 a month for the load balancer (README).
 *
 * The instances boot the same image as the single host and reuse its scripts; they read the
 * same SSM secrets, and connect to RDS with TLS and to ElastiCache with TLS and AUTH.
 * A new API release reaches them with an instance refresh (output `DeployApiCommand`).
 */
export class ApiFleetStack extends Stack {
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The listener on :8080 that the API's VPC link reaches. */
  public readonly listener: elbv2.ApplicationListener;
  public readonly releaseBucket: s3.Bucket;
  /**
   * The parameterless SSM Command document that deploys the API release now in the release
   * bucket on an instance (deploy-api.sh: restart, fail unless healthy), as the single host's
   * `deployApiCommand`. Its name is a plain string, stable between synths; the instances carry
   * it in their `shtetl:deploy-api-document` tag.
   */
  public readonly deployApiDocumentName: string;

  constructor(scope: Construct, id: string, props: ApiFleetStackProps) {
    super(scope, id, props);
    const { config, vpc, data } = props;
    const capacity = managedCapacity(config);
    const subnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, availabilityZones: capacity.availabilityZones };

    this.releaseBucket = createReleaseBucket(this);

    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `zmanim ${config.environment} API fleet instances`,
    });
    // Session Manager and Run Command without AmazonSSMManagedInstanceCore (whose
    // ssm:GetParameter* on * reads every parameter): the role reads its own parameters only.
    for (const statement of managedInstanceStatements()) role.addToPolicy(statement);
    // Zips whose SHA-256 the user data carries: the GravitonDataHost bootstrap runs nothing it
    // cannot verify. The host scripts first; the fleet's scripts and the backup tool as files
    // zips (a MANIFEST of where each file goes), as GravitonDataHost.addFiles ships them.
    const hostAsset = verifiedZipAsset(this, 'HostScripts', HOST_DIR);
    const fleetAsset = verifiedZipAsset(this, 'FleetScripts', hostFilesZipEntries(filesUnder(FLEET_DIR, FLEET_INSTALL_DIR)));
    const resticAsset = verifiedZipAsset(this, 'ResticBackupsScript', hostFilesZipEntries(filesUnder(RESTIC_DIR, '/opt/zmanim/restic-backups')));
    // These three objects only, never the staging bucket (it holds every stack's assets).
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [hostAsset, fleetAsset, resticAsset].map(({ asset }) => asset.bucket.arnForObjects(asset.s3ObjectKey)),
    }));
    this.releaseBucket.grantRead(role, `${API_RELEASE_KEY}`);

    const migrating = capacity.migrationBackupBucketName !== undefined;
    const apiSecretNames = [...OPERATOR_SECRETS, 'jwt-secret', 'origin-verify-key'];
    // restic-password only while migrating (README, "Scaling path"): the restore reads it.
    const secretNames = ['postgres-password', 'redis-password', ...apiSecretNames, ...(migrating ? ['restic-password'] : [])];
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParameter'],
      resources: secretNames.map((name) => this.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${config.ssmPrefix.replace(/^\//, '')}/${name}` })),
    }));
    if (migrating) {
      // Read to restore into RDS; write for the way back (migrate.sh backup).
      const backups = s3.Bucket.fromBucketName(this, 'MigrationBackups', capacity.migrationBackupBucketName!);
      backups.grantReadWrite(role);
      // The restore reads the RDS master credentials to create the application role.
      data.database.secret!.grantRead(role);
    }

    // Egress: HTTPS to AWS APIs and S3 (through the NAT gateway and the S3 endpoint), and the
    // database and cache ports (added below); ingress: :8080 from the load balancer only.
    const instanceSecurityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc,
      description: 'API fleet instances: :8080 from the load balancer; HTTPS, RDS and cache out',
      allowAllOutbound: false,
    });
    instanceSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs, S3 and the release download');
    let userData = '';
    const ami = String(this.node.tryGetContext(AMI_CONTEXT_KEY) ?? 'bootstrap');
    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: new ec2.InstanceType(capacity.apiInstanceType),
      machineImage: ami === 'packer' ? GravitonDataHost.packerImage(`${config.ssmPrefix}/ami-id`) : GravitonDataHost.bootstrapImage(),
      role,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      securityGroup: instanceSecurityGroup,
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(20, { encrypted: true, volumeType: ec2.EbsDeviceVolumeType.GP3, deleteOnTermination: true }) }],
      // Rendered once the Auto Scaling group's logical id (which the instances signal) exists.
      userData: ec2.UserData.custom(Lazy.string({ produce: () => userData })),
    });

    const gracePeriod = Duration.minutes(10);
    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Fleet', {
      vpc,
      vpcSubnets: subnets,
      launchTemplate,
      minCapacity: capacity.apiMinInstances,
      maxCapacity: capacity.apiMaxInstances,
      // While migrating the API is not started (fleet-boot.sh): the load balancer's failing
      // health checks must not make Auto Scaling replace the instance that runs migrate.sh.
      healthChecks: migrating
        ? autoscaling.HealthChecks.ec2({ gracePeriod })
        : autoscaling.HealthChecks.withAdditionalChecks({ additionalTypes: [autoscaling.AdditionalHealthCheckType.ELB], gracePeriod }),
      // Each instance signals after its API answered /health (fleet-boot.sh, run by the bootstrap): a broken
      // image or release fails the deployment instead of leaving an empty target group.
      signals: autoscaling.Signals.waitForMinCapacity({ timeout: Duration.minutes(20) }),
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        minInstancesInService: capacity.apiMinInstances,
        maxBatchSize: 1,
        waitOnResourceSignals: true,
        pauseTime: Duration.minutes(20),
      }),
      // Launches and terminations too: an operator sees the fleet scale and replace instances.
      notifications: [{ topic: props.alarmTopic, scalingEvents: autoscaling.ScalingEvents.ALL }],
      defaultInstanceWarmup: Duration.minutes(3),
    });
    this.deployApiDocumentName = this.createDeployApiDocument();

    const asgLogicalId = this.getLogicalId(this.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup);
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['cloudformation:SignalResource'],
      resources: [this.stackId],
    }));

    const hostEnv: Record<string, string> = {
      ZMANIM_REGION: Aws.REGION,
      ZMANIM_STACK_NAME: Aws.STACK_NAME,
      ZMANIM_LOGICAL_ID: asgLogicalId,
      ZMANIM_SSM_PATH: config.ssmPrefix,
      ZMANIM_SECRET_NAMES: secretNames.join(' '),
      ZMANIM_API_SECRET_NAMES: apiSecretNames.join(' '),
      ZMANIM_HOST_ASSETS: [hostAsset, fleetAsset, resticAsset].map((a) => a.verifiedUrl).join(' '),
      ZMANIM_FIRST_BOOT: `${FLEET_INSTALL_DIR}/fleet-boot.sh`,
      ZMANIM_RELEASE_BUCKET: this.releaseBucket.bucketName,
      ZMANIM_RELEASE_KEY: API_RELEASE_KEY,
      ZMANIM_API_PORT: String(API_PORT),
      ZMANIM_API_HEALTH_PATH: API_HEALTH_PATH,
      ZMANIM_DB_ADDRESS: data.databaseAddress,
      ...(data.readReplicaAddress ? { ZMANIM_DB_READ_ADDRESS: data.readReplicaAddress } : {}),
      ZMANIM_CACHE_ADDRESS: data.cacheAddress,
      ...(migrating ? { ZMANIM_MIGRATION_REPOSITORY: `s3:https://s3.${Aws.REGION}.${Aws.URL_SUFFIX}/${capacity.migrationBackupBucketName}/restic`, ZMANIM_DB_MASTER_SECRET: data.database.secret!.secretArn } : {}),
    };
    userData = [
      '#cloud-config',
      `# zmanim ${config.environment} API fleet: boot log in /var/log/zmanim/boot.log`,
      'write_files:',
      cloudConfigBlockFile('/etc/zmanim/host.env', '0644', Object.entries(hostEnv).map(([k, v]) => `${k}="${v}"`).join('\n')),
      cloudConfigBlockFile('/etc/zmanim/api-settings.env', '0644', `ALLOWED_ORIGINS=https://${config.domain}\nENVIRONMENT=${config.environment}`),
      cloudConfigBlockFile('/usr/local/sbin/zmanim-bootstrap', '0755', readFileSync(join(HOST_DIR, 'bootstrap.sh'), 'utf8')),
      'runcmd:',
      '  - [bash, /usr/local/sbin/zmanim-bootstrap, zmanim]',
      '',
    ].join('\n');

    // The fleet reaches the database and the cache; nothing else does.
    this.autoScalingGroup.connections.allowTo(data.database, ec2.Port.tcp(5432), 'API fleet to RDS');
    if (data.readReplica) this.autoScalingGroup.connections.allowTo(data.readReplica, ec2.Port.tcp(5432), 'API fleet to the read replica');
    this.autoScalingGroup.connections.allowTo(data.cacheConnections, ec2.Port.tcp(CACHE_PORT), 'API fleet to ElastiCache');

    // Step 3: scale on CPU (the seed's load is CPU-bound zmanim calculations).
    this.autoScalingGroup.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });

    const accessLogs = new s3.Bucket(this, 'LoadBalancerLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    suppressNag(accessLogs, [{ id: 'AwsSolutions-S1', reason: 'This bucket holds the load balancer\'s access logs; logging access to the logs would loop into another log bucket for no reader' }]);
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      vpcSubnets: subnets,
      internetFacing: false,
      securityGroup: new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
        vpc,
        description: 'Internal load balancer of the API fleet: the API Gateway VPC link only',
        allowAllOutbound: false,
      }),
      dropInvalidHeaderFields: true,
      deletionProtection: false,
    });
    this.loadBalancer.logAccessLogs(accessLogs, 'alb');
    // Plain HTTP inside the VPC, as the single host's :8080: API Gateway terminates TLS, and
    // the VPC link's security group is the only source the load balancer admits.
    this.listener = this.loadBalancer.addListener('Api', { port: API_PORT, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
    const targets = this.listener.addTargets('Fleet', {
      port: API_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.autoScalingGroup],
      healthCheck: {
        path: API_HEALTH_PATH,
        interval: Duration.seconds(15),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
        timeout: Duration.seconds(5),
      },
      deregistrationDelay: Duration.seconds(30),
    });

    this.createAlarms(props.alarmTopic, targets, !migrating);

    suppressNag(role.node.findChild('DefaultPolicy'), [{
      id: 'AwsSolutions-IAM5',
      reason: 'Read access to the API release key (s3:GetObject*, s3:List*: grantRead\'s standard actions on this key only); the SSM agent\'s ssm:UpdateInstanceInformation, ssmmessages:* and ec2messages:* (Session Manager, Run Command) have no resource-level permissions',
    }]);

    new CfnOutput(this, 'AutoScalingGroupName', { value: this.autoScalingGroup.autoScalingGroupName, description: 'The API fleet' });
    new CfnOutput(this, 'ReleaseBucketName', { value: this.releaseBucket.bucketName, description: `The API release is s3://<bucket>/${API_RELEASE_KEY}` });
    new CfnOutput(this, 'DeployApiDocumentName', {
      value: this.deployApiDocumentName,
      description: 'SSM document that deploys the API release on an instance (no parameters; send it to one instance at a time)',
    });
    new CfnOutput(this, 'DeployApiCommand', {
      value: `aws autoscaling start-instance-refresh --region ${this.region} --auto-scaling-group-name ${this.autoScalingGroup.autoScalingGroupName} `
        + '--preferences \'{"MinHealthyPercentage":100,"MaxHealthyPercentage":200,"InstanceWarmup":180}\'',
      description: 'Rolls the API release now in the release bucket onto the fleet, one new instance at a time',
    });
  }

  /**
   * The fleet's counterpart of GravitonDataHost's deploy document: the backend deploy role may
   * send it (and no shell) to the fleet's instances, which find it in their tag. Each instance
   * runs the single host's deploy-api.sh from its copy of the host scripts.
   */
  private createDeployApiDocument(): string {
    const name = `zmanim-${Names.uniqueResourceName(this.autoScalingGroup, { maxLength: 80, separator: '-' })}-deploy-api`;
    new ssm.CfnDocument(this, 'DeployApiDocument', {
      name,
      documentType: 'Command',
      // A fixed name cannot be replaced in place; content changes become a new version.
      updateMethod: 'NewVersion',
      content: {
        schemaVersion: '2.2',
        description: `Deploys the API release now in the release bucket on this instance; fails unless it answers its health check (zmanim API fleet ${this.node.path})`,
        mainSteps: [{
          action: 'aws:runShellScript',
          name: 'deploy-api',
          inputs: { timeoutSeconds: '600', runCommand: ['set -euo pipefail', 'bash /opt/zmanim/host/deploy-api.sh'] },
        }],
      },
    });
    // Launched instances carry the tag (Auto Scaling propagates it).
    Tags.of(this.autoScalingGroup).add(OPS_TAGS.deployApiDocument, name);
    return name;
  }

  /** The fleet's alarms; silent while migrating, when no instance serves on purpose. */
  private createAlarms(topic: sns.ITopic, targets: elbv2.ApplicationTargetGroup, actionsEnabled: boolean): void {
    const alarms = [
      new cloudwatch.Alarm(this, 'UnhealthyTargets', {
        metric: targets.metrics.unhealthyHostCount({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 0,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'An API instance failed /health for 5 minutes (Auto Scaling replaces it; look at /var/log/zmanim on it)',
        actionsEnabled,
      }),
      new cloudwatch.Alarm(this, 'Target5xx', {
        metric: targets.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 10,
        evaluationPeriods: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: 'The API fleet answered more than 10 5xx in 5 minutes, twice',
        actionsEnabled,
      }),
    ];
    notifyAlarmAndOk(topic, ...alarms);
  }
}
