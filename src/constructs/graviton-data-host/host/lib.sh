#!/usr/bin/env bash
# Shared by the GravitonDataHost host scripts (sourced, never run).
#
# The service: its name comes from service.env, which the bootstrap writes beside these
# scripts (SERVICE=...), or from SHTETL_SERVICE. Every path and unit derives from it
# (/opt/<service>, /etc/<service>, /var/log/<service>, <service>-api.service, ...). The
# service's settings are named <PREFIX>_<NAME> (PREFIX: the name upper-cased, hyphens as
# underscores) in host.env, which user data writes, or in the environment; the scripts read
# them as SVC_<NAME>. Every path has an override, so the tests can point the scripts at
# temporary directories and run them for real against PostgreSQL and Redis.
# shellcheck disable=SC2034 # variables are used by the scripts that source this file

set -euo pipefail
# A failure inside $(...) fails the script too.
shopt -s inherit_errexit

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -z "${SHTETL_SERVICE:-}" && -r "$LIB_DIR/service.env" ]]; then
  # shellcheck source=/dev/null
  SHTETL_SERVICE=$(source "$LIB_DIR/service.env" && printf '%s' "${SERVICE:-}")
fi
SERVICE=${SHTETL_SERVICE:-}
if [[ ! "$SERVICE" =~ ^[a-z][a-z0-9-]*$ ]]; then
  echo "${0##*/}: no valid service name ('$SERVICE'): $LIB_DIR/service.env (SERVICE=<name>) or SHTETL_SERVICE must name it" >&2
  exit 1
fi
ENV_PREFIX=$(tr '[:lower:]-' '[:upper:]_' <<<"$SERVICE")

# Copies every <PREFIX>_<NAME> variable to SVC_<NAME>.
import_settings() {
  local name
  for name in $(compgen -v "${ENV_PREFIX}_" || true); do
    printf -v "SVC_${name#"${ENV_PREFIX}"_}" '%s' "${!name}"
  done
}
import_settings
HOST_ENV=${SVC_HOST_ENV:-/etc/$SERVICE/host.env}
if [[ -r "$HOST_ENV" ]]; then
  # shellcheck source=/dev/null
  source "$HOST_ENV"
  import_settings
fi

DATA_DIR=${SVC_DATA_DIR:-/data}
CONF_DIR=${SVC_CONF_DIR:-/etc/$SERVICE}
SECRETS_DIR=${SVC_SECRETS_DIR:-$CONF_DIR/secrets}
BOOT_D=${SVC_BOOT_D:-$CONF_DIR/boot.d}
HOST_DIR=${SVC_HOST_DIR:-/opt/$SERVICE/host}
API_DIR=${SVC_API_DIR:-/opt/$SERVICE/api}
LOG_DIR=${SVC_LOG_DIR:-/var/log/$SERVICE}
UNITS_DIR=${SVC_UNITS_DIR:-/etc/systemd/system}
PG_SOCKET_DIR=${SVC_PG_SOCKET_DIR:-/run/postgresql}
PG_PORT=${SVC_PG_PORT:-5432}
REDIS_PORT=${SVC_REDIS_PORT:-6379}
PG_OS_USER=${SVC_PG_OS_USER:-postgres}
REDIS_OS_USER=${SVC_REDIS_OS_USER:-redis}
DB_NAME=${SVC_DB_NAME:-${SERVICE//-/_}}
DB_USER=${SVC_DB_USER:-${SERVICE//-/_}}
# XFS labels hold at most 12 characters.
DATA_LABEL=${SVC_DATA_LABEL:-${SERVICE:0:7}-data}
API_UNIT="$SERVICE-api.service"
API_BINARY="$API_DIR/$SERVICE-api"
SYSTEMCTL=${SVC_SYSTEMCTL:-systemctl}
AWS=${SVC_AWS:-aws}

log() { printf '%s %s[%s]: %s\n' "$(date -u +%FT%TZ)" "$SERVICE" "${0##*/}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Runs the AWS CLI in the host's region.
aws_cli() { "$AWS" --region "${SVC_REGION:?SVC_REGION is not set (host.env)}" "$@"; }

# Reads an instance metadata path with an IMDSv2 session token (the instance allows no v1).
imds() {
  local token
  token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
  curl -sSf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

instance_id() {
  if [[ -n "${SVC_INSTANCE_ID:-}" ]]; then echo "$SVC_INSTANCE_ID"; else imds instance-id; fi
}

# The directory of the PostgreSQL server binaries: Debian keeps them per major version under
# /usr/lib/postgresql/N/bin, the dnf family in /usr/bin.
pg_bindir() {
  if [[ -n "${SVC_PG_BINDIR:-}" ]]; then echo "$SVC_PG_BINDIR"; return; fi
  local newest
  newest=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$newest" ]]; then dirname "$newest"; return; fi
  if [[ -x /usr/bin/postgres ]]; then echo /usr/bin; return; fi
  die "no PostgreSQL server binary found (install postgresql16-server on AL2023, postgresql on Debian)"
}

# The Redis server binary: redis-server (Debian), redis6-server (AL2023), valkey-server.
redis_server_bin() {
  local name
  for name in redis-server redis6-server valkey-server; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  done
  die "no Redis server binary found (install redis6 on AL2023, redis-server on Debian)"
}

redis_cli_bin() {
  local name
  for name in redis-cli redis6-cli valkey-cli; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  done
  die "no Redis client binary found"
}

# Reads one secret file that read-secrets.sh wrote.
secret() {
  local file="$SECRETS_DIR/$1"
  [[ -s "$file" ]] || die "secret $1 is missing from $SECRETS_DIR (read-secrets.sh must run first)"
  cat "$file"
}

# Percent-encodes a string for a URL's userinfo part.
urlencode() {
  local LC_ALL=C s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      [a-zA-Z0-9._~-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# The SCRAM-SHA-256 verifier of the password on stdin, as PostgreSQL stores it: the server gets
# the verifier, never the password, so not even a logged failing statement can show it.
scram_verifier() {
  # shellcheck disable=SC2016 # a Python program, not shell expansions
  python3 -c '
import base64, hashlib, hmac, os, sys
password, salt, rounds = sys.stdin.read().encode(), os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", password, salt, rounds)
client = hmac.new(salted, b"Client Key", "sha256").digest()
server = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda b: base64.b64encode(b).decode()
print(f"SCRAM-SHA-256${rounds}:{b64(salt)}${b64(hashlib.sha256(client).digest())}:{b64(server)}")'
}

# Writes stdin to a file atomically with the given mode and owner.
write_file() {
  local path=$1 mode=$2 owner=${3:-root:root} tmp
  tmp=$(mktemp "$path.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  chown "$owner" "$tmp"
  mv -f "$tmp" "$path"
}
