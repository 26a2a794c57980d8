import { ManagedCapacity, validateCapacity } from './profiles';

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

/** The seed's production values. Override single fields with `-c zmanim:<field>=<value>`. */
export const DEFAULT_CONFIG: ZmanimConfig = {
  environment: 'prod',
  region: 'eu-west-1',
  backupReplicaRegion: 'eu-central-1',
  availabilityZone: 'eu-west-1a',
  domain: 'zmanim.shtetl.io',
  // A placeholder until set: Route 53 > Hosted zones > shtetl.io > Hosted zone ID.
  hostedZone: { zoneId: 'Z04310813Q8GM3J9ZMANM', zoneName: 'shtetl.io' },
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
  constructor(field: string, value: unknown, problem: string, fix: string) {
    super(`Invalid zmanim config "${field}" (${JSON.stringify(value)}): ${problem}. ${fix}`);
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
 * The default config with overrides from CDK context (`-c zmanim:domain=...` or a
 * `zmanim:config` JSON object in cdk.json / cdk.context.json), validated.
 */
export function resolveConfig(getContext: (key: string) => unknown, env: NodeJS.ProcessEnv = process.env): ZmanimConfig {
  const merged: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const fromJson = getContext('zmanim:config');
  if (fromJson !== undefined) {
    Object.assign(merged, typeof fromJson === 'string' ? JSON.parse(fromJson) : fromJson);
  }
  for (const key of Object.keys(DEFAULT_CONFIG).concat('account')) {
    const value = getContext(`zmanim:${key}`);
    if (value === undefined) continue;
    const current = (DEFAULT_CONFIG as unknown as Record<string, unknown>)[key];
    merged[key] = typeof current === 'number' ? Number(value)
      : typeof current === 'boolean' ? String(value) === 'true'
        : Array.isArray(current) ? String(value).split(',').map((s) => s.trim())
          : typeof current === 'object' && typeof value === 'string' ? { ...current, ...JSON.parse(value) }
            : value;
  }
  const managed = getContext('zmanim:managed');
  if (managed !== undefined) merged.managed = typeof managed === 'string' ? JSON.parse(managed) : managed;
  if (merged.account === undefined && env.CDK_DEFAULT_ACCOUNT) {
    merged.account = env.CDK_DEFAULT_ACCOUNT;
  }
  return validateConfig(merged as unknown as ZmanimConfig);
}
