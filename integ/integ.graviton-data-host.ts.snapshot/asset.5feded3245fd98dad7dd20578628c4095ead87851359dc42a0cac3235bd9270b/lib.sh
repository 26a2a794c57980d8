#!/usr/bin/env bash
# Shared by the GravitonDataHost host scripts (sourced, never run). Every path comes from an
# environment variable with the production default, so the tests can point the scripts at
# temporary directories and run them for real against PostgreSQL and Redis.
# shellcheck disable=SC2034 # variables are used by the scripts that source this file

set -euo pipefail
# A failure inside $(...) fails the script too.
shopt -s inherit_errexit

HOST_ENV=${ZMANIM_HOST_ENV:-/etc/zmanim/host.env}
if [[ -r "$HOST_ENV" ]]; then
  # shellcheck source=/dev/null
  source "$HOST_ENV"
fi

DATA_DIR=${ZMANIM_DATA_DIR:-/data}
CONF_DIR=${ZMANIM_CONF_DIR:-/etc/zmanim}
SECRETS_DIR=${ZMANIM_SECRETS_DIR:-$CONF_DIR/secrets}
BOOT_D=${ZMANIM_BOOT_D:-$CONF_DIR/boot.d}
HOST_DIR=${ZMANIM_HOST_DIR:-/opt/zmanim/host}
API_DIR=${ZMANIM_API_DIR:-/opt/zmanim/api}
LOG_DIR=${ZMANIM_LOG_DIR:-/var/log/zmanim}
UNITS_DIR=${ZMANIM_UNITS_DIR:-/etc/systemd/system}
PG_SOCKET_DIR=${ZMANIM_PG_SOCKET_DIR:-/run/postgresql}
PG_PORT=${ZMANIM_PG_PORT:-5432}
REDIS_PORT=${ZMANIM_REDIS_PORT:-6379}
PG_OS_USER=${ZMANIM_PG_OS_USER:-postgres}
REDIS_OS_USER=${ZMANIM_REDIS_OS_USER:-redis}
DB_NAME=${ZMANIM_DB_NAME:-zmanim}
DB_USER=${ZMANIM_DB_USER:-zmanim}
DATA_LABEL=${ZMANIM_DATA_LABEL:-zmanim-data}
SYSTEMCTL=${ZMANIM_SYSTEMCTL:-systemctl}
AWS=${ZMANIM_AWS:-aws}

log() { printf '%s zmanim[%s]: %s\n' "$(date -u +%FT%TZ)" "${0##*/}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Runs the AWS CLI in the host's region.
aws_cli() { "$AWS" --region "${ZMANIM_REGION:?ZMANIM_REGION is not set (host.env)}" "$@"; }

# Reads an instance metadata path with an IMDSv2 session token (the instance allows no v1).
imds() {
  local token
  token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
  curl -sSf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}

instance_id() {
  if [[ -n "${ZMANIM_INSTANCE_ID:-}" ]]; then echo "$ZMANIM_INSTANCE_ID"; else imds instance-id; fi
}

# The directory of the PostgreSQL server binaries: Debian keeps them per major version under
# /usr/lib/postgresql/N/bin, the dnf family in /usr/bin.
pg_bindir() {
  if [[ -n "${ZMANIM_PG_BINDIR:-}" ]]; then echo "$ZMANIM_PG_BINDIR"; return; fi
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
