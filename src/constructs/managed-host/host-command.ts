import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/**
 * Properties of {@link HostCommand}.
 */
export interface HostCommandProps {
  /** The name of the parameterless SSM Command document that performs the action. */
  readonly documentName: string;

  /** The instance the command may run on. */
  readonly instanceId: string;

  /**
   * What the command does (for people reading grants and outputs).
   *
   * @default - none
   */
  readonly description?: string;
}

/**
 * One fixed action on one host: an SSM Command document without parameters, bound to one
 * instance. A principal granted it can run exactly this action there (`aws ssm send-command
 * --document-name <documentName> --instance-ids <instanceId>`), never arbitrary shell.
 */
export class HostCommand {
  /** The SSM Command document. */
  public readonly documentName: string;
  /** The ARN of the SSM Command document. */
  public readonly documentArn: string;
  /** The instance the command runs on. */
  public readonly instanceId: string;
  /** The ARN of that instance. */
  public readonly instanceArn: string;
  /** What the command does. */
  public readonly description: string;

  /**
   * @param scope a construct in the stack whose account and region the document and instance are in
   */
  constructor(scope: Construct, props: HostCommandProps) {
    const stack = Stack.of(scope);
    this.documentName = props.documentName;
    this.instanceId = props.instanceId;
    this.description = props.description ?? '';
    this.documentArn = stack.formatArn({ service: 'ssm', resource: 'document', resourceName: props.documentName });
    this.instanceArn = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: props.instanceId });
  }

  /**
   * Lets a principal run this command on this instance (and read the results of its
   * commands). `ssm:SendCommand` is allowed on this document and this instance only.
   */
  public grantRun(grantee: iam.IGrantable): iam.Grant {
    const send = iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:SendCommand'],
      resourceArns: [this.documentArn, this.instanceArn],
    });
    // These two have no resource-level permissions; they only read command status and output.
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:GetCommandInvocation', 'ssm:ListCommandInvocations'],
      resourceArns: ['*'],
    });
    return send;
  }

  /** The AWS CLI line that runs the command (for outputs and runbooks). */
  public cliCommand(region: string): string {
    return `aws ssm send-command --region ${region} --document-name ${this.documentName} --instance-ids ${this.instanceId}`;
  }
}
