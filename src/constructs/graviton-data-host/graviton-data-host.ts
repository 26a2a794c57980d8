import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, Duration, Lazy, Names, RemovalPolicy, Size, Stack, Tags, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { GravitonDataHostProps } from './graviton-data-host-props';
import { addDataVolumeSnapshots, grantHostPermissions, suppressHostNagFindings } from './host-permissions';
import { tagDataHostForOperations } from './ops-tagging';
import { hostFilesZipEntries, renderApiSettings, renderCloudConfig } from './user-data';
import { validateBootCommands, validateCommand, validateHostFile, validateProps, validateSecretName, validateServiceName, userDataSizeErrors } from './validation';
import { notifyAlarmAndOk } from '../../internal/alarms';
import { managedInstanceStatements } from '../../internal/managed-instance';
import { verifiedZipAsset, ZipEntry } from '../../internal/zip';
import { HostCommand, HostFile, IManagedHost } from '../managed-host';
import { OPS_TAGS } from '../ops-tags';

/** The host scripts, units and configuration that every instance runs (shipped as an S3 asset). */
const HOST_DIR = join(__dirname, 'host');

/** Secrets the host itself needs: the database and Redis passwords. */
const HOST_SECRETS = ['postgres-password', 'redis-password'];

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
    grantHostPermissions(this.instanceRole, stack, {
      hostTag: this.hostTag,
      dataVolume: this.dataVolume,
      metricsNamespace: this.metricsNamespace,
      logGroups: this.logGroups,
      releaseBucket: props.releaseBucket,
      releaseKey,
    });
    this.addSecretNames(...HOST_SECRETS, ...this.apiSecretNames, ...(props.additionalSecretNames ?? []));

    if (snapshotRetention > 0) addDataVolumeSnapshots(this, this.hostTag, snapshotRetention);

    const { GREATER_THAN_OR_EQUAL_TO_THRESHOLD: atLeast, GREATER_THAN_THRESHOLD: above } = cloudwatch.ComparisonOperator;
    const alarm = (alarmId: string, metric: cloudwatch.Metric, threshold: number, evaluationPeriods: number,
      comparisonOperator: cloudwatch.ComparisonOperator, what: string) =>
      metric.createAlarm(this, alarmId, { alarmDescription: `${this.node.path}: ${what}`, threshold, evaluationPeriods, comparisonOperator });
    this.systemStatusAlarm = alarm('SystemStatusAlarm', this.metricStatusCheckFailedSystem(), 1, 2, atLeast,
      'EC2 system status check failed; EC2 recovers the instance onto other hardware (same id, volume, address).');
    this.systemStatusAlarm.addAlarmAction(new cloudwatchActions.Ec2Action(cloudwatchActions.Ec2InstanceAction.RECOVER));
    this.instanceStatusAlarm = alarm('InstanceStatusAlarm', this.metricStatusCheckFailedInstance(), 1, 3, atLeast,
      'EC2 instance status check failed for 3 minutes (OS unresponsive). Runbook: README, GravitonDataHost.');
    this.dataDiskAlarm = alarm('DataDiskAlarm', this.metricDataDiskUsedPercent(), 80, 2, above,
      '/data is more than 80 % full. Grow the volume (dataVolumeSize), then xfs_growfs /data.');
    this.memoryAlarm = alarm('MemoryAlarm', this.metricMemoryUsedPercent(), 90, 3, above, 'memory use above 90 % for 15 minutes.');
    notifyAlarmAndOk(props.alarmTopic, this.systemStatusAlarm, this.instanceStatusAlarm, this.dataDiskAlarm, this.memoryAlarm);

    this.apiSettings = renderApiSettings(props.allowedOrigins ?? [], props.apiEnvironment ?? {});
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

    this.node.addValidation({ validate: () => userDataSizeErrors(this, Stack.of(this).resolve(this.renderUserData('X'.repeat(64)))) });
    suppressHostNagFindings(this.instanceRole, this.instance);
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
    this.fileAssets.push(this.zipAsset(`Files${this.fileAssets.length + 1}`, hostFilesZipEntries(staticFiles)));
  }

  /**
   * Adds shell commands that run as root at every boot, after /data is mounted, the secrets
   * are read and the services started, in the order added. A failing command fails the boot.
   */
  public addBootCommands(...commands: string[]): void {
    validateBootCommands(this, commands);
    this.bootCommands.push(...commands);
  }

  /**
   * Adds secrets (names under `secretsParameterPath`) that the host reads into
   * /etc/<service>/secrets/NAME at boot, and refuses to boot without.
   */
  public addSecretNames(...names: string[]): void {
    const fresh = names.filter((name) => !this.secretNames.includes(name));
    for (const name of fresh) validateSecretName(this, name);
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
    validateCommand(this, action, lines);
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

  /** A zip of a folder or of entries, uploaded unchanged as a file asset, whose SHA-256 the user data names. */
  private zipAsset(id: string, source: string | ZipEntry[]): s3assets.Asset {
    const { asset, sha256 } = verifiedZipAsset(this, id, source);
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

  /** The cloud-config user data: host.env, the bootstrap script, inline files, boot commands. */
  private renderUserData(logicalId: string): string {
    return renderCloudConfig({
      serviceName: this.serviceName,
      constructPath: this.node.path,
      hostEnv: {
        ...this.hostEnv,
        ...this.prefixed({
          LOGICAL_ID: logicalId,
          SECRET_NAMES: this.secretNames.join(' '),
          API_SECRET_NAMES: this.apiSecretNames.join(' '),
          // Each with the SHA-256 of its zip: the bootstrap runs nothing it cannot verify.
          HOST_ASSETS: [this.hostAsset, ...this.fileAssets].map((a) => `${a.s3ObjectUrl}#${this.assetHashes.get(a)}`).join(' '),
        }),
      },
      apiSettings: this.apiSettings,
      bootstrapScript: readFileSync(join(HOST_DIR, 'bootstrap.sh'), 'utf8'),
      bootCommands: this.bootCommands,
      inlineFiles: this.inlineFiles,
    });
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
