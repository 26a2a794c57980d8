import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * What the SSM agent needs for Session Manager and Run Command, and nothing else. It replaces
 * the AWS managed policy AmazonSSMManagedInstanceCore, which also allows
 * `ssm:GetParameter`/`ssm:GetParameters` on every parameter in the account: an instance role
 * should read exactly its own parameters. None of these actions has resource-level permissions.
 */
export function managedInstanceStatements(): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      actions: ['ssm:UpdateInstanceInformation'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      actions: ['ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      actions: ['ec2messages:AcknowledgeMessage', 'ec2messages:DeleteMessage', 'ec2messages:FailMessage', 'ec2messages:GetEndpoint', 'ec2messages:GetMessages', 'ec2messages:SendReply'],
      resources: ['*'],
    }),
  ];
}
