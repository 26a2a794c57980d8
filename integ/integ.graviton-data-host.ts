/**
 * GravitonDataHost in a real account: the host from `GravitonDataHost.bootstrapImage()` (stock
 * Amazon Linux 2023 arm64, the first boot installs PostgreSQL, Redis and the CloudWatch agent)
 * in a throwaway VPC. The assertions check, on the host through SSM Run Command
 * (integ/host-checks/*.sh) and through AWS APIs, that
 * - /data is the data volume (its NVMe serial), xfs labelled <service>-data, mounted by label;
 * - PostgreSQL and Redis listen and answer on 127.0.0.1 only (refused on the private address);
 * - the application role logs in with its password and is not a superuser;
 * - nothing is reachable from outside the VPC: the security group has no inbound rule, and
 *   Reachability Analyzer finds no TCP path from the internet gateway to the instance;
 * - the CloudWatch agent publishes memory and /data use (the metrics are listed, and the
 *   construct's memory and /data alarms, whose dimensions must match, leave INSUFFICIENT_DATA);
 * - a row written to PostgreSQL survives an instance replacement.
 *
 * The replacement is a real stack update through integ-runner's update workflow. The
 * committed snapshot is generation 1; `npx projen integ:deploy` deploys it first, then
 * synthesizes this app with the context `shtetl-integ:data-host-generation=2` (the test
 * case's deploy arguments below) and deploys that as an update. Generation 2 changes one host
 * file, so the user data changes and CloudFormation replaces the instance; the new instance
 * takes the volume over from the old one. Both generations write row 1 of `integ_survivor`
 * at boot unless it exists, so the row says which instance wrote it: the survivor check
 * passes only when it was the generation-1 instance, now terminated. Offline verification and
 * `integ:update` synthesize without that context, so the snapshot stays generation 1. With
 * `--disable-update-workflow` (or without a committed snapshot) the survivor check fails.
 *
 * Run: `npx projen integ:deploy` (credentials for a bootstrapped test account).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Aws, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { DATA_LABEL, HOST_CHECKS_DIR, hostSecrets, integHost, integHostProps, runCheck, throwawayVpc } from './support/data-host';

/** Context key of the host generation: 1 in the snapshot, 2 in the deployment that updates it. */
export const GENERATION_CONTEXT = 'shtetl-integ:data-host-generation';
export const STACK_NAME = 'ShtetlGravitonDataHostInteg';

export function buildDataHostInteg(app: App): IntegTest {
  const generation = String(app.node.tryGetContext(GENERATION_CONTEXT) ?? '1');
  if (generation !== '1' && generation !== '2') {
    throw new Error(`${GENERATION_CONTEXT} is "${generation}"; use 1 (the snapshot) or 2 (the update).`);
  }
  const stack = new Stack(app, STACK_NAME);
  const vpc = throwawayVpc(stack);
  const secrets = hostSecrets(stack, '/shtetl-integ/data-host');
  const host = integHost(stack, integHostProps(vpc, secrets), secrets);

  const survivorEnv = [
    `GENERATION=${generation}`,
    'DB_NAME=integhost',
    'DB_USER=integhost',
    `POSTGRES_PASSWORD_FILE=${host.secretFile('postgres-password')}`,
    '',
  ].join('\n');
  host.addFiles(
    { path: '/etc/shtetl-integ/survivor.env', content: survivorEnv, mode: '0644' },
    { path: '/usr/local/sbin/integ-survivor-row', content: readFileSync(join(HOST_CHECKS_DIR, 'survivor-row.sh'), 'utf8'), mode: '0755' },
  );
  host.addBootCommands('/usr/local/sbin/integ-survivor-row');

  // Reachability Analyzer: is there any TCP path from the internet gateway to the instance?
  const path = new ec2.CfnNetworkInsightsPath(stack, 'InternetToHost', {
    source: vpc.internetGatewayId!,
    destination: host.instanceId,
    protocol: 'tcp',
  });
  const analysis = new ec2.CfnNetworkInsightsAnalysis(stack, 'InternetToHostAnalysis', {
    networkInsightsPathId: path.attrNetworkInsightsPathId,
  });

  const integ = new IntegTest(app, 'GravitonDataHostTest', {
    testCases: [stack],
    cdkCommandOptions: {
      deploy: { args: { context: { [GENERATION_CONTEXT]: '2' } } },
      destroy: { args: { context: { [GENERATION_CONTEXT]: '2' } } },
    },
    // The update replaces the instance and what names it (the EIP association, the analysis).
    allowDestroy: ['AWS::EC2::Instance', 'AWS::EC2::EIPAssociation', 'AWS::EC2::NetworkInsightsPath', 'AWS::EC2::NetworkInsightsAnalysis'],
  });
  const a = integ.assertions;
  const wait = (minutes: number) => ({ totalTimeout: Duration.minutes(minutes), interval: Duration.seconds(30) });

  a.awsApiCall('EC2', 'describeSecurityGroups', { GroupIds: [host.securityGroup.securityGroupId] })
    .expect(ExpectedResult.objectLike({
      SecurityGroups: [Match.objectLike({ GroupId: host.securityGroup.securityGroupId, IpPermissions: [] })],
    }));
  // The instance has that group and no other.
  const onlyHostGroup = Match.objectLike({ SecurityGroups: [Match.objectLike({ GroupId: host.securityGroup.securityGroupId })] });
  a.awsApiCall('EC2', 'describeInstances', { InstanceIds: [host.instanceId] })
    .expect(ExpectedResult.objectLike({ Reservations: [Match.objectLike({ Instances: [onlyHostGroup] })] }));
  a.awsApiCall('EC2', 'describeNetworkInsightsAnalyses', { NetworkInsightsAnalysisIds: [analysis.attrNetworkInsightsAnalysisId] })
    .expect(ExpectedResult.objectLike({ NetworkInsightsAnalyses: [Match.objectLike({ Status: 'succeeded', NetworkPathFound: false })] }))
    .waitForAssertions(wait(10));

  runCheck(integ, host, 'data-volume.sh', { env: { DATA_VOLUME_ID: host.dataVolume.volumeId, DATA_LABEL } });
  runCheck(integ, host, 'loopback-only.sh', { env: { REDIS_PASSWORD_FILE: host.secretFile('redis-password') } });
  runCheck(integ, host, 'app-role.sh', {
    env: { DB_NAME: 'integhost', DB_USER: 'integhost', POSTGRES_PASSWORD_FILE: host.secretFile('postgres-password') },
  });
  runCheck(integ, host, 'survivor.sh', { env: { AWS_REGION: Aws.REGION } });

  // The agent's metrics, listed under this instance (ListMetrics can lag a few minutes).
  const namespace = 'ShtetlInteg/DataHost';
  const metricDimensions = [
    { metricName: 'mem_used_percent', dimensions: [{ Name: 'InstanceId', Value: host.instanceId }] },
    { metricName: 'disk_used_percent', dimensions: [{ Name: 'InstanceId', Value: host.instanceId }, { Name: 'path', Value: '/data' }] },
  ];
  for (const { metricName, dimensions } of metricDimensions) {
    a.awsApiCall('CloudWatch', 'listMetrics', { Namespace: namespace, MetricName: metricName, Dimensions: dimensions, RecentlyActive: 'PT3H' })
      .expect(ExpectedResult.objectLike({ Metrics: Match.arrayWith([Match.objectLike({ MetricName: metricName })]) }))
      .waitForAssertions(wait(20));
  }
  // The construct's alarms read those metrics with their exact dimensions: OK means data arrived.
  for (const alarm of [host.memoryAlarm, host.dataDiskAlarm]) {
    a.awsApiCall('CloudWatch', 'describeAlarms', { AlarmNames: [alarm.alarmName] })
      .expect(ExpectedResult.objectLike({ MetricAlarms: [Match.objectLike({ StateValue: 'OK' })] }))
      .waitForAssertions(wait(25));
  }
  return integ;
}

if (require.main === module) {
  buildDataHostInteg(new App());
}
