#!/usr/bin/env bash
# ExecStart of <service>-redis.service (as user redis): redis-server, redis6-server or
# valkey-server, whichever the distribution ships.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
exec "$(redis_server_bin)" "$CONF_DIR/redis.conf"
