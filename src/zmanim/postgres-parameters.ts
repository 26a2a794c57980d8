import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The RDS parameter group of the `managed` profile, derived from the single host's PostgreSQL
 * settings so that both profiles run the same tuning, written once:
 * `src/constructs/graviton-data-host/host/config/postgresql.conf` (static settings) and
 * `configure-postgres.sh` (memory settings from the host's RAM, here RDS formulas of the
 * instance class's memory, `DBInstanceClassMemory`, in bytes).
 *
 * Every setting of the host file is either translated (`TRANSLATE`) or left to RDS for a
 * stated reason (`LEFT_TO_RDS`); a new setting in the host file fails the tests until it is
 * placed in one of the two.
 */
export const HOST_POSTGRESQL_CONF = join(__dirname, '..', 'constructs', 'graviton-data-host', 'host', 'config', 'postgresql.conf');

/** Host settings RDS manages itself or does not allow, and why. */
export const LEFT_TO_RDS: { readonly [name: string]: string } = {
  listen_addresses: 'RDS listens on its endpoint; security groups restrict who connects',
  max_connections: 'RDS sizes it from the instance memory; the host\'s 50 is for one API on one host, a fleet needs more',
  huge_pages: 'RDS turns huge pages on for the instance classes that support them',
  max_worker_processes: 'RDS sizes it from the vCPUs of the class (the host\'s 4 is for one vCPU)',
  logging_collector: 'RDS collects the log itself (and can export it to CloudWatch Logs)',
  log_line_prefix: 'not modifiable on RDS',
};

/**
 * Host setting to RDS value, where the RDS parameter's unit differs (RDS takes bare numbers
 * in the parameter's base unit: kB, 8 kB pages, MB or ms).
 */
const UNITS: { readonly [name: string]: (hostValue: string) => string } = {
  max_wal_size: mb,
  min_wal_size: mb,
  log_min_duration_statement: (v) => String(toMs(v)),
  log_temp_files: (v) => String(toKb(v)),
};

/**
 * Memory settings of configure-postgres.sh as RDS formulas (same fractions of the RAM):
 * shared_buffers = RAM/4 (8 kB pages), effective_cache_size = RAM*5/8 (8 kB pages),
 * maintenance_work_mem = min(RAM/16, 1 GB) (kB), work_mem = max(RAM/512, 4 MB) (kB).
 */
export const MEMORY_FORMULAS: { readonly [name: string]: string } = {
  shared_buffers: '{DBInstanceClassMemory/32768}',
  effective_cache_size: '{DBInstanceClassMemory*5/65536}',
  maintenance_work_mem: 'LEAST({DBInstanceClassMemory/16384},1048576)',
  work_mem: 'GREATEST({DBInstanceClassMemory/524288},4096)',
};

/** Settings RDS needs that the host does not (the host listens on 127.0.0.1 only). */
export const RDS_ONLY: { readonly [name: string]: string } = {
  // Clients must use TLS: the API's DATABASE_URL has sslmode=require.
  'rds.force_ssl': '1',
};

/** The host file's settings, in file order (comments and blank lines left out, quotes removed). */
export function hostSettings(conf: string = readFileSync(HOST_POSTGRESQL_CONF, 'utf8')): Array<[string, string]> {
  const settings: Array<[string, string]> = [];
  for (const raw of conf.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const match = /^([a-z_.]+)\s*=\s*(.+)$/.exec(line);
    if (!match) throw new Error(`${HOST_POSTGRESQL_CONF}: cannot read the setting "${raw}"`);
    settings.push([match[1], match[2].trim().replace(/^'(.*)'$/, '$1')]);
  }
  return settings;
}

/** The RDS parameter group's parameters: the host's settings, translated, plus the memory formulas. */
export function rdsParameters(conf?: string): { [name: string]: string } {
  const parameters: { [name: string]: string } = {};
  for (const [name, value] of hostSettings(conf)) {
    if (name in LEFT_TO_RDS) continue;
    parameters[name] = UNITS[name] ? UNITS[name](value) : value;
  }
  return { ...parameters, ...MEMORY_FORMULAS, ...RDS_ONLY };
}

/**
 * The RDS parameters evaluated for an instance with `memoryBytes` of RAM, as postgresql.conf
 * lines with units: what a local PostgreSQL must run with to rehearse a restore into RDS
 * (test/zmanim/migration-rehearsal). RDS-only parameters (`rds.*`) are left out.
 */
export function renderForLocalPostgres(memoryBytes: number, conf?: string): string {
  const units: { [name: string]: string } = { shared_buffers: '8kB', effective_cache_size: '8kB', maintenance_work_mem: 'kB', work_mem: 'kB', max_wal_size: 'MB', min_wal_size: 'MB', log_min_duration_statement: 'ms', log_temp_files: 'kB' };
  const lines: string[] = [];
  for (const [name, value] of Object.entries(rdsParameters(conf))) {
    if (name.startsWith('rds.')) continue;
    const evaluated = evaluateFormula(value, memoryBytes);
    const withUnit = units[name] ? `${evaluated}${units[name] === '8kB' ? '' : units[name]}` : evaluated;
    lines.push(`${name} = '${withUnit}'`);
  }
  return lines.join('\n') + '\n';
}

/** Evaluates an RDS formula (`{DBInstanceClassMemory*a/b}`, `LEAST(...)`, `GREATEST(...)`) for a memory size. */
export function evaluateFormula(value: string, memoryBytes: number): string {
  const term = (t: string): number => {
    const m = /^\{DBInstanceClassMemory(?:\*(\d+))?\/(\d+)\}$/.exec(t.trim());
    if (m) return Math.floor((memoryBytes * Number(m[1] ?? 1)) / Number(m[2]));
    if (/^\d+$/.test(t.trim())) return Number(t.trim());
    throw new Error(`Cannot evaluate the RDS formula term "${t}"`);
  };
  const fn = /^(LEAST|GREATEST)\((.+),(.+)\)$/.exec(value);
  if (fn) return String((fn[1] === 'LEAST' ? Math.min : Math.max)(term(fn[2]), term(fn[3])));
  return value.startsWith('{') ? String(term(value)) : value;
}

function mb(v: string): string {
  const m = /^(\d+)\s*(MB|GB)$/.exec(v);
  if (!m) throw new Error(`Expected a size in MB or GB, got "${v}"`);
  return String(Number(m[1]) * (m[2] === 'GB' ? 1024 : 1));
}

function toMs(v: string): number {
  const m = /^(\d+)\s*(ms|s|min)?$/.exec(v);
  if (!m) throw new Error(`Expected a duration, got "${v}"`);
  return Number(m[1]) * ({ ms: 1, s: 1000, min: 60_000 } as Record<string, number>)[m[2] ?? 'ms'];
}

function toKb(v: string): number {
  const m = /^(\d+)\s*(kB|MB|GB)?$/.exec(v);
  if (!m) throw new Error(`Expected a size, got "${v}"`);
  return Number(m[1]) * ({ kB: 1, MB: 1024, GB: 1024 * 1024 } as Record<string, number>)[m[2] ?? 'kB'];
}
