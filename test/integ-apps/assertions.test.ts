/**
 * The integ tests' expectations, as synthesized into their assertion stacks, evaluated by
 * integ-tests-alpha's own assertion handler against answers shaped like the AWS APIs':
 * each passes the answer a working deployment gives and fails the answers a broken one gives.
 * (integ-runner's snapshot verification compares only the test stacks, not these.)
 */
import { App } from 'aws-cdk-lib';
import { buildDataHostInteg } from '../../integ/integ.graviton-data-host';
import { buildResticBackupsInteg } from '../../integ/integ.restic-backups';

// The handler module imports the Step Functions client for its waiter; only the matching runs here.
jest.mock('@aws-sdk/client-sfn', () => ({ SFN: class {} }), { virtual: true });
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { AssertionHandler } = require('@aws-cdk/integ-tests-alpha/lib/assertions/providers/lambda-handler/assertion');

interface Expectation { api: string; expected: string; actualPath?: string }

/** Resolves the template's joins; an imported value becomes `<export name>`. */
function resolve(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolve);
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => String(resolve(p))).join(sep);
    }
    if ('Fn::ImportValue' in v) return `<${String(v['Fn::ImportValue'])}>`;
    if ('Ref' in v) return `<${String(v.Ref)}>`;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
  }
  return value;
}

function expectations(build: (app: App) => unknown): Expectation[] {
  const app = new App();
  build(app);
  const assembly = app.synth();
  const stack = assembly.stacks.find((s) => s.stackName.includes('DeployAssert'))!;
  return Object.values(stack.template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>)
    .filter((r) => r.Type.startsWith('Custom::DeployAssert@SdkCall') && r.Properties.expected !== undefined)
    .map((r) => ({
      api: String(r.Properties.api),
      expected: String(resolve(r.Properties.expected)),
      actualPath: r.Properties.actualPath as string | undefined,
    }));
}

async function passes(e: Expectation, actual: unknown): Promise<boolean> {
  const handler = new AssertionHandler({ RequestType: 'Create', LogicalResourceId: 'Test', ResourceProperties: {} }, { getRemainingTimeInMillis: () => 600_000 });
  clearTimeout(handler.timeout);
  const result = await handler.processEvent({ actual, expected: e.expected });
  return !result.failed;
}

/** The value the expectation names (the security group, the metric), read back from it. */
function named(e: Expectation, pattern: RegExp): string {
  const m = pattern.exec(e.expected);
  if (!m) throw new Error(`${e.api}: ${pattern} not in ${e.expected}`);
  return m[1];
}

/** Per API: answers of a working deployment, then answers of broken ones. */
function answers(e: Expectation): { good: unknown[]; bad: unknown[] } {
  switch (e.api) {
    case 'describeSecurityGroups': {
      const group = named(e, /"GroupId":"([^"]+)"/);
      const sg = (ingress: unknown[]) => ({ SecurityGroups: [{ GroupId: group, GroupName: 'host', IpPermissions: ingress, IpPermissionsEgress: [{ IpProtocol: '-1' }] }] });
      return {
        good: [sg([])],
        bad: [sg([{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }]), { SecurityGroups: [] }],
      };
    }
    case 'describeInstances': {
      const group = named(e, /"GroupId":"([^"]+)"/);
      const instance = (groups: string[]) => ({ Reservations: [{ Instances: [{ InstanceId: 'i-0abc', SecurityGroups: groups.map((g) => ({ GroupId: g, GroupName: g })) }] }] });
      return { good: [instance([group])], bad: [instance([group, 'sg-0open']), instance(['sg-0other'])] };
    }
    case 'describeNetworkInsightsAnalyses': {
      const analysis = (status: string, found: boolean) => ({ NetworkInsightsAnalyses: [{ NetworkInsightsAnalysisId: 'nia-0abc', Status: status, NetworkPathFound: found }] });
      return { good: [analysis('succeeded', false)], bad: [analysis('succeeded', true), analysis('running', false), analysis('failed', false)] };
    }
    case 'getCommandInvocation': {
      const check = named(e, /PASS ([a-z-]+)/);
      return {
        good: [`some facts\nPASS ${check}\n`, `PASS ${check}`],
        bad: ['', `some facts\nFAIL ${check}: what was wrong\n`, `PASS ${check}-other\n`, `not PASS ${check}\n`],
      };
    }
    case 'listMetrics': {
      const metric = named(e, /"MetricName":"([^"]+)"/);
      return { good: [{ Metrics: [{ Namespace: 'N', MetricName: metric, Dimensions: [] }] }], bad: [{ Metrics: [] }, { Metrics: [{ Namespace: 'N', MetricName: 'other' }] }] };
    }
    case 'describeAlarms': {
      const alarms = (state: string) => ({ MetricAlarms: [{ AlarmName: 'a', StateValue: state }], CompositeAlarms: [] });
      return { good: [alarms('OK')], bad: [alarms('ALARM'), alarms('INSUFFICIENT_DATA'), { MetricAlarms: [], CompositeAlarms: [] }] };
    }
    default:
      throw new Error(`no sample answers for ${e.api}: add them here`);
  }
}

describe.each([
  ['graviton-data-host', buildDataHostInteg, ['describeSecurityGroups', 'describeInstances', 'describeNetworkInsightsAnalyses', 'getCommandInvocation', 'listMetrics', 'describeAlarms']],
  ['restic-backups', buildResticBackupsInteg, ['getCommandInvocation', 'listMetrics', 'describeAlarms']],
])('assertions of integ app %s', (_name, build, apis) => {
  const all = expectations(build);

  test('cover the APIs the test reads', () => {
    expect([...new Set(all.map((e) => e.api))].sort()).toEqual([...apis].sort());
  });

  test.each(all.map((e, i) => [`${i} ${e.api} ${e.expected.slice(0, 80)}`, e] as const))('%s: passes what a working deployment answers, fails what a broken one answers', async (_label, e) => {
    const { good, bad } = answers(e);
    for (const answer of good) expect([answer, await passes(e, answer)]).toEqual([answer, true]);
    for (const answer of bad) expect([answer, await passes(e, answer)]).toEqual([answer, false]);
  });
});
