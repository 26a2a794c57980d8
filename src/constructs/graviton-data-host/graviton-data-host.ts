import * as crypto from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Aws, Duration, Lazy, Names, RemovalPolicy, Size, Stack, Tags, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dlm from 'aws-cdk-lib/aws-dlm';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { tagDataHostForOperations } from './ops-tagging';
import { managedInstanceStatements } from '../../internal/managed-instance';
import { suppressNag } from '../../internal/nag';
import { verifiedZipAsset } from '../../internal/zip';
import { HostCommand, HostFile, IManagedHost } from '../managed-host';
import { OPS_TAGS } from '../ops-tags';

/** The host scripts, units and configuration that every instance runs (shipped as an S3 asset). */
const HOST_DIR = join(__dirname, 'host');

/** Secrets the host itself needs: the database and Redis passwords. */
const HOST_SECRETS = ['postgres-password', 'redis-password'];

/** Environment variables the host writes itself; apiEnvironment and API secrets may not take them. */
const MANAGED_API_VARIABLES = ['PORT', 'DATABASE_URL', 'REDIS_URL', 'ALLOWED_ORIGINS'];

/** A service name: what every host path, unit, label and database name is derived from. */
const SERVICE_NAME = /^[a-z][a-z0-9-]*[a-z0-9]$/;
/** Longest service name: `<service>-postgresql.service`, SSM document names and log messages stay readable. */
const SERVICE_NAME_MAX = 24;

/** EC2 and CloudFormation allow 16 KiB of user data; stay clear of it (tokens expand at deploy). */
const USER_DATA_LIMIT = 14 * 1024;

/**
 * Properties of {@link GravitonDataHost}.
 */
export interface GravitonDataHostProps {
  /**
   * The service's name: lowercase letters, digits and hyphens, starting with a letter, at most
   * 24 characters. Every name on the host derives from it: /opt/<service>, /etc/<service>,
   * /var/log/<service>, the units `<service>-api.service` (and -postgresql, -redis, -boot),
   * the data filesystem's label (`<first 7 characters>-data`), the host's settings prefix
   * (`<SERVICE>_`, upper-cased, hyphens as underscores), the default database and role
   * (hyphens as underscores) and the default release key. Resources are tagged
   * `shtetl:service=<service>`.
   *
   * @example 'kehilla'
   */
  readonly serviceName: string;

  /** The VPC of the host. */
  readonly vpc: ec2.IVpc;

  /**
   * Where the host goes. Its instance and data volume live in one Availability Zone
   * (`availabilityZone`), in the first selected subnet of that zone.
   *
   * @default - the VPC's public subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The Availability Zone of the instance and of the data volume. A volume never moves between
   * zones: changing this later leaves the data behind.
   *
   * @default - the zone of the first selected subnet
   */
  readonly availabilityZone?: string;

  /**
   * The instance type. Must be an ARM64 (Graviton) type: the AMI and the API are arm64.
   *
   * @default m7g.medium (1 vCPU, 4 GiB)
   */
  readonly instanceType?: ec2.InstanceType;

  /**
   * The AMI. Changing it replaces the instance; the data volume stays.
   *
   * @default - the AMI in `amiParameterName` when given, else `GravitonDataHost.bootstrapImage()`
   * (Amazon Linux 2023 arm64; the first boot installs the packages itself)
   */
  readonly machineImage?: ec2.IMachineImage;

  /**
   * An SSM parameter holding the AMI id to boot, e.g. the one a packer build of the shipped
   * template (`packer/graviton-data-host.pkr.hcl`, variable `service`) writes. Resolved at
   * each deployment. Ignored when `machineImage` is given.
   *
   * @default - no AMI parameter: `machineImage`, or the bootstrap image
   */
  readonly amiParameterName?: string;

  /**
   * Size of the persistent gp3 data volume mounted at /data (PostgreSQL and Redis data).
   * It can grow later (EBS resizes in place; then run `xfs_growfs /data`), never shrink.
   *
   * @default Size.gibibytes(30)
   */
  readonly dataVolumeSize?: Size;

  /**
   * What happens to the data volume when it leaves the stack (or the stack is deleted).
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly dataVolumeRemovalPolicy?: RemovalPolicy;

  /**
   * How many daily EBS snapshots of the data volume to keep (Data Lifecycle Manager, 03:00
   * UTC). A second line of defence beside file-level backups. 0 turns snapshots off.
   *
   * @default 14
   */
  readonly snapshotRetentionCount?: number;

  /**
   * The SSM Parameter Store path of the host's secrets (SecureStrings), without a trailing
   * slash. The host reads `postgres-password`, `redis-password`, every `apiSecretNames` and
   * every `additionalSecretNames` entry from it at each boot and refuses to boot, naming the
   * parameter, when one is missing.
   *
   * @example '/kehilla/prod'
   */
  readonly secretsParameterPath: string;

  /**
   * Secrets passed to the API as environment variables, named in UPPER_SNAKE_CASE
   * (`clerk-secret-key` becomes `CLERK_SECRET_KEY`).
   *
   * @default [] (the API gets no secret besides its database and Redis URLs)
   */
  readonly apiSecretNames?: string[];

  /**
   * Further secrets read into root-only files under /etc/<service>/secrets/ at boot but not given
   * to the API (e.g. `restic-password` for backups).
   *
   * @default []
   */
  readonly additionalSecretNames?: string[];

  /**
   * The bucket that holds API releases. The API's unit fetches `releaseKey` from it at each
   * start, falling back to the local copy (from the AMI or the last fetch).
   *
   * @default - no release location: the API runs from the copy in the AMI
   */
  readonly releaseBucket?: s3.IBucket;

  /**
   * The object key of the current API binary (linux/arm64) in `releaseBucket`.
   *
   * @default 'releases/<service>-api/current/api-linux-arm64'
   */
  readonly releaseKey?: string;

  /**
   * Browser origins the API accepts (`ALLOWED_ORIGINS`, comma-separated in its environment).
   *
   * @default []
   */
  readonly allowedOrigins?: string[];

  /**
   * Further non-secret environment variables of the API. Never put a secret here: it would
   * be in the template and the user data. Use `apiSecretNames`.
   *
   * @default {}
   */
  readonly apiEnvironment?: { [name: string]: string };

  /**
   * The API's port (on the instance; only the VPC link may reach it).
   *
   * @default 8080
   */
  readonly apiPort?: number;

  /**
   * The API's local health path, checked after each deployment.
   *
   * @default '/health'
   */
  readonly apiHealthPath?: string;

  /**
   * The database and its application role (login, not superuser).
   *
   * @default - the service name, hyphens as underscores
   */
  readonly databaseName?: string;

  /**
   * The application role of the database.
   *
   * @default - the service name, hyphens as underscores
   */
  readonly databaseUser?: string;

  /**
   * CIDRs that may reach port 22. Operators normally use SSM Session Manager instead. Ranges
   * wider than /24 (IPv4) or /56 (IPv6) are refused: name your own addresses.
   *
   * @default [] (no inbound rule at all)
   */
  readonly sshAllowedCidrs?: string[];

  /**
   * EC2 termination protection. When on, a replacement (new AMI, instance type or user data)
   * leaves the stopped old instance behind for you to terminate after turning it off.
   *
   * @default false (the data lives on the retained volume, not the instance)
   */
  readonly terminationProtection?: boolean;

  /**
   * The topic that alarms (status checks, /data use, memory) notify.
   *
   * @default - alarms without notification
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Retention of the API, PostgreSQL, Redis and boot log groups.
   *
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The CloudWatch namespace of the host's memory and disk metrics.
   *
   * @default 'Shtetl/DataHost'
   */
  readonly metricsNamespace?: string;
}

/**
 * One ARM64 Graviton instance running an API, PostgreSQL and Redis, with its data on a
 * separate encrypted gp3 volume that outlives the instance.
 *
 * The instance attaches the volume itself at boot (a replaced instance takes it over from
 * its predecessor after stopping it), mounts it at /data by label and formats it only when it
 * never held a filesystem. Secrets come from SSM Parameter Store at boot, never through user
 * data. No inbound rule by default: operators use SSM Session Manager, and the API layer opens
 * the API port to its VPC link through `connections`.
 *
 * @example
 * const host = new GravitonDataHost(this, 'Host', {
 *   serviceName: 'kehilla',
 *   vpc,
 *   secretsParameterPath: '/kehilla/prod',
 *   apiPort: 9000,
 *   apiSecretNames: ['session-key'],
 * });
 */
export class GravitonDataHost extends Construct implements IManagedHost {
  /** The AMI whose id the packer build (packer/) writes to an SSM parameter, resolved at each deployment. */
  public static packerImage(parameterName: string): ec2.IMachineImage {
    return ec2.MachineImage.fromSsmParameter(parameterName, { os: ec2.OperatingSystemType.LINUX });
  }

  /** Amazon Linux 2023 for arm64 from AWS's public SSM parameter: the first boot installs the packages. */
  public static bootstrapImage(): ec2.IMachineImage {
    return ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 });
  }

  /** The instance. Its logical id changes (so CloudFormation replaces it) with its user data and type. */
  public readonly instance: ec2.Instance;
  /** The persistent data volume (/data). */
  public readonly dataVolume: ec2.Volume;
  /** The instance role. */
  public readonly role: iam.IRole;
  /** The instance's security group (no inbound rule unless opened through `connections`). */
  public readonly securityGroup: ec2.ISecurityGroup;
  public readonly connections: ec2.Connections;
  public readonly grantPrincipal: iam.IPrincipal;
  public readonly instanceId: string;
  public readonly instancePrivateIp: string;
  /** The Elastic IP (stable egress address). */
  public readonly publicIp: string;
  /** The service's name (host paths, units, tags). */
  public readonly serviceName: string;
  /** The API's port on the instance. */
  public readonly apiPort: number;
  /** The SSM path of the host's secrets. */
  public readonly secretsParameterPath: string;
  /** Browser origins the API accepts. */
  public readonly allowedOrigins: string[];
  /** The secrets the API gets as environment variables. */
  public readonly apiSecretNames: string[];
  /** The prefix of the host's settings in host.env (`<SERVICE>_`, e.g. `KEHILLA_`). */
  public readonly envPrefix: string;
  /** Log groups the CloudWatch agent ships to: `api`, `postgresql`, `redis`, `boot`. */
  public readonly logGroups: { [name: string]: logs.ILogGroup };
  /** Alarm on failed EC2 system status checks (also recovers the instance). */
  public readonly systemStatusAlarm: cloudwatch.Alarm;
  /** Alarm on failed instance status checks. */
  public readonly instanceStatusAlarm: cloudwatch.Alarm;
  /** Alarm when /data is more than 80 % full. */
  public readonly dataDiskAlarm: cloudwatch.Alarm;
  /** Alarm when memory use is above 90 %. */
  public readonly memoryAlarm: cloudwatch.Alarm;
  /**
   * Deploys the API release now in the release location and fails unless the new version
   * answers its health check (a parameterless SSM Command document; `grantRun` it to a deploy role).
   */
  public readonly deployApiCommand: HostCommand;
  /**
   * Re-reads the secrets, rewrites the API's environment and restarts the API, failing unless
   * it answers its health check (e.g. after a secret rotation).
   */
  public readonly refreshApiCommand: HostCommand;

  private readonly metricsNamespace: string;
  private readonly hostTag: string;
  private readonly secretNames: string[];
  private readonly bootCommands: string[] = [];
  private readonly fileAssets: s3assets.Asset[] = [];
  private readonly inlineFiles: HostFile[] = [];
  private readonly hostAsset: s3assets.Asset;
  private readonly assetHashes = new Map<s3assets.Asset, string>();
  private readonly instanceRole: iam.Role;
  private readonly apiSettings: string;
  private readonly hostEnv: { [name: string]: string };

  constructor(scope: Construct, id: string, props: GravitonDataHostProps) {
    super(scope, id);
    validateServiceName(this, props.serviceName);
    const service = props.serviceName;
    this.serviceName = service;
    this.envPrefix = service.toUpperCase().replace(/-/g, '_');
    Tags.of(this).add('shtetl:service', service);
    const stack = Stack.of(this);
    const instanceType = props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.MEDIUM);
    const volumeSize = props.dataVolumeSize ?? Size.gibibytes(30);
    const snapshotRetention = props.snapshotRetentionCount ?? 14;
    const releaseKey = props.releaseKey ?? `releases/${service}-api/current/api-linux-arm64`;
    this.apiPort = props.apiPort ?? 8080;
    this.secretsParameterPath = props.secretsParameterPath;
    this.metricsNamespace = props.metricsNamespace ?? 'Shtetl/DataHost';
    this.apiSecretNames = [...(props.apiSecretNames ?? [])];
    this.allowedOrigins = [...(props.allowedOrigins ?? [])];
    this.secretNames = [];
    const databaseName = props.databaseName ?? service.replace(/-/g, '_');
    const databaseUser = props.databaseUser ?? service.replace(/-/g, '_');
    const subnet = validateProps(this, props, { instanceType, volumeSize, snapshotRetention, releaseKey, databaseName, databaseUser });
    const availabilityZone = props.availabilityZone ?? subnet.availabilityZone;
    // Instances and the volume carry this tag; the role may stop, attach to and detach from
    // tagged instances only (a replacement takes the volume over from its predecessor).
    this.hostTag = this.node.addr;

    this.dataVolume = new ec2.Volume(this, 'DataVolume', {
      availabilityZone,
      size: volumeSize,
      volumeType: ec2.EbsDeviceVolumeType.GP3,
      encrypted: true,
      removalPolicy: props.dataVolumeRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.dataVolume.node.addMetadata('shtetl:why', 'attached by the instance at boot, not by an AWS::EC2::VolumeAttachment, so that a replaced instance takes it over');

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `${this.node.path}: no inbound rule by default (SSM Session Manager for operators)`,
      allowAllOutbound: true,
    });
    for (const cidr of props.sshAllowedCidrs ?? []) {
      const peer = cidr.includes(':') ? ec2.Peer.ipv6(cidr) : ec2.Peer.ipv4(cidr);
      this.securityGroup.addIngressRule(peer, ec2.Port.tcp(22), `SSH from ${cidr} (sshAllowedCidrs)`);
    }

    this.instanceRole = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `${this.node.path}: reads its secrets and release, attaches its data volume, writes its logs and metrics`,
    });
    this.role = this.instanceRole;
    this.grantPrincipal = this.instanceRole;

    this.logGroups = {};
    for (const name of ['api', 'postgresql', 'redis', 'boot']) {
      this.logGroups[name] = new logs.LogGroup(this, `${capitalize(name)}Logs`, {
        retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
        removalPolicy: RemovalPolicy.DESTROY,
      });
    }

    this.hostAsset = this.zipAsset('HostScripts', HOST_DIR);

    const image = props.machineImage
      ?? (props.amiParameterName ? GravitonDataHost.packerImage(props.amiParameterName) : GravitonDataHost.bootstrapImage());
    const userData = ec2.UserData.custom(Lazy.string({ produce: () => this.renderUserData(this.instanceLogicalId()) }));
    this.instance = new ec2.Instance(this, 'Instance', {
      vpc: props.vpc,
      vpcSubnets: { subnets: [subnet] },
      availabilityZone,
      instanceType,
      machineImage: image,
      role: this.instanceRole,
      securityGroup: this.securityGroup,
      userData,
      requireImdsv2: true,
      detailedMonitoring: true,
      disableApiTermination: props.terminationProtection ?? false,
      propagateTagsToVolumeOnCreation: true,
      blockDevices: [{
        deviceName: '/dev/xvda',
        volume: ec2.BlockDeviceVolume.ebs(16, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true, deleteOnTermination: true }),
      }],
    });
    const cfnInstance = this.instance.node.defaultChild as ec2.CfnInstance;
    // A failed boot fails the deployment: the bootstrap signals after <service>-boot.service ran.
    cfnInstance.cfnOptions.creationPolicy = { resourceSignal: { count: 1, timeout: 'PT30M' } };
    const imageId = image.getImage(this).imageId;
    const baseLogicalId = stack.getLogicalId(cfnInstance);
    // Replace the instance (new logical id) whenever its user data, type or image changes.
    // EC2 would otherwise apply a user-data or type change by stop/start, which re-runs nothing.
    cfnInstance.overrideLogicalId(Lazy.uncachedString({
      produce: () => baseLogicalId + crypto.createHash('sha256')
        .update(JSON.stringify(stack.resolve(this.renderUserData('REPLACEMENT-HASH'))))
        .update(instanceType.toString())
        .update(JSON.stringify(stack.resolve(imageId)))
        .digest('hex').slice(0, 16),
    }));
    this.instanceId = this.instance.instanceId;
    this.instancePrivateIp = this.instance.instancePrivateIp;
    this.connections = this.instance.connections;

    const eip = new ec2.CfnEIP(this, 'ElasticIp', { domain: 'vpc' });
    new ec2.CfnEIPAssociation(this, 'ElasticIpAssociation', { allocationId: eip.attrAllocationId, instanceId: this.instanceId });
    this.publicIp = eip.attrPublicIp;

    this.tagResources();
    // Session Manager and Run Command without AmazonSSMManagedInstanceCore, whose
    // ssm:GetParameter* on * would let the host read every parameter in the account.
    for (const statement of managedInstanceStatements()) this.instanceRole.addToPrincipalPolicy(statement);
    tagDataHostForOperations({ instance: this.instance, hostTag: this.hostTag, logGroups: this.logGroups, parameterPath: props.secretsParameterPath, apiPort: this.apiPort, apiHealthPath: props.apiHealthPath ?? '/health', databaseName, databaseUser, releaseBucket: props.releaseBucket, releaseKey });
    this.grantHostPermissions(stack, releaseKey, props.releaseBucket);
    this.addSecretNames(...HOST_SECRETS, ...this.apiSecretNames, ...(props.additionalSecretNames ?? []));

    if (snapshotRetention > 0) this.addSnapshots(snapshotRetention);

    this.systemStatusAlarm = this.metricStatusCheckFailedSystem().createAlarm(this, 'SystemStatusAlarm', {
      alarmDescription: `${this.node.path}: EC2 system status check failed; EC2 recovers the instance onto other hardware (same id, volume, address).`,
      threshold: 1,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    this.systemStatusAlarm.addAlarmAction(new cwActions.Ec2Action(cwActions.Ec2InstanceAction.RECOVER));
    this.instanceStatusAlarm = this.metricStatusCheckFailedInstance().createAlarm(this, 'InstanceStatusAlarm', {
      alarmDescription: `${this.node.path}: EC2 instance status check failed for 3 minutes (OS unresponsive). Runbook: README, GravitonDataHost.`,
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });
    this.dataDiskAlarm = this.metricDataDiskUsedPercent().createAlarm(this, 'DataDiskAlarm', {
      alarmDescription: `${this.node.path}: /data is more than 80 % full. Grow the volume (dataVolumeSize), then xfs_growfs /data.`,
      threshold: 80,
      evaluationPeriods: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    this.memoryAlarm = this.metricMemoryUsedPercent().createAlarm(this, 'MemoryAlarm', {
      alarmDescription: `${this.node.path}: memory use above 90 % for 15 minutes.`,
      threshold: 90,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    if (props.alarmTopic) {
      const action = new cwActions.SnsAction(props.alarmTopic);
      for (const alarm of [this.systemStatusAlarm, this.instanceStatusAlarm, this.dataDiskAlarm, this.memoryAlarm]) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }

    const files = { ...props.apiEnvironment };
    const apiSettings = [`ALLOWED_ORIGINS=${(props.allowedOrigins ?? []).join(',')}`,
      ...Object.entries(files).map(([k, v]) => `${k}=${v}`)];
    this.apiSettings = apiSettings.join('\n') + '\n';
    this.hostEnv = this.prefixed({
      REGION: Aws.REGION,
      STACK_NAME: Aws.STACK_NAME,
      HOST_TAG: this.hostTag,
      DATA_VOLUME_ID: this.dataVolume.volumeId,
      SSM_PATH: props.secretsParameterPath,
      INSTANCE_TYPE: instanceType.toString(),
      RELEASE_BUCKET: props.releaseBucket?.bucketName ?? '',
      RELEASE_KEY: props.releaseBucket ? releaseKey : '',
      API_PORT: String(this.apiPort),
      API_HEALTH_PATH: props.apiHealthPath ?? '/health',
      DB_NAME: databaseName,
      DB_USER: databaseUser,
      METRICS_NAMESPACE: this.metricsNamespace,
      LOG_GROUP_API: this.logGroups.api.logGroupName,
      LOG_GROUP_POSTGRESQL: this.logGroups.postgresql.logGroupName,
      LOG_GROUP_REDIS: this.logGroups.redis.logGroupName,
      LOG_GROUP_BOOT: this.logGroups.boot.logGroupName,
    });

    const hostDir = `/opt/${service}/host`;
    this.deployApiCommand = this.createCommand('DeployApiDocument', 'deploy-api',
      'Deploys the API release now in the release location; fails unless it answers its health check',
      [`bash ${hostDir}/deploy-api.sh`]);
    // A deploy workflow finds the document with the instance (and may send only what IAM allows).
    Tags.of(this.instance).add(OPS_TAGS.deployApiDocument, this.deployApiCommand.documentName);
    this.refreshApiCommand = this.createCommand('RefreshApiDocument', 'refresh-api',
      'Re-reads the secrets, rewrites the API environment and restarts the API; fails unless it answers its health check',
      [`bash ${hostDir}/read-secrets.sh`, `bash ${hostDir}/write-api-env.sh`, `bash ${hostDir}/deploy-api.sh`]);

    this.node.addValidation({ validate: () => this.validateUserDataSize() });
    this.suppressNagFindings();
  }

  /**
   * Adds files that the host writes at boot, before any boot command. Files whose content is
   * fixed at synth time go to the host in an S3 asset (no user-data limit); content with
   * tokens (e.g. a bucket name) is written by cloud-init from user data.
   */
  public addFiles(...files: HostFile[]): void {
    const staticFiles: HostFile[] = [];
    for (const file of files) {
      validateHostFile(this, file);
      if (Token.isUnresolved(file.content)) this.inlineFiles.push(file);
      else staticFiles.push(file);
    }
    if (staticFiles.length === 0) return;
    const staging = mkdtempSync(join(tmpdir(), 'graviton-data-host-files-'));
    const manifest: string[] = [];
    for (const file of staticFiles) {
      const target = join(staging, 'files', file.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.content);
      manifest.push(`${file.mode ?? '0644'} ${file.owner ?? 'root:root'} ${file.path}`);
    }
    writeFileSync(join(staging, 'MANIFEST'), manifest.join('\n') + '\n');
    this.fileAssets.push(this.zipAsset(`Files${this.fileAssets.length + 1}`, staging));
  }

  /**
   * Adds shell commands that run as root at every boot, after /data is mounted, the secrets
   * are read and the services started, in the order added. A failing command fails the boot.
   */
  public addBootCommands(...commands: string[]): void {
    for (const command of commands) {
      if (command.trim().length === 0) {
        throw new Error(`GravitonDataHost ${this.node.path}: addBootCommands got an empty command; pass the shell command to run.`);
      }
    }
    this.bootCommands.push(...commands);
  }

  /**
   * Adds secrets (names under `secretsParameterPath`) that the host reads into
   * /etc/<service>/secrets/NAME at boot, and refuses to boot without.
   */
  public addSecretNames(...names: string[]): void {
    const fresh = names.filter((name) => !this.secretNames.includes(name));
    for (const name of fresh) {
      if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(name)) {
        throw new Error(`GravitonDataHost ${this.node.path}: secret name "${name}" must be lowercase letters, digits and dashes (e.g. "restic-password").`);
      }
    }
    if (fresh.length === 0) return;
    this.secretNames.push(...new Set(fresh));
    this.instanceRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParameter', 'ssm:GetParameters'],
      resources: [...new Set(fresh)].map((name) => this.parameterArn(name)),
    }));
  }

  /** The root-only file that holds a secret on the host. */
  public secretFile(name: string): string {
    return `/etc/${this.serviceName}/secrets/${name}`;
  }

  /** The ARN of one of the host's secret parameters. */
  public parameterArn(name: string): string {
    return Stack.of(this).formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${this.secretsParameterPath}/${name}`.slice(1) });
  }

  /**
   * Adds a fixed action as a parameterless SSM Command document (named
   * `<service>-<host id>-<action>`), bound to this host's instance. Grant it with
   * `HostCommand.grantRun`: the grantee can then run exactly these lines as root, nothing else.
   *
   * @param id construct id of the document
   * @param action short lowercase name (letters, digits, hyphens), e.g. 'backup-now'
   * @param description what it does
   * @param lines shell lines, run in order by bash as root; the first failure fails the command
   */
  public addCommand(id: string, action: string, description: string, lines: string[]): HostCommand {
    return this.createCommand(id, action, description, lines);
  }

  /**
   * Lets a principal (an operator role) open SSM Session Manager sessions on this instance: a
   * shell, and port forwarding (e.g. to PostgreSQL on 5432), and end its own sessions.
   */
  public grantSession(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const start = iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:StartSession'],
      resourceArns: [
        stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: this.instanceId }),
        stack.formatArn({ service: 'ssm', resource: 'document', resourceName: 'SSM-SessionManagerRunShell' }),
        stack.formatArn({ service: 'ssm', account: '', resource: 'document', resourceName: 'AWS-StartPortForwardingSession' }),
      ],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:TerminateSession', 'ssm:ResumeSession'],
      resourceArns: [stack.formatArn({ service: 'ssm', resource: 'session', resourceName: '${aws:userid}-*' })],
    });
    return start;
  }

  /** Memory in use, percent (CloudWatch agent). */
  public metricMemoryUsedPercent(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName: 'mem_used_percent',
      dimensionsMap: { InstanceId: this.instanceId },
      period: Duration.minutes(5),
      statistic: 'Maximum',
      ...props,
    });
  }

  /** /data in use, percent (CloudWatch agent). */
  public metricDataDiskUsedPercent(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName: 'disk_used_percent',
      dimensionsMap: { InstanceId: this.instanceId, path: '/data', fstype: 'xfs' },
      period: Duration.minutes(5),
      statistic: 'Maximum',
      ...props,
    });
  }

  /** EC2 system status check failures (AWS hardware or network). */
  public metricStatusCheckFailedSystem(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ec2Metric('StatusCheckFailed_System', props);
  }

  /** EC2 instance status check failures (the operating system). */
  public metricStatusCheckFailedInstance(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ec2Metric('StatusCheckFailed_Instance', props);
  }

  /** CPU utilization, percent. */
  public metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ec2Metric('CPUUtilization', { statistic: 'Average', period: Duration.minutes(5), ...props });
  }

  private ec2Metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/EC2',
      metricName,
      dimensionsMap: { InstanceId: this.instanceId },
      period: Duration.minutes(1),
      statistic: 'Maximum',
      ...props,
    });
  }

  private instanceLogicalId(): string {
    return (this.instance.node.defaultChild as ec2.CfnInstance).logicalId;
  }

  private createCommand(id: string, action: string, description: string, lines: string[]): HostCommand {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(action)) {
      throw new Error(`GravitonDataHost ${this.node.path}: command action "${action}" must be lowercase letters, digits and hyphens (at most 31), e.g. "restart-api".`);
    }
    if (lines.length === 0 || lines.some((line) => line.trim().length === 0 || Token.isUnresolved(line))) {
      throw new Error(`GravitonDataHost ${this.node.path}: command ${action} needs shell lines that are neither empty nor tokens (the document is fixed at synth time).`);
    }
    const documentName = `${this.serviceName}-${Names.uniqueResourceName(this, { maxLength: 80, separator: '-' })}-${action}`;
    const document = new ssm.CfnDocument(this, id, {
      name: documentName,
      documentType: 'Command',
      // A fixed name cannot be replaced in place; content changes become a new version.
      updateMethod: 'NewVersion',
      content: {
        schemaVersion: '2.2',
        description: `${description} (${this.serviceName}, GravitonDataHost ${this.node.path})`,
        mainSteps: [{
          action: 'aws:runShellScript',
          name: action,
          inputs: { timeoutSeconds: '600', runCommand: ['set -euo pipefail', ...lines] },
        }],
      },
    });
    return new HostCommand(document, { documentName, instanceId: this.instanceId, description });
  }

  /** Names the host's settings with the service's prefix (`KEHILLA_REGION`). */
  private prefixed(settings: { [name: string]: string }): { [name: string]: string } {
    return Object.fromEntries(Object.entries(settings).map(([k, v]) => [`${this.envPrefix}_${k}`, v]));
  }

  /** A zip of `dir`, uploaded unchanged as a file asset, whose SHA-256 the user data names. */
  private zipAsset(id: string, dir: string): s3assets.Asset {
    const { asset, sha256 } = verifiedZipAsset(this, id, dir);
    this.assetHashes.set(asset, sha256);
    this.grantAssetRead(asset);
    return asset;
  }

  private grantAssetRead(asset: s3assets.Asset): void {
    this.instanceRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [asset.bucket.arnForObjects(asset.s3ObjectKey)],
    }));
  }

  private tagResources(): void {
    Tags.of(this.instance).add('shtetl:data-host', this.hostTag);
    Tags.of(this.dataVolume).add('shtetl:data-host', this.hostTag);
    Tags.of(this.dataVolume).add('shtetl:data-volume', this.hostTag);
    Tags.of(this.dataVolume).add('Name', `${this.node.path}/data`);
  }

  private grantHostPermissions(stack: Stack, releaseKey: string, releaseBucket?: s3.IBucket): void {
    const role = this.instanceRole;
    const taggedInstances = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    const tagged = { StringEquals: { 'aws:ResourceTag/shtetl:data-host': this.hostTag } };
    // Attach and detach this volume only, to and from this host's instances only.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ec2:AttachVolume', 'ec2:DetachVolume'],
      resources: [stack.formatArn({ service: 'ec2', resource: 'volume', resourceName: this.dataVolume.volumeId })],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ec2:AttachVolume', 'ec2:DetachVolume', 'ec2:StopInstances'],
      resources: [taggedInstances],
      conditions: tagged,
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      // Describe calls have no resource-level permissions.
      actions: ['ec2:DescribeVolumes', 'ec2:DescribeInstances'],
      resources: ['*'],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['cloudformation:SignalResource'],
      resources: [stack.stackId],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': this.metricsNamespace } },
    }));
    for (const group of Object.values(this.logGroups)) {
      group.grantWrite(role);
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:DescribeLogStreams'], resources: [group.logGroupArn] }));
    }
    if (releaseBucket) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [releaseBucket.arnForObjects(releaseKey)] }));
      releaseBucket.encryptionKey?.grantDecrypt(role);
    }
  }

  private addSnapshots(retention: number): void {
    const role = new iam.Role(this, 'SnapshotRole', {
      assumedBy: new iam.ServicePrincipal('dlm.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSDataLifecycleManagerServiceRole')],
      description: `${this.node.path}: Data Lifecycle Manager snapshots of the data volume`,
    });
    suppressNag(role, [{
      id: 'AwsSolutions-IAM4',
      reason: 'AWSDataLifecycleManagerServiceRole is the policy AWS maintains for DLM; DLM only acts on the volumes its policy targets (the data-volume tag)',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole'],
    }]);
    new dlm.CfnLifecyclePolicy(this, 'DailySnapshots', {
      description: 'Daily snapshots of a GravitonDataHost data volume',
      state: 'ENABLED',
      executionRoleArn: role.roleArn,
      policyDetails: {
        resourceTypes: ['VOLUME'],
        targetTags: [{ key: 'shtetl:data-volume', value: this.hostTag }],
        schedules: [{
          name: `daily-keep-${retention}`,
          createRule: { interval: 24, intervalUnit: 'HOURS', times: ['03:00'] },
          retainRule: { count: retention },
          copyTags: true,
        }],
      },
    });
  }

  /** The cloud-config user data: host.env, the bootstrap script, inline files, boot commands. */
  private renderUserData(logicalId: string): string {
    const service = this.serviceName;
    const env = {
      ...this.hostEnv,
      ...this.prefixed({
        LOGICAL_ID: logicalId,
        SECRET_NAMES: this.secretNames.join(' '),
        API_SECRET_NAMES: this.apiSecretNames.join(' '),
        // Each with the SHA-256 of its zip: the bootstrap runs nothing it cannot verify.
        HOST_ASSETS: [this.hostAsset, ...this.fileAssets].map((a) => `${a.s3ObjectUrl}#${this.assetHashes.get(a)}`).join(' '),
      }),
    };
    const files: string[] = [
      blockFile(`/etc/${service}/host.env`, '0644', Object.entries(env).map(([k, v]) => `${k}="${v}"`).join('\n') + '\n'),
      blockFile(`/etc/${service}/api-settings.env`, '0644', this.apiSettings),
      blockFile(`/usr/local/sbin/${service}-bootstrap`, '0755', readFileSync(join(HOST_DIR, 'bootstrap.sh'), 'utf8')),
    ];
    if (this.bootCommands.length > 0) {
      files.push(blockFile(`/etc/${service}/boot.d/50-boot-commands.sh`, '0700',
        ['#!/usr/bin/env bash', '# Added with GravitonDataHost.addBootCommands', 'set -euo pipefail', ...this.bootCommands].join('\n') + '\n'));
    }
    for (const file of this.inlineFiles) {
      files.push([
        `  - path: ${file.path}`,
        `    owner: ${file.owner ?? 'root:root'}`,
        `    permissions: '${file.mode ?? '0644'}'`,
        `    content: ${JSON.stringify(file.content)}`,
      ].join('\n'));
    }
    return [
      '#cloud-config',
      `# GravitonDataHost ${this.node.path}: boot scripts in /opt/${service}/host, log in /var/log/${service}/boot.log`,
      'write_files:',
      ...files,
      'runcmd:',
      `  - [bash, /usr/local/sbin/${service}-bootstrap, ${service}]`,
      '',
    ].join('\n');
  }

  private validateUserDataSize(): string[] {
    const resolved = Stack.of(this).resolve(this.renderUserData('X'.repeat(64)));
    // Each token (a name, an id, a URL) expands to at most a few hundred bytes at deploy time.
    const size = typeof resolved === 'string' ? resolved.length
      : JSON.stringify(resolved).length + 200 * (JSON.stringify(resolved).match(/"Ref"|"Fn::GetAtt"/g) ?? []).length;
    return size > USER_DATA_LIMIT
      ? [`GravitonDataHost ${this.node.path}: user data is about ${size} bytes, above the ${USER_DATA_LIMIT}-byte budget (EC2 allows 16384). Files whose content has tokens go into user data: put the token values into a small file and keep big scripts token-free (they then go to S3).`]
      : [];
  }

  private suppressNagFindings(): void {
    const stack = Stack.of(this);
    // cdk-nag names pseudo parameters <AWS::Region>; a stack with a concrete env has literals
    // (the partition too, with the feature flag @aws-cdk/core:enablePartitionLiterals).
    const partition = Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
    const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
    const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
    const policy = this.instanceRole.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
    if (policy) {
      suppressNag(policy, [{
        id: 'AwsSolutions-IAM5',
        reason: 'ec2:Describe*, the SSM agent\'s ssm:UpdateInstanceInformation, ssmmessages:* and ec2messages:* (Session Manager, Run Command) have no resource-level permissions; PutMetricData is limited to the host namespace by condition; Stop/Attach/Detach on instances are limited by the shtetl:data-host tag condition to this host',
        appliesTo: ['Resource::*', `Resource::arn:${partition}:ec2:${region}:${account}:instance/*`],
      }]);
    }
    if (!(this.instance.node.defaultChild as ec2.CfnInstance).disableApiTermination) {
      suppressNag(this.instance, [{
        id: 'AwsSolutions-EC29',
        reason: 'Termination protection is off by default because CloudFormation must delete the old instance after a replacement; the data lives on the retained volume (terminationProtection prop turns it on)',
      }]);
    }
  }
}

interface ResolvedDefaults {
  readonly instanceType: ec2.InstanceType;
  readonly volumeSize: Size;
  readonly snapshotRetention: number;
  readonly releaseKey: string;
  readonly databaseName: string;
  readonly databaseUser: string;
}

function validateServiceName(scope: Construct, name: string): void {
  if (typeof name !== 'string' || Token.isUnresolved(name) || !SERVICE_NAME.test(name) || name.length > SERVICE_NAME_MAX || name.includes('--') || /^(aws|amazon|amzn)/.test(name)) {
    throw new Error(`GravitonDataHost ${scope.node.path}: serviceName "${name}" must be 2 to ${SERVICE_NAME_MAX} lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen, not starting with "aws", "amazon" or "amzn" (SSM document names), and not a token: every host path, unit and database name derives from it. Use e.g. "kehilla".`);
  }
}

/** Validates the props and returns the host's subnet. */
function validateProps(scope: Construct, props: GravitonDataHostProps, d: ResolvedDefaults): ec2.ISubnet {
  const fail = (message: string): never => {
    throw new Error(`GravitonDataHost ${scope.node.path}: ${message}`);
  };
  if (d.instanceType.architecture !== ec2.InstanceArchitecture.ARM_64) {
    fail(`instanceType ${d.instanceType.toString()} is not an ARM64 (Graviton) type; the AMI and the API are arm64. Use e.g. m7g.medium, m7g.large or t4g.medium.`);
  }
  const gib = d.volumeSize.toMebibytes() / 1024;
  if (!Number.isInteger(gib) || gib < 1 || gib > 16384) {
    fail(`dataVolumeSize ${gib} GiB is outside what gp3 allows (a whole number of GiB from 1 to 16384). The default is 30.`);
  }
  if (!Token.isUnresolved(props.secretsParameterPath) && !/^(\/[a-zA-Z0-9_.-]+)+$/.test(props.secretsParameterPath)) {
    fail(`secretsParameterPath "${props.secretsParameterPath}" must be an absolute SSM path without a trailing slash, e.g. "/${props.serviceName}/prod".`);
  }
  if (!Number.isInteger(d.snapshotRetention) || d.snapshotRetention < 0 || d.snapshotRetention > 1000) {
    fail(`snapshotRetentionCount ${d.snapshotRetention} must be a whole number from 0 (no snapshots) to 1000 (the Data Lifecycle Manager limit).`);
  }
  if (d.releaseKey.length === 0 || d.releaseKey.startsWith('/')) {
    fail(`releaseKey "${d.releaseKey}" must be an S3 object key without a leading slash, e.g. "releases/${props.serviceName}-api/current/api-linux-arm64".`);
  }
  for (const [field, value] of [['databaseName', d.databaseName], ['databaseUser', d.databaseUser]]) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) fail(`${field} "${value}" must be a lowercase PostgreSQL identifier (letters, digits, underscores).`);
  }
  const port = props.apiPort ?? 8080;
  if (!Number.isInteger(port) || port < 1024 || port > 65535 || port === 5432 || port === 6379) {
    fail(`apiPort ${port} must be an unprivileged port (1024-65535) other than PostgreSQL's 5432 and Redis's 6379.`);
  }
  for (const origin of props.allowedOrigins ?? []) {
    if (!Token.isUnresolved(origin) && !/^https?:\/\/[a-z0-9.-]+(:\d+)?$/.test(origin)) {
      fail(`allowedOrigins entry "${origin}" is not an origin (scheme and host, no path or trailing slash), e.g. "https://${props.serviceName}.example.com".`);
    }
  }
  const secretVars = (props.apiSecretNames ?? []).map((n) => n.toUpperCase().replace(/-/g, '_'));
  for (const [name, value] of Object.entries(props.apiEnvironment ?? {})) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) fail(`apiEnvironment name "${name}" must be UPPER_SNAKE_CASE.`);
    if (MANAGED_API_VARIABLES.includes(name) || secretVars.includes(name)) fail(`apiEnvironment sets ${name}, which the host writes itself (from its secrets or props); remove it.`);
    if (/[\n"\\$`]/.test(value)) fail(`apiEnvironment ${name} has a newline, quote, backslash, $ or backtick; the environment file cannot hold it.`);
  }
  for (const name of secretVars) {
    if (MANAGED_API_VARIABLES.includes(name)) fail(`apiSecretNames would set ${name}, which the host writes itself; rename the secret.`);
  }
  for (const cidr of props.sshAllowedCidrs ?? []) {
    const v4 = /^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/.test(cidr);
    const v6 = /^[0-9a-fA-F:]+\/\d{1,3}$/.test(cidr);
    if (!v4 && !v6) fail(`sshAllowedCidrs entry "${cidr}" is not a CIDR, e.g. "203.0.113.7/32".`);
    const bits = Number(cidr.split('/')[1]);
    const narrowest = v4 ? 24 : 56;
    if (bits < narrowest) {
      fail(`sshAllowedCidrs entry "${cidr}" opens SSH to ${v4 ? 2 ** (32 - bits) : `2^${128 - bits}`} addresses; allow at most a /${narrowest} (e.g. "203.0.113.7/32"), or use SSM Session Manager.`);
    }
  }
  const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PUBLIC }).subnets;
  if (subnets.length === 0) fail('vpcSubnets selects no subnet in the VPC; select the subnet the host belongs in.');
  const az = props.availabilityZone;
  const subnet = az === undefined ? subnets[0] : subnets.find((s) => s.availabilityZone === az || Token.isUnresolved(s.availabilityZone));
  if (!subnet) {
    fail(`availabilityZone "${az}" has none of the selected subnets (they are in ${[...new Set(subnets.map((s) => s.availabilityZone))].join(', ')}). The instance and its data volume must share one zone.`);
  }
  return subnet!;
}

function validateHostFile(scope: Construct, file: HostFile): void {
  const where = `GravitonDataHost ${scope.node.path}: addFiles`;
  if (!/^\/[A-Za-z0-9._@+/-]+$/.test(file.path) || file.path.split('/').includes('..') || file.path.endsWith('/')) {
    throw new Error(`${where}: path "${file.path}" must be an absolute file path of letters, digits and ._@+-/ without "..".`);
  }
  if (file.mode !== undefined && !/^0?[0-7]{3}$/.test(file.mode)) {
    throw new Error(`${where}: mode "${file.mode}" of ${file.path} must be octal, e.g. "0644" or "0755".`);
  }
  if (file.owner !== undefined && !/^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$/.test(file.owner)) {
    throw new Error(`${where}: owner "${file.owner}" of ${file.path} must be "user:group", e.g. "root:root".`);
  }
}

/** A write_files entry with a literal block (content is ours, never starts with a space). */
function blockFile(path: string, mode: string, content: string): string {
  const body = content.replace(/\n$/, '').split('\n').map((line) => (line.length > 0 ? `      ${line}` : '')).join('\n');
  return [`  - path: ${path}`, '    owner: root:root', `    permissions: '${mode}'`, '    content: |', body].join('\n');
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
