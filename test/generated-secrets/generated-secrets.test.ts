import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { GeneratedSecrets } from '../../src';

function stackWith(props: Partial<ConstructorParameters<typeof GeneratedSecrets>[2]> = {}) {
  const stack = new Stack(new App(), 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
  const secrets = new GeneratedSecrets(stack, 'Secrets', { parameterPath: '/app/test', secretNames: ['db-password', 'api-key'], ...props });
  return { stack, secrets };
}

describe('GeneratedSecrets', () => {
  test('one custom resource per secret, sharing one generator function per stack', () => {
    const { stack } = stackWith();
    new GeneratedSecrets(stack, 'More', { parameterPath: '/app/other', secretNames: ['token'] });
    const template = Template.fromStack(stack);
    template.resourceCountIs('Custom::GeneratedSecureParameter', 3);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('Custom::GeneratedSecureParameter', { ParameterName: '/app/test/db-password', Length: '48' });
    template.hasResourceProperties('Custom::GeneratedSecureParameter', { ParameterName: '/app/other/token' });
  });

  test('retained by default: the generator cannot delete; DESTROY grants delete and marks the resource', () => {
    const retained = Template.fromStack(stackWith().stack);
    expect(JSON.stringify(retained.findResources('AWS::IAM::Policy'))).not.toContain('ssm:DeleteParameter');
    retained.hasResourceProperties('Custom::GeneratedSecureParameter', { DeleteOnRemoval: 'false' });

    const destroyed = Template.fromStack(stackWith({ removalPolicy: RemovalPolicy.DESTROY }).stack);
    destroyed.hasResourceProperties('Custom::GeneratedSecureParameter', { DeleteOnRemoval: 'true' });
    destroyed.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['ssm:PutParameter', 'ssm:DeleteParameter'] })]) },
    });
  });

  test('grantRead gives GetParameter on the named parameters only', () => {
    const { stack, secrets } = stackWith();
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com') });
    secrets.grantRead(role, 'api-key');
    const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('Reader') }] } });
    const statements = Object.values<any>(policies)[0].Properties.PolicyDocument.Statement;
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Action: ['ssm:GetParameter', 'ssm:GetParameters'], Effect: 'Allow' });
    expect(JSON.stringify(statements[0].Resource)).toMatch(/:ssm:eu-west-1:123456789012:parameter\/app\/test\/api-key"/);
    expect(JSON.stringify(statements[0].Resource)).not.toContain('db-password');
    expect(secrets.parameterName('db-password')).toBe('/app/test/db-password');
    expect(() => secrets.parameterName('nope')).toThrow(/no secret named "nope"; this construct generates db-password, api-key/);
  });

  test.each<[string, any, RegExp]>([
    ['a relative path', { parameterPath: 'app/test' }, /parameterPath must be an absolute SSM path without a trailing slash \(got "app\/test"\)/],
    ['a trailing slash', { parameterPath: '/app/test/' }, /got "\/app\/test\/"/],
    ['no names', { secretNames: [] }, /secretNames is empty/],
    ['a name with a slash', { secretNames: ['a/b'] }, /secret name "a\/b" must be one path segment/],
    ['a duplicate name', { secretNames: ['x', 'x'] }, /"x" is given twice/],
    ['a short length', { length: 8 }, /length must be a whole number from 16 to 1024 \(got 8\)/],
  ])('rejects %s', (_name, props, message) => {
    expect(() => stackWith(props)).toThrow(message);
  });
});
