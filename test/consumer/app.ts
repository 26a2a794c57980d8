// A second service, "kehilla", built on the published package only: compiled and run in a
// fresh temporary project by test/consumer.test.ts. Its own name, API port (9000), secrets and
// database, with every exported construct used the way the README shows.
import { App, Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import {
  GeneratedSecrets,
  GitHubDeployRole,
  GitHubOidcProvider,
  GitHubRepository,
  GitHubSubject,
  GravitonDataHost,
  HostReference,
  OpenNextSite,
  OriginVerifiedHttpApi,
  ResticBackups,
} from '@shtetl/cdk-constructs';

// No @types/node in this project: the one value it needs from the environment.
declare const process: { env: { [name: string]: string | undefined } };
const openNextPath = process.env.OPEN_NEXT_PATH;
if (!openNextPath) throw new Error('Set OPEN_NEXT_PATH to a built .open-next folder');

const env = { account: '123456789012', region: 'eu-central-1' };
const parameters = '/kehilla/prod';
const app = new App();

// The host's stack: secrets, the host, its backups.
const data = new Stack(app, 'KehillaData', { env });
const secrets = new GeneratedSecrets(data, 'Secrets', {
  parameterPath: parameters,
  secretNames: ['postgres-password', 'redis-password', 'session-key', 'restic-password'],
  removalPolicy: RemovalPolicy.DESTROY,
});
const vpc = new ec2.Vpc(data, 'Vpc', {
  maxAzs: 1,
  natGateways: 0,
  subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
});
const host = new GravitonDataHost(data, 'Host', {
  serviceName: 'kehilla',
  vpc,
  secretsParameterPath: parameters,
  apiPort: 9000,
  apiSecretNames: ['session-key', 'payments-api-key'],
  additionalSecretNames: ['restic-password'],
  allowedOrigins: ['https://kehilla.example.org'],
});
host.node.addDependency(secrets);
new ResticBackups(data, 'Backups', {
  host,
  passwordParameterName: `${parameters}/restic-password`,
  sources: [{ name: 'database', interval: Duration.days(1), pieceSize: Size.kibibytes(64), postgres: { database: 'kehilla' } }],
});
HostReference.publish(data, host, parameters);

// Another stack: the API in front of the host, the site, the deploy role.
const edge = new Stack(app, 'KehillaEdge', { env });
const hostRef = new HostReference(edge, 'Host', { host, parameterPrefix: parameters });
const api = new OriginVerifiedHttpApi(edge, 'Api', {
  vpc,
  host: hostRef,
  paths: { '/api': '/' },
  hostParameterName: `${parameters}/origin-verify-key`,
});
const site = new OpenNextSite(edge, 'Site', { openNextPath });
const { origin, ...options } = api.cloudFrontBehavior();
site.addBehavior('/api/*', origin, options);

const provider = new GitHubOidcProvider(edge, 'GitHub').provider;
const deploy = new GitHubDeployRole(edge, 'Deploy', {
  provider,
  subjects: [GitHubSubject.environment(GitHubRepository.fromName('kehilla/api'), 'production')],
});
// The backend deploy may run exactly one action on the host: deploy the release.
hostRef.deployApiCommand.grantRun(deploy);
secrets.grantRead(new iam.Role(edge, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }), 'session-key');

app.synth();
