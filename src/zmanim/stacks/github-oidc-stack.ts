import { CfnOutput, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  CdkBootstrapRole, GitHubDeployRole, GitHubOidcProvider, GitHubRepository, GitHubSubject,
} from '../../constructs/github-oidc';
import { suppressNag } from '../../internal/nag';
import { ZmanimConfig } from '../config';

/** CloudFront certificates and Route 53 health checks live here (see zmanim-app.ts). */
const GLOBAL_REGION = 'us-east-1';
/** integ-runner deploys the integ tests here (`--parallel-regions us-east-1`, .projenrc.ts). */
const INTEG_REGION = 'us-east-1';

/**
 * The GitHub environments of the infrastructure repository, one per deploy workflow, so
 * that each role's `sub` is distinct: a job can only assume the role of the environment it
 * runs in, and each environment's protection rules (reviewers, allowed branches or tags)
 * guard its role. Documented in the README ("GitHub OIDC and deploy workflows").
 */
export const GITHUB_ENVIRONMENTS = {
  infrastructure: 'production',
  frontend: 'production-frontend',
  backend: 'production-backend',
  ami: 'production-ami',
  integ: 'integ',
} as const;

/**
 * The tag the Packer build puts on everything it creates (`run_tags`, `run_volume_tags`,
 * `tags`, `snapshot_tags` in packer/): the AMI build role may only stop, terminate, image or
 * open security groups of resources carrying it, so it cannot touch the production host.
 */
export const AMI_BUILD_TAG = { key: 'zmanim:ami-build', value: 'true' } as const;

/** The repository variable that holds each role's ARN (set once from the stack outputs). */
export const ROLE_ARN_VARIABLES = {
  infrastructure: 'AWS_INFRASTRUCTURE_DEPLOY_ROLE_ARN',
  pullRequestDiff: 'AWS_PR_DIFF_ROLE_ARN',
  frontend: 'AWS_FRONTEND_DEPLOY_ROLE_ARN',
  backend: 'AWS_BACKEND_DEPLOY_ROLE_ARN',
  ami: 'AWS_AMI_BUILD_ROLE_ARN',
  integ: 'AWS_INTEG_TEST_ROLE_ARN',
} as const;

export interface GitHubOidcStackProps extends StackProps {
  readonly config: ZmanimConfig;

  /**
   * ARN of the account's existing GitHub OIDC provider (an account holds only one).
   *
   * @default - context `zmanim:githubOidcProviderArn`; if unset, the stack creates the provider
   */
  readonly existingProviderArn?: string;

  /**
   * Name of the S3 bucket that holds the API releases (the host reads them from there).
   *
   * The app passes the Compute stack's bucket (a cross-stack reference).
   *
   * @default - context `zmanim:releaseBucketName`; if unset, any bucket whose name starts
   * with `zmanim<env>` and contains `release` (the CDK-generated name of a stack's
   * release bucket, e.g. `zmanimprodcompute-releasebucket...`)
   */
  readonly releaseBucketName?: string;

  /**
   * Key prefix of the API releases in the release bucket, without leading slash.
   *
   * @default 'api/'
   */
  readonly releaseKeyPrefix?: string;

  /**
   * Account where the integ tests deploy (bootstrapped with `--trust` for this account).
   * Prefer a separate test account: the integ role can deploy anything there.
   *
   * @default - context `zmanim:integAccount`; if unset, this stack's account
   */
  readonly integAccount?: string;

  /**
   * The app's VPC (where the host lives). The AMI build role may create, open and delete
   * security groups anywhere but there; Packer's temporary group is untagged, so a tag
   * condition alone would refuse it.
   *
   * @default - security group changes only on groups tagged `zmanim:ami-build=true`
   */
  readonly protectedVpcId?: string;
}

/**
 * The seed's GitHub OIDC stack: GitHub's identity provider and one role per workflow, each
 * trusted for one exact subject and allowed only what that workflow does. No role has
 * AdministratorAccess; sessions last at most one hour. The role ARNs are stack outputs,
 * copied once into the repository variables the workflows read (README).
 */
export class GitHubOidcStack extends Stack {
  public readonly infrastructureDeployRole: GitHubDeployRole;
  public readonly pullRequestDiffRole: GitHubDeployRole;
  public readonly frontendDeployRole: GitHubDeployRole;
  public readonly backendDeployRole: GitHubDeployRole;
  public readonly amiBuildRole: GitHubDeployRole;
  public readonly integTestRole: GitHubDeployRole;

  constructor(scope: Construct, id: string, props: GitHubOidcStackProps) {
    super(scope, id, props);
    const { config } = props;
    const context = (key: string): string | undefined => {
      const value = this.node.tryGetContext(`zmanim:${key}`);
      return value === undefined || value === '' ? undefined : String(value);
    };

    const existingArn = props.existingProviderArn ?? context('githubOidcProviderArn');
    const provider = existingArn
      ? GitHubOidcProvider.fromProviderArn(this, 'GitHubProvider', existingArn)
      : new GitHubOidcProvider(this, 'GitHubProvider').provider;

    const infra = GitHubRepository.fromName(config.github.infrastructureRepository);
    const regions = [...new Set([config.region, GLOBAL_REGION])];
    const name = (purpose: string) => `zmanim-${config.environment}-github-${purpose}`;
    const role = (logicalId: string, purpose: string, subject: GitHubSubject, description: string) =>
      new GitHubDeployRole(this, logicalId, {
        provider,
        subjects: [subject],
        roleName: name(purpose),
        description: `${description} (GitHub Actions, ${subject.value})`,
      });

    // deploy-prod-infrastructure.yml: cdk diff + cdk deploy --all, both regions.
    this.infrastructureDeployRole = role('InfrastructureDeploy', 'infrastructure-deploy',
      GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.infrastructure), 'cdk deploy of the zmanim app');
    this.infrastructureDeployRole.grantAssumeCdkBootstrapRoles({ regions });

    // pr-checks.yml (diff job): read-only template comparison through the bootstrap lookup role.
    this.pullRequestDiffRole = role('PullRequestDiff', 'pr-diff',
      GitHubSubject.pullRequest(infra), 'read-only cdk diff of pull requests');
    this.pullRequestDiffRole.grantAssumeCdkBootstrapRoles({ regions, roles: [CdkBootstrapRole.LOOKUP] });

    // deploy-prod-frontend.yml: cdk deploy --exclusively of the Next.js stack (regional).
    this.frontendDeployRole = role('FrontendDeploy', 'frontend-deploy',
      GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.frontend), 'cdk deploy of the Next.js stack');
    this.frontendDeployRole.grantAssumeCdkBootstrapRoles({
      regions: [config.region],
      roles: [CdkBootstrapRole.DEPLOY, CdkBootstrapRole.FILE_PUBLISHING, CdkBootstrapRole.LOOKUP],
    });

    // deploy-prod-backend.yml: upload the API build, restart it on the host through SSM.
    this.backendDeployRole = role('BackendDeploy', 'backend-deploy',
      GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.backend), 'API release upload and restart on the host');
    this.grantBackendDeploy(this.backendDeployRole, config, props.releaseBucketName ?? context('releaseBucketName'), props.releaseKeyPrefix ?? 'api/');

    // build-prod-ami.yml: Packer amazon-ebs, then the AMI id parameter.
    this.amiBuildRole = role('AmiBuild', 'ami-build',
      GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.ami), 'Packer AMI build');
    this.grantAmiBuild(this.amiBuildRole, config, props.protectedVpcId);

    // pr-e2e.yml: integ-runner deploys, asserts and destroys the integ stacks.
    this.integTestRole = role('IntegTest', 'integ-test',
      GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.integ), 'integ tests (integ-runner)');
    this.integTestRole.grantAssumeCdkBootstrapRoles({ regions: [INTEG_REGION], account: props.integAccount ?? context('integAccount') });

    const outputs: Array<[string, GitHubDeployRole, string]> = [
      ['InfrastructureDeployRoleArn', this.infrastructureDeployRole, ROLE_ARN_VARIABLES.infrastructure],
      ['PullRequestDiffRoleArn', this.pullRequestDiffRole, ROLE_ARN_VARIABLES.pullRequestDiff],
      ['FrontendDeployRoleArn', this.frontendDeployRole, ROLE_ARN_VARIABLES.frontend],
      ['BackendDeployRoleArn', this.backendDeployRole, ROLE_ARN_VARIABLES.backend],
      ['AmiBuildRoleArn', this.amiBuildRole, ROLE_ARN_VARIABLES.ami],
      ['IntegTestRoleArn', this.integTestRole, ROLE_ARN_VARIABLES.integ],
    ];
    for (const [outputId, deployRole, variable] of outputs) {
      new CfnOutput(this, outputId, { value: deployRole.roleArn, description: `GitHub repository variable ${variable}` });
    }
  }

  private grantBackendDeploy(deployRole: GitHubDeployRole, config: ZmanimConfig, bucketName: string | undefined, keyPrefix: string): void {
    if (!/^([a-z0-9][a-z0-9._-]*\/)+$/.test(keyPrefix)) {
      throw new Error(`releaseKeyPrefix "${keyPrefix}" must be a key prefix ending in "/" without leading slash or wildcard, e.g. "api/".`);
    }
    const bucket = bucketName ?? `zmanim${config.environment}*release*`;
    // Only new release objects under the prefix: no read, no delete, no other bucket.
    deployRole.addToPolicy(new iam.PolicyStatement({
      sid: 'UploadApiRelease',
      actions: ['s3:PutObject'],
      resources: [`arn:${this.partition}:s3:::${bucket}/${keyPrefix}*`],
    }));
    // Run the restart script on the zmanim host only: AWS-RunShellScript, on instances that
    // carry the app's tags (zmanim-app.ts tags every resource project/environment).
    deployRole.addToPolicy(new iam.PolicyStatement({
      sid: 'RunShellScriptDocument',
      actions: ['ssm:SendCommand'],
      resources: [`arn:${this.partition}:ssm:${config.region}::document/AWS-RunShellScript`],
    }));
    deployRole.addToPolicy(new iam.PolicyStatement({
      sid: 'OnTheZmanimHostOnly',
      actions: ['ssm:SendCommand'],
      resources: [`arn:${this.partition}:ec2:${config.region}:${this.account}:instance/*`],
      conditions: { StringEquals: { 'ssm:resourceTag/project': 'zmanim', 'ssm:resourceTag/environment': config.environment } },
    }));
    // Follow the command, and find the host by its tags. These actions have no resource-level
    // permissions in IAM.
    deployRole.addToPolicy(new iam.PolicyStatement({
      sid: 'FollowCommandFindHost',
      actions: ['ssm:GetCommandInvocation', 'ssm:ListCommandInvocations', 'ec2:DescribeInstances'],
      resources: ['*'],
    }));
    // A bucket from another stack shows in the finding as its logical id or export name.
    const s3Finding = Token.isUnresolved(bucket)
      ? { regex: `/^Resource::arn:${this.nagPartition()}:s3:::[^/]+\\/${keyPrefix.replace(/[/.]/g, '\\$&')}\\*$/` } as unknown as string
      : `Resource::arn:${this.nagPartition()}:s3:::${bucket}/${keyPrefix}*`;
    suppressNag(defaultPolicy(deployRole), [{
      id: 'AwsSolutions-IAM5',
      reason: 'S3: new objects under the release prefix only; EC2 instances: only those tagged project=zmanim and this environment '
        + '(ssm:resourceTag condition); ssm:GetCommandInvocation, ssm:ListCommandInvocations and ec2:DescribeInstances support no resource ARN.',
      appliesTo: [
        s3Finding,
        `Resource::arn:${this.nagPartition()}:ec2:${config.region}:${this.nagAccount()}:instance/*`,
        'Resource::*',
      ],
    }]);
  }

  /**
   * What Packer's amazon-ebs builder calls, scoped by the build tag wherever EC2 supports a
   * condition: it may launch only tagged instances, and stop, terminate or image only those.
   */
  private grantAmiBuild(deployRole: GitHubDeployRole, config: ZmanimConfig, protectedVpcId: string | undefined): void {
    const ec2 = (resource: string, region = config.region, account: string = this.account) =>
      `arn:${this.partition}:ec2:${region}:${account}:${resource}`;
    const requestTag = { StringEquals: { [`aws:RequestTag/${AMI_BUILD_TAG.key}`]: AMI_BUILD_TAG.value } };
    const resourceTag = { StringEquals: { [`aws:ResourceTag/${AMI_BUILD_TAG.key}`]: AMI_BUILD_TAG.value } };
    const statements = [
      new iam.PolicyStatement({
        sid: 'DescribeForPacker',
        actions: [
          'ec2:DescribeImages', 'ec2:DescribeImageAttribute', 'ec2:DescribeInstances', 'ec2:DescribeInstanceStatus',
          'ec2:DescribeKeyPairs', 'ec2:DescribeRegions', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSnapshots',
          'ec2:DescribeSubnets', 'ec2:DescribeTags', 'ec2:DescribeVolumes', 'ec2:DescribeVpcs',
        ],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'LaunchOnlyTaggedBuildInstances',
        actions: ['ec2:RunInstances'],
        resources: [ec2('instance/*')],
        conditions: requestTag,
      }),
      new iam.PolicyStatement({
        sid: 'LaunchWithTheseResources',
        actions: ['ec2:RunInstances'],
        resources: [
          ec2('image/*', config.region, ''), ec2('volume/*'), ec2('network-interface/*'), ec2('subnet/*'),
          ec2('security-group/*'), ec2('key-pair/packer_*'),
        ],
      }),
      new iam.PolicyStatement({
        sid: 'TagOnCreate',
        actions: ['ec2:CreateTags'],
        resources: [ec2('instance/*'), ec2('volume/*'), ec2('network-interface/*'), ec2('security-group/*'), ec2('key-pair/packer_*')],
        conditions: { StringEquals: { 'ec2:CreateAction': ['RunInstances', 'CreateSecurityGroup', 'CreateKeyPair'] } },
      }),
      new iam.PolicyStatement({
        sid: 'TagBuildResources',
        actions: ['ec2:CreateTags'],
        resources: [ec2('image/*', config.region, ''), ec2('snapshot/*', config.region, ''), ec2('instance/*'), ec2('volume/*')],
        conditions: requestTag,
      }),
      new iam.PolicyStatement({
        sid: 'StopTerminateImageOnlyBuildInstances',
        actions: ['ec2:StopInstances', 'ec2:TerminateInstances', 'ec2:CreateImage'],
        resources: [ec2('instance/*')],
        conditions: resourceTag,
      }),
      new iam.PolicyStatement({
        sid: 'CreateImageOutputs',
        actions: ['ec2:CreateImage'],
        resources: [ec2('image/*', config.region, ''), ec2('snapshot/*', config.region, '')],
      }),
      ...this.securityGroupStatements(ec2, requestTag, resourceTag, protectedVpcId),
      new iam.PolicyStatement({
        sid: 'TemporaryKeyPair',
        actions: ['ec2:CreateKeyPair', 'ec2:DeleteKeyPair'],
        resources: [ec2('key-pair/packer_*')],
      }),
      new iam.PolicyStatement({
        sid: 'PublishAmiId',
        actions: ['ssm:PutParameter', 'ssm:GetParameter'],
        resources: [`arn:${this.partition}:ssm:${config.region}:${this.account}:parameter${config.ssmPrefix}/ami-id`],
      }),
    ];
    statements.forEach((s) => deployRole.addToPolicy(s));

    const account = this.nagAccount();
    const arn = (resource: string, acct: string = account) => `Resource::arn:${this.nagPartition()}:ec2:${config.region}:${acct}:${resource}`;
    suppressNag(defaultPolicy(deployRole), [{
      id: 'AwsSolutions-IAM5',
      reason: 'Packer amazon-ebs creates resources whose ids are unknown in advance: launching, stopping, terminating and imaging are '
        + `limited to instances tagged ${AMI_BUILD_TAG.key}=${AMI_BUILD_TAG.value} (aws:RequestTag / aws:ResourceTag), security group `
        + 'security group changes to groups outside the app VPC (or with that tag), key pairs to packer_*; ec2:Describe* support no resource ARN.',
      appliesTo: [
        'Resource::*',
        arn('instance/*'), arn('image/*', ''), arn('snapshot/*', ''), arn('volume/*'), arn('network-interface/*'),
        arn('subnet/*'), arn('security-group/*'), arn('key-pair/packer_*'), arn('vpc/*'),
      ],
    }]);
  }

  /**
   * Packer's temporary security group (created untagged by the amazon plugin). With the app's
   * VPC known, the role may create and open groups in any VPC but that one (Packer builds in
   * the default VPC), so it can never open the host's group; otherwise only groups tagged
   * for the build.
   */
  private securityGroupStatements(ec2: (resource: string) => string, requestTag: object, resourceTag: object,
    protectedVpcId: string | undefined): iam.PolicyStatement[] {
    if (!protectedVpcId) {
      return [
        new iam.PolicyStatement({ sid: 'TemporarySecurityGroup', actions: ['ec2:CreateSecurityGroup'], resources: [ec2('vpc/*')] }),
        new iam.PolicyStatement({ sid: 'TemporarySecurityGroupTagged', actions: ['ec2:CreateSecurityGroup'], resources: [ec2('security-group/*')], conditions: requestTag }),
        new iam.PolicyStatement({
          sid: 'OnlyTheBuildSecurityGroup',
          actions: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:DeleteSecurityGroup'],
          resources: [ec2('security-group/*')],
          conditions: resourceTag,
        }),
      ];
    }
    const notTheAppVpc = {
      // Null: the key must be present, so that a request without it is refused, not allowed.
      Null: { 'ec2:Vpc': 'false' },
      ArnNotEquals: { 'ec2:Vpc': ec2(`vpc/${protectedVpcId}`) },
    };
    return [
      new iam.PolicyStatement({
        sid: 'TemporarySecurityGroup',
        actions: ['ec2:CreateSecurityGroup'],
        resources: [ec2('vpc/*')],
        conditions: { Null: { 'ec2:VpcID': 'false' }, StringNotEquals: { 'ec2:VpcID': protectedVpcId } },
      }),
      new iam.PolicyStatement({
        sid: 'OnlyOutsideTheAppVpc',
        actions: ['ec2:CreateSecurityGroup', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:DeleteSecurityGroup'],
        resources: [ec2('security-group/*')],
        conditions: notTheAppVpc,
      }),
    ];
  }

  /** How cdk-nag prints this stack's account in a finding. */
  private nagAccount(): string {
    return this.resolve(this.account) === this.account ? this.account : '<AWS::AccountId>';
  }

  /** How cdk-nag prints this stack's partition: a literal with @aws-cdk/core:enablePartitionLiterals. */
  private nagPartition(): string {
    return Token.isUnresolved(this.partition) ? '<AWS::Partition>' : this.partition;
  }
}

/** The role's inline policy, where cdk-nag reports (and reads suppressions of) its statements. */
function defaultPolicy(deployRole: GitHubDeployRole): iam.Policy {
  const policy = deployRole.role.node.tryFindChild('DefaultPolicy');
  if (!(policy instanceof iam.Policy)) {
    throw new Error(`${deployRole.node.path} has no policy yet: add its statements before suppressing findings on them`);
  }
  return policy;
}
