/**
 * GeneratedSecrets in a real account: the parameters exist as SecureStrings created by the
 * custom resource, at version 1 (a deployment never overwrites them).
 *
 * Run: `npx projen integ:deploy` (credentials for a bootstrapped test account).
 * The assertion reads the parameter without decryption, so only ciphertext is returned.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { GeneratedSecrets } from '../src';

const app = new App();
const stack = new Stack(app, 'ShtetlGeneratedSecretsInteg');
const secrets = new GeneratedSecrets(stack, 'Secrets', {
  parameterPath: '/shtetl-integ/generated-secrets',
  secretNames: ['database-password', 'api-token'],
  length: 32,
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'GeneratedSecretsTest', { testCases: [stack] });
for (const name of ['database-password', 'api-token']) {
  integ.assertions
    .awsApiCall('SSM', 'getParameter', { Name: secrets.parameterName(name), WithDecryption: false })
    .expect(ExpectedResult.objectLike({
      Parameter: { Name: secrets.parameterName(name), Type: 'SecureString', Version: 1 },
    }));
}
