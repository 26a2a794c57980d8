import { Duration } from 'aws-cdk-lib';
import { PostgresDumpOptions, ResticBackupSource } from './sources';
import { shellQuote } from '../../internal/shell';

// What the construct derives from a source (not exported from the library).

/** A dump of the whole database (no schemas, excludeSchemas or tables): what a restore starts from. */
export function isFull(p: PostgresDumpOptions): boolean {
  return !(p.schemas?.length || p.excludeSchemas?.length || p.tables?.length);
}

/** The source's file on the host (`/etc/restic-backups/sources/NAME.env`), which the backup tool reads. */
export function sourceConfig(source: ResticBackupSource): string {
  const r = source.retention ?? {};
  const lines = [`# Source ${source.name}, written by the ResticBackups construct.`];
  if (source.pieceSize) lines.push(`SOURCE_PIECE_SIZE=${source.pieceSize.toBytes()}`);
  if (source.postgres) {
    const p = source.postgres;
    const args = [
      ...(p.schemas ?? []).map((s) => `--schema=${s}`),
      ...(p.excludeSchemas ?? []).map((s) => `--exclude-schema=${s}`),
      ...(p.tables ?? []).map((t) => `--table=${t}`),
    ];
    // A partial dump replaces its objects when it is applied on top of the full restore.
    if (!isFull(p)) args.push('--clean', '--if-exists');
    lines.push('SOURCE_KIND=postgres', `SOURCE_DATABASE=${shellQuote(p.database)}`, `SOURCE_PG_DUMP_ARGS=${shellQuote(args.join(' '))}`,
      `SOURCE_PG_FULL=${isFull(p) ? 1 : 0}`, `SOURCE_FILENAME=${shellQuote(`${source.name}.sql`)}`);
    if (p.verifyQuery) lines.push(`SOURCE_VERIFY_SQL=${shellQuote(p.verifyQuery)}`);
  } else if (source.command) {
    lines.push('SOURCE_KIND=command', `SOURCE_COMMAND=${shellQuote(source.command)}`, `SOURCE_FILENAME=${shellQuote(source.name)}`);
    if (source.commandUser) lines.push(`SOURCE_USER=${shellQuote(source.commandUser)}`);
  } else {
    lines.push('SOURCE_KIND=paths', `SOURCE_PATHS=${shellQuote((source.paths ?? []).join(' '))}`);
  }
  const keep: Array<[string, number | undefined]> = [['LAST', r.last], ['HOURLY', r.hourly], ['DAILY', r.daily ?? 7],
    ['WEEKLY', r.weekly ?? 4], ['MONTHLY', r.monthly ?? 3], ['YEARLY', r.yearly]];
  for (const [k, v] of keep) if (v) lines.push(`KEEP_${k}=${v}`);
  return lines.join('\n') + '\n';
}

/**
 * The systemd OnCalendar expression of a source without `schedule`, for an interval that
 * divides a day evenly; undefined for other intervals ({@link noDefaultSchedule} says why).
 */
export function scheduleFor(interval: Duration): string | undefined {
  const m = interval.toMinutes();
  if (m < 60 && 60 % m === 0) return `*-*-* *:00/${m}:00`;
  if (m === 60) return '*-*-* *:05:00';
  if (m % 60 === 0 && m < 1440 && 1440 % m === 0) return `*-*-* 00/${m / 60}:05:00`;
  if (m === 1440) return '*-*-* 02:30:00';
  return undefined;
}

export function noDefaultSchedule(interval: Duration): string {
  return `no default schedule for an interval of ${interval.toMinutes()} minutes: pass schedule (a systemd OnCalendar expression)`;
}
