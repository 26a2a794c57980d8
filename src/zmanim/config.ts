import { ManagedCapacity, validateCapacity } from './profiles';
import { GENERATED_SECRETS, OPERATOR_SECRETS } from './secrets';

/**
 * The production zmanim system's configuration: the seed's values
 * (`infrastructure/lib/config.ts`) plus what the stacks need to synthesize offline.
 *
 * Everything here is public: no secret value ever belongs in this file. Secrets live in SSM
 * Parameter Store under `ssmPrefix` (see README, "Secrets").
 */
export interface ZmanimConfig {
  /** Deployment environment name; part of stack names and of the SSM path. */
  readonly environment: string;
  /**
   * AWS account to deploy to. When undefined, the account in the environment
   * (`CDK_DEFAULT_ACCOUNT`) is used, and synth stays account-agnostic without one.
   */
  readonly account?: string;
  /** Region of the system (everything but the CloudFront certificate and the health check). */
  readonly region: string;
  /**
   * Second region holding a replica of the backup repository (README, "Replica in a second
   * region"): the restore path after a complete failure of `region`. Empty string: no replica.
   */
  readonly backupReplicaRegion: string;
  /** The one Availability Zone the host, its data volume and the VPC live in. */
  readonly availabilityZone: string;
  /** The public domain of the site; the API is under `/backend/`. */
  readonly domain: string;
  /** The existing Route 53 hosted zone that holds `domain` (imported by id: no look-up). */
  readonly hostedZone: { readonly zoneId: string; readonly zoneName: string };
  /**
   * EC2 instance type of the data host (Graviton, ARM64), one of `GRAVITON_INSTANCE_TYPES`.
   * Step (1) of the scaling path (README, "Scaling path") is a bigger value here.
   */
  readonly instanceType: string;
  /**
   * `single-host` (API, PostgreSQL and Redis on one Graviton host) or `managed` (RDS,
   * ElastiCache, the API on an Auto Scaling group across AZs): README, "Scaling path".
   */
  readonly capacityProfile: string;
  /** Sizes of the `managed` profile; ignored by `single-host`. See `ManagedCapacity`. */
  readonly managed?: ManagedCapacity;
  /** Size of the persistent data volume (/data), in GiB. */
  readonly dataVolumeSize: number;
  /** Whether the Route 53 health check and its alarm exist. */
  readonly enableHealthCheck: boolean;
  /** Path of the public health URL checked by Route 53; the body must contain `healthySearchString`. */
  readonly healthCheckPath: string;
  /** Text the health response must contain. */
  readonly healthySearchString: string;
  /** Who receives alarm and recovery (OK) notifications. */
  readonly alertEmails: string[];
  /** SSM Parameter Store path that holds this environment's secrets (no trailing slash). */
  readonly ssmPrefix: string;
  /** CIDR of the VPC. */
  readonly vpcCidr: string;
  /** The Next.js site (Next.js stack). */
  readonly site: {
    /**
     * The `.open-next` folder of the web app's OpenNext build, absolute or relative to the
     * repository root. The default is the fixture app this repository builds itself, so
     * synth works on a fresh clone; the frontend workflow passes the real web app's build
     * (`-c zmanim:site='{"openNextPath":"../web/.open-next"}'`).
     */
    readonly openNextPath: string;
    /** Server function instances kept warm every 5 minutes (0: no warmer). */
    readonly warmerConcurrency: number;
  };
  /** The GitHub repositories that deploy this system (OIDC trust). */
  readonly github: {
    /** `owner/name` of this infrastructure repository. */
    readonly infrastructureRepository: string;
    /** `owner/name` of the zmanim application repository (Go API, Next.js web app). */
    readonly applicationRepository: string;
  };
}

/**
 * The hosted zone id in `DEFAULT_CONFIG` until an operator sets the real one: well-formed, so
 * synth works, but a deploy with it is refused (src/zmanim/deploy-checks.ts).
 */
export const PLACEHOLDER_HOSTED_ZONE_ID = 'Z04310813Q8GM3J9ZMANM';

/** The seed's production values. Override single fields with `-c zmanim:<field>=<value>`. */
export const DEFAULT_CONFIG: ZmanimConfig = {
  environment: 'prod',
  region: 'eu-west-1',
  backupReplicaRegion: 'eu-central-1',
  availabilityZone: 'eu-west-1a',
  domain: 'zmanim.shtetl.io',
  // A placeholder until set: Route 53 > Hosted zones > shtetl.io > Hosted zone ID.
  hostedZone: { zoneId: PLACEHOLDER_HOSTED_ZONE_ID, zoneName: 'shtetl.io' },
  instanceType: 'm7g.medium',
  capacityProfile: 'single-host',
  dataVolumeSize: 30,
  enableHealthCheck: true,
  healthCheckPath: '/backend/api/v1/health',
  healthySearchString: 'healthy',
  alertEmails: ['ops@shtetl.io'],
  ssmPrefix: '/zmanim/prod',
  vpcCidr: '10.40.0.0/16',
  site: { openNextPath: 'test/fixtures/nextjs-app/.open-next', warmerConcurrency: 1 },
  github: {
    infrastructureRepository: 'shtetl/infrastructure',
    applicationRepository: 'shtetl/zmanim',
  },
};

/** Raised for a configuration value that cannot work; the message names the field and the fix. */
export class ConfigError extends Error {
  /**
   * @param field the config field (`site.openNextPath`) or context key (`zmanim:config`)
   * @param source where the value came from (`context zmanim:config`), when known
   */
  constructor(
    public readonly field: string,
    public readonly value: unknown,
    public readonly problem: string,
    public readonly fix: string,
    public readonly source?: string,
  ) {
    const from = source && source !== `context ${field}` ? ` from ${source}` : '';
    super(`Invalid zmanim config "${field}" (${JSON.stringify(value)})${from}: ${problem}. ${fix}`);
    this.name = 'ConfigError';
  }
}

const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[a-z]{2,}$/i;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/** Checks every field and throws a `ConfigError` for the first one that cannot work. */
export function validateConfig(config: ZmanimConfig): ZmanimConfig {
  const fail = (field: string, value: unknown, problem: string, fix: string): never => {
    throw new ConfigError(field, value, problem, fix);
  };
  if (!/^[a-z][a-z0-9]{1,15}$/.test(config.environment)) {
    fail('environment', config.environment, 'must be 2-16 lowercase letters or digits', 'Use a name such as "prod" or "staging".');
  }
  if (config.account !== undefined && !/^\d{12}$/.test(config.account)) {
    fail('account', config.account, 'an AWS account id has exactly 12 digits', 'Set the 12-digit id, or leave it out to use CDK_DEFAULT_ACCOUNT.');
  }
  if (!REGION.test(config.region)) {
    fail('region', config.region, 'is not an AWS region name', 'Use a region such as "eu-west-1".');
  }
  if (config.backupReplicaRegion !== '' && !REGION.test(config.backupReplicaRegion)) {
    fail('backupReplicaRegion', config.backupReplicaRegion, 'is not an AWS region name', 'Use a region such as "eu-central-1", or "" for no backup replica.');
  }
  if (config.backupReplicaRegion === config.region) {
    fail('backupReplicaRegion', config.backupReplicaRegion, `is the system's own region, so a failure of ${config.region} would take the replica too`,
      'Use another region (e.g. "eu-central-1" for "eu-west-1"), or "" for no backup replica.');
  }
  if (!config.availabilityZone.startsWith(config.region) || !/^[a-z]$/.test(config.availabilityZone.slice(config.region.length))) {
    fail('availabilityZone', config.availabilityZone, `is not an Availability Zone of ${config.region}`, `Use "${config.region}a" or another zone of that region.`);
  }
  if (!HOSTNAME.test(config.domain)) {
    fail('domain', config.domain, 'is not a lowercase DNS name', 'Use a name such as "zmanim.shtetl.io" (no scheme, no path, no wildcard).');
  }
  if (!config.hostedZone.zoneId) {
    fail('hostedZone.zoneId', config.hostedZone.zoneId, 'is missing', 'Copy the id from Route 53 > Hosted zones (it starts with "Z").');
  }
  if (!/^Z[A-Z0-9]{4,32}$/.test(config.hostedZone.zoneId)) {
    fail('hostedZone.zoneId', config.hostedZone.zoneId, 'is not a Route 53 hosted zone id', 'Copy the id from Route 53 > Hosted zones (it starts with "Z", without "/hostedzone/").');
  }
  if (!HOSTNAME.test(config.hostedZone.zoneName)) {
    fail('hostedZone.zoneName', config.hostedZone.zoneName, 'is not a DNS name', 'Use the zone apex, e.g. "shtetl.io" (no trailing dot).');
  }
  if (config.domain !== config.hostedZone.zoneName && !config.domain.endsWith(`.${config.hostedZone.zoneName}`)) {
    fail('domain', config.domain, `is not inside the hosted zone "${config.hostedZone.zoneName}", so its certificate cannot be DNS-validated there`,
      'Use a domain under hostedZone.zoneName, or point hostedZone at the zone that holds the domain.');
  }
  validateCapacity(config, fail);
  if (!Number.isInteger(config.dataVolumeSize) || config.dataVolumeSize < 8 || config.dataVolumeSize > 16384) {
    fail('dataVolumeSize', config.dataVolumeSize, 'must be a whole number of GiB from 8 to 16384 (gp3 limits)', 'The seed uses 30.');
  }
  if (!config.healthCheckPath.startsWith('/')) {
    fail('healthCheckPath', config.healthCheckPath, 'must start with "/"', 'Use "/backend/api/v1/health".');
  }
  if (config.enableHealthCheck && config.healthySearchString.length === 0) {
    fail('healthySearchString', config.healthySearchString, 'must not be empty when the health check is on', 'Use "healthy".');
  }
  if (config.alertEmails.length === 0) {
    fail('alertEmails', config.alertEmails, 'nobody would be told about an outage', 'Give at least one address.');
  }
  for (const email of config.alertEmails) {
    if (!EMAIL.test(email)) {
      fail('alertEmails', email, 'is not an email address', 'Use addresses such as "ops@shtetl.io".');
    }
  }
  if (!/^(\/[a-zA-Z0-9_.-]+)+$/.test(config.ssmPrefix)) {
    fail('ssmPrefix', config.ssmPrefix, 'must be an absolute SSM path without a trailing slash', 'Use "/zmanim/prod".');
  }
  if (!/^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/.test(config.vpcCidr)) {
    fail('vpcCidr', config.vpcCidr, 'must be an IPv4 CIDR from /16 to /24', 'Use a private range such as "10.40.0.0/16".');
  }
  if (!config.site || typeof config.site.openNextPath !== 'string' || config.site.openNextPath.length === 0) {
    fail('site.openNextPath', config.site?.openNextPath, 'must name the .open-next folder of an OpenNext build', 'Build the web app with `npx @opennextjs/aws build` and pass -c zmanim:site=\'{"openNextPath":"path/to/.open-next"}\'.');
  }
  if (!Number.isInteger(config.site.warmerConcurrency) || config.site.warmerConcurrency < 0 || config.site.warmerConcurrency > 100) {
    fail('site.warmerConcurrency', config.site.warmerConcurrency, 'must be a whole number from 0 to 100', 'Use 0 (no warmer) or 1.');
  }
  for (const [field, repo] of Object.entries(config.github)) {
    if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9_.-]+$/.test(repo)) {
      fail(`github.${field}`, repo, 'must be "owner/name" without wildcards', 'Use e.g. "shtetl/infrastructure".');
    }
  }
  return config;
}

/**
 * Context keys the app reads besides `zmanim:<field>` for each config field. Any other
 * `zmanim:` key is a mistake (a typo would otherwise be ignored without a word).
 */
export const OTHER_CONTEXT_KEYS = [
  /** A JSON object of config fields. */
  'zmanim:config',
  /** The account (`ZmanimConfig.account`). */
  'zmanim:account',
  /** Sizes of the managed profile (`ZmanimConfig.managed`). */
  'zmanim:managed',
  /** The host's image, read by the Compute and ApiFleet stacks (docs/deploying.md, "The AMI"). */
  'zmanim:ami',
  /** Read by the GitHubOidc stack: an existing OIDC provider, the release bucket, the integ account. */
  'zmanim:githubOidcProviderArn',
  'zmanim:releaseBucketName',
  'zmanim:integAccount',
];

/** CDK context: every key and value (`app.node.getAllContext()`), or a getter for one key. */
export type ContextSource = Record<string, unknown> | ((key: string) => unknown);

const FIELDS = Object.keys(DEFAULT_CONFIG);
const CONFIG_KEYS = [...FIELDS, 'account', 'managed'];
const EXAMPLE_CONFIG = '-c zmanim:config=\'{"dataVolumeSize":50}\'';

/**
 * The default config with overrides from CDK context (`-c zmanim:domain=...`, or a
 * `zmanim:config` JSON object in cdk.json / cdk.context.json / `-c`), validated. Every
 * mistake (an unknown key, a wrong type, "yes" for a boolean, malformed JSON, a value that
 * cannot work) throws a `ConfigError` naming the context key, the value and the fix. When
 * `context` is a record of every key, unknown `zmanim:` keys are refused too.
 */
export function resolveConfig(context: ContextSource, env: NodeJS.ProcessEnv = process.env): ZmanimConfig {
  const get = typeof context === 'function' ? context : (key: string) => context[key];
  if (typeof context !== 'function') {
    const known = [...FIELDS.map((f) => `zmanim:${f}`), ...OTHER_CONTEXT_KEYS];
    for (const key of Object.keys(context).filter((k) => k.startsWith('zmanim:') && !known.includes(k))) {
      refuseSecret(key.slice('zmanim:'.length), `context ${key}`);
      throw new ConfigError(key, context[key], 'is not a context key the app reads', didYouMean(key, known), `context ${key}`);
    }
  }
  // Read by the Compute and ApiFleet stacks; checked here so a typo fails in one line.
  const ami = get('zmanim:ami');
  if (ami !== undefined && ami !== 'bootstrap' && ami !== 'packer') {
    throw new ConfigError('zmanim:ami', ami, 'is not an image choice',
      'Use "bootstrap" (stock Amazon Linux 2023, before any AMI build) or "packer" (the AMI build-prod-ami published; docs/deploying.md, "The AMI").', 'context zmanim:ami');
  }
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG };
  /** Where each top-level field was set, for the message when validation refuses it. */
  const sources = new Map<string, string>();

  const fromJson = get('zmanim:config');
  if (fromJson !== undefined) {
    const source = 'context zmanim:config';
    for (const [key, value] of Object.entries(parseObject('zmanim:config', fromJson, source, EXAMPLE_CONFIG))) {
      if (!CONFIG_KEYS.includes(key)) {
        refuseSecret(key, source);
        throw new ConfigError(key, value, 'is not a config field', didYouMean(key, CONFIG_KEYS), source);
      }
      merged[key] = parseField(key, value, source, merged[key], false);
      sources.set(key, source);
    }
  }
  for (const key of CONFIG_KEYS) {
    const value = get(`zmanim:${key}`);
    if (value === undefined) continue;
    const source = `context zmanim:${key}`;
    merged[key] = parseField(key, value, source, merged[key], true);
    sources.set(key, source);
  }
  if (merged.account === undefined && env.CDK_DEFAULT_ACCOUNT) {
    merged.account = env.CDK_DEFAULT_ACCOUNT;
    sources.set('account', 'CDK_DEFAULT_ACCOUNT (the account of your AWS credentials)');
  }
  try {
    return validateConfig(merged as unknown as ZmanimConfig);
  } catch (e) {
    const source = e instanceof ConfigError && !e.source ? sources.get(e.field.split('.')[0]) : undefined;
    if (source) {
      const { field, value, problem, fix } = e as ConfigError;
      throw new ConfigError(field, value, problem, fix, source);
    }
    throw e;
  }
}

/** Refuses a secret's name as a context key or config field, without echoing its value. */
function refuseSecret(name: string, source: string): void {
  if (!([...GENERATED_SECRETS, ...OPERATOR_SECRETS] as readonly string[]).includes(name)) return;
  // Context ends up in shell history and CI logs: the message never repeats the value.
  throw new ConfigError(name, '(hidden)', 'is a secret, and secrets never go into context',
    'Put it into SSM Parameter Store under ssmPrefix (docs/deploying.md, "Secrets") and remove it from the command line and cdk*.json.', source);
}

/**
 * One field's value with the default's type: `-c` gives strings, so "50", "true" and
 * "a@x.io,b@x.io" are read as a number, a boolean and a list there; a JSON object
 * (`zmanim:config`, cdk.json) must already have the right types.
 */
function parseField(field: string, value: unknown, source: string, current: unknown, fromCommandLine: boolean): unknown {
  const fail = (problem: string, fix: string): never => {
    throw new ConfigError(field, value, problem, fix, source);
  };
  const text = typeof value === 'string' && fromCommandLine ? value.trim() : undefined;
  const example = (DEFAULT_CONFIG as unknown as Record<string, unknown>)[field];
  if (field === 'account') {
    if (typeof value !== 'string') fail('must be a string', 'Quote the 12-digit id, e.g. "012345678901" (as a number it would lose leading zeros).');
    return value;
  }
  if (field === 'managed') {
    return parseObject(field, value, source, '-c zmanim:managed=\'{"databaseReadReplica":true}\'');
  }
  if (typeof example === 'number') {
    if (typeof value === 'number') return value;
    if (text !== undefined && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
    return fail('is not a number', `Use a number, e.g. ${fromCommandLine ? `-c zmanim:${field}=${example}` : `"${field}": ${example}`}.`);
  }
  if (typeof example === 'boolean') {
    if (typeof value === 'boolean') return value;
    if (text === 'true' || text === 'false') return text === 'true';
    return fail('is not true or false', `Use ${fromCommandLine ? `-c zmanim:${field}=true or -c zmanim:${field}=false` : `"${field}": true or false (no quotes)`}.`);
  }
  if (Array.isArray(example)) {
    let list = value;
    if (text !== undefined) {
      list = text.startsWith('[') ? parseJson(field, text, source, `-c zmanim:${field}=a@shtetl.io,b@shtetl.io`) : text.split(',').map((s) => s.trim());
    }
    if (!Array.isArray(list) || list.some((item) => typeof item !== 'string')) {
      fail('must be a list of strings', fromCommandLine ? `Use -c zmanim:${field}=a@shtetl.io,b@shtetl.io.` : `Use a JSON list, e.g. "${field}": ["a@shtetl.io"].`);
    }
    return list;
  }
  if (typeof example === 'object' && example !== null) {
    const given = parseObject(field, value, source, `-c zmanim:${field}='${JSON.stringify(example)}'`);
    const expected = example as Record<string, unknown>;
    for (const [key, item] of Object.entries(given)) {
      if (!(key in expected)) {
        throw new ConfigError(`${field}.${key}`, item, `is not a field of ${field}`, didYouMean(key, Object.keys(expected)), source);
      }
      if (typeof item !== typeof expected[key]) {
        throw new ConfigError(`${field}.${key}`, item, `must be a ${typeof expected[key]}`, `Use e.g. "${key}": ${JSON.stringify(expected[key])}.`, source);
      }
    }
    // A partial object changes only the fields it names.
    return { ...(current as Record<string, unknown>), ...given };
  }
  if (typeof value !== 'string') fail('must be a string', `Use e.g. "${field}": ${JSON.stringify(example)}.`);
  return value;
}

/** A JSON object given as an object (cdk.json) or as JSON text (`-c`). */
function parseObject(field: string, value: unknown, source: string, example: string): Record<string, unknown> {
  const parsed = typeof value === 'string' ? parseJson(field, value, source, example) : value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(field, value, 'must be a JSON object', `Use e.g. ${example}.`, source);
  }
  return parsed as Record<string, unknown>;
}

function parseJson(field: string, text: string, source: string, example: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(field, text, `is not valid JSON (${(e as Error).message})`,
      `Quote every key and string with double quotes and the whole value with single quotes in the shell, e.g. ${example}.`, source);
  }
}

/** "Did you mean X?" for the closest candidate, else the list of candidates. */
export function didYouMean(name: string, candidates: readonly string[]): string {
  const scored = candidates.map((c) => ({ c, d: editDistance(name.toLowerCase(), c.toLowerCase()) })).sort((a, b) => a.d - b.d);
  if (scored.length > 0 && scored[0].d <= Math.max(2, Math.floor(name.length / 4))) return `Did you mean "${scored[0].c}"?`;
  return `Known: ${candidates.join(', ')}.`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}
