import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * A file that a host writes at boot, before any boot command runs.
 */
export interface HostFile {
  /** Absolute path on the host. */
  readonly path: string;
  /** File content (text). Never a secret value: hosts read secrets from SSM at run time. */
  readonly content: string;
  /**
   * Octal permissions.
   * @default '0644'
   */
  readonly mode?: string;
  /**
   * Owner and group.
   * @default 'root:root'
   */
  readonly owner?: string;
}

/**
 * A host whose boot other constructs can extend: ResticBackups installs its scripts,
 * services and timers on it; OriginVerifiedHttpApi opens its port to a VPC link.
 */
export interface IManagedHost extends ec2.IConnectable, iam.IGrantable {
  /** The EC2 instance id (for SSM Run Command, alarms and operations). */
  readonly instanceId: string;

  /** The instance's private IPv4 address (a VPC link target). */
  readonly instancePrivateIp: string;

  /** Adds files that the host writes at boot, before any boot command. */
  addFiles(...files: HostFile[]): void;

  /**
   * Adds shell commands that run as root at every boot of every instance (so they must be
   * idempotent), after /data is mounted, the host's secrets are read and its services are
   * started, in the order added. A failing command fails the boot and the deployment.
   */
  addBootCommands(...commands: string[]): void;
}
