import { RemovalPolicy, Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { GravitonDataHost } from './graviton-data-host';

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
