#!/usr/bin/env bash
# The application role logs in with its password over 127.0.0.1 and is not a superuser: no
# SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS, and creating a role is refused.
set -euo pipefail
db=${DB_NAME:?DB_NAME is not set}
user=${DB_USER:?DB_USER is not set}
password_file=${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE is not set}
port=${PG_PORT:-5432}
fail() { echo "FAIL app-role: $*"; exit 1; }
cd /

as_app() {
  PGPASSWORD=$(<"$password_file") psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$user" -d "$db" -tA "$@"
}

attributes=$(as_app -c "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user") \
  || fail "$user cannot log in to $db over 127.0.0.1 with its password"
[[ "$attributes" == "f|f|f|f|f" ]] || fail "$user has attributes superuser|createdb|createrole|replication|bypassrls = $attributes"
[[ "$(as_app -c 'SHOW is_superuser')" == off ]] || fail "$user's session is a superuser session"
if as_app -c "CREATE ROLE integ_escalation" 2>/dev/null; then
  fail "$user could create a role"
fi
echo "role $user logs in to $db over 127.0.0.1; superuser|createdb|createrole|replication|bypassrls = $attributes; CREATE ROLE refused"
echo "PASS app-role"
