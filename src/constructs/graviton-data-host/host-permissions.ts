import { Stack, Token } from 'aws-cdk-lib';
import * as dlm from 'aws-cdk-lib/aws-dlm';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { suppressNag } from '../../internal/nag';

/** What the instance role may touch besides its secrets and assets. */
export interface HostPermissions {
  /** The value of the `shtetl:data-host` tag on this host's instances and volume. */
  readonly hostTag: string;
  readonly dataVolume: ec2.IVolume;
  readonly metricsNamespace: string;
  readonly logGroups: { [name: string]: logs.ILogGroup };
  readonly releaseBucket?: s3.IBucket;
  readonly releaseKey: string;
}

/**
 * The instance role's own permissions: take the data volume over (stop the predecessor,
 * detach, attach; tagged instances only), signal CloudFormation, write its metrics and logs,
 * read its release.
 */
export function grantHostPermissions(role: iam.IRole, stack: Stack, p: HostPermissions): void {
  const taggedInstances = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
  const tagged = { StringEquals: { 'aws:ResourceTag/shtetl:data-host': p.hostTag } };
  // Attach and detach this volume only, to and from this host's instances only.
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['ec2:AttachVolume', 'ec2:DetachVolume'],
    resources: [stack.formatArn({ service: 'ec2', resource: 'volume', resourceName: p.dataVolume.volumeId })],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['ec2:AttachVolume', 'ec2:DetachVolume', 'ec2:StopInstances'],
    resources: [taggedInstances],
    conditions: tagged,
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    // Describe calls have no resource-level permissions.
    actions: ['ec2:DescribeVolumes', 'ec2:DescribeInstances'],
    resources: ['*'],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['cloudformation:SignalResource'],
    resources: [stack.stackId],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['cloudwatch:PutMetricData'],
    resources: ['*'],
    conditions: { StringEquals: { 'cloudwatch:namespace': p.metricsNamespace } },
  }));
  for (const group of Object.values(p.logGroups)) {
    group.grantWrite(role);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:DescribeLogStreams'], resources: [group.logGroupArn] }));
  }
  if (p.releaseBucket) {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [p.releaseBucket.arnForObjects(p.releaseKey)] }));
    p.releaseBucket.encryptionKey?.grantDecrypt(role);
  }
}

/** Daily Data Lifecycle Manager snapshots of the volumes tagged `shtetl:data-volume=<hostTag>`. */
export function addDataVolumeSnapshots(scope: Construct, hostTag: string, retention: number): void {
  const role = new iam.Role(scope, 'SnapshotRole', {
    assumedBy: new iam.ServicePrincipal('dlm.amazonaws.com'),
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSDataLifecycleManagerServiceRole')],
    description: `${scope.node.path}: Data Lifecycle Manager snapshots of the data volume`,
  });
  suppressNag(role, [{
    id: 'AwsSolutions-IAM4',
    reason: 'AWSDataLifecycleManagerServiceRole is the policy AWS maintains for DLM; DLM only acts on the volumes its policy targets (the data-volume tag)',
    appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole'],
  }]);
  new dlm.CfnLifecyclePolicy(scope, 'DailySnapshots', {
    description: 'Daily snapshots of a GravitonDataHost data volume',
    state: 'ENABLED',
    executionRoleArn: role.roleArn,
    policyDetails: {
      resourceTypes: ['VOLUME'],
      targetTags: [{ key: 'shtetl:data-volume', value: hostTag }],
      schedules: [{
        name: `daily-keep-${retention}`,
        createRule: { interval: 24, intervalUnit: 'HOURS', times: ['03:00'] },
        retainRule: { count: retention },
        copyTags: true,
      }],
    },
  });
}

/** The cdk-nag findings the host's design accepts, each with its reason. */
export function suppressHostNagFindings(role: iam.Role, instance: ec2.Instance): void {
  const stack = Stack.of(instance);
  // cdk-nag names pseudo parameters <AWS::Region>; a stack with a concrete env has literals
  // (the partition too, with the feature flag @aws-cdk/core:enablePartitionLiterals).
  const partition = Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  const policy = role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
  if (policy) {
    suppressNag(policy, [{
      id: 'AwsSolutions-IAM5',
      reason: 'ec2:Describe*, the SSM agent\'s ssm:UpdateInstanceInformation, ssmmessages:* and ec2messages:* (Session Manager, Run Command) have no resource-level permissions; PutMetricData is limited to the host namespace by condition; Stop/Attach/Detach on instances are limited by the shtetl:data-host tag condition to this host',
      appliesTo: ['Resource::*', `Resource::arn:${partition}:ec2:${region}:${account}:instance/*`],
    }]);
  }
  if (!(instance.node.defaultChild as ec2.CfnInstance).disableApiTermination) {
    suppressNag(instance, [{
      id: 'AwsSolutions-EC29',
      reason: 'Termination protection is off by default because CloudFormation must delete the old instance after a replacement; the data lives on the retained volume (terminationProtection prop turns it on)',
    }]);
  }
}
