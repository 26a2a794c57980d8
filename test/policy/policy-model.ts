// The production account as the policy tests see it: the synthesized zmanim app (default
// config, single host) plus the CDK bootstrap stacks its README tells you to create.
import { App } from 'aws-cdk-lib';
import { AccountModel, bootstrapTemplate } from './iam-model';
import { InstanceModel, Reachability } from './reach';
import { DEFAULT_CONFIG } from '../../src/zmanim/config';
import { BOOTSTRAP_STACKS, INTEG_ACCOUNT_CONTEXT } from '../../src/zmanim/stacks/github-oidc-stack';
import { createZmanimStacks } from '../../src/zmanim/zmanim-app';
import { appContext } from '../support/app-context';

export const ACCOUNT = '123456789012';
export const REGION = DEFAULT_CONFIG.region;
export const REGIONS = [DEFAULT_CONFIG.region, 'us-east-1'];
/** The separate test account the integ role deploys to (README, one-time setup). */
export const INTEG_ACCOUNT = '210987654321';

export interface ProductionAccount {
  readonly model: AccountModel;
  readonly reach: Reachability;
  /** The data host (the single host of the default profile). */
  readonly dataHost: InstanceModel;
  /** Name of the restic backup bucket. */
  readonly backupBucket: string;
  /** ARN of the CloudFront KeyValueStore holding the origin-verify value. */
  readonly originVerifyStore: string;
  /** ARN of the API's CloudFront Function that adds the origin-verify header. */
  readonly originVerifyFunction: string;
  /** `stackName/logicalId` -> CloudFormation type. */
  readonly resourceTypes: Map<string, string>;
}

/** @param integAccount the test account the README has you name (undefined: none given). */
export function productionAccount(integAccount: string | undefined): ProductionAccount {
  const app = new App({ context: appContext(integAccount ? { [INTEG_ACCOUNT_CONTEXT]: integAccount } : {}) });
  createZmanimStacks(app, { ...DEFAULT_CONFIG, account: ACCOUNT });
  const assembly = app.synth();
  const model = new AccountModel(ACCOUNT);
  // `cdk bootstrap` as the README says, in each region, with each qualifier the project uses.
  for (const bootstrap of BOOTSTRAP_STACKS) {
    for (const region of bootstrap.regions) {
      model.addStack({ stackName: bootstrap.stackName, region, template: bootstrapTemplate(), parameters: bootstrap.parameters(ACCOUNT) });
    }
  }
  const resourceTypes = new Map<string, string>();
  const placeholders = (s: string, region: string) => s.replace(/\$\{AWS::Partition\}/g, 'aws')
    .replace(/\$\{AWS::AccountId\}/g, ACCOUNT).replace(/\$\{AWS::Region\}/g, region);
  for (const stack of assembly.stacks) {
    const region = stack.environment.region;
    model.addStack({ stackName: stack.stackName, region, template: stack.template });
    for (const [id, r] of Object.entries<any>(stack.template.Resources ?? {})) resourceTypes.set(`${stack.stackName}/${id}`, r.Type);
    if (stack.cloudFormationExecutionRoleArn) {
      model.stackRoles.set(stack.stackName, { region, roleArn: placeholders(stack.cloudFormationExecutionRoleArn, region) });
    }
  }
  const reach = new Reachability(model, REGIONS);
  for (const stack of assembly.stacks) {
    for (const [id, r] of Object.entries<any>(stack.template.Resources ?? {})) {
      const role = r.Properties?.Role?.['Fn::GetAtt']?.[0];
      if (r.Type !== 'AWS::Lambda::Function' || !role) continue;
      reach.functions.push({ arn: model.arn(stack.stackName, id), roleArn: model.arn(stack.stackName, role) });
    }
  }

  const compute = assembly.getStackByName('ZmanimProdCompute').template;
  const [hostId, host] = Object.entries<any>(compute.Resources).find(([, r]) => r.Type === 'AWS::EC2::Instance')!;
  const profile = compute.Resources[host.Properties.IamInstanceProfile.Ref];
  const hostRole = model.role(model.arn('ZmanimProdCompute', profile.Properties.Roles[0].Ref));
  const dataHost: InstanceModel = {
    arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0${hostId.slice(0, 16).toLowerCase().replace(/[^0-9a-f]/g, '0')}`,
    tags: Object.fromEntries(host.Properties.Tags.map((t: any) => [t.Key, t.Value])),
    roleArn: hostRole.arn,
  };
  reach.instances.push(dataHost);

  const backups = Object.keys(compute.Resources).find((id) => id.startsWith('BackupsBucket') && compute.Resources[id].Type === 'AWS::S3::Bucket');
  if (!backups) throw new Error('no backup bucket in ZmanimProdCompute');
  const api = assembly.getStackByName('ZmanimProdApi').template;
  const store = Object.keys(api.Resources).find((id) => api.Resources[id].Type === 'AWS::CloudFront::KeyValueStore');
  if (!store) throw new Error('no KeyValueStore in ZmanimProdApi');
  const fn = Object.keys(api.Resources).find((id) => api.Resources[id].Type === 'AWS::CloudFront::Function');
  if (!fn) throw new Error('no CloudFront Function in ZmanimProdApi');
  return {
    model,
    reach,
    dataHost,
    backupBucket: model.arn('ZmanimProdCompute', backups).split(':::')[1],
    originVerifyStore: model.arn('ZmanimProdApi', store),
    originVerifyFunction: model.arn('ZmanimProdApi', fn),
    resourceTypes,
  };
}
