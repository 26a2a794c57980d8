import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from './errors';

/** Where the CLI reads its defaults inside a project: `context["shtetl-ops"]` of cdk.json. */
export const CDK_JSON_KEY = 'shtetl-ops';

/** The service and environment the CLI operates on. */
export interface Target {
  /** The value of the `shtetl:service` tag the service's resources carry. */
  readonly service: string;
  readonly region: string;
  /** Only resources of stacks whose names start with this (one of several environments). */
  readonly stackPrefix?: string;
  /** The public health URL (`health`). */
  readonly healthUrl?: string;
  /** Where the defaults came from, for error messages. */
  readonly configFile?: string;
}

/** Service names as the constructs accept them; they become host paths and unit names. */
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

export interface TargetFlags {
  readonly service?: string;
  readonly region?: string;
  readonly stackPrefix?: string;
  readonly url?: string;
}

/**
 * Flags first, then the environment (SHTETL_SERVICE, AWS_REGION, AWS_DEFAULT_REGION), then
 * `context["shtetl-ops"]` of the nearest cdk.json from the working directory up.
 */
export function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv, cwd: string, serviceNeeded = true): Target {
  const found = readProjectDefaults(cwd);
  const defaults = found?.defaults ?? {};
  const from = found ? ` (${found.file})` : '';
  const service = flags.service ?? env.SHTETL_SERVICE ?? defaults.service ?? (serviceNeeded ? undefined : '');
  if (service === undefined) {
    throw new UsageError('Which service? No --service, no SHTETL_SERVICE and no cdk.json with context "shtetl-ops" here or above.',
      'Pass --service NAME (the serviceName your constructs were given; `shtetl-ops --region REGION services` lists those tagged in a region), '
      + 'or add "context": {"shtetl-ops": {"service": "NAME", "region": "REGION"}} to your app\'s cdk.json.');
  }
  if (service !== '' && !SERVICE_NAME.test(service)) {
    throw new UsageError(`Service "${service}"${flags.service ? '' : from} is not a service name.`, 'Service names are lowercase letters, digits and dashes, starting with a letter (e.g. my-service).');
  }
  const region = flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? defaults.region;
  if (!region) {
    throw new UsageError(`Which region is ${service || 'it'} in? No --region, AWS_REGION or cdk.json "shtetl-ops" region.`, 'Pass --region REGION (e.g. --region eu-central-1).');
  }
  if (!REGION.test(region)) throw new UsageError(`Region "${region}" is not an AWS region name.`, 'Use e.g. --region eu-west-1.');
  const stackPrefix = flags.stackPrefix ?? defaults.stackPrefix;
  if (stackPrefix !== undefined && !/^[A-Za-z][A-Za-z0-9-]*$/.test(stackPrefix)) {
    throw new UsageError(`Stack prefix "${stackPrefix}" is not the start of a stack name.`, 'Stack names are letters, digits and dashes (e.g. --stack-prefix MyServiceProd).');
  }
  const healthUrl = flags.url ?? defaults.healthUrl;
  if (healthUrl !== undefined && !/^https?:\/\/\S+$/.test(healthUrl)) {
    throw new UsageError(`Health URL "${healthUrl}" is not an http(s) URL.`, 'Use e.g. --url https://example.com/api/health.');
  }
  return { service, region, stackPrefix, healthUrl, configFile: found?.file };
}

interface ProjectDefaults {
  readonly service?: string;
  readonly region?: string;
  readonly stackPrefix?: string;
  readonly healthUrl?: string;
}

function readProjectDefaults(cwd: string): { file: string; defaults: ProjectDefaults } | undefined {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const file = join(dir, 'cdk.json');
    if (existsSync(file)) {
      let json: { context?: { [key: string]: unknown } };
      try {
        json = JSON.parse(readFileSync(file, 'utf8'));
      } catch (error) {
        throw new UsageError(`${file} is not valid JSON: ${(error as Error).message}.`, 'Fix it, or run shtetl-ops from another directory with --service and --region.');
      }
      const value = json.context?.[CDK_JSON_KEY];
      if (value === undefined) return undefined;
      if (typeof value !== 'object' || value === null || Array.isArray(value)
        || Object.entries(value).some(([k, v]) => !['service', 'region', 'stackPrefix', 'healthUrl'].includes(k) || typeof v !== 'string')) {
        throw new UsageError(`context "${CDK_JSON_KEY}" in ${file} must be an object of strings with the keys service, region, stackPrefix and healthUrl.`,
          `E.g. "${CDK_JSON_KEY}": {"service": "my-service", "region": "eu-central-1"}.`);
      }
      return { file, defaults: value as ProjectDefaults };
    }
    if (dirname(dir) === dir) return undefined;
  }
}
