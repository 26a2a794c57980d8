import { Size, SizeRoundingBehavior, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { ResticBackupsProps } from './restic-backups';
import { isFull, noDefaultSchedule, scheduleFor } from './source-config';
import { failer } from '../../internal/validation-error';

const NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_.$*-]*$/;
const MIN_PIECE = Size.kibibytes(4);
const MAX_PIECE = Size.mebibytes(1);
/** When the restore drill runs unless `drillSchedule` says otherwise: weekly. */
export const DEFAULT_DRILL_SCHEDULE = 'Sun *-*-* 05:40:00';

/** Validates the props before any resource exists; returns the drill's schedule ('' for none). */
export function validateProps(scope: IConstruct, props: ResticBackupsProps): string {
  const fail = failer('ResticBackups', scope);
  if (!Token.isUnresolved(props.passwordParameterName) && !/^\/[A-Za-z0-9_.\-/]+$/.test(props.passwordParameterName)) {
    fail(`passwordParameterName "${props.passwordParameterName}" must be an SSM parameter path such as "/<service>/<env>/restic-password".`);
  }
  if (props.sources.length === 0) fail('sources is empty: add at least one source (postgres, command or paths).');
  const seen = new Set<string>();
  for (const s of props.sources) {
    if (!NAME.test(s.name)) fail(`source name "${s.name}" must be 1-40 lowercase letters, digits and dashes, starting with a letter or digit (e.g. "database").`);
    if (['forget', 'check', 'drill'].includes(s.name)) fail(`source name "${s.name}" is reserved for a timer of its own; choose another.`);
    if (seen.has(s.name)) fail(`source name "${s.name}" is used twice; names must be unique.`);
    seen.add(s.name);
    const kinds = [s.postgres, s.command, s.paths].filter((k) => k !== undefined).length;
    if (kinds !== 1) fail(`source "${s.name}" needs exactly one of postgres, command or paths (got ${kinds}).`);
    if (s.paths && (s.paths.length === 0 || s.paths.some((p) => !p.startsWith('/') || /\s/.test(p)))) {
      fail(`source "${s.name}": paths ${JSON.stringify(s.paths)} must be absolute paths without spaces.`);
    }
    if (s.command !== undefined && s.command.trim() === '') fail(`source "${s.name}": command is empty.`);
    if (s.pieceSize) {
      if (s.paths) fail(`source "${s.name}": pieceSize applies to postgres and command sources; restic already reads paths file by file. Remove pieceSize.`);
      const bytes = s.pieceSize.toBytes({ rounding: SizeRoundingBehavior.NONE });
      if (bytes < MIN_PIECE.toBytes() || bytes > MAX_PIECE.toBytes()) {
        fail(`source "${s.name}": pieceSize ${s.pieceSize.toKibibytes({ rounding: SizeRoundingBehavior.NONE })} KiB must be from 4 KiB to 1024 KiB (restic chunks are 512 KiB to 8 MiB, so larger pieces gain nothing), e.g. Size.kibibytes(64).`);
      }
    }
    if (s.postgres) {
      for (const id of [s.postgres.database, ...(s.postgres.schemas ?? []), ...(s.postgres.excludeSchemas ?? []), ...(s.postgres.tables ?? [])]) {
        if (!IDENTIFIER.test(id)) fail(`source "${s.name}": "${id}" is not a plain PostgreSQL name or pattern (letters, digits, _ . $ * -).`);
      }
    }
    const minutes = s.interval.toMinutes({ integral: false });
    if (!Number.isInteger(minutes) || minutes < 5 || minutes > 3 * 1440) {
      fail(`source "${s.name}": interval ${s.interval.toHumanString()} must be whole minutes from 5 minutes to 3 days (its age alarm looks back twice the interval, and CloudWatch at most 7 days).`);
    }
    if (s.schedule === undefined && scheduleFor(s.interval) === undefined) fail(`source "${s.name}": ${noDefaultSchedule(s.interval)}.`);
    const r = s.retention;
    if (r) {
      const values = [r.last, r.hourly, r.daily, r.weekly, r.monthly, r.yearly];
      if (values.some((v) => v !== undefined && (!Number.isInteger(v) || v < 0))) fail(`source "${s.name}": retention counts must be whole numbers >= 0 (got ${JSON.stringify(r)}).`);
      const effective = [r.last, r.hourly, r.daily ?? 7, r.weekly ?? 4, r.monthly ?? 3, r.yearly];
      if (!effective.some((v) => (v ?? 0) > 0)) fail(`source "${s.name}": retention ${JSON.stringify(r)} keeps nothing; keep at least one snapshot (e.g. daily: 7).`);
    }
  }
  const spool = props.spoolDirectory;
  if (spool !== undefined && !/^\/[A-Za-z0-9_.\-/]*[A-Za-z0-9_.-]$/.test(spool)) {
    fail(`spoolDirectory "${spool}" must be an absolute path of letters, digits, _ . - and / (e.g. "/data/restic-backups").`);
  }
  if (props.drillMaxAge) {
    if (props.drillSchedule === '') fail('drillMaxAge is set but drillSchedule is empty (no drill runs): leave drillMaxAge out, or schedule a drill.');
    if (props.drillMaxAge.toHours({ integral: false }) < 25) {
      fail(`drillMaxAge ${props.drillMaxAge.toHumanString()} must be at least 25 hours: the daily check publishes the drill's age once a day.`);
    }
  }
  const subsets = props.checkDataSubsets ?? 7;
  if (!Number.isInteger(subsets) || subsets < 1 || subsets > 365) fail(`checkDataSubsets ${subsets} must be a whole number from 1 (read all data at every check) to 365.`);
  const prefix = props.repositoryPrefix ?? 'restic';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*$/.test(prefix)) fail(`repositoryPrefix "${prefix}" must be a key prefix without leading or trailing slash (e.g. "restic").`);
  if (props.replicationDestinationKey && !props.replicationDestination) {
    fail('replicationDestinationKey is set without replicationDestination: pass the destination bucket too, or leave the key out.');
  }
  if (props.replicationStorageClass && !props.replicationDestination) {
    fail(`replicationStorageClass ${props.replicationStorageClass} is set without replicationDestination: pass the destination bucket too, or leave the storage class out.`);
  }
  if (props.replicationDestination && props.encryptionKey && !props.replicationDestinationKey) {
    fail('the repository bucket is encrypted with encryptionKey (SSE-KMS), and S3 replicates SSE-KMS objects only with a key for the replicas: pass replicationDestinationKey (a KMS key in the destination\'s region).');
  }
  if (props.replicationDestination && props.objectLockRetention) {
    fail('objectLockRetention and replicationDestination together are not supported (replicating locked objects needs Object Lock on the destination and extra permissions): choose one.');
  }
  const lock = props.objectLockRetention;
  if (lock && lock.toDays({ integral: false }) < 1) fail(`objectLockRetention ${lock.toHumanString()} must be at least 1 day.`);
  const drill = props.drillSchedule ?? DEFAULT_DRILL_SCHEDULE;
  const fullDatabases = props.sources.filter((s) => s.postgres && isFull(s.postgres)).map((s) => s.postgres!.database);
  if (drill && fullDatabases.length !== 1) {
    fail(`the restore drill needs exactly one source that dumps a whole PostgreSQL database, found ${fullDatabases.length} (a postgres source without schemas, excludeSchemas or tables); add one, or pass drillSchedule: '' to run no drill.`);
  }
  return drill;
}
