/**
 * The shell the CLI runs on the host through Run Command (`AWS-RunShellScript`, as root).
 * They call what the GravitonDataHost (`/opt/<service>/host/`, units `<service>-*`) and the
 * ResticBackups (`restic-backups`, config in `/etc/restic-backups/`) constructs install.
 * Values from the command line are validated against allow-lists by the commands first, and
 * reach the host only through `quote()`, which refuses anything but printable characters.
 */
import { OpsError } from './errors';
import { shellQuote } from '../internal/shell';

/** The host's units, by the name operators use. */
export const UNITS = ['api', 'postgresql', 'redis', 'boot'] as const;
export type UnitName = typeof UNITS[number];

/** The systemd unit of one of the service's processes (GravitonDataHost's naming). */
export function unit(service: string, name: UnitName): string {
  return `${service}-${name}`;
}

/**
 * The host's script directory (GravitonDataHost: /opt/<service>/host). SHTETL_OPS_HOST_DIR
 * points it elsewhere on a test machine.
 */
function hostDir(service: string): string {
  return `"\${SHTETL_OPS_HOST_DIR:-/opt/${service}/host}"`;
}

const lib = (service: string) => `. ${hostDir(service)}/lib.sh`;
/** The backup tool, wherever the ResticBackups construct installed it. */
const RESTIC_BACKUPS = 'rb="${RESTIC_BACKUPS_BIN:-/usr/local/sbin/restic-backups}"; [ -x "$rb" ] || { echo "$rb is missing: the ResticBackups construct installs it at boot" >&2; exit 78; }';

/** Quotes one word for POSIX sh. Control characters (a newline ends a line of the script) are refused. */
export function quote(word: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(word)) throw new Error(`refusing to quote a word with a control character for the host's shell: ${JSON.stringify(word)}`);
  return shellQuote(word);
}

/** The API's health URL on the host, as the host's instance tag gives it (checked before it reaches the shell). */
export function localHealthUrl(url: string): string {
  if (!/^http:\/\/127\.0\.0\.1:\d{2,5}\/[A-Za-z0-9._~\/-]*$/.test(url)) {
    throw new OpsError(`The host's health URL tag "${url}" is not http://127.0.0.1:PORT/PATH.`,
      'The tag is set by GravitonDataHost from apiPort and apiHealthPath: deploy the stack again with the current constructs, or fix the tag.');
  }
  return url;
}

export function status(service: string, names: UnitName[]): string[] {
  const units = names.map((n) => unit(service, n));
  const lines = [
    `for u in ${units.join(' ')}; do printf '%-20s %s\\n' "$u" "$(systemctl is-active "$u" || true)"; done`,
    'echo',
    ...units.map((u) => `systemctl status --no-pager --lines=10 ${u} || true`),
  ];
  if (names.includes('postgresql')) {
    lines.push('echo; echo "PostgreSQL connections: $(runuser -u postgres -- psql -XAtc \'SELECT count(*) FROM pg_stat_activity\' 2>&1)"');
  }
  if (names.includes('redis')) {
    lines.push(`echo; ${lib(service)}; REDISCLI_AUTH="$(secret redis-password)" "$(redis_cli_bin)" -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning INFO memory | grep -E '^(used_memory_human|maxmemory_human)' || true`);
  }
  // Any unit not active makes the command fail, so the CLI exits non-zero.
  lines.push(`for u in ${units.join(' ')}; do systemctl is-active --quiet "$u" || { echo "$u is not active" >&2; exit 3; }; done`);
  return lines;
}

export function restart(service: string, name: UnitName): string[] {
  if (name === 'api') {
    // deploy-api.sh restarts the API and fails unless the new process answers its health check.
    return deployApi(service);
  }
  const u = unit(service, name);
  return [
    `systemctl restart ${u}`,
    `systemctl is-active --quiet ${u} || { systemctl status --no-pager --lines=30 ${u}; exit 1; }`,
    `echo "${u} restarted: $(systemctl show -p ActiveEnterTimestamp --value ${u})"`,
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

export function hostHealth(healthUrl: string): string[] {
  return [`curl -sS -m 5 -w '\\nHTTP %{http_code} in %{time_total}s\\n' ${quote(localHealthUrl(healthUrl))}`];
}

/** Waits up to 5 minutes for the API after a boot; on failure, the end of the boot unit's journal. */
export function waitForApi(service: string, healthUrl: string): string[] {
  return [`for _ in $(seq 60); do curl -fsS -m 5 ${quote(localHealthUrl(healthUrl))} && exit 0; sleep 5; done; journalctl -u ${unit(service, 'boot')} -n 20 --no-pager >&2; exit 1`];
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

export function redisFlush(service: string): string[] {
  return [
    lib(service),
    'cli="$(redis_cli_bin)"',
    // Assigned apart from `export`, so that a missing secret fails the script.
    'REDISCLI_AUTH="$(secret redis-password)"',
    'export REDISCLI_AUTH',
    'echo "keys before: $("$cli" -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning DBSIZE)"',
    '"$cli" -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning FLUSHDB',
    'echo "keys after: $("$cli" -h 127.0.0.1 -p "$REDIS_PORT" --no-auth-warning DBSIZE)"',
  ];
}

export function deployApi(service: string): string[] {
  return [`bash ${hostDir(service)}/deploy-api.sh`];
}
