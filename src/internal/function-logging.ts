import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** A Lambda execution role and log group with nothing but the right to write that log group. */
export interface FunctionLogging {
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
}

/**
 * Creates the role and log group for one Lambda function. The AWS-managed
 * AWSLambdaBasicExecutionRole would let the function write any log group in the account;
 * this role may only write its own, which also has a retention period.
 */
export function functionLogging(scope: Construct, id: string, retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS): FunctionLogging {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention, removalPolicy: RemovalPolicy.DESTROY });
  const role = new iam.Role(scope, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    // The log group's ARN attribute ends in ":*", which covers its streams and nothing else.
    resources: [logGroup.logGroupArn],
  }));
  return { role, logGroup };
}
