import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { notifyAlarmAndOk } from '../../internal/alarms';
import { AlertTopic } from '../alert-topic';
import { ZmanimConfig } from '../config';

export interface HealthCheckStackProps extends StackProps {
  readonly config: ZmanimConfig;
}

/**
 * The seed's Health Check: Route 53 fetches the public health URL every minute and expects
 * "healthy" in the body. Route 53 publishes health-check metrics in us-east-1 only, so this
 * stack, its alarm and its topic live there.
 */
export class HealthCheckStack extends Stack {
  public readonly healthCheck: route53.HealthCheck;
  public readonly alarm: cloudwatch.Alarm;
  public readonly topic: AlertTopic;

  constructor(scope: Construct, id: string, props: HealthCheckStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.healthCheck = new route53.HealthCheck(this, 'HealthCheck', {
      type: route53.HealthCheckType.HTTPS_STR_MATCH,
      fqdn: config.domain,
      port: 443,
      resourcePath: config.healthCheckPath,
      searchString: config.healthySearchString,
      requestInterval: Duration.seconds(30),
      failureThreshold: 3,
      enableSNI: true,
      measureLatency: true,
    });
    this.topic = new AlertTopic(this, 'Alerts', { emails: config.alertEmails, displayName: `zmanim ${config.environment} health` });
    this.alarm = new cloudwatch.Alarm(this, 'HealthAlarm', {
      alarmName: `zmanim-${config.environment}-health`,
      alarmDescription: `https://${config.domain}${config.healthCheckPath} did not answer "${config.healthySearchString}" from most Route 53 checkers for 2 minutes. Runbook: docs/operations.md, "Troubleshooting" (API not responding).`,
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Route53',
        metricName: 'HealthCheckStatus',
        dimensionsMap: { HealthCheckId: this.healthCheck.healthCheckId },
        period: Duration.minutes(1),
        statistic: 'Minimum',
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    notifyAlarmAndOk(this.topic.topic, this.alarm);
  }
}
