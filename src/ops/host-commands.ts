/**
 * The shell the CLI runs on the host through Run Command (`AWS-RunShellScript`, as root).
 * They call what the GravitonDataHost (`/opt/zmanim/host/`, units `zmanim-*`) and the
 * ResticBackups (`restic-backups`, config in `/etc/restic-backups/`) constructs install.
 * Values from the command line reach the host only through `quote()`.
 */

/** The services of the host, by the name operators use. */
export const SERVICES: { [name: string]: string } = {
  api: 'zmanim-api',
  postgresql: 'zmanim-postgresql',
  redis: 'zmanim-redis',
  boot: 'zmanim-boot',
};

const HOST_DIR = '/opt/zmanim/host';
// The environment overrides are lib.sh's own convention (the tests point them at temp dirs).
const LIB = `. "\${ZMANIM_HOST_DIR:-${HOST_DIR}}/lib.sh"`;
/** The backup tool, wherever the ResticBackups construct installed it. */
const RESTIC_BACKUPS = 'rb="${RESTIC_BACKUPS_BIN:-/usr/local/sbin/restic-backups}"; [ -x "$rb" ] || { echo "$rb is missing: the ResticBackups construct installs it at boot" >&2; exit 78; }';
const API_HEALTH = 'http://127.0.0.1:8080/health';

/** Quotes one word for POSIX sh. */
export function quote(word: string): string {
  return `'${word.replace(/'/g, '\'\\\'\'')}'`;
}

export function status(units: string[]): string[] {
  const lines = [
    `for u in ${units.join(' ')}; do printf '%-20s %s\\n' "$u" "$(systemctl is-active "$u" || true)"; done`,
    'echo',
    ...units.map((u) => `systemctl status --no-pager --lines=10 ${u} || true`),
  ];
  if (units.includes(SERVICES.postgresql)) {
    lines.push('echo; echo "PostgreSQL connections: $(runuser -u postgres -- psql -XAtc \'SELECT count(*) FROM pg_stat_activity\' 2>&1)"');
  }
  if (units.includes(SERVICES.redis)) {
    lines.push(`echo; ${LIB}; REDISCLI_AUTH="$(secret redis-password)" "$(redis_cli_bin)" -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning INFO memory | grep -E '^(used_memory_human|maxmemory_human)' || true`);
  }
  // Any unit not active makes the command fail, so the CLI exits non-zero.
  lines.push(`for u in ${units.join(' ')}; do systemctl is-active --quiet "$u" || { echo "$u is not active" >&2; exit 3; }; done`);
  return lines;
}

export function restart(unit: string): string[] {
  if (unit === SERVICES.api) {
    // deploy-api.sh restarts the API and fails unless the new process answers /health.
    return deployApi();
  }
  return [
    `systemctl restart ${unit}`,
    `systemctl is-active --quiet ${unit} || { systemctl status --no-pager --lines=30 ${unit}; exit 1; }`,
    `echo "${unit} restarted: $(systemctl show -p ActiveEnterTimestamp --value ${unit})"`,
  ];
}

export function diskAndMemory(): string[] {
  return [
    'echo "== disk"; df -h / /data',
    'echo; echo "== /data"; du -sh /data/* 2>/dev/null | sort -h',
    'echo; echo "== memory"; free -h',
    'echo; echo "== top processes by memory"; ps -eo pid,user,%mem,rss,%cpu,etime,comm --sort=-%mem | head -n 12',
  ];
}

export function hostHealth(): string[] {
  return [`curl -sS -m 5 -w '\\nHTTP %{http_code} in %{time_total}s\\n' ${API_HEALTH}`];
}

export function backupNow(source?: string): string[] {
  return [
    RESTIC_BACKUPS,
    source
      ? `sources=${quote(source)}`
      : 'sources="$(for f in "${RESTIC_BACKUPS_CONFIG_DIR:-/etc/restic-backups}"/sources/*.env; do if [ -e "$f" ]; then basename "$f" .env; fi; done)"',
    'test -n "$sources" || { echo "no backup sources in ${RESTIC_BACKUPS_CONFIG_DIR:-/etc/restic-backups}/sources (is ResticBackups installed?)" >&2; exit 78; }',
    // Every source is tried; the exit code is the last failure's.
    'rc=0; for s in $sources; do "$rb" backup "$s" || rc=$?; done; exit "$rc"',
  ];
}

export function snapshots(source?: string): string[] {
  return [RESTIC_BACKUPS, `"$rb" snapshots --compact${source ? ` --tag ${quote(`source:${source}`)}` : ''}`];
}

export interface RestoreOptions {
  readonly snapshot?: string;
  readonly before?: string;
  readonly database?: string;
}

export function restore(options: RestoreOptions): string[] {
  const args = [
    ...(options.snapshot ? ['--snapshot', quote(options.snapshot)] : []),
    ...(options.before ? ['--before', quote(options.before)] : []),
    ...(options.database ? ['--database', quote(options.database)] : []),
  ];
  return [RESTIC_BACKUPS, `"$rb" restore ${args.join(' ')}`.trimEnd()];
}

export function drill(database?: string): string[] {
  return [RESTIC_BACKUPS, `"$rb" drill${database ? ` --database ${quote(database)}` : ''}`];
}

export function redisFlush(): string[] {
  return [
    LIB,
    'cli="$(redis_cli_bin)"',
    // Assigned apart from `export`, so that a missing secret fails the script.
    'REDISCLI_AUTH="$(secret redis-password)"',
    'export REDISCLI_AUTH',
    'echo "keys before: $("$cli" -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning DBSIZE)"',
    '"$cli" -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning FLUSHDB',
    'echo "keys after: $("$cli" -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning DBSIZE)"',
  ];
}

export function deployApi(): string[] {
  return [`bash "\${ZMANIM_HOST_DIR:-${HOST_DIR}}/deploy-api.sh"`];
}
