import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { HostCommand } from './host-command';
import { HostFile, IManagedHost } from './managed-host';
import { ValidationError } from '../../internal/validation-error';

/**
 * Properties of {@link HostReference}.
 */
export interface HostReferenceProps {
  /** The host, as created in its own stack. */
  readonly host: IManagedHost;

  /**
   * The SSM path that {@link HostReference.publish} wrote the host's identity under, without
   * a trailing slash (e.g. `/<service>/<env>`).
   */
  readonly parameterPrefix: string;
}

/**
 * A host as another stack of the same account and region sees it. Its instance id and private
 * address come from the SSM parameters that {@link HostReference.publish} writes in the host's
 * stack, resolved by CloudFormation at every deploy, not from exports: a host is replaced
 * whenever its boot scripts change, and CloudFormation refuses to change an export that
 * another stack imports, so with exports the host's stack could never deploy a replacement.
 * The security group (stable across replacements) and the instance role are referenced
 * directly; service name, port, origins, secret names and command documents are plain values.
 *
 * @example
 * // In the host's stack:
 * HostReference.publish(computeStack, host, '/kehilla/prod');
 * // In another stack:
 * const ref = new HostReference(apiStack, 'Host', { host, parameterPrefix: '/kehilla/prod' });
 */
export class HostReference extends Construct implements IManagedHost {
  /** The SSM parameter names (plain strings) of a host's instance id and private address. */
  public static parameterNames(parameterPrefix: string): HostReferenceParameterNames {
    validatePrefix(parameterPrefix);
    return { instanceId: `${parameterPrefix}/host/instance-id`, privateIp: `${parameterPrefix}/host/private-ip` };
  }

  /**
   * Writes the host's instance id and private address to SSM parameters under
   * `parameterPrefix` (constructs `HostInstanceIdParameter` and `HostPrivateIpParameter` in
   * `scope`, which must be in the host's stack).
   */
  public static publish(scope: Construct, host: IManagedHost, parameterPrefix: string): void {
    const names = HostReference.parameterNames(parameterPrefix);
    new ssm.StringParameter(scope, 'HostInstanceIdParameter', {
      parameterName: names.instanceId,
      stringValue: host.instanceId,
      description: 'Instance id of the current data host (read by other stacks at each deploy)',
    });
    new ssm.StringParameter(scope, 'HostPrivateIpParameter', {
      parameterName: names.privateIp,
      stringValue: host.instancePrivateIp,
      description: 'Private IPv4 address of the current data host (read by other stacks at each deploy)',
    });
  }

  public readonly serviceName: string;
  public readonly instanceId: string;
  public readonly instancePrivateIp: string;
  public readonly apiPort: number;
  public readonly allowedOrigins: string[];
  public readonly secretsParameterPath: string;
  public readonly apiSecretNames: string[];
  public readonly refreshApiCommand: HostCommand;
  public readonly deployApiCommand: HostCommand;
  public readonly connections: ec2.Connections;
  public readonly grantPrincipal: iam.IPrincipal;

  constructor(scope: Construct, id: string, props: HostReferenceProps) {
    super(scope, id);
    const { host } = props;
    const names = HostReference.parameterNames(props.parameterPrefix);
    this.serviceName = host.serviceName;
    this.instanceId = ssm.StringParameter.valueForStringParameter(this, names.instanceId);
    this.instancePrivateIp = ssm.StringParameter.valueForStringParameter(this, names.privateIp);
    this.apiPort = host.apiPort;
    this.allowedOrigins = [...host.allowedOrigins];
    this.secretsParameterPath = host.secretsParameterPath;
    this.apiSecretNames = [...host.apiSecretNames];
    this.connections = host.connections;
    this.grantPrincipal = host.grantPrincipal;
    // The documents keep their names across host replacements; the instance is the current one.
    const rebind = (command: HostCommand) => new HostCommand(this, {
      documentName: command.documentName,
      description: command.description,
      instanceId: this.instanceId,
    });
    this.refreshApiCommand = rebind(host.refreshApiCommand);
    this.deployApiCommand = rebind(host.deployApiCommand);
  }

  public addFiles(..._files: HostFile[]): void {
    throw new ValidationError('HostReference', this, 'add host files in the stack that owns the host, not through a reference');
  }

  public addBootCommands(..._commands: string[]): void {
    throw new ValidationError('HostReference', this, 'add boot commands in the stack that owns the host, not through a reference');
  }
}

/**
 * The SSM parameter names of a published host.
 */
export interface HostReferenceParameterNames {
  /** The instance id's parameter. */
  readonly instanceId: string;
  /** The private IPv4 address's parameter. */
  readonly privateIp: string;
}

function validatePrefix(prefix: string): void {
  if (!/^(\/[a-zA-Z0-9_.-]+)+$/.test(prefix)) {
    throw new ValidationError('HostReference', undefined, `parameterPrefix "${prefix}" must be an absolute SSM path without a trailing slash, e.g. "/<service>/<env>".`);
  }
}
