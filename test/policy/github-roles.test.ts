// Per GitHub OIDC role: what it must be able to do, and what no role it can reach (through
// the CDK bootstrap roles, passed roles, stacks it can update, roles it can create, hosts it
// can run commands on) may do. Evaluated with @cloud-copilot/iam-simulate on the synthesized
// policies and the installed aws-cdk CLI's bootstrap template.
import { RoleModel } from './iam-model';
import { ACCOUNT, INTEG_ACCOUNT, managedAccount, productionAccount, ProductionAccount, REGION, REGIONS } from './policy-model';
import { Edge, isAdministrator, reachPath, SHELL_DOCUMENTS, statements } from './reach';
import { DEFAULT_CONFIG } from '../../src/zmanim/config';
import { AMI_BUILD_TAG, GITHUB_ENVIRONMENTS, siteDeployNames } from '../../src/zmanim/stacks/github-oidc-stack';

jest.setTimeout(240_000);

const ROLE = {
  infrastructure: 'zmanim-prod-github-infrastructure-deploy',
  pullRequest: 'zmanim-prod-github-pr-diff',
  frontend: 'zmanim-prod-github-frontend-deploy',
  backend: 'zmanim-prod-github-backend-deploy',
  ami: 'zmanim-prod-github-ami-build',
  integ: 'zmanim-prod-github-integ-test',
} as const;

let account: ProductionAccount;
const reached = new Map<string, Map<string, Edge | undefined>>();

beforeAll(async () => {
  account = productionAccount(INTEG_ACCOUNT);
  for (const name of Object.values(ROLE)) {
    if (name === ROLE.infrastructure) continue; // its purpose is the whole app: it reaches the execution role
    reached.set(name, await account.reach.from(account.model.role(name)));
  }
});

/** The roles reachable from a GitHub role (itself included), as models. */
function reachable(name: string): RoleModel[] {
  return [...reached.get(name)!.keys()].map((arn) => account.model.roles.get(arn) ?? syntheticOf(name, arn));
}

function syntheticOf(name: string, arn: string): RoleModel {
  const created = account.reach.synthetic.get(arn);
  if (!created) throw new Error(`${name} reached ${arn}, which is in no model`);
  return created;
}

/** Which reachable role allows the request, with the path to it; undefined if none. */
async function whoCan(name: string, action: string, resource: string, context: Record<string, string | string[]> = {}): Promise<string | undefined> {
  for (const role of reachable(name)) {
    if (await account.model.decide(role, action, resource, context) === 'Allowed') {
      return `${reachPath(reached.get(name)!, role.arn)} may ${action} on ${resource}`;
    }
  }
  return undefined;
}

const githubRolesButInfrastructure = Object.entries(ROLE).filter(([, name]) => name !== ROLE.infrastructure);

describe('trust: GitHub OIDC only, exact subject and audience', () => {
  const infra = DEFAULT_CONFIG.github.infrastructureRepository;
  const expected: Record<string, string | string[]> = {
    [ROLE.infrastructure]: `repo:${infra}:environment:${GITHUB_ENVIRONMENTS.infrastructure}`,
    // Pull requests, and the read-only diff jobs of the deploy workflows.
    [ROLE.pullRequest]: [`repo:${infra}:pull_request`, `repo:${infra}:environment:${GITHUB_ENVIRONMENTS.diff}`],
    [ROLE.frontend]: `repo:${infra}:environment:${GITHUB_ENVIRONMENTS.frontend}`,
    [ROLE.backend]: `repo:${infra}:environment:${GITHUB_ENVIRONMENTS.backend}`,
    [ROLE.ami]: `repo:${infra}:environment:${GITHUB_ENVIRONMENTS.ami}`,
    [ROLE.integ]: `repo:${infra}:environment:${GITHUB_ENVIRONMENTS.integ}`,
  };
  test.each(Object.entries(expected))('%s trusts only %s', (name, sub: string | string[]) => {
    // iam-data has no token.actions.githubusercontent.com keys: the conditions are checked here.
    const trust = statements(account.model.role(name).trust);
    expect(trust).toHaveLength(1);
    const [s] = trust;
    expect(s).toMatchObject({ Effect: 'Allow', Action: 'sts:AssumeRoleWithWebIdentity' });
    expect(String(s.Principal.Federated)).toMatch(/oidc-provider\/token\.actions\.githubusercontent\.com$/);
    expect(s.Condition).toEqual({
      StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com', 'token.actions.githubusercontent.com:sub': sub },
    });
  });
});

describe.each(githubRolesButInfrastructure)('%s role: nothing it can reach exceeds its purpose', (key, name) => {
  test('reaches no administrator and cannot pass one', async () => {
    const admins = [...account.model.roles.values()].filter(isAdministrator);
    expect(admins.length).toBeGreaterThan(0); // the bootstrap execution role: the check below means something
    const reachedAdmins = reachable(name).filter(isAdministrator).map((r) => reachPath(reached.get(name)!, r.arn));
    expect(reachedAdmins).toEqual([]);
    const passes: string[] = [];
    for (const admin of admins) {
      for (const service of ['cloudformation.amazonaws.com', 'lambda.amazonaws.com', 'ec2.amazonaws.com']) {
        const who = await whoCan(name, 'iam:PassRole', admin.arn, { 'iam:PassedToService': service });
        if (who) passes.push(`${who} (to ${service})`);
      }
    }
    expect(passes).toEqual([]);
  });

  test('creates no IAM principal', async () => {
    const unbounded = [...reached.get(name)!.entries()].filter(([, e]) => e?.how === 'iam:CreateRole without boundary').map(([arn]) => arn);
    expect(unbounded).toEqual([]);
    const found: string[] = [];
    const iam = (resource: string) => `arn:aws:iam::${ACCOUNT}:${resource}`;
    for (const [action, resource] of [
      ['iam:CreateUser', iam('user/attacker')],
      ['iam:CreateAccessKey', iam('user/admin')],
      ['iam:CreateLoginProfile', iam('user/admin')],
      ['iam:UpdateAssumeRolePolicy', iam(`role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`)],
      ['iam:AttachRolePolicy', iam(`role/${name}`)],
      ['iam:PutRolePolicy', iam(`role/${name}`)],
    ]) {
      const who = await whoCan(name, action, resource);
      if (who) found.push(who);
    }
    expect(found).toEqual([]);
  });

  test('cannot read another application\'s parameters', async () => {
    const found: string[] = [];
    for (const action of ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath', 'ssm:GetParameterHistory']) {
      const resource = action === 'ssm:GetParametersByPath'
        ? `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/otherapp/prod`
        : `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/otherapp/prod/database-password`;
      const who = await whoCan(name, action, resource);
      if (who) found.push(who);
    }
    expect(found).toEqual([]);
  });

  test('cannot delete backup versions or change the backup bucket\'s rules', async () => {
    const found: string[] = [];
    const bucket = `arn:aws:s3:::${account.backupBucket}`;
    for (const [action, resource] of [
      ['s3:DeleteObjectVersion', `${bucket}/data/snapshots/abc`],
      ['s3:PutLifecycleConfiguration', bucket],
      ['s3:PutBucketVersioning', bucket],
      ['s3:PutBucketPolicy', bucket],
      ['s3:DeleteBucket', bucket],
    ]) {
      const who = await whoCan(name, action, resource);
      if (who) found.push(who);
    }
    expect(found).toEqual([]);
  });

  test('cannot overwrite what the host boots (the CDK file assets), read the origin-verify value or change the code that adds it', async () => {
    const found: string[] = [];
    for (const region of REGIONS) {
      const who = await whoCan(name, 's3:PutObject', `arn:aws:s3:::cdk-hnb659fds-assets-${ACCOUNT}-${region}/host-scripts.zip`);
      if (who) found.push(who);
    }
    for (const action of ['cloudfront-keyvaluestore:GetKey', 'cloudfront-keyvaluestore:ListKeys', 'cloudfront:DeleteKeyValueStore', 'cloudfront:UpdateKeyValueStore']) {
      const who = await whoCan(name, action, account.originVerifyStore);
      if (who) found.push(who);
    }
    // The API's CloudFront Function adds the origin-verify header: new code could return it to viewers.
    for (const action of ['cloudfront:UpdateFunction', 'cloudfront:PublishFunction']) {
      const who = await whoCan(name, action, account.originVerifyFunction);
      if (who) found.push(who);
    }
    expect(found).toEqual([]);
  });

  test('cannot run commands of its choosing on the data host (no shell document, none it can write)', async () => {
    const runners = [];
    for (const role of reachable(name)) {
      for (const doc of await account.reach.sendableDocuments(role, account.dataHost)) {
        if (doc.arbitrary) runners.push(`${reachPath(reached.get(name)!, role.arn)} may send ${doc.arn} (${doc.why})`);
      }
    }
    expect(runners).toEqual([]);
  });

  test('cannot image, tag, stop, terminate or rewrite the data host', async () => {
    const host = account.dataHost;
    const resourceTags = Object.fromEntries(Object.entries(host.tags).map(([k, v]) => [`aws:ResourceTag/${k}`, v]));
    const found: string[] = [];
    for (const [action, context] of [
      ['ec2:CreateImage', resourceTags],
      ['ec2:StopInstances', resourceTags],
      ['ec2:TerminateInstances', resourceTags],
      ['ec2:ModifyInstanceAttribute', resourceTags],
      ['ec2:CreateTags', { ...resourceTags, [`aws:RequestTag/${AMI_BUILD_TAG.key}`]: AMI_BUILD_TAG.value, 'aws:TagKeys': [AMI_BUILD_TAG.key] }],
      ['ec2:DeleteTags', { ...resourceTags, 'aws:TagKeys': ['shtetl:data-host'] }],
    ] as Array<[string, Record<string, string | string[]>]>) {
      const who = await whoCan(name, action, host.arn, context);
      if (who) found.push(who);
    }
    expect(found).toEqual([]);
  });

  if (key !== 'ami') {
    test('cannot choose the AMI the host boots', async () => {
      expect(await whoCan(name, 'ssm:PutParameter', `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${DEFAULT_CONFIG.ssmPrefix}/ami-id`)).toBeUndefined();
    });
  }
});

function resourceType(stackName: string, logicalId: string): string | undefined {
  return account.resourceTypes.get(`${stackName}/${logicalId}`);
}

/** The app VPC's id as the model resolves it (a placeholder name for the Network stack's VPC). */
async function appVpcId(): Promise<string> {
  const arn = [...account.model.resourceArns.entries()].find(([k]) => /^ZmanimProdNetwork\/Vpc[0-9A-F]{8}$/.test(k));
  if (!arn) throw new Error('no VPC in ZmanimProdNetwork');
  return arn[1].split(':').pop()!;
}

describe('what each role is for', () => {
  test('infrastructure: assumes the bootstrap deploy and publishing roles of both regions', async () => {
    const infra = account.model.role(ROLE.infrastructure);
    for (const region of REGIONS) {
      for (const bootstrap of ['deploy', 'file-publishing']) {
        const target = account.model.role(`cdk-hnb659fds-${bootstrap}-role-${ACCOUNT}-${region}`);
        expect(await account.model.decide(infra, 'sts:AssumeRole', target.arn, {}, target.trust)).toBe('Allowed');
      }
    }
  });

  test('backend: uploads the API release and sends the host only its deploy document, no shell; reaches no other role', async () => {
    const backend = account.model.role(ROLE.backend);
    const sendable = await account.reach.sendableDocuments(backend, account.dataHost);
    expect(sendable).toEqual([{ arn: account.deployDocument, arbitrary: false }]);
    expect(await account.reach.canRunCommand(backend, account.dataHost)).toBe(false);
    // Not another of the account's documents (the host's refresh, the backups'), not on another app's instance.
    const others = account.reach.documents.filter((d) => d.arn !== account.deployDocument);
    expect(others.length).toBeGreaterThan(0);
    for (const doc of others) expect([doc.arn, await account.model.decide(backend, 'ssm:SendCommand', doc.arn)]).toEqual([doc.arn, expect.not.stringMatching(/^Allowed$/)]);
    const otherInstance = { ...account.dataHost, arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0123456789abcdef0`, tags: { project: 'other' } };
    expect(await account.reach.sendableDocuments(backend, otherInstance)).toEqual([]);
    // Without a shell the host's instance role is out of reach (the API it deploys runs without its credentials).
    expect([...reached.get(ROLE.backend)!.keys()]).toEqual([backend.arn]);
    const releaseBucket = [...account.model.resourceArns.entries()].find(([k]) => /^ZmanimProdCompute\/ReleaseBucket[0-9A-F]{8}$/.test(k))![1];
    expect(await account.model.decide(backend, 's3:PutObject', `${releaseBucket}/api/current/api-linux-arm64`)).toBe('Allowed');
  });

  test('the model counts every way to run commands of one\'s choosing (so the checks above can fail)', async () => {
    const host = account.dataHost;
    const role = (name: string, allow: object[]): RoleModel => ({
      arn: `arn:aws:iam::${ACCOUNT}:role/${name}`,
      name,
      source: 'created',
      trust: { Statement: [] },
      policies: [{ name: 'p', policy: { Version: '2012-10-17', Statement: allow } as any }],
    });
    const onHost = { Effect: 'Allow', Action: 'ssm:SendCommand', Resource: host.arn };
    for (const doc of SHELL_DOCUMENTS) {
      const r = role(`send-${doc}`, [onHost, { Effect: 'Allow', Action: 'ssm:SendCommand', Resource: `arn:aws:ssm:${REGION}::document/${doc}` }]);
      expect([doc, await account.reach.canRunCommand(r, host)]).toEqual([doc, true]);
    }
    const deployOnly = role('deploy-only', [onHost, { Effect: 'Allow', Action: 'ssm:SendCommand', Resource: account.deployDocument }]);
    expect(await account.reach.canRunCommand(deployOnly, host)).toBe(false);
    const rewrites = role('rewrites', [onHost, { Effect: 'Allow', Action: ['ssm:SendCommand', 'ssm:UpdateDocument', 'ssm:UpdateDocumentDefaultVersion'], Resource: account.deployDocument }]);
    expect(await account.reach.canRunCommand(rewrites, host)).toBe(true);
    const creates = role('creates', [onHost, { Effect: 'Allow', Action: ['ssm:SendCommand', 'ssm:CreateDocument'], Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:document/*` }]);
    expect(await account.reach.canRunCommand(creates, host)).toBe(true);
    const anyDocument = role('any-document', [{ Effect: 'Allow', Action: 'ssm:SendCommand', Resource: '*' }]);
    expect(await account.reach.canRunCommand(anyDocument, host)).toBe(true);
  });

  test('AMI build: launches, images and terminates only tagged build instances, from Amazon images', async () => {
    const ami = account.model.role(ROLE.ami);
    const m = account.model;
    const ec2 = (resource: string, acct = ACCOUNT) => `arn:aws:ec2:${REGION}:${acct}:${resource}`;
    const build = { [`aws:RequestTag/${AMI_BUILD_TAG.key}`]: AMI_BUILD_TAG.value, 'aws:TagKeys': [AMI_BUILD_TAG.key] };
    expect(await m.decide(ami, 'ec2:RunInstances', ec2('instance/*'), build)).toBe('Allowed');
    expect(await m.decide(ami, 'ec2:RunInstances', ec2('instance/*'))).not.toBe('Allowed');
    const tagged = { [`aws:ResourceTag/${AMI_BUILD_TAG.key}`]: AMI_BUILD_TAG.value };
    expect(await m.decide(ami, 'ec2:CreateImage', ec2('instance/i-0aaaaaaaaaaaaaaaa'), tagged)).toBe('Allowed');
    expect(await m.decide(ami, 'ec2:TerminateInstances', ec2('instance/i-0aaaaaaaaaaaaaaaa'), tagged)).toBe('Allowed');
    // Tags only when launching: never added to an existing instance.
    expect(await m.decide(ami, 'ec2:CreateTags', ec2('instance/i-0aaaaaaaaaaaaaaaa'), { ...build, 'ec2:CreateAction': 'RunInstances' })).toBe('Allowed');
    expect(await m.decide(ami, 'ec2:CreateTags', ec2('instance/i-0aaaaaaaaaaaaaaaa'), build)).not.toBe('Allowed');
    // Launch from Amazon's images only (a public image of anyone else could be anything).
    expect(await m.decide(ami, 'ec2:RunInstances', ec2('image/ami-0123456789abcdef0', ''), { 'ec2:Owner': 'amazon' })).toBe('Allowed');
    expect(await m.decide(ami, 'ec2:RunInstances', ec2('image/ami-0123456789abcdef0', ''), { 'ec2:Owner': '999999999999' })).not.toBe('Allowed');
  });

  test('AMI build: Packer\'s temporary security group, outside the app VPC only', async () => {
    const ami = account.model.role(ROLE.ami);
    const m = account.model;
    const ec2 = (resource: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:${resource}`;
    const defaultVpc = ec2('vpc/vpc-0defa17defa17defa');
    // CreateSecurityGroup authorizes the VPC and the new group; ec2:Vpc applies to the group.
    expect(await m.decide(ami, 'ec2:CreateSecurityGroup', defaultVpc, { 'ec2:VpcID': 'vpc-0defa17defa17defa' })).toBe('Allowed');
    // The new group's resource has no ec2:Vpc key: a statement conditioned on it never grants.
    expect(await m.decide(ami, 'ec2:CreateSecurityGroup', ec2('security-group/*'))).toBe('Allowed');
    const appVpc = (await appVpcId());
    expect(await m.decide(ami, 'ec2:CreateSecurityGroup', ec2(`vpc/${appVpc}`), { 'ec2:VpcID': appVpc })).not.toBe('Allowed');
    expect(await m.decide(ami, 'ec2:AuthorizeSecurityGroupIngress', ec2('security-group/sg-0123456789abcdef0'), { 'ec2:Vpc': ec2(`vpc/${appVpc}`) })).not.toBe('Allowed');
    expect(await m.decide(ami, 'ec2:AuthorizeSecurityGroupIngress', ec2('security-group/sg-0123456789abcdef0'), { 'ec2:Vpc': defaultVpc })).toBe('Allowed');
  });

  test('pull request: reads the app\'s templates, assumes no bootstrap role', async () => {
    const pr = account.model.role(ROLE.pullRequest);
    const stack = (name: string) => `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${name}/00000000-0000-0000-0000-000000000000`;
    expect(await account.model.decide(pr, 'cloudformation:GetTemplate', stack('ZmanimProdCompute'))).toBe('Allowed');
    expect(await account.model.decide(pr, 'cloudformation:GetTemplate', stack('OtherAppProd'))).not.toBe('Allowed');
    expect([...reached.get(ROLE.pullRequest)!.keys()]).toEqual([pr.arn]);
  });

  test('integ: reaches no role of the production account, only the test account\'s bootstrap roles', async () => {
    const integ = account.model.role(ROLE.integ);
    expect([...reached.get(ROLE.integ)!.keys()]).toEqual([integ.arn]);
    const testDeployRole = `arn:aws:iam::${INTEG_ACCOUNT}:role/cdk-hnb659fds-deploy-role-${INTEG_ACCOUNT}-us-east-1`;
    // The test account's bootstrap roles trust this account (`cdk bootstrap --trust`).
    const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
    expect(await account.model.decide(integ, 'sts:AssumeRole', testDeployRole, {}, trust)).toBe('Allowed');
  });

  test('integ: without a test account, no integ role reaches the production account\'s deploy roles', async () => {
    const bare = productionAccount(undefined);
    const integ = bare.model.roles.get(`arn:aws:iam::${ACCOUNT}:role/${ROLE.integ}`);
    const reachedWithout = integ ? [...(await bare.reach.from(integ)).keys()] : [];
    expect(reachedWithout.filter((arn) => arn.includes(':role/cdk-'))).toEqual([]);
  });

  test('frontend: deploys the site stack with the site roles only, and only with the site execution role', async () => {
    const n = siteDeployNames(DEFAULT_CONFIG, ACCOUNT);
    const m = account.model;
    const reachedArns = [...reached.get(ROLE.frontend)!.keys()];
    const iam = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
    expect(reachedArns).toEqual(expect.arrayContaining([iam(n.deployRole), iam(n.publishingRole), iam(n.executionRole)]));
    expect(reachedArns.filter((arn) => arn.includes(':role/cdk-'))).toEqual([]);
    const deploy = m.role(n.deployRole);
    const stack = (name: string) => `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${name}/00000000-0000-0000-0000-000000000000`;
    const defaultExec = iam(`cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`);
    expect(await m.decide(deploy, 'cloudformation:CreateChangeSet', stack(n.stackName), { 'cloudformation:RoleArn': iam(n.executionRole) })).toBe('Allowed');
    expect(await m.decide(deploy, 'cloudformation:ExecuteChangeSet', stack(n.stackName))).toBe('Allowed');
    expect(await m.decide(deploy, 'cloudformation:CreateChangeSet', stack(n.stackName), { 'cloudformation:RoleArn': defaultExec })).not.toBe('Allowed');
    expect(await m.decide(deploy, 'cloudformation:CreateChangeSet', stack(n.stackName))).not.toBe('Allowed');
    expect(await m.decide(deploy, 'cloudformation:CreateChangeSet', stack('ZmanimProdCompute'), { 'cloudformation:RoleArn': iam(n.executionRole) })).not.toBe('Allowed');
    const publishing = m.role(n.publishingRole);
    expect(await m.decide(publishing, 's3:PutObject', `arn:aws:s3:::${n.stagingBucket}/assets/site.zip`)).toBe('Allowed');
  });

  test('frontend: the site execution role can create every resource of the synthesized site stack', async () => {
    const n = siteDeployNames(DEFAULT_CONFIG, ACCOUNT);
    const m = account.model;
    const exec = m.role(n.executionRole);
    const boundary = `arn:aws:iam::${ACCOUNT}:policy/${n.boundaryPolicy}`;
    const creates: Record<string, [string, Record<string, string>?]> = {
      'AWS::IAM::Role': ['iam:CreateRole', { 'iam:PermissionsBoundary': boundary }],
      'AWS::Lambda::Function': ['lambda:CreateFunction'],
      'AWS::S3::Bucket': ['s3:CreateBucket'],
      'AWS::SQS::Queue': ['sqs:CreateQueue'],
      'AWS::DynamoDB::Table': ['dynamodb:CreateTable'],
      'AWS::Logs::LogGroup': ['logs:CreateLogGroup'],
      'AWS::Events::Rule': ['events:PutRule'],
    };
    const checked: string[] = [];
    const refused: string[] = [];
    for (const [key, arn] of m.resourceArns) {
      const [stackName, logicalId] = key.split('/');
      if (stackName !== n.stackName) continue;
      const type = Object.entries(creates).find(([t]) => arn && resourceType(stackName, logicalId) === t);
      if (!type) continue;
      const [action, context] = type[1];
      checked.push(`${type[0]} ${logicalId}`);
      if (await m.decide(exec, action, arn, context ?? {}) !== 'Allowed') refused.push(`${action} on ${arn}`);
    }
    expect(checked.length).toBeGreaterThan(20);
    expect(refused).toEqual([]);
    // Roles without the site boundary, and anything outside the site's name, are refused.
    expect(await m.decide(exec, 'iam:CreateRole', `arn:aws:iam::${ACCOUNT}:role/${n.stackName}-Anything`)).not.toBe('Allowed');
    expect(await m.decide(exec, 'lambda:CreateFunction', `arn:aws:lambda:${REGION}:${ACCOUNT}:function:ZmanimProdApi-Authorizer`)).not.toBe('Allowed');
  });
});

describe('instance roles read their own parameters only (no AmazonSSMManagedInstanceCore)', () => {
  const parameter = (path: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${path}`;
  const others = [
    ['ssm:GetParameter', parameter('/otherapp/prod/database-password')],
    ['ssm:GetParameters', parameter('/otherapp/prod/database-password')],
    ['ssm:GetParameterHistory', parameter('/otherapp/prod/database-password')],
    ['ssm:GetParametersByPath', parameter('/otherapp/prod')],
    ['ssm:GetParametersByPath', parameter(DEFAULT_CONFIG.ssmPrefix)],
  ] as const;

  test('the data host\'s role: its secrets, nothing of another application', async () => {
    const host = account.model.role(account.dataHost.roleArn);
    expect(await account.model.decide(host, 'ssm:GetParameter', parameter(`${DEFAULT_CONFIG.ssmPrefix}/postgres-password`))).toBe('Allowed');
    const found: string[] = [];
    for (const [action, resource] of others) {
      if (await account.model.decide(host, action, resource) === 'Allowed') found.push(`${action} on ${resource}`);
    }
    expect(found).toEqual([]);
    expect(host.policies.map((p) => p.name).join(' ')).not.toMatch(/AmazonSSMManagedInstanceCore/);
  });

  describe('managed profile', () => {
    let managed: ReturnType<typeof managedAccount>;
    beforeAll(() => { managed = managedAccount(); });

    test('the API fleet\'s role: its secrets, nothing of another application', async () => {
      const fleet = managed.model.role(managed.fleetRoleArn);
      expect(await managed.model.decide(fleet, 'ssm:GetParameter', parameter(`${DEFAULT_CONFIG.ssmPrefix}/postgres-password`))).toBe('Allowed');
      const found: string[] = [];
      for (const [action, resource] of others) {
        if (await managed.model.decide(fleet, action, resource) === 'Allowed') found.push(`${action} on ${resource}`);
      }
      expect(found).toEqual([]);
    });

    test('backend: sends the fleet\'s instances only their deploy document, no shell; reaches no other role', async () => {
      const backend = managed.model.role(ROLE.backend);
      expect(await managed.reach.sendableDocuments(backend, managed.fleetInstance)).toEqual([{ arn: managed.deployDocument, arbitrary: false }]);
      expect([...(await managed.reach.from(backend)).keys()]).toEqual([backend.arn]);
    });
  });
});
