// A consumer of the published package, compiled and run in a fresh temporary project by
// test/consumer.test.ts. It uses every exported construct the way the README shows.
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
  OpenNextSite,
  OriginVerifiedHttpApi,
  ResticBackups,
} from '@shtetl/cdk-constructs';

// No @types/node in this project: the one value it needs from the environment.
declare const process: { env: { [name: string]: string | undefined } };
const openNextPath = process.env.OPEN_NEXT_PATH;
if (!openNextPath) throw new Error('Set OPEN_NEXT_PATH to a built .open-next folder');

const app = new App();
const stack = new Stack(app, 'ConsumerStack', { env: { account: '123456789012', region: 'eu-west-1' } });

const secrets = new GeneratedSecrets(stack, 'Secrets', {
  parameterPath: '/consumer/test',
  secretNames: ['postgres-password', 'redis-password', 'jwt-secret', 'restic-password'],
  removalPolicy: RemovalPolicy.DESTROY,
});
secrets.grantRead(new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }), 'jwt-secret');

const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 1,
  natGateways: 0,
  subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
});
const host = new GravitonDataHost(stack, 'Host', {
  vpc,
  secretsParameterPath: '/consumer/test',
  machineImage: GravitonDataHost.bootstrapImage(),
});

new ResticBackups(stack, 'Backups', {
  host,
  passwordParameterName: '/consumer/test/restic-password',
  sources: [{ name: 'database', interval: Duration.days(1), pieceSize: Size.kibibytes(64), postgres: { database: 'app' } }],
});

const api = new OriginVerifiedHttpApi(stack, 'Api', { vpc, host });

const site = new OpenNextSite(stack, 'Site', { openNextPath });
const { origin, ...options } = api.cloudFrontBehavior();
site.addBehavior('/backend/*', origin, options);

const provider = new GitHubOidcProvider(stack, 'GitHub').provider;
new GitHubDeployRole(stack, 'Deploy', {
  provider,
  subjects: [GitHubSubject.environment(GitHubRepository.fromName('shtetl/infrastructure'), 'production')],
}).grantAssumeCdkBootstrapRoles({ regions: ['eu-west-1'] });

app.synth();
