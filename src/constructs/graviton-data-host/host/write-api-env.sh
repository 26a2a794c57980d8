#!/usr/bin/env bash
# Writes the API's environment file (root-only; systemd reads it before dropping privileges):
# connection URLs built from the generated passwords, each API secret as UPPER_SNAKE_CASE,
# and the non-secret settings from api-settings.env.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

read -r -a api_secrets <<<"${ZMANIM_API_SECRET_NAMES:-}"
pg_password=$(secret postgres-password)
redis_password=$(secret redis-password)

{
  echo "# Written by write-api-env.sh at every boot; edits are lost. Secrets: SSM ${ZMANIM_SSM_PATH:-}"
  echo "PORT=${ZMANIM_API_PORT:-8080}"
  echo "DATABASE_URL=postgres://$(urlencode "$DB_USER"):$(urlencode "$pg_password")@127.0.0.1:$PG_PORT/$DB_NAME?sslmode=disable"
  echo "REDIS_URL=redis://default:$(urlencode "$redis_password")@127.0.0.1:$REDIS_PORT/0"
  for name in "${api_secrets[@]}"; do
    var=$(tr '[:lower:]-' '[:upper:]_' <<<"$name")
    echo "$var=$(secret "$name")"
  done
  # Non-secret settings (ALLOWED_ORIGINS, the apiEnvironment prop) that user data wrote.
  if [[ -r "$CONF_DIR/api-settings.env" ]]; then
    grep -v '^#' "$CONF_DIR/api-settings.env" || true
  fi
} | write_file "$CONF_DIR/api.env" 0600 root:root
log "wrote $CONF_DIR/api.env"
