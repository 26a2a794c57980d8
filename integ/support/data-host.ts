/**
 * What the GravitonDataHost integ tests share: a throwaway VPC, the host's secrets, the host
 * props (the one place they are built), and running a check script on the host through SSM
 * Run Command as an assertion.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExpectedResult, IApiCall, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { GeneratedSecrets, GravitonDataHost, GravitonDataHostProps } from '../../src';

/** The check scripts the assertions run on the host (integ/host-checks/*.sh). */
export const HOST_CHECKS_DIR = join(__dirname, '..', 'host-checks');

/** The integ hosts' service name. */
export const SERVICE_NAME = 'integhost';
/** The label the host gives its data filesystem: `<first 7 characters of the service>-data` (host/lib.sh, DATA_LABEL). */
export const DATA_LABEL = `${SERVICE_NAME.slice(0, 7)}-data`;

/**
 * A VPC with one public subnet and no NAT gateway (nothing billed by the hour): the host
 * reaches the package repositories, S3 and SSM through the internet gateway.
 */
export function throwawayVpc(stack: Stack): ec2.Vpc {
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 1,
    natGateways: 0,
    subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
    // The restriction is a custom resource of its own; nothing uses the default group here.
    restrictDefaultSecurityGroup: false,
  });
  NagSuppressions.addResourceSuppressions(vpc, [{
    id: 'AwsSolutions-VPC7',
    reason: 'A throwaway VPC that lives for one integ test run; flow logs would outlive it and record nothing under test',
  }]);
  return vpc;
}

/** The host's own secrets (PostgreSQL and Redis passwords) plus `extra`, generated in SSM and deleted with the stack. */
export function hostSecrets(stack: Stack, parameterPath: string, extra: string[] = []): GeneratedSecrets {
  return new GeneratedSecrets(stack, 'Secrets', {
    parameterPath,
    secretNames: ['postgres-password', 'redis-password', ...extra],
    length: 32,
    removalPolicy: RemovalPolicy.DESTROY,
  });
}

/**
 * The props of every integ host: the stock AL2023 image (the first boot installs the
 * packages), the smallest Graviton type that runs PostgreSQL, Redis and a dnf install, a small
 * data volume that is destroyed with the stack, no EBS snapshots (a run that spans 03:00 UTC
 * would leave one behind), one-day log retention and a namespace of its own.
 */
export function integHostProps(vpc: ec2.IVpc, secrets: GeneratedSecrets, overrides: Partial<GravitonDataHostProps> = {}): GravitonDataHostProps {
  return {
    serviceName: SERVICE_NAME,
    vpc,
    machineImage: GravitonDataHost.bootstrapImage(),
    instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.SMALL),
    secretsParameterPath: secrets.parameterPath,
    apiSecretNames: [],
    databaseName: 'integhost',
    databaseUser: 'integhost',
    dataVolumeSize: Size.gibibytes(4),
    dataVolumeRemovalPolicy: RemovalPolicy.DESTROY,
    snapshotRetentionCount: 0,
    logRetention: logs.RetentionDays.ONE_DAY,
    metricsNamespace: 'ShtetlInteg/DataHost',
    ...overrides,
  };
}

/** A host whose boot waits for its secrets (it refuses to boot without them). */
export function integHost(stack: Stack, props: GravitonDataHostProps, secrets: GeneratedSecrets): GravitonDataHost {
  const host = new GravitonDataHost(stack, 'Host', props);
  host.instance.node.addDependency(secrets);
  return host;
}

/** Options of {@link runCheck}. */
export interface CheckOptions {
  /** Variables the script reads (values may be tokens: they resolve at deploy time). */
  readonly env?: { [name: string]: string };
  /** How long the script may run on the host. @default 10 minutes */
  readonly executionTimeout?: Duration;
  /** How long the assertion waits for the script's result. @default 15 minutes */
  readonly totalTimeout?: Duration;
}

/**
 * The AWS-RunShellScript `commands` that run `integ/host-checks/<script>` with `env`: the
 * document joins the lines into one script that sh runs. The check is passed to bash as an
 * argument (not on standard input, which a command inside it could read).
 */
export function checkCommands(script: string, env: { [name: string]: string } = {}): string[] {
  const body = readFileSync(join(HOST_CHECKS_DIR, script), 'utf8');
  if (body.includes('INTEG_CHECK_EOF')) throw new Error(`${script} contains the here-document delimiter INTEG_CHECK_EOF`);
  return [
    ...Object.entries(env).map(([k, v]) => `export ${k}='${v}'`),
    `check=$(cat <<'INTEG_CHECK_EOF'\n${body.endsWith('\n') ? body : `${body}\n`}INTEG_CHECK_EOF\n)`,
    'exec bash -euo pipefail -c "$check"',
  ];
}

/**
 * Runs `integ/host-checks/<script>` as root on the host through SSM Run Command
 * (AWS-RunShellScript), then waits until the invocation's standard output shows
 * `PASS <script name without .sh>`, which the script prints last, only when every check in it
 * held (it runs with `set -euo pipefail`). Returns the waiting call, for `next()`.
 *
 * Only the standard output is asserted and returned (the custom resource's answer must stay
 * under 4 KiB, and SendCommand's answer would repeat the whole script): the scripts print a
 * few lines of facts and write details to standard error.
 */
export function runCheck(integ: IntegTest, host: GravitonDataHost, script: string, options: CheckOptions = {}): { send: IApiCall; result: IApiCall } {
  const name = script.replace(/\.sh$/, '');
  const send = integ.assertions.awsApiCall('SSM', 'sendCommand', {
    DocumentName: 'AWS-RunShellScript',
    InstanceIds: [host.instanceId],
    Comment: `integ check ${name}`,
    Parameters: {
      commands: checkCommands(script, options.env),
      executionTimeout: [String((options.executionTimeout ?? Duration.minutes(10)).toSeconds())],
    },
  });
  const result = integ.assertions.awsApiCall('SSM', 'getCommandInvocation', {
    CommandId: send.getAttString('Command.CommandId'),
    InstanceId: host.instanceId,
  }).assertAtPath('StandardOutputContent', ExpectedResult.stringLikeRegexp(`(^|\\n)PASS ${name}(\\n|$)`))
    // InvocationDoesNotExist right after SendCommand, then InProgress: both are retried.
    .waitForAssertions({ totalTimeout: options.totalTimeout ?? Duration.minutes(15), interval: Duration.seconds(20) });
  send.next(result);
  return { send, result };
}
