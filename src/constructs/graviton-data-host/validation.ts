import { Size, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { IConstruct } from 'constructs';
import type { GravitonDataHostProps } from './graviton-data-host-props';
import { failer } from '../../internal/validation-error';
import { HostFile } from '../managed-host';

/** Environment variables the host writes itself; apiEnvironment and API secrets may not take them. */
const MANAGED_API_VARIABLES = ['PORT', 'DATABASE_URL', 'REDIS_URL', 'ALLOWED_ORIGINS'];

/** A service name: what every host path, unit, label and database name is derived from. */
const SERVICE_NAME = /^[a-z][a-z0-9-]*[a-z0-9]$/;
/** Longest service name: `<service>-postgresql.service`, SSM document names and log messages stay readable. */
const SERVICE_NAME_MAX = 24;

const fail = (scope: IConstruct) => failer('GravitonDataHost', scope);

/** The props' defaults, resolved by the construct before validation. */
export interface ResolvedDefaults {
  readonly instanceType: ec2.InstanceType;
  readonly volumeSize: Size;
  readonly snapshotRetention: number;
  readonly releaseKey: string;
  readonly databaseName: string;
  readonly databaseUser: string;
}

export function validateServiceName(scope: IConstruct, name: string): void {
  if (typeof name !== 'string' || Token.isUnresolved(name) || !SERVICE_NAME.test(name) || name.length > SERVICE_NAME_MAX || name.includes('--') || /^(aws|amazon|amzn)/.test(name)) {
    fail(scope)(`serviceName "${name}" must be 2 to ${SERVICE_NAME_MAX} lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen, not starting with "aws", "amazon" or "amzn" (SSM document names), and not a token: every host path, unit and database name derives from it. Use e.g. "kehilla".`);
  }
}

/** Validates the props and returns the host's subnet. */
export function validateProps(scope: IConstruct, props: GravitonDataHostProps, d: ResolvedDefaults): ec2.ISubnet {
  const failWith = fail(scope);
  if (d.instanceType.architecture !== ec2.InstanceArchitecture.ARM_64) {
    failWith(`instanceType ${d.instanceType.toString()} is not an ARM64 (Graviton) type; the AMI and the API are arm64. Use e.g. m7g.medium, m7g.large or t4g.medium.`);
  }
  const gib = d.volumeSize.toMebibytes() / 1024;
  if (!Number.isInteger(gib) || gib < 1 || gib > 16384) {
    failWith(`dataVolumeSize ${gib} GiB is outside what gp3 allows (a whole number of GiB from 1 to 16384). The default is 30.`);
  }
  if (!Token.isUnresolved(props.secretsParameterPath) && !/^(\/[a-zA-Z0-9_.-]+)+$/.test(props.secretsParameterPath)) {
    failWith(`secretsParameterPath "${props.secretsParameterPath}" must be an absolute SSM path without a trailing slash, e.g. "/${props.serviceName}/prod".`);
  }
  if (!Number.isInteger(d.snapshotRetention) || d.snapshotRetention < 0 || d.snapshotRetention > 1000) {
    failWith(`snapshotRetentionCount ${d.snapshotRetention} must be a whole number from 0 (no snapshots) to 1000 (the Data Lifecycle Manager limit).`);
  }
  if (d.releaseKey.length === 0 || d.releaseKey.startsWith('/')) {
    failWith(`releaseKey "${d.releaseKey}" must be an S3 object key without a leading slash, e.g. "releases/${props.serviceName}-api/current/api-linux-arm64".`);
  }
  for (const [field, value] of [['databaseName', d.databaseName], ['databaseUser', d.databaseUser]]) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) failWith(`${field} "${value}" must be a lowercase PostgreSQL identifier (letters, digits, underscores).`);
  }
  const port = props.apiPort ?? 8080;
  if (!Number.isInteger(port) || port < 1024 || port > 65535 || port === 5432 || port === 6379) {
    failWith(`apiPort ${port} must be an unprivileged port (1024-65535) other than PostgreSQL's 5432 and Redis's 6379.`);
  }
  for (const origin of props.allowedOrigins ?? []) {
    if (!Token.isUnresolved(origin) && !/^https?:\/\/[a-z0-9.-]+(:\d+)?$/.test(origin)) {
      failWith(`allowedOrigins entry "${origin}" is not an origin (scheme and host, no path or trailing slash), e.g. "https://${props.serviceName}.example.com".`);
    }
  }
  const secretVars = (props.apiSecretNames ?? []).map((n) => n.toUpperCase().replace(/-/g, '_'));
  for (const [name, value] of Object.entries(props.apiEnvironment ?? {})) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) failWith(`apiEnvironment name "${name}" must be UPPER_SNAKE_CASE.`);
    if (MANAGED_API_VARIABLES.includes(name) || secretVars.includes(name)) failWith(`apiEnvironment sets ${name}, which the host writes itself (from its secrets or props); remove it.`);
    if (/[\n"\\$`]/.test(value)) failWith(`apiEnvironment ${name} has a newline, quote, backslash, $ or backtick; the environment file cannot hold it.`);
  }
  for (const name of secretVars) {
    if (MANAGED_API_VARIABLES.includes(name)) failWith(`apiSecretNames would set ${name}, which the host writes itself; rename the secret.`);
  }
  for (const cidr of props.sshAllowedCidrs ?? []) validateSshCidr(scope, cidr);
  const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PUBLIC }).subnets;
  if (subnets.length === 0) failWith('vpcSubnets selects no subnet in the VPC; select the subnet the host belongs in.');
  const az = props.availabilityZone;
  const subnet = az === undefined ? subnets[0] : subnets.find((s) => s.availabilityZone === az || Token.isUnresolved(s.availabilityZone));
  if (!subnet) {
    failWith(`availabilityZone "${az}" has none of the selected subnets (they are in ${[...new Set(subnets.map((s) => s.availabilityZone))].join(', ')}). The instance and its data volume must share one zone.`);
  }
  return subnet!;
}

function validateSshCidr(scope: IConstruct, cidr: string): void {
  const v4 = /^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/.test(cidr);
  const v6 = /^[0-9a-fA-F:]+\/\d{1,3}$/.test(cidr);
  if (!v4 && !v6) fail(scope)(`sshAllowedCidrs entry "${cidr}" is not a CIDR, e.g. "203.0.113.7/32".`);
  const bits = Number(cidr.split('/')[1]);
  const narrowest = v4 ? 24 : 56;
  if (bits < narrowest) {
    fail(scope)(`sshAllowedCidrs entry "${cidr}" opens SSH to ${v4 ? 2 ** (32 - bits) : `2^${128 - bits}`} addresses; allow at most a /${narrowest} (e.g. "203.0.113.7/32"), or use SSM Session Manager.`);
  }
}

export function validateHostFile(scope: IConstruct, file: HostFile): void {
  if (!/^\/[A-Za-z0-9._@+/-]+$/.test(file.path) || file.path.split('/').includes('..') || file.path.endsWith('/')) {
    fail(scope)(`addFiles: path "${file.path}" must be an absolute file path of letters, digits and ._@+-/ without "..".`);
  }
  if (file.mode !== undefined && !/^0?[0-7]{3}$/.test(file.mode)) {
    fail(scope)(`addFiles: mode "${file.mode}" of ${file.path} must be octal, e.g. "0644" or "0755".`);
  }
  if (file.owner !== undefined && !/^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$/.test(file.owner)) {
    fail(scope)(`addFiles: owner "${file.owner}" of ${file.path} must be "user:group", e.g. "root:root".`);
  }
}

export function validateBootCommands(scope: IConstruct, commands: string[]): void {
  if (commands.some((command) => command.trim().length === 0)) {
    fail(scope)('addBootCommands got an empty command; pass the shell command to run.');
  }
}

export function validateSecretName(scope: IConstruct, name: string): void {
  if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(name)) {
    fail(scope)(`secret name "${name}" must be lowercase letters, digits and dashes (e.g. "restic-password").`);
  }
}

/** A host command: a short action name, and shell lines fixed at synth time. */
export function validateCommand(scope: IConstruct, action: string, lines: string[]): void {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(action)) {
    fail(scope)(`command action "${action}" must be lowercase letters, digits and hyphens (at most 31), e.g. "restart-api".`);
  }
  if (lines.length === 0 || lines.some((line) => line.trim().length === 0 || Token.isUnresolved(line))) {
    fail(scope)(`command ${action} needs shell lines that are neither empty nor tokens (the document is fixed at synth time).`);
  }
}

/** EC2 and CloudFormation allow 16 KiB of user data; stay clear of it (tokens expand at deploy). */
export const USER_DATA_LIMIT = 14 * 1024;

/**
 * The user data's size after deployment, estimated from its resolved form: each token (a name,
 * an id, a URL) expands to at most a few hundred bytes. An error message when it is too big.
 */
export function userDataSizeErrors(scope: IConstruct, resolved: unknown): string[] {
  const size = typeof resolved === 'string' ? resolved.length
    : JSON.stringify(resolved).length + 200 * (JSON.stringify(resolved).match(/"Ref"|"Fn::GetAtt"/g) ?? []).length;
  return size > USER_DATA_LIMIT
    ? [`GravitonDataHost ${scope.node.path}: user data is about ${size} bytes, above the ${USER_DATA_LIMIT}-byte budget (EC2 allows 16384). Files whose content has tokens go into user data: put the token values into a small file and keep big scripts token-free (they then go to S3).`]
    : [];
}
