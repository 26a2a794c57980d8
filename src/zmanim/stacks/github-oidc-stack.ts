import { Annotations, CfnOutput, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import {
  GitHubDeployRole, GitHubOidcProvider, GitHubRepository, GitHubSubject,
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
  /** The read-only diff jobs of the deploy workflows (no reviewers: the diff is what they review). */
  diff: 'production-diff',
} as const;

/**
 * The tag the Packer build puts on everything it creates (`run_tags`, `run_volume_tags`,
 * `tags`, `snapshot_tags` in packer/): the AMI build role may only stop, terminate, image or
 * open security groups of resources carrying it, so it cannot touch the production host.
 */
export const AMI_BUILD_TAG = { key: 'zmanim:ami-build', value: 'true' } as const;

/**
 * The tag GravitonDataHost puts on the data host's instance and volume. The AMI build role is
 * denied every change to resources carrying it, whatever other tags they have.
 */
export const DATA_HOST_TAG_KEY = 'shtetl:data-host';

/** The test account's id must be given for the integ role (`integAccount` or context `zmanim:integAccount`). */
export const INTEG_ACCOUNT_CONTEXT = 'zmanim:integAccount';

/**
 * The roles and bucket that deploy the Next.js stack, instead of the CDK bootstrap roles: the
 * frontend workflow may only change that stack, through a CloudFormation execution role that
 * can create only the site's resource types under the stack's name, and only IAM roles that
 * carry the site's permissions boundary. Names are fixed so the site stack's synthesizer can
 * name them before this stack is deployed.
 */
export function siteDeployNames(config: Pick<ZmanimConfig, 'environment' | 'region'>, account: string) {
  const prefix = `zmanim-${config.environment}-site`;
  return {
    /** CloudFormation stack name of the site (the app's `ZmanimProdNextjs`). */
    stackName: `Zmanim${config.environment.charAt(0).toUpperCase()}${config.environment.slice(1)}Nextjs`,
    deployRole: `${prefix}-deploy`,
    publishingRole: `${prefix}-publishing`,
    executionRole: `${prefix}-cfn-exec`,
    boundaryPolicy: `${prefix}-boundary`,
    stagingBucket: `${prefix}-assets-${account}-${config.region}`,
  };
}

/**
 * The synthesizer of the site stack: CloudFormation deploys it with the site's own roles and
 * staging bucket (created by GitHubOidcStack), never with the bootstrap roles, and there is
 * no bootstrap version rule (the bootstrap stack is not involved).
 */
export function siteStackSynthesizer(config: Pick<ZmanimConfig, 'environment' | 'region'>): DefaultStackSynthesizer {
  // Placeholders the CLI fills in with the stack's environment.
  const n = siteDeployNames(config, '${AWS::AccountId}');
  const role = (name: string) => `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${name}`;
  return new DefaultStackSynthesizer({
    deployRoleArn: role(n.deployRole),
    fileAssetPublishingRoleArn: role(n.publishingRole),
    cloudFormationExecutionRole: role(n.executionRole),
    fileAssetsBucketName: n.stagingBucket.replace(`-${config.region}`, '-${AWS::Region}'),
    generateBootstrapVersionRule: false,
  });
}

/** The repository variable that holds each role's ARN (set once from the stack outputs). */
export const ROLE_ARN_VARIABLES = {
  infrastructure: 'AWS_INFRASTRUCTURE_DEPLOY_ROLE_ARN',
  pullRequestDiff: 'AWS_PR_DIFF_ROLE_ARN',
  frontend: 'AWS_FRONTEND_DEPLOY_ROLE_ARN',
  backend: 'AWS_BACKEND_DEPLOY_ROLE_ARN',
  ami: 'AWS_AMI_BUILD_ROLE_ARN',
  integ: 'AWS_INTEG_TEST_ROLE_ARN',
} as const;

/** A `cdk bootstrap` stack the README has you create, with its options. */
export interface BootstrapStack {
  readonly stackName: string;
  readonly qualifier: string;
  readonly regions: string[];
  /** The bootstrap template's parameters for this account (what the command line sets). */
  parameters(account: string): Record<string, string>;
}

/** The bootstrap stacks of the production account (README "One-time setup"; test/policy evaluates them). */
export const BOOTSTRAP_STACKS: BootstrapStack[] = [
  { stackName: 'CDKToolkit', qualifier: 'hnb659fds', regions: ['eu-west-1', 'us-east-1'], parameters: () => ({}) },
];

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
   * Name of the parameterless SSM Command document that deploys the API release on an API
   * instance (the single host's `deployApiCommand.documentName`, or the API fleet's
   * `deployApiDocumentName`): the only document the backend role may send, and only to the
   * app's instances. A plain name, so no export ties this stack to the host's.
   *
   * @default - context `zmanim:deployApiDocumentName`; if unset, the backend role may upload
   * releases but run nothing on any instance
   */
  readonly deployApiDocumentName?: string;

  /**
   * Account where the integ tests deploy (bootstrapped with `--trust` for this account). It
   * must differ from this stack's account: the integ role can deploy anything there.
   *
   * @default - context `zmanim:integAccount`; if unset, there is no integ role
   */
  readonly integAccount?: string;

  /**
   * The site stack's synthesizer is `siteStackSynthesizer`: this stack creates its deploy
   * roles. Without it, the frontend role has no permissions (nothing to deploy to).
   *
   * @default true
   */
  readonly siteDeployRoles?: boolean;

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
  /** Undefined without an integ account. */
  public readonly integTestRole?: GitHubDeployRole;

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

    // pr-checks.yml (diff job): reads the deployed templates of the app's stacks, nothing else.
    // No bootstrap role: the lookup role's ReadOnlyAccess includes secrets such as the
    // origin-verify value (cloudfront-keyvaluestore:GetKey) and every SSM parameter.
    // The deploy workflows' diff jobs (environment production-diff) use it too.
    this.pullRequestDiffRole = new GitHubDeployRole(this, 'PullRequestDiff', {
      provider,
      subjects: [GitHubSubject.pullRequest(infra), GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.diff)],
      roleName: name('pr-diff'),
      description: 'read-only cdk diff of pull requests and of the deploy workflows (GitHub Actions)',
    });
    this.grantReadAppTemplates(this.pullRequestDiffRole, config, regions);

    // deploy-prod-frontend.yml: cdk deploy of the Next.js stack only, through the site's own
    // deploy roles (see siteStackSynthesizer), never the bootstrap roles.
    this.frontendDeployRole = role('FrontendDeploy', 'frontend-deploy',
      GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.frontend), 'cdk deploy of the Next.js stack');
    if (props.siteDeployRoles ?? true) {
      this.createSiteDeployRoles(config, [this.frontendDeployRole, this.infrastructureDeployRole]);
    }

    // deploy-prod-backend.yml: upload the API build, restart it on the host through SSM.
    this.backendDeployRole = role('BackendDeploy', 'backend-deploy',
      GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.backend), 'API release upload and restart on the host');
    this.grantBackendDeploy(this.backendDeployRole, config, props.releaseBucketName ?? context('releaseBucketName'), props.releaseKeyPrefix ?? 'api/',
      props.deployApiDocumentName ?? context('deployApiDocumentName'));

    // build-prod-ami.yml: Packer amazon-ebs, then the AMI id parameter.
    this.amiBuildRole = role('AmiBuild', 'ami-build',
      GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.ami), 'Packer AMI build');
    this.grantAmiBuild(this.amiBuildRole, config, props.protectedVpcId);

    // pr-e2e.yml: integ-runner deploys, asserts and destroys the integ stacks in the test account.
    const integAccount = props.integAccount ?? context('integAccount');
    if (integAccount !== undefined) {
      if (!/^\d{12}$/.test(integAccount) && !Token.isUnresolved(integAccount)) {
        throw new Error(`integAccount "${integAccount}" is not a 12-digit AWS account id.`);
      }
      if (integAccount === this.account || integAccount === config.account) {
        throw new Error(`integAccount ${integAccount} is the production account: the integ role deploys anything there. `
          + 'Create a separate test account and pass its id (context zmanim:integAccount).');
      }
      this.integTestRole = role('IntegTest', 'integ-test',
        GitHubSubject.environment(infra, GITHUB_ENVIRONMENTS.integ), 'integ tests (integ-runner)');
      this.integTestRole.grantAssumeCdkBootstrapRoles({ regions: [INTEG_REGION], account: integAccount });
    }

    const outputs: Array<[string, GitHubDeployRole, string]> = [
      ['InfrastructureDeployRoleArn', this.infrastructureDeployRole, ROLE_ARN_VARIABLES.infrastructure],
      ['PullRequestDiffRoleArn', this.pullRequestDiffRole, ROLE_ARN_VARIABLES.pullRequestDiff],
      ['FrontendDeployRoleArn', this.frontendDeployRole, ROLE_ARN_VARIABLES.frontend],
      ['BackendDeployRoleArn', this.backendDeployRole, ROLE_ARN_VARIABLES.backend],
      ['AmiBuildRoleArn', this.amiBuildRole, ROLE_ARN_VARIABLES.ami],
      ...(this.integTestRole ? [['IntegTestRoleArn', this.integTestRole, ROLE_ARN_VARIABLES.integ] as [string, GitHubDeployRole, string]] : []),
    ];
    for (const [outputId, deployRole, variable] of outputs) {
      new CfnOutput(this, outputId, { value: deployRole.roleArn, description: `GitHub repository variable ${variable}` });
    }
  }

  /** `cdk diff --no-change-set` with the caller's credentials: the deployed templates of the app's stacks. */
  private grantReadAppTemplates(deployRole: GitHubDeployRole, config: ZmanimConfig, regions: string[]): void {
    const stackPrefix = siteDeployNames(config, this.account).stackName.replace(/Nextjs$/, '');
    // `cdk diff` without a bootstrap role checks the bootstrap version (a number) itself.
    deployRole.addToPolicy(new iam.PolicyStatement({
      sid: 'ReadBootstrapVersion',
      actions: ['ssm:GetParameter'],
      resources: regions.map((region) => `arn:${this.partition}:ssm:${region}:${this.account}:parameter/cdk-bootstrap/hnb659fds/version`),
    }));
    deployRole.addToPolicy(new iam.PolicyStatement({
      sid: 'ReadAppTemplates',
      actions: ['cloudformation:GetTemplate', 'cloudformation:DescribeStacks', 'cloudformation:GetTemplateSummary'],
      resources: regions.map((region) => `arn:${this.partition}:cloudformation:${region}:${this.account}:stack/${stackPrefix}*/*`),
    }));
    suppressNag(defaultPolicy(deployRole), [{
      id: 'AwsSolutions-IAM5',
      reason: `Read-only: the templates of the app's stacks (${stackPrefix}*), whose ids CloudFormation generates.`,
      appliesTo: regions.map((region) => `Resource::arn:${this.nagPartition()}:cloudformation:${region}:${this.nagAccount()}:stack/${stackPrefix}*/*`),
    }]);
  }

  /**
   * The site stack's deploy path (see `siteStackSynthesizer`): a staging bucket, a publishing
   * role that writes only there, a deploy role that changes only the site stack and only with
   * the site's execution role, and an execution role that creates only the site's resource
   * types under the stack's name, IAM roles only with the site's permissions boundary.
   */
  private createSiteDeployRoles(config: ZmanimConfig, callers: GitHubDeployRole[]): void {
    const n = siteDeployNames(config, this.account);
    const { partition, account, region } = this;
    const arn = (service: string, resource: string, r: string = region) => `arn:${partition}:${service}:${r}:${account}:${resource}`;
    const lowerStack = n.stackName.toLowerCase();

    const staging = new s3.Bucket(this, 'SiteStaging', {
      bucketName: n.stagingBucket,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    suppressNag(staging, [{ id: 'AwsSolutions-S1', reason: 'Staging of build artifacts (like the CDK bootstrap bucket): CloudTrail records who wrote; no access log needed.' }]);

    // What any role of the site may ever do: the site's own resources, its secret parameter,
    // the cross-region certificate export it reads, invalidations. No IAM, no other data.
    // The server function's Clerk secret (nextjs-stack.ts secretParameters), nothing else of the app's.
    const siteParameter = `${config.ssmPrefix}/clerk-secret-key`;
    const boundary = new iam.ManagedPolicy(this, 'SiteBoundary', {
      managedPolicyName: n.boundaryPolicy,
      description: `Permissions boundary of every role in ${n.stackName}`,
      statements: [
        new iam.PolicyStatement({ sid: 'Logs', actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], resources: [arn('logs', 'log-group:*')] }),
        new iam.PolicyStatement({
          sid: 'SiteBuckets',
          actions: ['s3:GetObject*', 's3:PutObject*', 's3:DeleteObject', 's3:ListBucket', 's3:GetBucketLocation', 's3:AbortMultipartUpload'],
          resources: [`arn:${partition}:s3:::${lowerStack}-*`, `arn:${partition}:s3:::${lowerStack}-*/*`],
        }),
        new iam.PolicyStatement({ sid: 'ReadStagedAssets', actions: ['s3:GetObject', 's3:ListBucket'], resources: [staging.bucketArn, staging.arnForObjects('*')] }),
        new iam.PolicyStatement({
          sid: 'SiteData',
          actions: ['dynamodb:*Item', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:DescribeTable', 'dynamodb:BatchWriteItem', 'dynamodb:BatchGetItem',
            'sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ChangeMessageVisibility',
            'lambda:InvokeFunction'],
          resources: [arn('dynamodb', `table/${n.stackName}-*`), arn('sqs', `${n.stackName}-*`), arn('lambda', `function:${n.stackName}-*`)],
        }),
        new iam.PolicyStatement({ sid: 'Invalidate', actions: ['cloudfront:CreateInvalidation', 'cloudfront:GetInvalidation'], resources: [`arn:${partition}:cloudfront::${account}:distribution/*`] }),
        new iam.PolicyStatement({
          sid: 'SiteParameters',
          actions: ['ssm:GetParameter', 'ssm:GetParameters'],
          resources: [arn('ssm', `parameter${siteParameter}`), arn('ssm', `parameter/cdk/exports/${n.stackName}/*`, GLOBAL_REGION)],
        }),
        new iam.PolicyStatement({ sid: 'ParameterKey', actions: ['kms:Decrypt'], resources: ['*'], conditions: { StringEquals: { 'kms:ViaService': `ssm.${region}.amazonaws.com` } } }),
      ],
    });

    const siteRole = arn('iam', `role/${n.stackName}-*`, '');
    const withBoundary = { StringEquals: { 'iam:PermissionsBoundary': boundary.managedPolicyArn } };
    const execution = new iam.Role(this, 'SiteExecutionRole', {
      roleName: n.executionRole,
      assumedBy: new iam.ServicePrincipal('cloudformation.amazonaws.com'),
      description: `CloudFormation execution role of ${n.stackName}: its resource types, under its name`,
      maxSessionDuration: Duration.hours(1),
    });
    const statements = [
      new iam.PolicyStatement({
        sid: 'SiteRolesWithBoundary',
        actions: ['iam:CreateRole', 'iam:PutRolePolicy', 'iam:AttachRolePolicy', 'iam:DetachRolePolicy', 'iam:DeleteRolePolicy', 'iam:PutRolePermissionsBoundary'],
        resources: [siteRole],
        conditions: withBoundary,
      }),
      new iam.PolicyStatement({
        sid: 'SiteRoles',
        actions: ['iam:GetRole', 'iam:GetRolePolicy', 'iam:DeleteRole', 'iam:TagRole', 'iam:UntagRole', 'iam:UpdateRoleDescription', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies'],
        resources: [siteRole],
      }),
      new iam.PolicyStatement({ sid: 'PassSiteRolesToLambda', actions: ['iam:PassRole'], resources: [siteRole], conditions: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } } }),
      new iam.PolicyStatement({
        sid: 'SiteResources',
        actions: ['s3:*', 'lambda:*', 'sqs:*', 'dynamodb:*', 'events:*', 'logs:*'],
        resources: [
          `arn:${partition}:s3:::${lowerStack}-*`, `arn:${partition}:s3:::${lowerStack}-*/*`,
          arn('lambda', `function:${n.stackName}-*`), arn('lambda', 'layer:*'), arn('lambda', 'event-source-mapping:*'),
          arn('sqs', `${n.stackName}-*`), arn('dynamodb', `table/${n.stackName}-*`), arn('events', `rule/${n.stackName}-*`),
          arn('logs', `log-group:${n.stackName}-*`), arn('logs', `log-group:/aws/lambda/${n.stackName}-*`),
        ],
      }),
      // Event source mappings and layers are created before their ARN exists.
      new iam.PolicyStatement({
        sid: 'UnnamedLambdaResources',
        actions: ['lambda:CreateEventSourceMapping', 'lambda:GetEventSourceMapping', 'lambda:DeleteEventSourceMapping', 'lambda:UpdateEventSourceMapping',
          'lambda:PublishLayerVersion', 'lambda:GetLayerVersion', 'lambda:DeleteLayerVersion', 'lambda:ListTags', 'lambda:TagResource'],
        resources: ['*'],
      }),
      // CloudFront resources have generated ids only; the KeyValueStore data plane (cloudfront-keyvaluestore) is not included.
      new iam.PolicyStatement({ sid: 'CloudFront', actions: ['cloudfront:*'], resources: ['*'] }),
      // But never another stack's CloudFront Function (the API's adds the origin-verify header:
      // new code could hand it to viewers) or a KeyValueStore (the origin-verify value).
      new iam.PolicyStatement({
        sid: 'OnlyTheSiteCloudFrontFunctions',
        effect: iam.Effect.DENY,
        actions: ['cloudfront:UpdateFunction', 'cloudfront:PublishFunction', 'cloudfront:DeleteFunction'],
        notResources: [`arn:${partition}:cloudfront::${account}:function/${region}${n.stackName}*`],
      }),
      new iam.PolicyStatement({
        sid: 'NoKeyValueStores',
        effect: iam.Effect.DENY,
        actions: ['cloudfront:CreateKeyValueStore', 'cloudfront:UpdateKeyValueStore', 'cloudfront:DeleteKeyValueStore'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({ sid: 'ReadStagedAssets', actions: ['s3:GetObject', 's3:ListBucket', 's3:GetBucketLocation'], resources: [staging.bucketArn, staging.arnForObjects('*')] }),
      new iam.PolicyStatement({ sid: 'CrossRegionExport', actions: ['ssm:GetParameters'], resources: [arn('ssm', `parameter/cdk/exports/${n.stackName}/*`, GLOBAL_REGION)] }),
    ];
    statements.forEach((st) => execution.addToPrincipalPolicy(st));

    // Like the bootstrap roles: trusted by the account, so a principal needs sts:AssumeRole on
    // them in its own policy (the frontend and infrastructure roles; an administrator's
    // workstation deploy).
    const trustCallers = new iam.AccountRootPrincipal();
    const deploy = new iam.Role(this, 'SiteDeployRole', {
      roleName: n.deployRole,
      assumedBy: trustCallers,
      description: `Deploys ${n.stackName} only, with ${n.executionRole}`,
      maxSessionDuration: Duration.hours(1),
    });
    const stackArns = [arn('cloudformation', `stack/${n.stackName}/*`)];
    deploy.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ChangeSetsWithTheSiteExecutionRole',
      actions: ['cloudformation:CreateChangeSet'],
      resources: stackArns,
      // Without RoleArn, CloudFormation would reuse the stack's previous role.
      conditions: { StringEquals: { 'cloudformation:RoleArn': execution.roleArn } },
    }));
    deploy.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'TheSiteStackOnly',
      actions: ['cloudformation:DescribeChangeSet', 'cloudformation:ExecuteChangeSet', 'cloudformation:DeleteChangeSet', 'cloudformation:DescribeStacks',
        'cloudformation:DescribeStackEvents', 'cloudformation:GetTemplate', 'cloudformation:GetTemplateSummary'],
      resources: stackArns,
    }));
    deploy.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'PassTheSiteExecutionRole',
      actions: ['iam:PassRole'],
      resources: [execution.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'cloudformation.amazonaws.com' } },
    }));
    staging.grantRead(deploy);
    // The CLI checks the bootstrap version (a number) with the deploy and publishing roles' credentials.
    const bootstrapVersion = new iam.PolicyStatement({
      sid: 'ReadBootstrapVersion',
      actions: ['ssm:GetParameter'],
      resources: [arn('ssm', 'parameter/cdk-bootstrap/hnb659fds/version')],
    });
    deploy.addToPrincipalPolicy(bootstrapVersion);

    const publishing = new iam.Role(this, 'SitePublishingRole', {
      roleName: n.publishingRole,
      assumedBy: trustCallers,
      description: `Uploads ${n.stackName}'s assets to ${n.stagingBucket} only`,
      maxSessionDuration: Duration.hours(1),
    });
    publishing.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'StageAssets',
      actions: ['s3:GetObject*', 's3:PutObject', 's3:ListBucket', 's3:GetBucketLocation', 's3:AbortMultipartUpload'],
      resources: [staging.bucketArn, staging.arnForObjects('*')],
    }));
    publishing.addToPrincipalPolicy(bootstrapVersion);
    for (const caller of callers) {
      caller.addToPolicy(new iam.PolicyStatement({ sid: 'AssumeTheSiteDeployRoles', actions: ['sts:AssumeRole'], resources: [deploy.roleArn, publishing.roleArn] }));
    }

    const reason = `Scoped to ${n.stackName}'s resources by name prefix (CloudFormation generates the suffix), to its staging bucket, and `
      + 'to CloudFront (ids only, no names) and Lambda layers/event source mappings (no ARN before creation); IAM only with the site boundary.';
    for (const r of [execution, deploy, publishing]) {
      const policy = r.node.tryFindChild('DefaultPolicy');
      if (policy) suppressNag(policy as iam.Policy, [{ id: 'AwsSolutions-IAM5', reason }]);
    }
    suppressNag(boundary, [{ id: 'AwsSolutions-IAM5', reason: 'A permissions boundary: the upper limit of the site\'s roles, scoped by the site stack\'s name prefix.' }]);
    new CfnOutput(this, 'SiteStagingBucket', { value: staging.bucketName, description: `Staging bucket of ${n.stackName}` });
  }

  private grantBackendDeploy(deployRole: GitHubDeployRole, config: ZmanimConfig, bucketName: string | undefined, keyPrefix: string,
    deployDocumentName: string | undefined): void {
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
    const appliesTo = [
      Token.isUnresolved(bucket)
        // A bucket from another stack shows in the finding as its logical id or export name.
        ? { regex: `/^Resource::arn:${this.nagPartition()}:s3:::[^/]+\\/${keyPrefix.replace(/[/.]/g, '\\$&')}\\*$/` } as unknown as string
        : `Resource::arn:${this.nagPartition()}:s3:::${bucket}/${keyPrefix}*`,
    ];
    if (deployDocumentName === undefined) {
      Annotations.of(this).addWarning('No deployApiDocumentName (context zmanim:deployApiDocumentName): the backend deploy role can upload releases but deploy them nowhere.');
    } else {
      validateDeployDocumentName(deployDocumentName);
      // The deploy document (no parameters, fixed lines: deploy-api.sh), never a shell document,
      // on the app's instances only (zmanim-app.ts tags every resource project/environment).
      // Tags, not instance ids: the host is replaced whenever its boot scripts change, and the
      // fleet's instances come and go; the document's name is stable.
      deployRole.addToPolicy(new iam.PolicyStatement({
        sid: 'TheDeployApiDocumentOnly',
        actions: ['ssm:SendCommand'],
        resources: [`arn:${this.partition}:ssm:${config.region}:${this.account}:document/${deployDocumentName}`],
      }));
      deployRole.addToPolicy(new iam.PolicyStatement({
        sid: 'OnTheZmanimInstancesOnly',
        actions: ['ssm:SendCommand'],
        resources: [`arn:${this.partition}:ec2:${config.region}:${this.account}:instance/*`],
        conditions: { StringEquals: { 'ssm:resourceTag/project': 'zmanim', 'ssm:resourceTag/environment': config.environment } },
      }));
      // Follow the command, and find the instances (and their document) by their tags. These
      // actions have no resource-level permissions in IAM.
      deployRole.addToPolicy(new iam.PolicyStatement({
        sid: 'FollowCommandFindHost',
        actions: ['ssm:GetCommandInvocation', 'ssm:ListCommandInvocations', 'ec2:DescribeInstances'],
        resources: ['*'],
      }));
      appliesTo.push(`Resource::arn:${this.nagPartition()}:ec2:${config.region}:${this.nagAccount()}:instance/*`, 'Resource::*');
    }
    suppressNag(defaultPolicy(deployRole), [{
      id: 'AwsSolutions-IAM5',
      reason: 'S3: new objects under the release prefix only; EC2 instances: only those tagged project=zmanim and this environment '
        + '(ssm:resourceTag condition), with the one parameterless deploy document; ssm:GetCommandInvocation, '
        + 'ssm:ListCommandInvocations and ec2:DescribeInstances support no resource ARN.',
      appliesTo,
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
    // Networking of the build instance: never in the app's VPC (Packer builds in the default VPC).
    const notTheAppVpc = protectedVpcId
      ? { Null: { 'ec2:Vpc': 'false' }, ArnNotEquals: { 'ec2:Vpc': ec2(`vpc/${protectedVpcId}`) } }
      : undefined;
    const dataHost = { Null: { [`aws:ResourceTag/${DATA_HOST_TAG_KEY}`]: 'false' } };
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
        resources: [ec2('instance/*'), ec2('volume/*')],
        conditions: requestTag,
      }),
      new iam.PolicyStatement({
        sid: 'LaunchOnlyAmazonImages',
        actions: ['ec2:RunInstances'],
        resources: [ec2('image/*', config.region, '')],
        conditions: { StringEquals: { 'ec2:Owner': 'amazon' } },
      }),
      new iam.PolicyStatement({
        sid: 'LaunchOutsideTheAppVpc',
        actions: ['ec2:RunInstances'],
        resources: [ec2('network-interface/*'), ec2('subnet/*'), ec2('security-group/*')],
        conditions: notTheAppVpc,
      }),
      new iam.PolicyStatement({
        sid: 'LaunchWithTemporaryKeyPair',
        actions: ['ec2:RunInstances'],
        resources: [ec2('key-pair/packer_*')],
      }),
      // Tags only as part of creating the resource: never added to an existing instance or volume.
      new iam.PolicyStatement({
        sid: 'TagOnCreate',
        actions: ['ec2:CreateTags'],
        resources: [ec2('instance/*'), ec2('volume/*'), ec2('network-interface/*'), ec2('security-group/*'), ec2('key-pair/packer_*')],
        conditions: { StringEquals: { 'ec2:CreateAction': ['RunInstances', 'CreateSecurityGroup', 'CreateKeyPair'] } },
      }),
      // Packer tags the new AMI and its snapshots after CreateImage; tags on images grant nothing here.
      new iam.PolicyStatement({
        sid: 'TagBuildImages',
        actions: ['ec2:CreateTags'],
        resources: [ec2('image/*', config.region, ''), ec2('snapshot/*', config.region, '')],
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
      // Whatever else allows it: nothing that carries the data host's tag, and never that tag.
      new iam.PolicyStatement({
        sid: 'NeverTheDataHost',
        effect: iam.Effect.DENY,
        actions: ['ec2:CreateTags', 'ec2:DeleteTags', 'ec2:CreateImage', 'ec2:StopInstances', 'ec2:TerminateInstances', 'ec2:ModifyInstanceAttribute',
          'ec2:CreateSnapshot', 'ec2:DetachVolume', 'ec2:AttachVolume', 'ec2:DeleteVolume'],
        resources: [ec2('instance/*'), ec2('volume/*')],
        conditions: dataHost,
      }),
      new iam.PolicyStatement({
        sid: 'NeverTheDataHostTag',
        effect: iam.Effect.DENY,
        actions: ['ec2:CreateTags', 'ec2:DeleteTags', 'ec2:RunInstances'],
        resources: ['*'],
        conditions: { 'ForAnyValue:StringEquals': { 'aws:TagKeys': [DATA_HOST_TAG_KEY] } },
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
      // CreateSecurityGroup is authorized on the VPC (ec2:VpcID) and on the new group, whose
      // only condition keys are its tags and id: the VPC condition is on the VPC.
      new iam.PolicyStatement({
        sid: 'TemporarySecurityGroupOutsideTheAppVpc',
        actions: ['ec2:CreateSecurityGroup'],
        resources: [ec2('vpc/*')],
        conditions: { Null: { 'ec2:VpcID': 'false' }, StringNotEquals: { 'ec2:VpcID': protectedVpcId } },
      }),
      new iam.PolicyStatement({ sid: 'TemporarySecurityGroup', actions: ['ec2:CreateSecurityGroup'], resources: [ec2('security-group/*')] }),
      new iam.PolicyStatement({
        sid: 'OnlyOutsideTheAppVpc',
        actions: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:DeleteSecurityGroup'],
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

/**
 * A document name of this account (SSM: 3-128 letters, digits, `_`, `-`, `.`), never one of
 * AWS's (`AWS-*`, `Amazon*`): those include AWS-RunShellScript, which runs any shell.
 */
function validateDeployDocumentName(name: string): void {
  if (Token.isUnresolved(name) || !/^[a-zA-Z0-9_.-]{3,128}$/.test(name) || /^(aws-|amazon)/i.test(name)) {
    throw new Error(`deployApiDocumentName "${name}" must be the plain name of this account's parameterless deploy document `
      + '(e.g. the host\'s deployApiCommand.documentName), not a token and not an AWS-owned document such as AWS-RunShellScript.');
  }
}
