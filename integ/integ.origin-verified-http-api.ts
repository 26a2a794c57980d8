/**
 * OriginVerifiedHttpApi in a real account: a tiny backend on :8080 (Python's http.server on
 * a t4g.nano without a public port) behind the API, and a CloudFront distribution using
 * `api.cloudFrontBehavior()`. The first rotation runs at deploy and puts the value into the
 * KeyValueStore; the assertions then check that
 * - through the distribution, `/backend/api/v1/health` answers 200 with "healthy" (the path
 *   mapping reached the backend's `/health`) and `/backend/swagger/index.html` reaches
 *   `/swagger/index.html`;
 * - the execute-api URL without the header answers 401, with a wrong header 403;
 * - a protected route through the distribution without a token answers 401.
 *
 * Run: `npx projen integ:deploy` (credentials for a bootstrapped test account).
 */
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { OriginVerifiedHttpApi } from '../src';
import { HostCommand, HostFile, IManagedHost } from '../src/constructs/managed-host';

/** The backend: answers `/health` with "status: healthy" and every other path with its path. */
const BACKEND = `
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Handler(BaseHTTPRequestHandler):
    def answer(self):
        body = (b"status: healthy" if self.path == "/health" else ("path: " + self.path).encode())
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = answer
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
`;

/** A plain EC2 instance as an IManagedHost (GravitonDataHost is tested on its own). */
class IntegHost extends Construct implements IManagedHost {
  public readonly connections: ec2.Connections;
  public readonly grantPrincipal: iam.IPrincipal;
  public readonly instanceId: string;
  public readonly instancePrivateIp: string;
  public readonly serviceName = 'integ-backend';
  public readonly apiPort = 8080;
  public readonly allowedOrigins: string[] = [];
  public readonly secretsParameterPath = '/integ-backend/test';
  public readonly apiSecretNames: string[] = [];
  // Never run here: the test sets no hostParameterName, so the rotation refreshes nothing.
  public readonly refreshApiCommand: HostCommand;
  public readonly deployApiCommand: HostCommand;
  private readonly userData: ec2.UserData;

  constructor(scope: Construct, id: string, vpc: ec2.IVpc) {
    super(scope, id);
    this.userData = ec2.UserData.forLinux();
    this.userData.addCommands(
      `cat > /opt/backend.py <<'EOF'${BACKEND}EOF`,
      'nohup python3 /opt/backend.py >/var/log/backend.log 2>&1 &',
    );
    const instance = new ec2.Instance(this, 'Instance', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.NANO),
      machineImage: ec2.MachineImage.latestAmazonLinux2023({ cpuType: ec2.AmazonLinuxCpuType.ARM_64 }),
      requireImdsv2: true,
      userData: this.userData,
    });
    this.connections = instance.connections;
    this.grantPrincipal = instance.grantPrincipal;
    this.instanceId = instance.instanceId;
    this.instancePrivateIp = instance.instancePrivateIp;
    this.refreshApiCommand = new HostCommand(this, { documentName: 'integ-backend-refresh-api', instanceId: this.instanceId });
    this.deployApiCommand = new HostCommand(this, { documentName: 'integ-backend-deploy-api', instanceId: this.instanceId });
  }

  addFiles(...files: HostFile[]): void {
    for (const f of files) this.userData.addCommands(`cat > ${f.path} <<'EOF'\n${f.content}\nEOF`);
  }

  addBootCommands(...commands: string[]): void {
    this.userData.addCommands(...commands);
  }
}

const app = new App();
const stack = new Stack(app, 'ShtetlOriginVerifiedHttpApiInteg');
const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 1,
  natGateways: 0,
  subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
  restrictDefaultSecurityGroup: false,
});
const host = new IntegHost(stack, 'Host', vpc);
const api = new OriginVerifiedHttpApi(stack, 'Api', {
  vpc,
  host,
  paths: {
    '/backend/api/v1': '/api/v1',
    '/backend/api/v1/health': '/health',
    '/backend/swagger': '/swagger',
  },
  protectedPaths: ['/backend/api/v1/admin'],
  jwtIssuer: 'https://clerk.integ.shtetl.io',
  jwtAudience: ['https://integ.shtetl.io'],
  removalPolicy: RemovalPolicy.DESTROY,
});
const distribution = new cloudfront.Distribution(stack, 'Distribution', {
  defaultBehavior: api.cloudFrontBehavior(),
  comment: 'OriginVerifiedHttpApi integ test',
});

const integ = new IntegTest(app, 'OriginVerifiedHttpApiTest', { testCases: [stack] });
const site = `https://${distribution.distributionDomainName}`;
// CloudFront and the first rotation take minutes after the stack is complete.
const wait = { totalTimeout: Duration.minutes(15), interval: Duration.seconds(30) };

const health = integ.assertions.httpApiCall(`${site}/backend/api/v1/health`)
  .expect(ExpectedResult.objectLike({ status: 200, body: Match.stringLikeRegexp('healthy') }));
health.waitForAssertions(wait);

const swagger = integ.assertions.httpApiCall(`${site}/backend/swagger/index.html`)
  .expect(ExpectedResult.objectLike({ status: 200, body: 'path: /swagger/index.html' }));
const direct = integ.assertions.httpApiCall(`${api.url}backend/api/v1/health`)
  .expect(ExpectedResult.objectLike({ status: 401 }));
const wrongHeader = integ.assertions.httpApiCall(`${api.url}backend/api/v1/health`, { headers: { 'x-origin-verify': 'not-the-value' } })
  .expect(ExpectedResult.objectLike({ status: 403 }));
const protectedRoute = integ.assertions.httpApiCall(`${site}/backend/api/v1/admin/users`)
  .expect(ExpectedResult.objectLike({ status: 401 }));

// Protected routes need the origin header too: a direct call with a token is refused.
const directWithToken = integ.assertions.httpApiCall(`${api.url}backend/api/v1/admin/users`, { headers: { authorization: 'Bearer not-checked-before-the-origin' } })
  .expect(ExpectedResult.objectLike({ status: 401 }));
const wrongHeaderWithToken = integ.assertions.httpApiCall(`${api.url}backend/api/v1/admin/users`, {
  headers: { 'authorization': 'Bearer not-checked-before-the-origin', 'x-origin-verify': 'not-the-value' },
}).expect(ExpectedResult.objectLike({ status: 403 }));

health.next(swagger).next(direct).next(wrongHeader).next(protectedRoute).next(directWithToken).next(wrongHeaderWithToken);
