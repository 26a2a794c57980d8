import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { HostCommand, HostFile, IManagedHost } from '../../src/constructs/managed-host';

/** An IManagedHost in a VPC: a security group, a role and token-valued instance attributes, as a real instance's. */
export class VpcHost extends Construct implements IManagedHost {
  public readonly connections: ec2.Connections;
  public readonly grantPrincipal: iam.IPrincipal;
  public readonly instanceId: string;
  public readonly instancePrivateIp: string;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly files: HostFile[] = [];
  public readonly commands: string[] = [];
  public readonly serviceName: string;
  public readonly apiPort: number;
  public readonly allowedOrigins: string[] = [];
  public readonly secretsParameterPath: string;
  public readonly apiSecretNames: string[] = [];
  public readonly refreshApiCommand: HostCommand;
  public readonly deployApiCommand: HostCommand;

  constructor(scope: Construct, id: string, vpc: ec2.IVpc, options: { serviceName?: string; apiPort?: number } = {}) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', { vpc, description: 'fake host' });
    this.connections = new ec2.Connections({ securityGroups: [this.securityGroup] });
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    this.grantPrincipal = role;
    // Tokens like a real instance's attributes, so cross-stack references are exercised.
    const param = new ec2.CfnNetworkInterface(this, 'Eni', { subnetId: vpc.publicSubnets[0].subnetId });
    this.instanceId = param.ref;
    this.instancePrivateIp = param.attrPrimaryPrivateIpAddress;
    this.serviceName = options.serviceName ?? 'fake-service';
    this.apiPort = options.apiPort ?? 8080;
    this.secretsParameterPath = `/${this.serviceName}/test`;
    this.refreshApiCommand = new HostCommand(this, { documentName: `${this.serviceName}-refresh-api`, instanceId: this.instanceId });
    this.deployApiCommand = new HostCommand(this, { documentName: `${this.serviceName}-deploy-api`, instanceId: this.instanceId });
  }

  addFiles(...files: HostFile[]): void {
    this.files.push(...files);
  }

  addBootCommands(...commands: string[]): void {
    this.commands.push(...commands);
  }
}
