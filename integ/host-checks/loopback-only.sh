#!/usr/bin/env bash
# PostgreSQL (5432) and Redis (6379) listen on 127.0.0.1 only and answer there, and a
# connection to the instance's private address on either port is refused.
set -euo pipefail
redis_password_file=${REDIS_PASSWORD_FILE:?REDIS_PASSWORD_FILE is not set}
private_ip=${PRIVATE_IP:-}
pg_port=${PG_PORT:-5432}
redis_port=${REDIS_PORT:-6379}
fail() { echo "FAIL loopback-only: $*"; exit 1; }

if [[ -z "$private_ip" ]]; then
  token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
  private_ip=$(curl -sSf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/local-ipv4)
fi
for port in "$pg_port" "$redis_port"; do
  listeners=$(ss -Hltn "sport = :$port" | awk '{ print $4 }' | sort -u | tr '\n' ' ')
  [[ -n "${listeners// /}" ]] || fail "nothing listens on port $port"
  for address in $listeners; do
    [[ "$address" == "127.0.0.1:$port" ]] || fail "port $port listens on $address (only 127.0.0.1:$port is allowed)"
  done
  if timeout 5 bash -c "exec 3<>/dev/tcp/$private_ip/$port" 2>/dev/null; then
    fail "port $port accepts connections on the private address $private_ip"
  fi
  echo "port $port: listens on ${listeners% } only; refused on $private_ip"
done

pg_isready -q -h 127.0.0.1 -p "$pg_port" || fail "PostgreSQL does not answer on 127.0.0.1:$pg_port"
redis_cli=$(command -v redis6-cli || command -v redis-cli || command -v valkey-cli) || fail "no Redis client found"
pong=$(REDISCLI_AUTH=$(<"$redis_password_file") "$redis_cli" -h 127.0.0.1 -p "$redis_port" ping)
[[ "$pong" == PONG ]] || fail "Redis answered '$pong' to PING on 127.0.0.1:$redis_port"
echo "PostgreSQL and Redis answer on 127.0.0.1"
echo "PASS loopback-only"
