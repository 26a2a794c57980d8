import { readFileSync } from 'fs';
import { join } from 'path';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { OPS_TAGS } from '../../src/constructs/ops-tags';
import { DEFAULT_CONFIG } from '../../src/zmanim/config';
import { API_RELEASE_KEY } from '../../src/zmanim/stacks/compute-stack';
import { DashboardStack } from '../../src/zmanim/stacks/monitoring-stack';
import { allStacks, createZmanimStacks } from '../../src/zmanim/zmanim-app';
import { appContext } from '../support/app-context';
import { findingsOf } from '../support/nag';

const ACCOUNT = '123456789012';
const config = { ...DEFAULT_CONFIG, account: ACCOUNT };
const app = new App({ context: appContext() });
const stacks = createZmanimStacks(app, config);
// As src/zmanim/zmanim-app.ts creates it, after every other stack (built here while it is not wired there).
const existing = allStacks(app).find((s): s is DashboardStack => s instanceof DashboardStack);
const dashboardStack = existing ?? new DashboardStack(app, 'ZmanimProdDashboard', {
  env: { account: ACCOUNT, region: config.region },
  config,
  host: stacks.compute.host,
  backups: (stacks.compute as any).backups,
  distribution: (stacks as any).nextjs?.site.distribution,
  functions: (stacks as any).nextjs ? { 'next.js server': (stacks as any).nextjs.site.serverFunction, 'image optimisation': (stacks as any).nextjs.site.imageFunction } : undefined,
  httpApi: (stacks as any).api?.api.httpApi,
});
Aspects.of(app).add(new AwsSolutionsChecks());
app.synth();

/** The dashboard body as JSON, with references replaced by `<ref>`. */
function dashboardBody(stack: Stack): any {
  const dashboards = Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard');
  const body = Object.values<any>(dashboards)[0].Properties.DashboardBody;
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part: unknown) => (typeof part === 'string' ? part : '<ref>')).join('');
  return JSON.parse(text);
}

const body = dashboardBody(dashboardStack);
const widgets: any[] = body.widgets;
const titles = widgets.map((w) => w.properties.title ?? '');
const byTitle = (title: string) => widgets.find((w) => w.properties.title === title);

describe('the dashboard', () => {
  test('one dashboard named after the environment, with the seed\'s metrics', () => {
    Template.fromStack(dashboardStack).hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'zmanim-prod' });
    expect(titles).toEqual(expect.arrayContaining([
      'API requests', 'API latency (ms)', 'API 4xx', 'API 5xx',
      'Host CPU %', 'Host memory used %', '/data used %', 'Host status checks failed',
      'CloudFront requests', 'CloudFront cache hit rate %', 'CloudFront error rate %',
      'Lambda invocations', 'Lambda duration p99 (ms)', 'Lambda errors and throttles',
      'Backup failures', 'Restore drill (1 = restored and verified), its duration and age (s)',
    ]));
  });

  test('host metrics are found by SEARCH, so a replaced instance needs no change here', () => {
    const expressions = JSON.stringify([byTitle('Host CPU %'), byTitle('Host memory used %'), byTitle('/data used %')]);
    expect(expressions).toContain('SEARCH(\'{AWS/EC2,InstanceId} MetricName=\\"CPUUtilization\\"\', \'Average\', 300)');
    expect(expressions).toContain('SEARCH(\'{Shtetl/DataHost,InstanceId} MetricName=\\"mem_used_percent\\"\'');
    expect(expressions).toContain('SEARCH(\'{Shtetl/DataHost,InstanceId,fstype,path} MetricName=\\"disk_used_percent\\"\'');
    // No instance id crosses stacks: an export of it would block every instance replacement.
    const imports = JSON.stringify(Template.fromStack(dashboardStack).toJSON());
    expect(imports).not.toMatch(/ExportsOutputRefHostInstance/);
    expect(imports).toContain('ExportsOutputFnGetAttHostMemoryAlarm'); // the pattern above would see an import
  });

  test('CloudFront widgets read us-east-1, where CloudFront publishes its metrics', () => {
    for (const title of ['CloudFront requests', 'CloudFront cache hit rate %', 'CloudFront error rate %']) {
      expect(byTitle(title).properties.region).toBe('us-east-1');
      expect(JSON.stringify(byTitle(title).properties.metrics)).toContain('"AWS/CloudFront"');
    }
    expect(JSON.stringify(byTitle('CloudFront error rate %').properties.metrics)).toContain('5xxErrorRate');
    expect(byTitle('Host CPU %').properties.region).toBe('<ref>'); // AWS::Region: the stack's own
    // Cache hit rate is one of CloudFront's additional metrics: the distribution is subscribed.
    Template.fromStack(dashboardStack).hasResourceProperties('AWS::CloudFront::MonitoringSubscription', {
      MonitoringSubscription: { RealtimeMetricsSubscriptionConfig: { RealtimeMetricsSubscriptionStatus: 'Enabled' } },
    });
  });

  test('backups: successful backups per source (the backup age alarms\' metric), failures, drill', () => {
    const backupsWidget = widgets.find((w) => String(w.properties.title).startsWith('Successful backups per source'));
    const metrics = JSON.stringify(backupsWidget.properties.metrics);
    expect(metrics).toContain('"ResticBackups","BackupSuccess","BackupSet","zmanim-prod","Source","app"');
    expect(metrics).toContain('"Source","database"');
    expect(JSON.stringify(byTitle('Restore drill (1 = restored and verified), its duration and age (s)').properties.metrics)).toMatch(/DrillSuccess.*DrillDuration.*DrillAge/);
  });

  test('the alarm status widget holds every regional alarm of the other stacks and the us-east-1 health alarm', () => {
    const alarmWidget = widgets.find((w) => w.type === 'alarm');
    const expected = allStacks(app).filter((s) => s !== dashboardStack && s.region === config.region)
      .map((s) => Object.keys(Template.fromStack(s).findResources('AWS::CloudWatch::Alarm')).length)
      .reduce((a, b) => a + b, 0);
    expect(expected).toBeGreaterThanOrEqual(7); // host status checks, memory, /data; backup age x2, failures, drill
    expect(alarmWidget.properties.alarms).toHaveLength(expected + 1);
    expect(alarmWidget.properties.alarms).toContain(`arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:zmanim-prod-health`);
    expect(dashboardStack.alarms.length).toBe(expected);
  });

  test('outputs the dashboard URL', () => {
    Template.fromStack(dashboardStack).hasOutput('DashboardUrl', {
      Value: 'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/zmanim-prod',
    });
  });

  test.each([dashboardStack, stacks.monitoring])('%s is cdk-nag clean', (stack) => {
    const findings = findingsOf(stack).map((f) => `${f.id}: ${String(f.entry.data).split(':')[0]}`);
    expect(findings).toEqual([]);
  });
});

describe('what shtetl-ops finds in the zmanim app (cdk.json context "shtetl-ops", the host\'s tags)', () => {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '../../cdk.json'), 'utf8'));

  test('cdk.json names the service, region, environment and public health URL the app deploys', () => {
    expect(cdkJson.context['shtetl-ops']).toEqual({
      service: 'zmanim',
      region: config.region,
      stackPrefix: stacks.compute.stackName.replace(/Compute$/, ''),
      healthUrl: `https://${config.domain}${config.healthCheckPath}`,
    });
  });

  test('the host tells the CLI the release key the host fetches, and its secrets path', () => {
    const instance = Object.values(Template.fromStack(stacks.compute).findResources('AWS::EC2::Instance'))[0];
    const tags = Object.fromEntries((instance.Properties.Tags as { Key: string; Value: unknown }[])
      .map((t) => [t.Key, JSON.stringify(stacks.compute.resolve(t.Value))]));
    expect(tags[OPS_TAGS.release]).toContain(`/${API_RELEASE_KEY}`);
    expect(tags[OPS_TAGS.parameterPath]).toBe(JSON.stringify(config.ssmPrefix));
  });

  test('the monitoring stack outputs the public URLs from the config', () => {
    const t = Template.fromStack(stacks.monitoring);
    t.hasOutput('SiteUrl', { Value: 'https://zmanim.shtetl.io' });
    t.hasOutput('ApiHealthUrl', { Value: 'https://zmanim.shtetl.io/backend/api/v1/health' });
    t.hasOutput('AlarmTopicArn', {});
  });
});
