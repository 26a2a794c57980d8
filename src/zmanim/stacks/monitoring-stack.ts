import { Stack, StackProps } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { ZmanimConfig } from '../config';
import { AlertTopic } from '../alert-topic';

export interface MonitoringStackProps extends StackProps {
  readonly config: ZmanimConfig;
}

/** The regional alarm topic every construct's alarms notify (and, later, the dashboard). */
export class MonitoringStack extends Stack {
  public readonly alarmTopic: sns.ITopic;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    this.alarmTopic = new AlertTopic(this, 'Alerts', {
      emails: props.config.alertEmails,
      displayName: `zmanim ${props.config.environment} alarms`,
    }).topic;
  }
}
