/**
 * The contract between the constructs and `shtetl-ops`: the CLI finds a service's resources
 * and the facts it needs by the tags in src/constructs/ops-tags.ts (test/ops/cli.test.ts
 * plays them back through mocked AWS APIs). Built for a service that is not zmanim.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { GravitonDataHost, GravitonDataHostProps, ResticBackups } from '../../src';
import { DATA_HOST_LOGS, OPS_TAGS } from '../../src/constructs/ops-tags';

const app = new App();
const stack = new Stack(app, 'KehillaProdCompute', { env: { account: '123456789012', region: 'eu-central-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['eu-central-1a'], natGateways: 0, subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });
const props: GravitonDataHostProps = {
  serviceName: 'kehilla',
  vpc,
  secretsParameterPath: '/kehilla/prod',
  releaseBucket: s3.Bucket.fromBucketName(stack, 'Releases', 'kehilla-releases'),
  releaseKey: 'builds/kehilla-api/current/api-linux-arm64',
  apiPort: 9000,
  apiHealthPath: '/healthz',
  databaseName: 'kehilla_app',
  databaseUser: 'kehilla_api',
  apiSecretNames: [],
};
const host = new GravitonDataHost(stack, 'Host', props);
new ResticBackups(stack, 'Backups', {
  host,
  passwordParameterName: '/kehilla/prod/restic-password',
  repositoryPrefix: 'repo',
  sources: [{ name: 'database', interval: Duration.days(1), postgres: { database: 'kehilla_app' } }],
});
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as { [id: string]: { Type: string; Properties: { Tags?: { Key: string; Value: unknown }[] } } };

function tagsOf(type: string): { [key: string]: unknown }[] {
  return Object.values(resources).filter((r) => r.Type === type)
    .map((r) => Object.fromEntries((r.Properties.Tags ?? []).map((t) => [t.Key, stack.resolve(t.Value)])));
}

test('the instance says where its secrets, health check, database and release are', () => {
  const [instance] = tagsOf('AWS::EC2::Instance');
  expect(instance).toMatchObject({
    [OPS_TAGS.parameterPath]: '/kehilla/prod',
    [OPS_TAGS.healthUrl]: 'http://127.0.0.1:9000/healthz',
    [OPS_TAGS.database]: 'kehilla_app',
    [OPS_TAGS.databaseUser]: 'kehilla_api',
    [OPS_TAGS.release]: 'kehilla-releases/builds/kehilla-api/current/api-linux-arm64',
  });
  expect(typeof instance[OPS_TAGS.dataHost]).toBe('string');
});

test('the instance names its parameterless deploy document, the host\'s deployApiCommand', () => {
  const [instance] = tagsOf('AWS::EC2::Instance');
  expect(instance[OPS_TAGS.deployApiDocument]).toBe(host.deployApiCommand.documentName);
  const documents = Object.values(template.findResources('AWS::SSM::Document', { Properties: { Name: host.deployApiCommand.documentName } }));
  expect(documents).toHaveLength(1);
  expect(documents[0].Properties.Content.parameters).toBeUndefined();
  expect(documents[0].Properties.Content.mainSteps[0].inputs.runCommand).toEqual(['set -euo pipefail', 'bash /opt/kehilla/host/deploy-api.sh']);
});

test('the data volume and every log group carry the host\'s id; each log group its name', () => {
  const [instance] = tagsOf('AWS::EC2::Instance');
  const hostId = instance[OPS_TAGS.dataHost];
  expect(tagsOf('AWS::EC2::Volume').filter((v) => v[OPS_TAGS.dataVolume] === hostId)).toHaveLength(1);
  const logs = tagsOf('AWS::Logs::LogGroup').filter((g) => g[OPS_TAGS.dataHost] === hostId);
  expect(logs.map((g) => g[OPS_TAGS.log]).sort()).toEqual([...DATA_HOST_LOGS].sort());
});

test('the backup repository bucket carries its key prefix', () => {
  expect(tagsOf('AWS::S3::Bucket').filter((b) => OPS_TAGS.backups in b).map((b) => b[OPS_TAGS.backups])).toEqual(['repo']);
});

test('the instance, its data volume, every log group and the backup bucket carry the service\'s name', () => {
  const [instance] = tagsOf('AWS::EC2::Instance');
  expect(instance[OPS_TAGS.service]).toBe('kehilla');
  const hostId = instance[OPS_TAGS.dataHost];
  const volumes = tagsOf('AWS::EC2::Volume').filter((v) => v[OPS_TAGS.dataVolume] === hostId);
  expect(volumes.map((v) => v[OPS_TAGS.service])).toEqual(['kehilla']);
  const logs = tagsOf('AWS::Logs::LogGroup').filter((g) => g[OPS_TAGS.dataHost] === hostId);
  expect(logs).toHaveLength(DATA_HOST_LOGS.length);
  expect(logs.map((g) => g[OPS_TAGS.service])).toEqual(DATA_HOST_LOGS.map(() => 'kehilla'));
  const backups = tagsOf('AWS::S3::Bucket').filter((b) => OPS_TAGS.backups in b);
  expect(backups.map((b) => b[OPS_TAGS.service])).toEqual(['kehilla']);
});

test('the tags are valid AWS tag values (no CLI lookup fails on a value EC2 or S3 refuses)', () => {
  for (const tags of [...tagsOf('AWS::EC2::Instance'), ...tagsOf('AWS::S3::Bucket'), ...tagsOf('AWS::Logs::LogGroup')]) {
    for (const [key, value] of Object.entries(tags)) {
      if (!key.startsWith('shtetl:') || typeof value !== 'string') continue;
      expect(value).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u);
    }
  }
});
