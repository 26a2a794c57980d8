import { App, Aspects, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CdkBootstrapRole, GitHubDeployRole, GitHubOidcProvider, GitHubRepository, GitHubSubject } from '../../src';

const repo = GitHubRepository.fromName('shtetl/infrastructure');
const env = { account: '123456789012', region: 'eu-west-1' };

function stack(): Stack {
  return new Stack(new App(), 'Test', { env });
}

function trustConditions(template: Template): Array<Record<string, Record<string, unknown>>> {
  return Object.values(template.findResources('AWS::IAM::Role')).map((role) => {
    const statements = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('sts:AssumeRoleWithWebIdentity');
    return statements[0].Condition;
  });
}

describe('GitHubSubject', () => {
  test('builds the classic subject claims exactly', () => {
    expect(GitHubSubject.branch(repo, 'main').value).toBe('repo:shtetl/infrastructure:ref:refs/heads/main');
    expect(GitHubSubject.branch(repo, 'release/2026').value).toBe('repo:shtetl/infrastructure:ref:refs/heads/release/2026');
    expect(GitHubSubject.tag(repo, 'v1.2.0-ami').value).toBe('repo:shtetl/infrastructure:ref:refs/tags/v1.2.0-ami');
    expect(GitHubSubject.environment(repo, 'production').value).toBe('repo:shtetl/infrastructure:environment:production');
    expect(GitHubSubject.pullRequest(repo).value).toBe('repo:shtetl/infrastructure:pull_request');
  });

  test('builds the immutable subject claims (owner@id/repo@id)', () => {
    const immutable = GitHubRepository.fromIds('shtetl', 123456, 'zmanim', 456789);
    expect(immutable.subjectName).toBe('shtetl@123456/zmanim@456789');
    expect(GitHubSubject.branch(immutable, 'main').value).toBe('repo:shtetl@123456/zmanim@456789:ref:refs/heads/main');
    expect(GitHubSubject.environment(immutable, 'production').value).toBe('repo:shtetl@123456/zmanim@456789:environment:production');
  });

  test.each([
    ['shtetl/*', /not "owner\/name"/],
    ['*/*', /not "owner\/name"/],
    ['shtetl', /not "owner\/name"/],
    ['shtetl/infra/extra', /not "owner\/name"/],
    ['', /not "owner\/name"/],
  ])('rejects repository %j', (name, message) => {
    expect(() => GitHubRepository.fromName(name)).toThrow(message);
  });

  test('rejects ids that are not positive whole numbers, naming how to read them', () => {
    expect(() => GitHubRepository.fromIds('shtetl', 0, 'zmanim', 1)).toThrow(/ownerId 0 .*gh api repos\/shtetl\/zmanim/);
    expect(() => GitHubRepository.fromIds('shtetl', 1, 'zmanim', 1.5)).toThrow(/repositoryId 1.5/);
    expect(() => GitHubRepository.fromIds('shtetl', 1, 'zman*', 2)).toThrow(/no wildcards/);
  });

  test.each([
    ['*', 'branch'], ['feature/*', 'branch'], ['ma?n', 'branch'], ['', 'branch'], ['a b', 'branch'],
    ['v*-ami', 'tag'], ['*', 'tag'],
  ])('a wildcard or empty ref %j fails with a clear error', (value, kind) => {
    const make = () => (kind === 'branch' ? GitHubSubject.branch(repo, value) : GitHubSubject.tag(repo, value));
    expect(make).toThrow(new RegExp(`GitHub ${kind} ".*" must be one exact ${kind} name`));
  });

  test('a tag pattern error points to environments', () => {
    expect(() => GitHubSubject.tag(repo, 'v*-ami')).toThrow(/trust an environment whose deployment rules allow the tag pattern/);
  });

  test('refs/ prefixes are refused with the short name to use', () => {
    expect(() => GitHubSubject.branch(repo, 'refs/heads/main')).toThrow(/drop the "refs\/heads\/" prefix \(e\.g\. "main"\)/);
    expect(() => GitHubSubject.tag(repo, 'refs/tags/v1')).toThrow(/drop the "refs\/tags\/" prefix/);
  });

  test.each(['*', 'prod*', 'prod:x', ''])('environment %j fails with a clear error', (value) => {
    expect(() => GitHubSubject.environment(repo, value)).toThrow(/must be one exact environment name/);
  });
});

describe('GitHubOidcProvider', () => {
  test('creates the native provider for GitHub with only the STS audience, retained', () => {
    const s = stack();
    new GitHubOidcProvider(s, 'GitHub');
    const template = Template.fromStack(s);
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    template.hasResource('AWS::IAM::OIDCProvider', {
      Properties: { Url: 'https://token.actions.githubusercontent.com', ClientIdList: ['sts.amazonaws.com'] },
      DeletionPolicy: 'Retain',
    });
    // No custom resource (the legacy OpenIdConnectProvider uses a Lambda).
    template.resourceCountIs('AWS::Lambda::Function', 0);
  });

  test('the removal policy can be DESTROY for test stacks', () => {
    const s = stack();
    new GitHubOidcProvider(s, 'GitHub', { removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(s).hasResource('AWS::IAM::OIDCProvider', { DeletionPolicy: 'Delete' });
  });

  test('fromAccount imports the well-known ARN and creates nothing', () => {
    const s = stack();
    const provider = GitHubOidcProvider.fromAccount(s, 'GitHub');
    expect(s.resolve(provider.oidcProviderArn)).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:oidc-provider/token.actions.githubusercontent.com']],
    });
    Template.fromStack(s).resourceCountIs('AWS::IAM::OIDCProvider', 0);
  });

  test('fromProviderArn refuses an ARN of another provider', () => {
    const s = stack();
    expect(() => GitHubOidcProvider.fromProviderArn(s, 'X', 'arn:aws:iam::123456789012:oidc-provider/accounts.google.com'))
      .toThrow(/is not GitHub's provider/);
    expect(GitHubOidcProvider.fromProviderArn(s, 'Y', 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com').oidcProviderArn)
      .toBe('arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com');
  });
});

describe('GitHubDeployRole', () => {
  test('trusts exactly the given subjects and the STS audience with StringEquals, 1 h sessions', () => {
    const s = stack();
    const provider = new GitHubOidcProvider(s, 'GitHub').provider;
    new GitHubDeployRole(s, 'Deploy', { provider, subjects: [GitHubSubject.environment(repo, 'production')] });
    new GitHubDeployRole(s, 'Two', {
      provider,
      subjects: [GitHubSubject.branch(repo, 'main'), GitHubSubject.tag(repo, 'v1.0.0')],
    });
    const template = Template.fromStack(s);
    const conditions = trustConditions(template);
    expect(conditions).toEqual([
      { StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com', 'token.actions.githubusercontent.com:sub': 'repo:shtetl/infrastructure:environment:production' } },
      {
        StringEquals: {
          'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
          'token.actions.githubusercontent.com:sub': ['repo:shtetl/infrastructure:ref:refs/heads/main', 'repo:shtetl/infrastructure:ref:refs/tags/v1.0.0'],
        },
      },
    ]);
    // Only StringEquals: never StringLike, never a "*" in a subject.
    expect(JSON.stringify(conditions)).not.toMatch(/StringLike|\*/);
    template.allResourcesProperties('AWS::IAM::Role', { MaxSessionDuration: 3600 });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Federated: { Ref: Match.stringLikeRegexp('GitHub') } } })] },
    });
  });

  test('starts with no permissions and no managed policy', () => {
    const s = stack();
    new GitHubDeployRole(s, 'Deploy', { provider: GitHubOidcProvider.fromAccount(s, 'GitHub'), subjects: [GitHubSubject.pullRequest(repo)] });
    const template = Template.fromStack(s);
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent(), Policies: Match.absent() });
  });

  test('grantAssumeCdkBootstrapRoles allows sts:AssumeRole on exactly the bootstrap roles', () => {
    const s = stack();
    const role = new GitHubDeployRole(s, 'Deploy', { provider: GitHubOidcProvider.fromAccount(s, 'GitHub'), subjects: [GitHubSubject.environment(repo, 'production')] });
    role.grantAssumeCdkBootstrapRoles({ regions: ['eu-west-1', 'us-east-1'], roles: [CdkBootstrapRole.DEPLOY, CdkBootstrapRole.LOOKUP] });
    const policy = Object.values(Template.fromStack(s).findResources('AWS::IAM::Policy'))[0];
    const statement = s.resolve(policy.Properties.PolicyDocument.Statement);
    expect(statement).toHaveLength(1);
    expect(statement[0].Action).toBe('sts:AssumeRole');
    const arns = statement[0].Resource.map((r: any) => r['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : 'aws')).join(''));
    expect(arns.sort()).toEqual([
      'arn:aws:iam::123456789012:role/cdk-hnb659fds-deploy-role-123456789012-eu-west-1',
      'arn:aws:iam::123456789012:role/cdk-hnb659fds-deploy-role-123456789012-us-east-1',
      'arn:aws:iam::123456789012:role/cdk-hnb659fds-lookup-role-123456789012-eu-west-1',
      'arn:aws:iam::123456789012:role/cdk-hnb659fds-lookup-role-123456789012-us-east-1',
    ]);
  });

  test('is IGrantable: other constructs grant to it', () => {
    const s = stack();
    const role = new GitHubDeployRole(s, 'Deploy', { provider: GitHubOidcProvider.fromAccount(s, 'GitHub'), subjects: [GitHubSubject.branch(repo, 'main')] });
    new s3.Bucket(s, 'Releases', { enforceSSL: true }).grantPut(role, 'api/*');
    Template.fromStack(s).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('DeployRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['s3:PutObject']) })]) },
    });
  });

  test('a statement allowing "*" on "*" fails synthesis', () => {
    const app = new App();
    const s = new Stack(app, 'Test', { env });
    const role = new GitHubDeployRole(s, 'Deploy', { provider: GitHubOidcProvider.fromAccount(s, 'GitHub'), subjects: [GitHubSubject.branch(repo, 'main')] });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['*'], resources: ['*'] }));
    expect(() => app.synth()).toThrow(/must not allow every action on every resource/);
  });

  test.each([
    [{ subjects: [] }, /needs at least one subject/],
    [{ subjects: [GitHubSubject.pullRequest(repo), GitHubSubject.pullRequest(repo)] }, /"repo:shtetl\/infrastructure:pull_request" is listed twice/],
    [{ subjects: [GitHubSubject.pullRequest(repo)], maxSessionDuration: Duration.minutes(15) }, /15 minutes is outside IAM's range of 1 to 12 hours/],
    [{ subjects: [GitHubSubject.pullRequest(repo)], maxSessionDuration: Duration.hours(13) }, /outside IAM's range/],
  ])('bad props fail with a clear error (%#)', (props, message) => {
    const s = stack();
    expect(() => new GitHubDeployRole(s, 'Deploy', { provider: GitHubOidcProvider.fromAccount(s, 'GitHub'), ...props })).toThrow(message);
  });

  test('bad bootstrap access fails with a clear error', () => {
    const s = stack();
    const role = new GitHubDeployRole(s, 'Deploy', { provider: GitHubOidcProvider.fromAccount(s, 'GitHub'), subjects: [GitHubSubject.branch(repo, 'main')] });
    expect(() => role.grantAssumeCdkBootstrapRoles({ regions: [] })).toThrow(/at least one region/);
    expect(() => role.grantAssumeCdkBootstrapRoles({ regions: ['europe'] })).toThrow(/"europe" is not an AWS region/);
    expect(() => role.grantAssumeCdkBootstrapRoles({ regions: ['eu-west-1'], qualifier: 'bad qualifier!' })).toThrow(/qualifier "bad qualifier!"/);
    expect(() => role.grantAssumeCdkBootstrapRoles({ regions: ['eu-west-1'], roles: [] })).toThrow(/roles is empty/);
  });

  test('is cdk-nag AwsSolutions clean', () => {
    const s = stack();
    const provider = new GitHubOidcProvider(s, 'GitHub').provider;
    const role = new GitHubDeployRole(s, 'Deploy', { provider, subjects: [GitHubSubject.environment(repo, 'production')] });
    role.grantAssumeCdkBootstrapRoles({ regions: ['eu-west-1', 'us-east-1'] });
    Aspects.of(s).add(new AwsSolutionsChecks());
    const errors = Annotations.fromStack(s).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    const warnings = Annotations.fromStack(s).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect([...errors, ...warnings].map((m) => `${m.id}: ${m.entry.data}`)).toEqual([]);
  });
});
