import type { ZmanimConfig } from './config';

/**
 * Capacity profiles (README, "Scaling path"):
 * - `single-host`: the seed's layout, the Go API, PostgreSQL and Redis on one Graviton host
 *   (steps 1 and, by the instance type, a bigger host).
 * - `managed`: RDS for PostgreSQL (Multi-AZ and read replica options), ElastiCache for Valkey,
 *   and the API on an Auto Scaling group of Graviton instances across AZs behind an internal
 *   ALB (steps 2 to 5).
 */
export const CAPACITY_PROFILES = ['single-host', 'managed'] as const;

/**
 * Graviton (ARM64) instance types the host and the API fleet may use: the AMI (packer/) and
 * the bootstrap image are arm64, and the host's PostgreSQL/Redis tuning assumes at least 4 GiB.
 * All are offered in eu-west-1; burstable and compute-optimised (2 GiB per vCPU) types are left
 * out on purpose (CPU credits and memory would run out under the seed's load). Step (1) of the
 * scaling path is the next type in this list.
 */
export const GRAVITON_INSTANCE_TYPES = [
  'm7g.medium', 'm7g.large', 'm7g.xlarge', 'm7g.2xlarge', 'm7g.4xlarge',
  'r7g.medium', 'r7g.large', 'r7g.xlarge', 'r7g.2xlarge', 'r7g.4xlarge',
  'm6g.medium', 'm6g.large', 'm6g.xlarge', 'm6g.2xlarge',
  'r6g.medium', 'r6g.large', 'r6g.xlarge', 'r6g.2xlarge',
] as const;

/** RDS for PostgreSQL 16 Graviton classes (Multi-AZ and read replicas supported on all). */
export const RDS_GRAVITON_CLASSES = [
  'db.t4g.medium', 'db.t4g.large',
  'db.m7g.large', 'db.m7g.xlarge', 'db.m7g.2xlarge', 'db.m7g.4xlarge',
  'db.r7g.large', 'db.r7g.xlarge', 'db.r7g.2xlarge', 'db.r7g.4xlarge',
] as const;

/** ElastiCache Graviton node types that support Valkey with encryption in transit and AUTH. */
export const CACHE_GRAVITON_NODE_TYPES = [
  'cache.t4g.micro', 'cache.t4g.small', 'cache.t4g.medium',
  'cache.m7g.large', 'cache.m7g.xlarge', 'cache.r7g.large', 'cache.r7g.xlarge',
] as const;

/**
 * Sizes of the `managed` profile. Every field has a default; set only what you change, e.g.
 * `-c zmanim:managed='{"databaseReadReplica":true}'`.
 */
export interface ManagedCapacity {
  /**
   * Availability Zones of the private subnets, the database, the cache and the API fleet
   * (at least two; the first is normally `availabilityZone`, where the single host was).
   * @default [availabilityZone, zone "b" of the region (zone "a" when availabilityZone is "b" or later)]
   */
  readonly availabilityZones?: string[];
  /**
   * RDS instance class (Graviton), one of `RDS_GRAVITON_CLASSES`.
   * @default 'db.m7g.large'
   */
  readonly databaseInstanceClass?: string;
  /**
   * A standby in a second AZ with automatic failover (step 4, high availability).
   * @default true
   */
  readonly databaseMultiAz?: boolean;
  /**
   * A read replica in the second AZ (step 2); its endpoint is given to the API as
   * `DATABASE_READ_URL`.
   * @default false
   */
  readonly databaseReadReplica?: boolean;
  /**
   * Allocated gp3 storage of the database, in GiB (storage autoscaling grows it up to 4 times).
   * @default 50
   */
  readonly databaseStorageGiB?: number;
  /**
   * Days of automated backups (point-in-time recovery), 7 to 35.
   * @default 14
   */
  readonly databaseBackupRetentionDays?: number;
  /**
   * ElastiCache node type (Graviton), one of `CACHE_GRAVITON_NODE_TYPES`.
   * @default 'cache.t4g.small'
   */
  readonly cacheNodeType?: string;
  /**
   * Replicas of the cache's primary node (1 to 5), in other AZs; failover needs at least one.
   * @default 1
   */
  readonly cacheReplicas?: number;
  /**
   * Instance type of the API fleet, one of `GRAVITON_INSTANCE_TYPES`.
   * @default 'm7g.medium'
   */
  readonly apiInstanceType?: string;
  /**
   * Minimum API instances (at least one per AZ, so at least 2).
   * @default 2
   */
  readonly apiMinInstances?: number;
  /**
   * Maximum API instances (CPU target tracking scales between min and max).
   * @default 6
   */
  readonly apiMaxInstances?: number;
  /**
   * Name of the single host's restic backup bucket (Compute stack output `BackupBucketName`),
   * only while migrating from `single-host`: the API fleet may then read it and the restic
   * password to restore into RDS (README, "Scaling path", migration). Remove it afterwards.
   * @default - no migration source
   */
  readonly migrationBackupBucketName?: string;
}

/** The `managed` sizes with every default filled in. */
export type ResolvedManagedCapacity = Required<Omit<ManagedCapacity, 'migrationBackupBucketName'>> & Pick<ManagedCapacity, 'migrationBackupBucketName'>;

/** Whether the config selects the `managed` profile. */
export function isManaged(config: ZmanimConfig): boolean {
  return config.capacityProfile === 'managed';
}

/** The `managed` sizes of a config, defaults filled in. */
export function managedCapacity(config: ZmanimConfig): ResolvedManagedCapacity {
  const m = config.managed ?? {};
  const zone = config.availabilityZone;
  // A second zone: "b" beside "a", else "a" (every region has both).
  const next = zone.slice(0, -1) + (zone.endsWith('a') ? 'b' : 'a');
  return {
    availabilityZones: m.availabilityZones ?? [zone, next],
    databaseInstanceClass: m.databaseInstanceClass ?? 'db.m7g.large',
    databaseMultiAz: m.databaseMultiAz ?? true,
    databaseReadReplica: m.databaseReadReplica ?? false,
    databaseStorageGiB: m.databaseStorageGiB ?? 50,
    databaseBackupRetentionDays: m.databaseBackupRetentionDays ?? 14,
    cacheNodeType: m.cacheNodeType ?? 'cache.t4g.small',
    cacheReplicas: m.cacheReplicas ?? 1,
    apiInstanceType: m.apiInstanceType ?? 'm7g.medium',
    apiMinInstances: m.apiMinInstances ?? 2,
    apiMaxInstances: m.apiMaxInstances ?? 6,
    migrationBackupBucketName: m.migrationBackupBucketName,
  };
}

const MANAGED_FIELDS = new Set(Object.keys(managedCapacity({ availabilityZone: 'eu-west-1a' } as ZmanimConfig)));

type Fail = (field: string, value: unknown, problem: string, fix: string) => never;

/** Checks `capacityProfile`, `instanceType` and `managed` (called by `validateConfig`). */
export function validateCapacity(config: ZmanimConfig, fail: Fail): void {
  const oneOf = (list: readonly string[]) => `Use one of: ${list.join(', ')}.`;
  if (!(CAPACITY_PROFILES as readonly string[]).includes(config.capacityProfile)) {
    fail('capacityProfile', config.capacityProfile, 'is not a capacity profile', 'Use "single-host" (one host, the default) or "managed" (RDS, ElastiCache, an API fleet): docs/scaling.md, "Scaling path".');
  }
  if (!(GRAVITON_INSTANCE_TYPES as readonly string[]).includes(config.instanceType)) {
    fail('instanceType', config.instanceType, 'is not a validated Graviton (arm64) type with at least 4 GiB', oneOf(GRAVITON_INSTANCE_TYPES));
  }
  if (config.managed === undefined) return;
  if (typeof config.managed !== 'object' || config.managed === null || Array.isArray(config.managed)) {
    fail('managed', config.managed, 'must be an object', 'Pass e.g. -c zmanim:managed=\'{"databaseReadReplica":true}\'.');
  }
  for (const key of Object.keys(config.managed)) {
    if (!MANAGED_FIELDS.has(key)) {
      fail(`managed.${key}`, (config.managed as Record<string, unknown>)[key], 'is not a setting of the managed profile', `Use one of: ${[...MANAGED_FIELDS].join(', ')}.`);
    }
  }
  const m = managedCapacity(config);
  const zones = m.availabilityZones;
  if (!Array.isArray(zones) || zones.length < 2 || new Set(zones).size !== zones.length) {
    fail('managed.availabilityZones', zones, 'needs at least two different zones (Multi-AZ database, cache failover, a fleet that survives a zone)', `Use e.g. ["${config.region}a", "${config.region}b"].`);
  }
  for (const zone of zones) {
    if (typeof zone !== 'string' || !zone.startsWith(config.region) || !/^[a-z]$/.test(zone.slice(config.region.length))) {
      fail('managed.availabilityZones', zone, `is not an Availability Zone of ${config.region}`, `Use zones such as "${config.region}b".`);
    }
  }
  if (!(RDS_GRAVITON_CLASSES as readonly string[]).includes(m.databaseInstanceClass)) {
    fail('managed.databaseInstanceClass', m.databaseInstanceClass, 'is not a validated RDS Graviton class', oneOf(RDS_GRAVITON_CLASSES));
  }
  if (!(CACHE_GRAVITON_NODE_TYPES as readonly string[]).includes(m.cacheNodeType)) {
    fail('managed.cacheNodeType', m.cacheNodeType, 'is not a validated ElastiCache Graviton node type', oneOf(CACHE_GRAVITON_NODE_TYPES));
  }
  if (!(GRAVITON_INSTANCE_TYPES as readonly string[]).includes(m.apiInstanceType)) {
    fail('managed.apiInstanceType', m.apiInstanceType, 'is not a validated Graviton (arm64) type', oneOf(GRAVITON_INSTANCE_TYPES));
  }
  for (const [field, value, type] of [['databaseMultiAz', m.databaseMultiAz, 'boolean'], ['databaseReadReplica', m.databaseReadReplica, 'boolean']] as const) {
    if (typeof value !== type) fail(`managed.${field}`, value, `must be a ${type}`, 'Use true or false.');
  }
  const wholeIn = (field: string, value: number, min: number, max: number, fix: string) => {
    if (!Number.isInteger(value) || value < min || value > max) fail(`managed.${field}`, value, `must be a whole number from ${min} to ${max}`, fix);
  };
  wholeIn('databaseStorageGiB', m.databaseStorageGiB, 20, 16384, 'The default is 50 (the single host uses 30).');
  wholeIn('databaseBackupRetentionDays', m.databaseBackupRetentionDays, 7, 35, 'The default is 14.');
  wholeIn('cacheReplicas', m.cacheReplicas, 1, 5, 'Use 1: one replica in another AZ takes over when the primary fails.');
  wholeIn('apiMinInstances', m.apiMinInstances, zones.length, 50, `Use at least one per Availability Zone (${zones.length}).`);
  wholeIn('apiMaxInstances', m.apiMaxInstances, m.apiMinInstances, 50, `Use apiMinInstances (${m.apiMinInstances}) or more.`);
  if (m.migrationBackupBucketName !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m.migrationBackupBucketName)) {
    fail('managed.migrationBackupBucketName', m.migrationBackupBucketName, 'is not an S3 bucket name', 'Copy the Compute stack\'s BackupBucketName output.');
  }
}
