#!/usr/bin/env bash
# Writes the API's environment file (root-only; systemd reads it before dropping privileges):
# connection URLs built from the generated passwords, each API secret as UPPER_SNAKE_CASE,
# and the non-secret settings from api-settings.env.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

read -r -a api_secrets <<<"${SVC_API_SECRET_NAMES:-}"
pg_password=$(secret postgres-password)
redis_password=$(secret redis-password)

# Built in full before writing: a failure never leaves a partial file behind.
content=$(
  echo "# Written by write-api-env.sh at every boot; edits are lost. Secrets: SSM ${SVC_SSM_PATH:-}"
  echo "PORT=${SVC_API_PORT:-8080}"
  echo "DATABASE_URL=postgres://$(urlencode "$DB_USER"):$(urlencode "$pg_password")@127.0.0.1:$PG_PORT/$DB_NAME?sslmode=disable"
  echo "REDIS_URL=redis://default:$(urlencode "$redis_password")@127.0.0.1:$REDIS_PORT/0"
  for name in "${api_secrets[@]}"; do
    var=$(tr '[:lower:]-' '[:upper:]_' <<<"$name")
    value=$(secret "$name")
    # One line per variable, no quoting: a value with a line break, quote, backslash or
    # whitespace would change what systemd reads (or add a variable). Name it, never print it.
    if [[ "$value" == *[[:space:][:cntrl:]\"\'\\]* ]]; then
      die "secret $name contains whitespace, a quote, a backslash or a control character, which the API environment file cannot hold; put a value without them (SSM ${SVC_SSM_PATH:-}/$name)"
    fi
    echo "$var=$value"
  done
  # Non-secret settings (ALLOWED_ORIGINS, the apiEnvironment prop) that user data wrote.
  if [[ -r "$CONF_DIR/api-settings.env" ]]; then
    grep -v '^#' "$CONF_DIR/api-settings.env" || true
  fi
)
printf '%s\n' "$content" | write_file "$CONF_DIR/api.env" 0600 root:root
log "wrote $CONF_DIR/api.env"
