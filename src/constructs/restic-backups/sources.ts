import { Duration, Size } from 'aws-cdk-lib';

/** How many snapshots of a source `restic forget` keeps (each bucket: the newest per period). */
export interface ResticRetention {
  /** @default - none */
  readonly last?: number;
  /** @default - none */
  readonly hourly?: number;
  /** @default 7 */
  readonly daily?: number;
  /** @default 4 */
  readonly weekly?: number;
  /** @default 3 */
  readonly monthly?: number;
  /** @default - none */
  readonly yearly?: number;
}

/** A PostgreSQL database (or part of one) dumped with `pg_dump` as plain, uncompressed SQL. */
export interface PostgresDumpOptions {
  /** The database to dump. */
  readonly database: string;
  /**
   * Only these schemas (`pg_dump --schema`). A source with `schemas`, `excludeSchemas` or
   * `tables` is partial: a restore applies it on top of the database's full source.
   * @default - every schema
   */
  readonly schemas?: string[];
  /**
   * Every schema but these (`pg_dump --exclude-schema`).
   * @default - none excluded
   */
  readonly excludeSchemas?: string[];
  /**
   * Only these tables (`pg_dump --table`, patterns allowed).
   * @default - every table
   */
  readonly tables?: string[];
  /**
   * A query that must return `true` in a restored database before it is swapped in (and in
   * every restore drill), e.g. `SELECT count(*) > 1000000 FROM geo.localities`.
   * @default - the restore checks that the database has tables and loaded without error
   */
  readonly verifyQuery?: string;
}

/** One thing to back up, on its own schedule, with its own retention. */
export interface ResticBackupSource {
  /** Name of the source: lowercase letters, digits and dashes; the snapshot tag is `source:NAME`. */
  readonly name: string;

  /**
   * How often the source is backed up. The backup-age alarm fires when no backup succeeded
   * for twice this long. From 5 minutes to 3 days (CloudWatch evaluates at most 7 days).
   */
  readonly interval: Duration;

  /**
   * When the timer fires, as a systemd `OnCalendar` expression (host time, UTC on AWS).
   * @default - derived from `interval`: `*:00/15:00` for 15 minutes, `*:05:00` hourly,
   * `00/6:05:00` every 6 hours, `02:30:00` daily
   */
  readonly schedule?: string;

  /** @default - daily 7, weekly 4, monthly 3 */
  readonly retention?: ResticRetention;

  /** Dump a PostgreSQL database (exactly one of `postgres`, `command`, `paths`). */
  readonly postgres?: PostgresDumpOptions;

  /**
   * A shell command (bash, pipefail) whose standard output is backed up. A non-zero exit
   * status means the backup failed, and no snapshot is kept.
   */
  readonly command?: string;

  /**
   * OS user that runs `command`.
   * @default root
   */
  readonly commandUser?: string;

  /** Files or directories to back up (absolute paths). */
  readonly paths?: string[];

  /**
   * Keep the output of `postgres` or `command` on the host as pieces of about this size,
   * cut at line boundaries chosen by the lines' content, and back up that directory instead
   * of one stream. restic deduplicates in chunks of about 1 MiB, so a few rows changed here
   * and there in a large table make it upload most of the table again; with pieces each
   * changed line costs about one piece, and restic skips unchanged pieces without reading
   * them. The restore checks the whole stream's SHA-256 before loading it.
   *
   * Costs disk on the host: the source's plain output is kept in `spoolDirectory` between
   * backups, and a restore unpacks it there again. Worth it for a large dump that changes
   * sparsely (a database with reference data); a small one gains nothing.
   * From 4 KiB to 1 MiB.
   * @default - one stream, piped from the command to restic (nothing written to disk)
   */
  readonly pieceSize?: Size;
}
