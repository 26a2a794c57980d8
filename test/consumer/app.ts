// A consumer of the published package, compiled and run in a fresh temporary project by
// test/consumer.test.ts. It uses every exported construct the way the README shows.
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { GeneratedSecrets } from '@shtetl/cdk-constructs';

const app = new App();
const stack = new Stack(app, 'ConsumerStack', { env: { account: '123456789012', region: 'eu-west-1' } });

const secrets = new GeneratedSecrets(stack, 'Secrets', {
  parameterPath: '/consumer/test',
  secretNames: ['db-password'],
  removalPolicy: RemovalPolicy.DESTROY,
});
secrets.grantRead(new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') }));

app.synth();
