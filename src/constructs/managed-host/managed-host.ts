import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { HostCommand } from './host-command';

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
 * A host whose boot other constructs can extend, and what they share with it: ResticBackups
 * installs its scripts, services and timers on it; OriginVerifiedHttpApi opens the host's API
 * port to a VPC link and refreshes the host after each rotation. Everything a construct needs
 * to agree with the host on (service name, port, origins, secret names, commands) comes from
 * here, so a mismatch cannot be written.
 */
export interface IManagedHost extends ec2.IConnectable, iam.IGrantable {
  /**
   * The service's name (lowercase letters, digits, hyphens). Constructs that work with the
   * host tag their resources `shtetl:service=<serviceName>`.
   */
  readonly serviceName: string;

  /** The EC2 instance id (for SSM Run Command, alarms and operations). */
  readonly instanceId: string;

  /** The instance's private IPv4 address (a VPC link target). */
  readonly instancePrivateIp: string;

  /** The port the API listens on (plain HTTP inside the VPC). */
  readonly apiPort: number;

  /** Browser origins the API accepts. */
  readonly allowedOrigins: string[];

  /** The SSM Parameter Store path of the host's secrets, without a trailing slash (`/<service>/<env>`). */
  readonly secretsParameterPath: string;

  /** The names (under `secretsParameterPath`) of the secrets the API gets as environment variables. */
  readonly apiSecretNames: string[];

  /**
   * Re-reads the host's secrets, rewrites the API's environment and restarts the API; fails
   * unless the API answers its health check (e.g. after a secret was rotated).
   */
  readonly refreshApiCommand: HostCommand;

  /** Deploys the API release now in the release location; fails unless it answers its health check. */
  readonly deployApiCommand: HostCommand;

  /** Adds files that the host writes at boot, before any boot command. */
  addFiles(...files: HostFile[]): void;

  /**
   * Adds shell commands that run as root at every boot of every instance (so they must be
   * idempotent), after /data is mounted, the host's secrets are read and its services are
   * started, in the order added. A failing command fails the boot and the deployment.
   */
  addBootCommands(...commands: string[]): void;
}
