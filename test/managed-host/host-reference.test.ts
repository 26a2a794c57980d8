import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { GravitonDataHost, HostReference } from '../../src';

/** A host in one stack, used from another through SSM parameters (no exports of its id). */
function build() {
  const app = new App();
  const env = { account: '123456789012', region: 'eu-central-1' };
  const data = new Stack(app, 'Data', { env });
  const vpc = new ec2.Vpc(data, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PUBLIC }] });
  const host = new GravitonDataHost(data, 'Host', { serviceName: 'kehilla', vpc, secretsParameterPath: '/kehilla/prod', apiPort: 9000, apiSecretNames: ['session-key'], allowedOrigins: ['https://kehilla.example.org'] });
  HostReference.publish(data, host, '/kehilla/prod');
  const edge = new Stack(app, 'Edge', { env });
  const ref = new HostReference(edge, 'Host', { host, parameterPrefix: '/kehilla/prod' });
  return { app, data, edge, host, ref };
}

test('publish writes the instance id and address to SSM; the reference reads them there at deploy', () => {
  const { data, edge, ref } = build();
  const published = Template.fromStack(data).findResources('AWS::SSM::Parameter');
  expect(Object.values(published).map((p) => p.Properties.Name).sort()).toEqual(['/kehilla/prod/host/instance-id', '/kehilla/prod/host/private-ip']);
  const parameters = Template.fromStack(edge).toJSON().Parameters as Record<string, { Type: string; Default: string }>;
  expect(Object.values(parameters).filter((p) => p.Type === 'AWS::SSM::Parameter::Value<String>' && !p.Default.startsWith('/cdk-bootstrap/')).map((p) => p.Default).sort())
    .toEqual(['/kehilla/prod/host/instance-id', '/kehilla/prod/host/private-ip']);
  expect(Stack.of(edge).resolve(ref.instanceId)).toEqual({ Ref: expect.stringMatching(/^SsmParameterValuekehillaprodhostinstanceid/) });
});

test('what constructs share comes from the host; commands keep their documents and target the current instance', () => {
  const { edge, host, ref } = build();
  expect([ref.serviceName, ref.apiPort, ref.allowedOrigins, ref.secretsParameterPath, ref.apiSecretNames])
    .toEqual(['kehilla', 9000, ['https://kehilla.example.org'], '/kehilla/prod', ['session-key']]);
  expect(ref.deployApiCommand.documentName).toBe(host.deployApiCommand.documentName);
  expect(ref.refreshApiCommand.documentName).toBe(host.refreshApiCommand.documentName);
  ref.deployApiCommand.grantRun(new iam.Role(edge, 'Deployer', { assumedBy: new iam.AccountRootPrincipal() }));
  const template = Template.fromStack(edge);
  const policy = JSON.stringify(template.findResources('AWS::IAM::Policy'));
  expect(policy).toContain(`document/${host.deployApiCommand.documentName}`);
  expect(policy).toMatch(/instance\/",\{"Ref":"SsmParameterValuekehillaprodhostinstanceid/);
  // No export of the instance id: the host's stack can replace the instance at any time.
  expect(JSON.stringify(template.toJSON())).not.toMatch(/Fn::ImportValue[^}]*HostInstance/);
});

test('a reference cannot extend the boot, and a bad prefix names the fix', () => {
  const { ref } = build();
  expect(() => ref.addFiles({ path: '/etc/x', content: 'x' })).toThrow(/add host files in the stack that owns the host/);
  expect(() => ref.addBootCommands('true')).toThrow(/add boot commands in the stack that owns the host/);
  expect(() => HostReference.parameterNames('kehilla/prod/')).toThrow(/parameterPrefix "kehilla\/prod\/" must be an absolute SSM path.*"\/<service>\/<env>"/);
});

test('addCommand: one more fixed action, named for the service, refused when it is not a plain action name', () => {
  const { host } = build();
  const command = host.addCommand('BackupNowDocument', 'backup-now', 'Backs up now', ['/usr/local/sbin/restic-backups backup database']);
  expect(command.documentName).toMatch(/^kehilla-.*-backup-now$/);
  expect(command.documentName.length).toBeLessThanOrEqual(128);
  expect(() => host.addCommand('Bad', 'Backup Now', 'x', ['true'])).toThrow(/command action "Backup Now" must be lowercase letters, digits and hyphens/);
  expect(() => host.addCommand('Empty', 'empty', 'x', [])).toThrow(/command empty needs shell lines/);
});
