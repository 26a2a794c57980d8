// The production account as the policy tests see it: the synthesized zmanim app (default
// config, single host) plus the CDK bootstrap stacks its README tells you to create.
import { App } from 'aws-cdk-lib';
import { AccountModel, bootstrapTemplate } from './iam-model';
import { InstanceModel, Reachability } from './reach';
import { DEFAULT_CONFIG, validateConfig } from '../../src/zmanim/config';
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
  /** ARN of the host's parameterless deploy document (GravitonDataHost.deployApiCommand). */
  readonly deployDocument: string;
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

  for (const stack of assembly.stacks) {
    for (const [id, r] of Object.entries<any>(stack.template.Resources ?? {})) {
      if (r.Type !== 'AWS::SSM::Document' || r.Properties.DocumentType !== 'Command') continue;
      reach.documents.push({ arn: model.arn(stack.stackName, id), hasParameters: Object.keys(r.Properties.Content?.parameters ?? {}).length > 0 });
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

  const deployDocument = Object.keys(compute.Resources).find((id) => compute.Resources[id].Type === 'AWS::SSM::Document'
    && String(compute.Resources[id].Properties.Name).endsWith('-deploy-api'));
  if (!deployDocument) throw new Error('no deploy document in ZmanimProdCompute');
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
    deployDocument: model.arn('ZmanimProdCompute', deployDocument),
    backupBucket: model.arn('ZmanimProdCompute', backups).split(':::')[1],
    originVerifyStore: model.arn('ZmanimProdApi', store),
    originVerifyFunction: model.arn('ZmanimProdApi', fn),
    resourceTypes,
  };
}

/** The managed profile's account (API fleet, RDS, ElastiCache): its models and the fleet's deploy document. */
export interface ManagedAccount {
  readonly model: AccountModel;
  readonly reach: Reachability;
  /** The instance role of the API fleet. */
  readonly fleetRoleArn: string;
  /** ARN of the fleet's parameterless deploy document. */
  readonly deployDocument: string;
  /** A fleet instance as the Auto Scaling group launches it (with the group's propagated tags). */
  readonly fleetInstance: InstanceModel;
}

export function managedAccount(): ManagedAccount {
  const app = new App();
  createZmanimStacks(app, validateConfig({ ...DEFAULT_CONFIG, account: ACCOUNT, capacityProfile: 'managed' }));
  const assembly = app.synth();
  const model = new AccountModel(ACCOUNT);
  for (const stack of assembly.stacks) model.addStack({ stackName: stack.stackName, region: stack.environment.region, template: stack.template });
  const reach = new Reachability(model, REGIONS);
  const fleet = assembly.getStackByName('ZmanimProdApiFleet').template;
  const find = (type: string, name?: RegExp) => {
    const found = Object.keys(fleet.Resources).find((id) => fleet.Resources[id].Type === type && (!name || name.test(id)));
    if (!found) throw new Error(`no ${type} in ZmanimProdApiFleet`);
    return found;
  };
  for (const [id, r] of Object.entries<any>(fleet.Resources)) {
    if (r.Type === 'AWS::SSM::Document') reach.documents.push({ arn: model.arn('ZmanimProdApiFleet', id), hasParameters: Object.keys(r.Properties.Content?.parameters ?? {}).length > 0 });
  }
  const fleetRoleArn = model.arn('ZmanimProdApiFleet', find('AWS::IAM::Role', /^InstanceRole/));
  const asg = fleet.Resources[find('AWS::AutoScaling::AutoScalingGroup')];
  const fleetInstance: InstanceModel = {
    arn: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/i-0f1ee7f1ee7f1ee70`,
    tags: Object.fromEntries(asg.Properties.Tags.filter((t: any) => t.PropagateAtLaunch).map((t: any) => [t.Key, t.Value])),
    roleArn: fleetRoleArn,
  };
  reach.instances.push(fleetInstance);
  return { model, reach, fleetRoleArn, deployDocument: model.arn('ZmanimProdApiFleet', find('AWS::SSM::Document', /^DeployApiDocument/)), fleetInstance };
}
