#!/usr/bin/env bash
# Prepares PostgreSQL on /data before its service starts: initializes a cluster only when
# $DATA_DIR/postgres holds none (never over existing files), and rewrites the settings and
# pg_hba.conf that this construct manages. Runs at every boot; a second run changes no data.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pgdata="$DATA_DIR/postgres"
bindir=$(pg_bindir)
server_major=$("$bindir/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')

as_postgres() { runuser -u "$PG_OS_USER" -- "$@"; }

[[ -d "$DATA_DIR" ]] || die "$DATA_DIR does not exist: the data volume is not mounted"

if [[ -s "$pgdata/PG_VERSION" ]]; then
  data_major=$(<"$pgdata/PG_VERSION")
  if [[ "$data_major" != "$server_major" ]]; then
    die "$pgdata holds a PostgreSQL $data_major cluster but this host runs PostgreSQL $server_major: upgrade it with pg_upgrade (README, GravitonDataHost) or boot an AMI with PostgreSQL $data_major"
  fi
  log "keeping the existing PostgreSQL $data_major cluster in $pgdata"
else
  if [[ -e "$pgdata" ]] && [[ -n "$(ls -A "$pgdata")" ]]; then
    die "$pgdata is not empty but has no PG_VERSION: refusing to initialize over it; inspect it (README, snapshot restore)"
  fi
  # initdb into a scratch directory and rename it: a boot that dies half-way through never
  # leaves a half-initialized cluster that the next boot would mistake for data.
  scratch="$DATA_DIR/.postgres-initdb"
  rm -rf "$scratch"
  install -d -m 0700 -o "$PG_OS_USER" -g "$PG_OS_USER" "$scratch"
  log "initializing a new PostgreSQL $server_major cluster in $pgdata"
  (cd / && as_postgres "$bindir/initdb" -D "$scratch" -U postgres --encoding=UTF8 --locale=C \
    --data-checksums --auth-local=peer --auth-host=scram-sha-256) >&2
  rmdir "$pgdata" 2>/dev/null || true
  mv -T "$scratch" "$pgdata"
  log "initialized $pgdata"
fi

# Memory from the host's RAM (4 GiB on m7g.medium): a quarter for shared buffers.
mem_mb=${SVC_MEMORY_MB:-$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)}
maintenance_mb=$((mem_mb / 16 > 1024 ? 1024 : mem_mb / 16))
work_mb=$((mem_mb / 512 > 4 ? mem_mb / 512 : 4))

install -d -m 2775 -o "$PG_OS_USER" -g "$PG_OS_USER" "$PG_SOCKET_DIR"
{
  cat "$HOST_DIR/config/postgresql.conf"
  echo "# Generated for ${mem_mb} MB of RAM"
  echo "port = $PG_PORT"
  echo "unix_socket_directories = '$PG_SOCKET_DIR'"
  echo "shared_buffers = '$((mem_mb / 4))MB'"
  echo "effective_cache_size = '$((mem_mb * 5 / 8))MB'"
  echo "maintenance_work_mem = '${maintenance_mb}MB'"
  echo "work_mem = '${work_mb}MB'"
} | write_file "$pgdata/$SERVICE.conf" 0640 "$PG_OS_USER:$PG_OS_USER"
write_file "$pgdata/pg_hba.conf" 0640 "$PG_OS_USER:$PG_OS_USER" <"$HOST_DIR/config/pg_hba.conf"
if ! grep -qx "include '$SERVICE.conf'" "$pgdata/postgresql.conf"; then
  echo "include '$SERVICE.conf'" >>"$pgdata/postgresql.conf"
fi
chown -R "$PG_OS_USER:$PG_OS_USER" "$pgdata"
chmod 0700 "$pgdata"
