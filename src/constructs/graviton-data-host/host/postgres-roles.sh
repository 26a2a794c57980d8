#!/usr/bin/env bash
# Once PostgreSQL runs: creates the application role (login, not superuser, no CREATEDB,
# CREATEROLE, REPLICATION or BYPASSRLS) and its database if they do not exist, and sets the
# role's password from the secret at every boot (so a rotated secret takes effect). Only the
# password's SCRAM verifier reaches the server (on stdin), so even a failing, logged
# statement cannot show the password.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

psql_admin() {
  (cd / && runuser -u "$PG_OS_USER" -- "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 \
    -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres "$@")
}

for _ in $(seq 1 "${SVC_PG_WAIT_SECONDS:-120}"); do
  if psql_admin -tAc 'SELECT 1' >/dev/null 2>&1; then break; fi
  sleep 1
done
psql_admin -tAc 'SELECT 1' >/dev/null || die "PostgreSQL does not answer on $PG_SOCKET_DIR port $PG_PORT (journalctl -u $SERVICE-postgresql)"

[[ "$DB_USER" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "invalid role name $DB_USER"
[[ "$DB_NAME" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "invalid database name $DB_NAME"
verifier=$(secret postgres-password | scram_verifier)

psql_admin <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN;
  END IF;
END \$\$;
ALTER ROLE $DB_USER WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD '$verifier';
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')
\gexec
REVOKE ALL ON DATABASE $DB_NAME FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE $DB_NAME TO $DB_USER;
SQL
log "role $DB_USER (not superuser) and database $DB_NAME ready"
