#!/usr/bin/env bash
# Moves the zmanim database between the single host and RDS through the single host's restic
# repository (README, "Scaling path"), with the ResticBackups host script doing the restic and
# PostgreSQL work. Runs on one API fleet instance (private subnets, allowed into RDS), as root:
#
#   migrate.sh restore [--snapshot ID]   single-host -> managed: restore the newest full
#                                        backup (or ID) into RDS as database zmanim, verify it,
#                                        and give it to the application role
#   migrate.sh backup                    managed -> single-host: back the RDS database up into
#                                        the repository as the full source, for the single
#                                        host's `restic-backups restore`
#   migrate.sh counts                    exact row count of every table of database zmanim
#                                        (compare the output of both sides before switching)
#
# Reads from host.env: ZMANIM_DB_ADDRESS (RDS host:port), ZMANIM_DB_MASTER_SECRET (Secrets
# Manager ARN of the master credentials), ZMANIM_MIGRATION_REPOSITORY (the single host's
# restic repository); the restic password is the generated restic-password that
# read-secrets.sh wrote. RESTIC_BACKUPS_CONFIG_DIR may point at an existing restic-backups
# configuration instead (the rehearsal test does). Never prints a secret value.
# The service whose GravitonDataHost scripts these are (paths, units, ZMANIM_ settings).
export SHTETL_SERVICE=zmanim
# shellcheck source-path=SCRIPTDIR source=../../constructs/graviton-data-host/host/lib.sh
source "${ZMANIM_HOST_DIR:-/opt/zmanim/host}/lib.sh"
# Run with python3 (it runs its pieces tool the same way): the asset was unzipped without file modes.
RESTIC_BACKUPS=${ZMANIM_RESTIC_BACKUPS:-/opt/zmanim/restic-backups/restic-backups}
FULL_SOURCE=${ZMANIM_MIGRATION_SOURCE:-database}

usage() { die "usage: ${0##*/} restore [--snapshot ID] | backup | counts"; }
[[ $# -ge 1 ]] || usage
command=$1
shift

# The master credentials into the libpq environment (never on a command line).
db=${ZMANIM_DB_ADDRESS:?ZMANIM_DB_ADDRESS (host:port of RDS) is not set (host.env)}
export PGHOST=${db%:*} PGPORT=${db##*:} PGSSLMODE=${ZMANIM_DB_SSLMODE:-require} PGCONNECT_TIMEOUT=10
secret_json=$(aws_cli secretsmanager get-secret-value --secret-id "${ZMANIM_DB_MASTER_SECRET:?ZMANIM_DB_MASTER_SECRET is not set (host.env)}" \
  --query SecretString --output text) || die "cannot read the RDS master secret $ZMANIM_DB_MASTER_SECRET"
PGUSER=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["username"])' <<<"$secret_json")
PGPASSWORD=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["password"])' <<<"$secret_json")
export PGUSER PGPASSWORD
unset secret_json

master_psql() { psql -X -q -v ON_ERROR_STOP=1 -d "${1:-postgres}" "${@:2}"; }

temp_config=''
revoke_createdb=0
cleanup() {
  if ((revoke_createdb)); then
    master_psql postgres -c "ALTER ROLE $DB_USER NOCREATEDB" || log "WARNING: could not revoke CREATEDB from $DB_USER: do it by hand"
  fi
  if [[ -n "$temp_config" ]]; then rm -rf "$temp_config"; fi
}
trap cleanup EXIT
master_psql postgres -tAc 'SELECT 1' >/dev/null || die "cannot connect to $PGHOST:$PGPORT as $PGUSER (security group, TLS or credentials)"

# A restic-backups configuration for the single host's repository, unless one is given.
if [[ -z "${RESTIC_BACKUPS_CONFIG_DIR:-}" ]]; then
  RESTIC_BACKUPS_CONFIG_DIR=$(mktemp -d)
  temp_config=$RESTIC_BACKUPS_CONFIG_DIR
  install -d -m 0700 "$RESTIC_BACKUPS_CONFIG_DIR/sources"
  {
    echo "RESTIC_REPOSITORY='${ZMANIM_MIGRATION_REPOSITORY:?ZMANIM_MIGRATION_REPOSITORY is not set: set managed.migrationBackupBucketName and deploy (README, Scaling path)}'"
    echo "RESTIC_PASSWORD_COMMAND='cat $SECRETS_DIR/restic-password'"
    echo "RESTIC_BACKUPS_SET='zmanim-migration'"
    echo "RESTIC_BACKUPS_PUT_METRIC_COMMAND='true'"
    echo "AWS_REGION='$ZMANIM_REGION'"
  } >"$RESTIC_BACKUPS_CONFIG_DIR/restic-backups.env"
  cat >"$RESTIC_BACKUPS_CONFIG_DIR/sources/$FULL_SOURCE.env" <<SRC
SOURCE_KIND=postgres
SOURCE_DATABASE='$DB_NAME'
SOURCE_PG_DUMP_ARGS=''
SOURCE_PG_FULL=1
SOURCE_FILENAME='$FULL_SOURCE.sql'
SRC
fi
export RESTIC_BACKUPS_CONFIG_DIR

# The application role, as postgres-roles.sh makes it on the host: login, nothing more (RDS's
# master cannot grant superuser, replication or bypassrls, so the role cannot have them); the
# master joins it so that the dump's OWNER TO statements work (RDS has no superuser).
ensure_role() {
  local verifier
  [[ "$DB_USER" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "invalid role name $DB_USER"
  verifier=$(secret postgres-password | scram_verifier)
  master_psql postgres <<SQL
\\set VERBOSITY terse
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN;
  END IF;
END \$\$;
ALTER ROLE $DB_USER WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD '$verifier';
GRANT $DB_USER TO CURRENT_USER;
SQL
  log "role $DB_USER ready on $PGHOST"
}

counts() {
  master_psql "$DB_NAME" -tA -F ' ' <<'SQL'
SELECT format('SELECT %L, count(*) FROM %I.%I', n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1
\gexec
SQL
}

case "$command" in
  restore)
    ensure_role
    # The restore works as the application role, so that the new database and its public
    # schema are the role's (ALTER ... OWNER TO needs CREATE on the schema, and RDS's master
    # is no superuser); the role may create databases only for the time of the restore.
    revoke_createdb=1
    master_psql postgres -c "ALTER ROLE $DB_USER CREATEDB"
    rc=0
    PGOPTIONS="-c role=$DB_USER" \
      RESTIC_BACKUPS_RESTORE_PGOPTIONS="-c role=$DB_USER -c maintenance_work_mem=256MB -c synchronous_commit=off" \
      python3 "$RESTIC_BACKUPS" restore --database "$DB_NAME" "$@" || rc=$?
    master_psql postgres -c "ALTER ROLE $DB_USER NOCREATEDB"
    revoke_createdb=0
    ((rc == 0)) || die "the restore into RDS failed or did not verify (exit $rc); $DB_NAME on RDS was not replaced"
    master_psql postgres <<SQL
ALTER DATABASE $DB_NAME OWNER TO $DB_USER;
REVOKE ALL ON DATABASE $DB_NAME FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE $DB_NAME TO $DB_USER;
SQL
    log "database $DB_NAME restored into RDS $PGHOST and owned by $DB_USER; compare '${0##*/} counts' with the single host's before switching"
    ;;
  backup)
    [[ $# -eq 0 ]] || usage
    python3 "$RESTIC_BACKUPS" backup "$FULL_SOURCE" || die "the backup of RDS into the repository failed"
    log "RDS database $DB_NAME is in the repository as the newest $FULL_SOURCE snapshot; restore it on the single host (README, Scaling path)"
    ;;
  counts)
    [[ $# -eq 0 ]] || usage
    counts
    ;;
  *) usage ;;
esac
