/**
 * The seed's SSM parameters (`/zmanim/prod/*`), by who provides the value.
 */

/** Created with random values inside AWS on first deploy (GeneratedSecrets), never overwritten. */
export const GENERATED_SECRETS = [
  'postgres-password',
  'redis-password',
  'jwt-secret',
  'restic-password',
  'origin-verify-key',
] as const;

/**
 * Third-party values an operator puts once (README, "Secrets"). The host refuses to boot,
 * naming the missing one, until they exist.
 */
export const OPERATOR_SECRETS = [
  'clerk-secret-key',
  'clerk-publishable-key',
  'mapbox-public-token',
  'mapbox-api-key',
] as const;
