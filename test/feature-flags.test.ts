import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Aspects, Duration, Size, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { CURRENTLY_RECOMMENDED_FLAGS } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  GeneratedSecrets,
  GitHubDeployRole,
  GitHubOidcProvider,
  GitHubRepository,
  GitHubSubject,
  GravitonDataHost,
  OpenNextSite,
  OriginVerifiedHttpApi,
  ResticBackups,
} from '../src';
import { fixtureOpenNextPath } from './open-next-site/fixture';
import { findingsOf } from './support/nag';

test('cdk.json configures every feature flag the CDK CLI would report as not configured', () => {
  const context = JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')).context;
  const missing = Object.keys(CURRENTLY_RECOMMENDED_FLAGS).filter((flag) => !(flag in context));
  expect(missing).toEqual([]);
});

/**
 * The construct tests use a plain `new App()` (the flags' old defaults); a consumer's app made
 * by `cdk init` has every recommended flag on. Each construct, in a stack of its own, must
 * synthesize there too and pass cdk-nag without a finding.
 */
describe('every construct with all recommended feature flags on', () => {
  const app = new App({ context: { ...CURRENTLY_RECOMMENDED_FLAGS } });
  const env = { account: '123456789012', region: 'eu-west-1' };
  const network = new Stack(app, 'Network', { env });
  const vpc = new ec2.Vpc(network, 'Vpc', { maxAzs: 1, natGateways: 0, subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });

  const secretsStack = new Stack(app, 'Secrets', { env });
  const secrets = new GeneratedSecrets(secretsStack, 'Secrets', { parameterPath: '/flags/test', secretNames: ['postgres-password', 'restic-password'] });
  secrets.grantRead(new iam.Role(secretsStack, 'Reader', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }), 'postgres-password');

  const hostStack = new Stack(app, 'Host', { env });
  const alarmTopic = new sns.Topic(hostStack, 'Alarms', { enforceSSL: true });
  const host = new GravitonDataHost(hostStack, 'Host', { serviceName: 'flags', vpc, secretsParameterPath: '/flags/test', machineImage: GravitonDataHost.bootstrapImage(), alarmTopic });
  new ResticBackups(hostStack, 'Backups', {
    host,
    passwordParameterName: '/flags/test/restic-password',
    sources: [{ name: 'database', interval: Duration.days(1), pieceSize: Size.kibibytes(64), postgres: { database: 'app' } }],
    alarmTopic,
  });

  const apiStack = new Stack(app, 'Api', { env });
  const api = new OriginVerifiedHttpApi(apiStack, 'Api', { vpc, host });

  const siteStack = new Stack(app, 'Site', { env });
  const site = new OpenNextSite(siteStack, 'Site', { openNextPath: fixtureOpenNextPath() });
  const { origin, ...options } = api.cloudFrontBehavior();
  site.addBehavior('/backend/*', origin, options);

  const githubStack = new Stack(app, 'GitHub', { env });
  new GitHubDeployRole(githubStack, 'Deploy', {
    provider: new GitHubOidcProvider(githubStack, 'GitHub').provider,
    subjects: [GitHubSubject.environment(GitHubRepository.fromName('shtetl/infrastructure'), 'production')],
  }).grantAssumeCdkBootstrapRoles({ regions: ['eu-west-1'] });

  const checked = [secretsStack, hostStack, apiStack, siteStack, githubStack];
  for (const stack of checked) Aspects.of(stack).add(new AwsSolutionsChecks());
  app.synth();

  test.each(checked.map((s) => [s.stackName, s] as const))('%s has no unsuppressed cdk-nag error or warning', (_name, stack) => {
    const findings = findingsOf(stack);
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data).split('\n')[0]}`)).toEqual([]);
  });
});
