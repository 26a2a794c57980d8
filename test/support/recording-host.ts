import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { HostCommand, HostFile, IManagedHost } from '../../src/constructs/managed-host';

/** An IManagedHost with literal ids and no VPC that records the files and boot commands it is given. */
export class RecordingHost extends Construct implements IManagedHost {
  readonly role: iam.Role;
  readonly grantPrincipal: iam.IPrincipal;
  readonly connections = new ec2.Connections();
  readonly instanceId = 'i-0123456789abcdef0';
  readonly instancePrivateIp = '10.0.0.10';
  readonly files: HostFile[] = [];
  readonly commands: string[] = [];
  readonly serviceName = 'fake-service';
  readonly apiPort = 8080;
  readonly allowedOrigins: string[] = [];
  readonly secretsParameterPath = '/fake-service/test';
  readonly apiSecretNames: string[] = [];
  readonly refreshApiCommand: HostCommand;
  readonly deployApiCommand: HostCommand;
  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.refreshApiCommand = new HostCommand(this, { documentName: 'fake-service-refresh-api', instanceId: this.instanceId });
    this.deployApiCommand = new HostCommand(this, { documentName: 'fake-service-deploy-api', instanceId: this.instanceId });
    this.role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    this.grantPrincipal = this.role;
  }
  addFiles(...files: HostFile[]): void { this.files.push(...files); }
  addBootCommands(...commands: string[]): void { this.commands.push(...commands); }
  file(p: string): string {
    const f = this.files.find((x) => x.path === p);
    if (!f) throw new Error(`no file ${p}: ${this.files.map((x) => x.path).join(', ')}`);
    return f.content;
  }
}
