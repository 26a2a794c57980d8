import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_CONFIG } from '../../src/zmanim/config';
import { AMI_BUILD_TAG, DATA_HOST_TAG_KEY, GitHubOidcStack, GitHubOidcStackProps, ROLE_ARN_VARIABLES } from '../../src/zmanim/stacks/github-oidc-stack';
import { appContext } from '../support/app-context';

const ACCOUNT = '123456789012';
/** A deploy document's name as GravitonDataHost makes it (`<service>-<host id>-deploy-api`). */
const DEPLOY_DOCUMENT = 'zmanim-ZmanimProdCompute-Host-260111B0-deploy-api';
const config = { ...DEFAULT_CONFIG, account: ACCOUNT };

function synth(context: Record<string, string> = {}, props: Partial<GitHubOidcStackProps> = {}) {
  const app = new App({ context: appContext(context) });
  const stack = new GitHubOidcStack(app, 'ZmanimProdGitHubOidc', { env: { account: ACCOUNT, region: 'eu-west-1' }, config, ...props });
  Aspects.of(stack).add(new AwsSolutionsChecks());
  app.synth();
  return { stack, template: Template.fromStack(stack) };
}

type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown; Condition?: Record<string, Record<string, unknown>> };

/** Each role by name, with its trust condition and its resolved policy statements (ARNs as plain strings). */
function roles(template: Template): Record<string, { trust: Record<string, unknown>; maxSession: number; statements: Statement[] }> {
  const flatten = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(flatten);
    if (value && typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      if ('Fn::Join' in obj) {
        const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
        return parts.map((p) => (typeof p === 'string' ? p : (p as any).Ref === 'AWS::Partition' ? 'aws' : JSON.stringify(p))).join(sep);
      }
      return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, flatten(v)]));
    }
    return value;
  };
  const policies = Object.values(template.findResources('AWS::IAM::Policy'));
  const result: ReturnType<typeof roles> = {};
  for (const [logicalId, role] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    // The GitHub roles (the site's deploy roles are tested in 'the site stack's deploy roles').
    if (!String(role.Properties.RoleName).includes('-github-')) continue;
    const statements = policies
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === logicalId))
      .flatMap((p) => flatten(p.Properties.PolicyDocument.Statement) as Statement[]);
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toHaveLength(1);
    result[role.Properties.RoleName] = {
      trust: role.Properties.AssumeRolePolicyDocument.Statement[0].Condition,
      maxSession: role.Properties.MaxSessionDuration,
      statements,
    };
  }
  return result;
}

const list = (v: unknown): string[] => ([] as string[]).concat(v as string | string[]);

describe('GitHubOidcStack', () => {
  const { template } = synth({ 'zmanim:integAccount': '210987654321' }, { deployApiDocumentName: DEPLOY_DOCUMENT });
  const all = roles(template);

  test('creates the provider and one role per workflow, each trusted for exact subjects', () => {
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    const sub = (name: string) => all[`zmanim-prod-github-${name}`].trust;
    const expected: Record<string, string | string[]> = {
      'infrastructure-deploy': 'repo:shtetl/infrastructure:environment:production',
      // Read-only: pull requests and the deploy workflows' diff jobs.
      'pr-diff': ['repo:shtetl/infrastructure:pull_request', 'repo:shtetl/infrastructure:environment:production-diff'],
      'frontend-deploy': 'repo:shtetl/infrastructure:environment:production-frontend',
      'backend-deploy': 'repo:shtetl/infrastructure:environment:production-backend',
      'ami-build': 'repo:shtetl/infrastructure:environment:production-ami',
      'integ-test': 'repo:shtetl/infrastructure:environment:integ',
    };
    expect(Object.keys(all).sort()).toEqual(Object.keys(expected).map((n) => `zmanim-prod-github-${n}`).sort());
    for (const [name, subject] of Object.entries(expected)) {
      expect(sub(name)).toEqual({
        StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com', 'token.actions.githubusercontent.com:sub': subject },
      });
    }
  });

  test('sessions last one hour; no managed policy (so no AdministratorAccess), no inline wildcards of actions', () => {
    for (const [name, role] of Object.entries(all)) {
      expect([name, role.maxSession]).toEqual([name, 3600]);
      for (const s of role.statements) {
        // The only Deny statements are the AMI build's guards of the data host.
        if (s.Effect === 'Deny') expect(s.Sid).toMatch(/^NeverTheDataHost/);
        // No "*" action, and no service-wide "svc:*" action either.
        expect(list(s.Action).filter((a) => a.includes('*'))).toEqual([]);
      }
    }
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent(), Policies: Match.absent() });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/AdministratorAccess|PowerUserAccess|IAMFullAccess/);
  });

  test('no statement allows a write action on "*": only actions without resource-level permissions are on "*"', () => {
    const readOnlyOnStar = /^(ec2:Describe\w+|ssm:GetCommandInvocation|ssm:ListCommandInvocations)$/;
    for (const role of Object.values(all)) {
      for (const s of role.statements.filter((st) => st.Effect === 'Allow' && list(st.Resource).includes('*'))) {
        for (const action of list(s.Action)) expect(action).toMatch(readOnlyOnStar);
      }
    }
  });

  test('the infrastructure role may only assume the CDK bootstrap roles of both regions and the site deploy roles', () => {
    const { statements } = all['zmanim-prod-github-infrastructure-deploy'];
    expect(statements.map((s) => s.Action)).toEqual(['sts:AssumeRole', 'sts:AssumeRole']);
    const expected = ['eu-west-1', 'us-east-1'].flatMap((region) => ['deploy', 'file-publishing', 'image-publishing', 'lookup']
      .map((r) => `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-${r}-role-${ACCOUNT}-${region}`));
    expect(list(statements[0].Resource).sort()).toEqual(expected.sort());
    expect(statements[1].Sid).toBe('AssumeTheSiteDeployRoles');
  });

  test('the pull-request role reads the app stacks\' templates and assumes no role', () => {
    const { statements } = all['zmanim-prod-github-pr-diff'];
    expect(statements[0]).toEqual({
      Sid: 'ReadBootstrapVersion',
      Effect: 'Allow',
      Action: 'ssm:GetParameter',
      Resource: ['eu-west-1', 'us-east-1'].map((r) => `arn:aws:ssm:${r}:${ACCOUNT}:parameter/cdk-bootstrap/hnb659fds/version`),
    });
    expect(statements.slice(1)).toEqual([{
      Sid: 'ReadAppTemplates',
      Effect: 'Allow',
      Action: ['cloudformation:DescribeStacks', 'cloudformation:GetTemplate', 'cloudformation:GetTemplateSummary'],
      Resource: ['eu-west-1', 'us-east-1'].map((r) => `arn:aws:cloudformation:${r}:${ACCOUNT}:stack/ZmanimProd*/*`),
    }]);
  });

  test('the frontend role may only assume the site\'s deploy and publishing roles, never a bootstrap role', () => {
    const { statements } = all['zmanim-prod-github-frontend-deploy'];
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('sts:AssumeRole');
    expect(JSON.stringify(statements[0].Resource)).not.toMatch(/cdk-/);
    expect(JSON.stringify(statements[0].Resource)).toMatch(/SiteDeployRole.*SitePublishingRole/);
  });

  test('the site stack\'s deploy roles: execution role trusted by CloudFormation only, IAM only with the site boundary', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'zmanim-prod-site-cfn-exec',
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'cloudformation.amazonaws.com' } })] },
    });
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', { ManagedPolicyName: 'zmanim-prod-site-boundary' });
    template.hasResourceProperties('AWS::S3::Bucket', { BucketName: `zmanim-prod-site-assets-${ACCOUNT}-eu-west-1` });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toMatch(/"iam:PermissionsBoundary":\{"Ref":"SiteBoundary[0-9A-F]+"\}/);
    expect(policies).toMatch(/"cloudformation:RoleArn":\{"Fn::GetAtt":\["SiteExecutionRole[0-9A-F]+","Arn"\]\}/);
  });

  test('the backend role uploads releases under api/ and sends only the deploy document, only to the tagged zmanim instances', () => {
    const { statements } = all['zmanim-prod-github-backend-deploy'];
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    expect(bySid.UploadApiRelease).toMatchObject({ Action: 's3:PutObject', Resource: 'arn:aws:s3:::zmanimprod*release*/api/*' });
    expect(bySid.TheDeployApiDocumentOnly).toEqual({
      Sid: 'TheDeployApiDocumentOnly', Effect: 'Allow', Action: 'ssm:SendCommand', Resource: `arn:aws:ssm:eu-west-1:${ACCOUNT}:document/${DEPLOY_DOCUMENT}`,
    });
    expect(bySid.OnTheZmanimInstancesOnly).toEqual(expect.objectContaining({
      Action: 'ssm:SendCommand',
      Resource: `arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/*`,
      Condition: { StringEquals: { 'ssm:resourceTag/project': 'zmanim', 'ssm:resourceTag/environment': 'prod' } },
    }));
    expect(statements.map((s) => s.Sid).sort()).toEqual(['FollowCommandFindHost', 'OnTheZmanimInstancesOnly', 'TheDeployApiDocumentOnly', 'UploadApiRelease']);
    expect(JSON.stringify(statements)).not.toMatch(/AWS-Run/);
  });

  test('without a deploy document the backend role only uploads, and says so; a shell document or a token is refused', () => {
    const { stack, template: bare } = synth();
    expect(roles(bare)['zmanim-prod-github-backend-deploy'].statements.map((s) => s.Sid)).toEqual(['UploadApiRelease']);
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('No deployApiDocumentName'))).toHaveLength(1);
    for (const name of ['AWS-RunShellScript', 'AWS-RunRemoteScript', 'AmazonCloudWatch-ManageAgent', 'a/b', '']) {
      expect(() => synth({}, { deployApiDocumentName: name })).toThrow(/deployApiDocumentName ".*" must be the plain name of this account's parameterless deploy document/);
    }
    const fromContext = roles(synth({ 'zmanim:deployApiDocumentName': 'kehilla-Host-deploy-api' }).template)['zmanim-prod-github-backend-deploy'];
    expect(fromContext.statements.find((s) => s.Sid === 'TheDeployApiDocumentOnly')!.Resource).toBe(`arn:aws:ssm:eu-west-1:${ACCOUNT}:document/kehilla-Host-deploy-api`);
  });

  test('a named release bucket replaces the name pattern; a bad prefix fails clearly', () => {
    const named = roles(synth({ 'zmanim:releaseBucketName': 'zmanim-prod-releases-123' }).template)['zmanim-prod-github-backend-deploy'];
    expect(named.statements.find((s) => s.Sid === 'UploadApiRelease')!.Resource).toBe('arn:aws:s3:::zmanim-prod-releases-123/api/*');
    expect(() => synth({}, { releaseKeyPrefix: '/api/*' })).toThrow(/releaseKeyPrefix "\/api\/\*" must be a key prefix ending in "\/"/);
  });

  test('a release bucket of another stack (the Compute stack) is referenced exactly and stays nag clean', () => {
    const app = new App({ context: appContext() });
    const env = { account: ACCOUNT, region: 'eu-west-1' };
    const compute = new Stack(app, 'Compute', { env });
    const bucket = new s3.Bucket(compute, 'ReleaseBucket');
    const stack = new GitHubOidcStack(app, 'Oidc', { env, config, releaseBucketName: bucket.bucketName });
    Aspects.of(stack).add(new AwsSolutionsChecks());
    app.synth();
    const upload = roles(Template.fromStack(stack))['zmanim-prod-github-backend-deploy'].statements.find((s) => s.Sid === 'UploadApiRelease')!;
    expect(upload.Resource).toMatch(/^arn:aws:s3:::\{"Fn::ImportValue":"Compute:ExportsOutputRefReleaseBucket[0-9A-F]+"\}\/api\/\*$/);
    expect(Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
  });

  test('the AMI build role launches, stops, terminates and images only instances with the build tag, never the data host', () => {
    const { statements } = all['zmanim-prod-github-ami-build'];
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    const tag = `${AMI_BUILD_TAG.key}`;
    expect(bySid.LaunchOnlyTaggedBuildInstances).toMatchObject({
      Action: 'ec2:RunInstances',
      Resource: [`arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/*`, `arn:aws:ec2:eu-west-1:${ACCOUNT}:volume/*`],
      Condition: { StringEquals: { [`aws:RequestTag/${tag}`]: 'true' } },
    });
    expect(bySid.LaunchOnlyAmazonImages.Condition).toEqual({ StringEquals: { 'ec2:Owner': 'amazon' } });
    expect(list(bySid.StopTerminateImageOnlyBuildInstances.Action).sort()).toEqual(['ec2:CreateImage', 'ec2:StopInstances', 'ec2:TerminateInstances']);
    expect(bySid.StopTerminateImageOnlyBuildInstances.Condition).toEqual({ StringEquals: { [`aws:ResourceTag/${tag}`]: 'true' } });
    expect(bySid.TagOnCreate.Condition).toEqual({ StringEquals: { 'ec2:CreateAction': ['RunInstances', 'CreateSecurityGroup', 'CreateKeyPair'] } });
    expect(bySid.NeverTheDataHost).toMatchObject({ Effect: 'Deny', Condition: { Null: { [`aws:ResourceTag/${DATA_HOST_TAG_KEY}`]: 'false' } } });
    expect(bySid.OnlyTheBuildSecurityGroup.Condition).toEqual({ StringEquals: { [`aws:ResourceTag/${tag}`]: 'true' } });
    expect(bySid.PublishAmiId.Resource).toBe(`arn:aws:ssm:eu-west-1:${ACCOUNT}:parameter/zmanim/prod/ami-id`);
    // Instance-changing actions never go without a condition.
    for (const s of statements) {
      const risky = list(s.Action).filter((a) => /^ec2:(StopInstances|TerminateInstances|AuthorizeSecurityGroupIngress|DeleteSecurityGroup|CreateTags)$/.test(a));
      if (risky.length > 0) expect(s.Condition).toBeDefined();
    }
  });

  test('with the app VPC given, the AMI build may create and open security groups only outside it', () => {
    const { template: t } = synth({}, { protectedVpcId: 'vpc-0123456789abcdef0' });
    const statements = roles(t)['zmanim-prod-github-ami-build'].statements;
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    expect(bySid.OnlyOutsideTheAppVpc).toMatchObject({
      Action: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:DeleteSecurityGroup'],
      Resource: `arn:aws:ec2:eu-west-1:${ACCOUNT}:security-group/*`,
      Condition: {
        Null: { 'ec2:Vpc': 'false' },
        ArnNotEquals: { 'ec2:Vpc': `arn:aws:ec2:eu-west-1:${ACCOUNT}:vpc/vpc-0123456789abcdef0` },
      },
    });
    // ec2:Vpc is no condition key of CreateSecurityGroup: the VPC is checked on the VPC resource.
    expect(bySid.TemporarySecurityGroupOutsideTheAppVpc.Condition).toEqual({ Null: { 'ec2:VpcID': 'false' }, StringNotEquals: { 'ec2:VpcID': 'vpc-0123456789abcdef0' } });
    expect(bySid.TemporarySecurityGroup.Condition).toBeUndefined();
    expect(bySid.LaunchOutsideTheAppVpc.Condition).toEqual(bySid.OnlyOutsideTheAppVpc.Condition);
    expect(bySid.OnlyTheBuildSecurityGroup).toBeUndefined();
  });

  test('the integ role exists only with a separate test account, and assumes its bootstrap roles in us-east-1', () => {
    const other = all['zmanim-prod-github-integ-test'].statements;
    expect(list(other[0].Resource)).toHaveLength(4);
    for (const arn of list(other[0].Resource)) expect(arn).toMatch(/^arn:aws:iam::210987654321:role\/cdk-hnb659fds-[a-z-]+-role-210987654321-us-east-1$/);
    expect(roles(synth().template)['zmanim-prod-github-integ-test']).toBeUndefined();
    expect(() => synth({ 'zmanim:integAccount': ACCOUNT })).toThrow(/integAccount 123456789012 is the production account/);
    expect(() => synth({ 'zmanim:integAccount': 'test' })).toThrow(/integAccount "test" is not a 12-digit AWS account id/);
  });

  test('exports every role ARN as an output named for its repository variable', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual(['AmiBuildRoleArn', 'BackendDeployRoleArn', 'FrontendDeployRoleArn',
      'InfrastructureDeployRoleArn', 'IntegTestRoleArn', 'PullRequestDiffRoleArn', 'SiteStagingBucket']);
    expect(Object.values(outputs).filter((o) => o.Description.startsWith('GitHub')).map((o) => o.Description).sort()).toEqual(Object.values(ROLE_ARN_VARIABLES).map((v) => `GitHub repository variable ${v}`).sort());
  });

  test('imports the existing provider from context instead of creating one', () => {
    const { template: imported } = synth({ 'zmanim:githubOidcProviderArn': `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` });
    imported.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    imported.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` } })] },
    });
  });

  test('is cdk-nag AwsSolutions clean, with narrow suppressions only', () => {
    const { stack } = synth();
    const findings = [
      ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ].map((f) => `${f.id}: ${f.entry.data}`);
    expect(findings).toEqual([]);
    // Suppressions name the exact resources (appliesTo), never the whole rule.
    const githubPolicies = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).match(/Deploy|PullRequest|AmiBuild|IntegTest/) && !JSON.stringify(p.Properties.Roles).includes('SiteDeployRole'));
    const metadata = githubPolicies.flatMap((p) => p.Metadata?.cdk_nag?.rules_to_suppress ?? []);
    expect(metadata.length).toBeGreaterThan(0);
    for (const s of metadata) {
      expect(s.applies_to ?? s.appliesTo).toBeDefined();
      expect(s.reason.length).toBeGreaterThan(40);
    }
  });
});
