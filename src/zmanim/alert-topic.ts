import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface AlertTopicProps {
  readonly emails: string[];
  readonly displayName: string;
}

/**
 * An SNS topic for alarms: encrypted with a key CloudWatch may use (the AWS-managed
 * `aws/sns` key does not let CloudWatch publish), TLS-only, with email subscriptions.
 */
export class AlertTopic extends Construct {
  public readonly topic: sns.ITopic;

  constructor(scope: Construct, id: string, props: AlertTopicProps) {
    super(scope, id);
    const key = new kms.Key(this, 'Key', {
      description: `Encrypts ${props.displayName} notifications`,
      enableKeyRotation: true,
    });
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new sns.Topic(this, 'Topic', {
      displayName: props.displayName,
      masterKey: key,
      enforceSSL: true,
    });
    topic.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    for (const email of props.emails) {
      topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    this.topic = topic;
  }
}
