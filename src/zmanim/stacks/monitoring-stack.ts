import { Arn, ArnFormat, CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct, IConstruct } from 'constructs';
import { GravitonDataHost } from '../../constructs/graviton-data-host';
import { ResticBackups } from '../../constructs/restic-backups';
import { AlertTopic } from '../alert-topic';
import { ZmanimConfig } from '../config';

export interface MonitoringStackProps extends StackProps {
  readonly config: ZmanimConfig;
}

/**
 * The regional alarm topic every construct's alarms notify, and the public URLs (outputs
 * `SiteUrl`, `ApiHealthUrl`, `AlarmTopicArn`; `shtetl-ops health` reads the health URL from
 * cdk.json, context "shtetl-ops").
 */
export class MonitoringStack extends Stack {
  public readonly alarmTopic: sns.ITopic;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.alarmTopic = new AlertTopic(this, 'Alerts', {
      emails: config.alertEmails,
      displayName: `zmanim ${config.environment} alarms`,
    }).topic;
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn, description: 'Every alarm notifies this topic' });
    new CfnOutput(this, 'SiteUrl', { value: `https://${config.domain}`, description: 'The public site' });
    new CfnOutput(this, 'ApiHealthUrl', { value: `https://${config.domain}${config.healthCheckPath}`, description: 'Public health URL (Route 53 checks it; shtetl-ops health)' });
  }
}

/** The region of CloudFront's metrics and of the Route 53 health check alarm. */
const GLOBAL_REGION = 'us-east-1';

export interface DashboardStackProps extends StackProps {
  readonly config: ZmanimConfig;
  /** The data host: CPU, memory, /data use, status checks. */
  readonly host?: GravitonDataHost;
  /** The HTTP API under /backend: requests, latency, 4xx, 5xx. */
  readonly httpApi?: apigwv2.IHttpApi;
  /** Lambda functions by label (Next.js server, image optimisation, authorizer...): invocations, duration, errors. */
  readonly functions?: { [label: string]: lambda.IFunction };
  /** The site's distribution: requests, cache hit rate, 4xx/5xx (metrics in us-east-1). */
  readonly distribution?: cloudfront.IDistribution;
  /**
   * Subscribe the distribution to CloudFront's additional metrics (cache hit rate among them;
   * billed as 8 custom metrics). Turn it off when the distribution already publishes them
   * (`publishAdditionalMetrics`): a distribution has one subscription.
   * @default true
   */
  readonly cloudFrontAdditionalMetrics?: boolean;
  /** The restic backups: successful backups per source (their age alarms), failures, drill results. */
  readonly backups?: ResticBackups;
  /**
   * Alarms shown in the alarm status widget.
   * @default - every alarm of the other stacks of the app in this region (create this stack last)
   */
  readonly alarms?: cloudwatch.IAlarm[];
  /**
   * Name of the Route 53 health check alarm in us-east-1 (shown beside the regional alarms).
   * @default `zmanim-${config.environment}-health` when config.enableHealthCheck, else none
   */
  readonly healthAlarmName?: string;
}

/**
 * The seed's metrics in one CloudWatch dashboard, with every alarm of the system. A stack of
 * its own, created after the others: it reads their resources, while they read the alarm
 * topic of the MonitoringStack (which is created first), so one stack could not do both.
 *
 * The host's metrics are found by SEARCH rather than by instance id: an instance id exported
 * to this stack would block every replacement of the instance ("export in use").
 */
export class DashboardStack extends Stack {
  public readonly dashboard: cloudwatch.Dashboard;
  /** The alarms in the status widget. */
  public readonly alarms: cloudwatch.IAlarm[];

  constructor(scope: Construct, id: string, props: DashboardStackProps) {
    super(scope, id, props);
    const { config } = props;
    const name = `zmanim-${config.environment}`;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: name,
      defaultInterval: Duration.hours(24),
      periodOverride: cloudwatch.PeriodOverride.AUTO,
    });
    this.alarms = props.alarms ?? this.discoverAlarms();

    this.dashboard.addWidgets(new cloudwatch.TextWidget({
      width: 24,
      height: 2,
      markdown: `# zmanim ${config.environment}: https://${config.domain}\n`
        + 'Runbook: docs/operations.md. From a laptop: `npx shtetl-ops health`, `status`, `logs api -f`, `snapshots`. Times are UTC.',
    }));
    const healthAlarmName = props.healthAlarmName ?? (config.enableHealthCheck ? `zmanim-${config.environment}-health` : undefined);
    const statusAlarms = [...this.alarms];
    if (healthAlarmName) {
      // By name: a reference to the us-east-1 stack would add a cross-region writer to it.
      statusAlarms.unshift(cloudwatch.Alarm.fromAlarmArn(this, 'HealthAlarm', Arn.format({
        service: 'cloudwatch', region: GLOBAL_REGION, resource: 'alarm', resourceName: healthAlarmName, arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }, this)));
    }
    if (statusAlarms.length > 0) {
      this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({
        title: `Alarms (${statusAlarms.length})`,
        alarms: statusAlarms.slice(0, 100),
        width: 24,
        height: Math.min(2 + Math.ceil(statusAlarms.length / 4), 8),
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
      }));
    }

    if (props.host) this.addHostWidgets(props.host);
    if (props.httpApi) this.addApiWidgets(props.httpApi);
    if (props.functions && Object.keys(props.functions).length > 0) this.addFunctionWidgets(props.functions);
    if (props.distribution) {
      this.addDistributionWidgets(props.distribution);
      if (props.cloudFrontAdditionalMetrics ?? true) {
        new cloudfront.CfnMonitoringSubscription(this, 'CloudFrontAdditionalMetrics', {
          distributionId: props.distribution.distributionId,
          monitoringSubscription: { realtimeMetricsSubscriptionConfig: { realtimeMetricsSubscriptionStatus: 'Enabled' } },
        });
      }
    }
    if (props.backups) this.addBackupWidgets(props.backups);

    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards/dashboard/${name}`,
      description: 'The CloudWatch dashboard of the system',
    });
  }

  private addHostWidgets(host: GravitonDataHost): void {
    const namespace = host.metricMemoryUsedPercent().namespace;
    const search = (expression: string, label: string, stat = 'Maximum', period = 300) => new cloudwatch.MathExpression({
      expression: `SEARCH('${expression}', '${stat}', ${period})`, label, usingMetrics: {}, period: Duration.seconds(period),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Host CPU %',
        width: 6,
        left: [search('{AWS/EC2,InstanceId} MetricName="CPUUtilization"', '', 'Average')],
        leftYAxis: { min: 0, max: 100 },
      }),
      new cloudwatch.GraphWidget({
        title: 'Host memory used %',
        width: 6,
        left: [search(`{${namespace},InstanceId} MetricName="mem_used_percent"`, '')],
        leftYAxis: { min: 0, max: 100 },
        leftAnnotations: [{ value: 90, label: 'alarm' }],
      }),
      new cloudwatch.GraphWidget({
        title: '/data used %',
        width: 6,
        left: [search(`{${namespace},InstanceId,fstype,path} MetricName="disk_used_percent"`, '')],
        leftYAxis: { min: 0, max: 100 },
        leftAnnotations: [{ value: 80, label: 'alarm' }],
      }),
      new cloudwatch.GraphWidget({
        title: 'Host status checks failed',
        width: 6,
        left: [search('{AWS/EC2,InstanceId} MetricName="StatusCheckFailed"', '', 'Maximum', 60)],
        leftYAxis: { min: 0 },
      }),
    );
  }

  private addApiWidgets(api: apigwv2.IHttpApi): void {
    const period = Duration.minutes(5);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'API requests', width: 6, left: [api.metricCount({ period, label: 'requests' })] }),
      new cloudwatch.GraphWidget({
        title: 'API latency (ms)',
        width: 6,
        left: [api.metricLatency({ period, statistic: 'p50', label: 'p50' }), api.metricLatency({ period, statistic: 'p99', label: 'p99' }),
          api.metricIntegrationLatency({ period, statistic: 'p99', label: 'integration p99' })],
      }),
      new cloudwatch.GraphWidget({ title: 'API 4xx', width: 6, left: [api.metricClientError({ period, label: '4xx' })] }),
      new cloudwatch.GraphWidget({ title: 'API 5xx', width: 6, left: [api.metricServerError({ period, label: '5xx' })] }),
    );
  }

  private addFunctionWidgets(functions: { [label: string]: lambda.IFunction }): void {
    const period = Duration.minutes(5);
    const each = (metric: (fn: lambda.IFunction, label: string) => cloudwatch.IMetric) =>
      Object.entries(functions).map(([label, fn]) => metric(fn, label));
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Lambda invocations', width: 8, left: each((fn, label) => fn.metricInvocations({ period, label })) }),
      new cloudwatch.GraphWidget({ title: 'Lambda duration p99 (ms)', width: 8, left: each((fn, label) => fn.metricDuration({ period, statistic: 'p99', label })) }),
      new cloudwatch.GraphWidget({
        title: 'Lambda errors and throttles',
        width: 8,
        left: each((fn, label) => fn.metricErrors({ period, label: `${label} errors` })),
        right: each((fn, label) => fn.metricThrottles({ period, label: `${label} throttles` })),
      }),
    );
  }

  private addDistributionWidgets(distribution: cloudfront.IDistribution): void {
    const metric = (metricName: string, statistic: string, label: string) => new cloudwatch.Metric({
      namespace: 'AWS/CloudFront',
      metricName,
      statistic,
      label,
      region: GLOBAL_REGION,
      period: Duration.minutes(5),
      dimensionsMap: { DistributionId: distribution.distributionId, Region: 'Global' },
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'CloudFront requests', width: 8, region: GLOBAL_REGION, left: [metric('Requests', 'Sum', 'requests')] }),
      new cloudwatch.GraphWidget({
        title: 'CloudFront cache hit rate %',
        width: 8,
        region: GLOBAL_REGION,
        leftYAxis: { min: 0, max: 100 },
        // An additional metric (CfnMonitoringSubscription above).
        left: [metric('CacheHitRate', 'Average', 'cache hit rate')],
      }),
      new cloudwatch.GraphWidget({
        title: 'CloudFront error rate %',
        width: 8,
        region: GLOBAL_REGION,
        leftYAxis: { min: 0 },
        left: [metric('5xxErrorRate', 'Average', '5xx'), metric('4xxErrorRate', 'Average', '4xx')],
      }),
    );
  }

  private addBackupWidgets(backups: ResticBackups): void {
    const bySource = backups.backupAgeAlarms.map((alarm) => alarm.metric);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Successful backups per source (none for 2 intervals: backup age alarm)',
        width: 8,
        left: bySource,
        statistic: 'Sum',
        period: Duration.hours(1),
        leftYAxis: { min: 0 },
      }),
      new cloudwatch.GraphWidget({
        title: 'Backup failures',
        width: 8,
        left: [backups.metricFailures({ period: Duration.hours(1), label: 'failures' })],
        leftYAxis: { min: 0 },
      }),
      new cloudwatch.SingleValueWidget({
        title: 'Restore drill (1 = restored and verified), its duration and age (s)',
        width: 8,
        height: 6,
        metrics: [backups.metricDrillSuccess({ period: Duration.days(7), label: 'last drill ok' }),
          backups.metricDrillDuration({ period: Duration.days(7), label: 'drill seconds (RTO)' }),
          backups.metricDrillAge({ label: 'seconds since the last good drill' })],
      }),
    );
  }

  /** Every alarm of the other stacks of the app in this region, in construction order. */
  private discoverAlarms(): cloudwatch.IAlarm[] {
    const isAlarm = (c: IConstruct): c is cloudwatch.Alarm | cloudwatch.CompositeAlarm =>
      c instanceof cloudwatch.Alarm || c instanceof cloudwatch.CompositeAlarm;
    return this.node.root.node.findAll().filter(isAlarm)
      .filter((alarm) => Stack.of(alarm) !== this && Stack.of(alarm).region === this.region && Stack.of(alarm).account === this.account);
  }
}
