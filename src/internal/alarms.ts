import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';

/**
 * Sends each alarm's ALARM and OK transitions to the topic, so whoever is paged also learns
 * when it recovered. Without a topic the alarms stay without actions (a construct whose
 * `alarmTopic` is optional).
 */
export function notifyAlarmAndOk(topic: sns.ITopic | undefined, ...alarms: cloudwatch.AlarmBase[]): void {
  if (!topic) return;
  const action = new cloudwatchActions.SnsAction(topic);
  for (const alarm of alarms) {
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
  }
}
