import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { HostFile, IManagedHost } from '../constructs/graviton-data-host/managed-host';

/** SSM parameters (plain strings) where ComputeStack publishes the current host's identity. */
export function hostParameterNames(ssmPrefix: string): { instanceId: string; privateIp: string } {
  return { instanceId: `${ssmPrefix}/host/instance-id`, privateIp: `${ssmPrefix}/host/private-ip` };
}

/** Publishes the host's instance id and private address for {@link HostReference}. */
export function publishHost(scope: Construct, host: IManagedHost, ssmPrefix: string): void {
  const names = hostParameterNames(ssmPrefix);
  new ssm.StringParameter(scope, 'HostInstanceIdParameter', {
    parameterName: names.instanceId,
    stringValue: host.instanceId,
    description: 'Instance id of the current data host (read by the Api stack at each deploy)',
  });
  new ssm.StringParameter(scope, 'HostPrivateIpParameter', {
    parameterName: names.privateIp,
    stringValue: host.instancePrivateIp,
    description: 'Private IPv4 address of the current data host (read by the Api stack at each deploy)',
  });
}

/**
 * The data host as another stack sees it: its instance id and private address come from the
 * SSM parameters that {@link publishHost} writes, resolved by CloudFormation at every deploy
 * (the CDK CLI always deploys a stack with SSM parameters), not through exports. The host is
 * replaced whenever its boot scripts change, and CloudFormation refuses to change or remove
 * an export that another stack imports: with exports, the Compute stack could never deploy
 * a replacement. Its security group (stable across replacements) is still referenced directly.
 */
export class HostReference implements IManagedHost {
  public readonly instanceId: string;
  public readonly instancePrivateIp: string;
  public readonly connections: ec2.Connections;
  public readonly grantPrincipal: iam.IPrincipal;

  constructor(scope: Construct, host: IManagedHost, ssmPrefix: string) {
    const names = hostParameterNames(ssmPrefix);
    this.instanceId = ssm.StringParameter.valueForStringParameter(scope, names.instanceId);
    this.instancePrivateIp = ssm.StringParameter.valueForStringParameter(scope, names.privateIp);
    this.connections = host.connections;
    this.grantPrincipal = host.grantPrincipal;
  }

  public addFiles(..._files: HostFile[]): void {
    throw new Error('HostReference: add host files in the stack that owns the host (ComputeStack)');
  }

  public addBootCommands(..._commands: string[]): void {
    throw new Error('HostReference: add boot commands in the stack that owns the host (ComputeStack)');
  }
}
