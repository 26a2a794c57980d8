#!/usr/bin/env bash
# Writes the API's environment file on a fleet instance (root-only; systemd reads it before
# dropping privileges): the single host's variables, with the database and cache URLs pointing
# at RDS (TLS required) and ElastiCache (rediss://, AUTH), plus DATABASE_READ_URL when there
# is a read replica. Prints "changed" when the file differs from the one in place.
# The service whose GravitonDataHost scripts these are (paths, units, ZMANIM_ settings).
export SHTETL_SERVICE=zmanim
# shellcheck source-path=SCRIPTDIR source=../../constructs/graviton-data-host/host/lib.sh
source "${ZMANIM_HOST_DIR:-/opt/zmanim/host}/lib.sh"

db=${ZMANIM_DB_ADDRESS:?ZMANIM_DB_ADDRESS (host:port of RDS) is not set (host.env)}
cache=${ZMANIM_CACHE_ADDRESS:?ZMANIM_CACHE_ADDRESS (host:port of ElastiCache) is not set (host.env)}
read -r -a api_secrets <<<"${ZMANIM_API_SECRET_NAMES:-}"
pg_password=$(secret postgres-password)
redis_password=$(secret redis-password)
user=$(urlencode "$DB_USER")
pass=$(urlencode "$pg_password")

target="$CONF_DIR/api.env"
next=$(mktemp "$target.next.XXXXXX")
trap 'rm -f "$next"' EXIT
{
  echo "# Written by write-fleet-env.sh (API fleet); edits are lost. Secrets: SSM ${ZMANIM_SSM_PATH:-}"
  echo "PORT=${ZMANIM_API_PORT:-8080}"
  echo "DATABASE_URL=postgres://$user:$pass@$db/$DB_NAME?sslmode=require"
  if [[ -n "${ZMANIM_DB_READ_ADDRESS:-}" ]]; then
    echo "DATABASE_READ_URL=postgres://$user:$pass@$ZMANIM_DB_READ_ADDRESS/$DB_NAME?sslmode=require"
  fi
  echo "REDIS_URL=rediss://default:$(urlencode "$redis_password")@$cache/0"
  for name in "${api_secrets[@]}"; do
    var=$(tr '[:lower:]-' '[:upper:]_' <<<"$name")
    value=$(secret "$name")
    # One line per variable, no quoting (as write-api-env.sh): a value with a line break,
    # quote, backslash or whitespace would change what systemd reads. Name it, never print it.
    if [[ "$value" == *[[:space:][:cntrl:]\"\'\\]* ]]; then
      die "secret $name contains whitespace, a quote, a backslash or a control character, which the API environment file cannot hold; put a value without them (SSM ${ZMANIM_SSM_PATH:-}/$name)"
    fi
    echo "$var=$value"
  done
  if [[ -r "$CONF_DIR/api-settings.env" ]]; then
    grep -v '^#' "$CONF_DIR/api-settings.env" || true
  fi
} >"$next"
if [[ -f "$target" ]] && cmp -s "$next" "$target"; then
  exit 0
fi
write_file "$target" 0600 root:root <"$next"
log "wrote $target"
echo changed
