#!/usr/bin/env bash
# Writes Redis's configuration with requirepass (readable by root and redis only) and its
# data directory on /data. Runs at every boot.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -d "$DATA_DIR" ]] || die "$DATA_DIR does not exist: the data volume is not mounted"
password=$(secret redis-password)
# The value goes inside a quoted config string: refuse what would need escaping.
if [[ "$password" == *[\"\\[:space:]]* ]]; then
  die "secret redis-password contains a quote, backslash or whitespace; use a URL-safe value (GeneratedSecrets makes one)"
fi
mem_mb=${SVC_MEMORY_MB:-$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)}

install -d -m 0750 -o "$REDIS_OS_USER" -g "$REDIS_OS_USER" "$DATA_DIR/redis"
# Files restored from a snapshot or written under another AMI may carry other ids.
chown -R "$REDIS_OS_USER:$REDIS_OS_USER" "$DATA_DIR/redis"
install -d -m 0755 "$CONF_DIR"
{
  cat "$HOST_DIR/config/redis.conf"
  echo "port $REDIS_PORT"
  echo "dir $DATA_DIR/redis"
  echo "maxmemory $((mem_mb / 8))mb"
  echo "requirepass \"$password\""
} | write_file "$CONF_DIR/redis.conf" 0640 "root:$REDIS_OS_USER"
log "wrote $CONF_DIR/redis.conf"
