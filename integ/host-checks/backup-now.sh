#!/usr/bin/env bash
# Seeds known data (3 rows in integ_backup_probe, a file under /data/integ-files), then backs
# up every source now through its own systemd unit, as its timer would.
set -euo pipefail
db=${DB_NAME:?DB_NAME is not set}
sources=${SOURCES:?SOURCES is not set}
files_dir=${FILES_DIR:-/data/integ-files}
fail() { echo "FAIL backup-now: $*"; exit 1; }
cd /

runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
DROP TABLE IF EXISTS integ_backup_probe;
CREATE TABLE integ_backup_probe (id int PRIMARY KEY, note text NOT NULL);
INSERT INTO integ_backup_probe VALUES (1, 'one'), (2, 'two'), (3, 'three');
SQL
install -d -m 0755 "$files_dir"
date -u +%FT%TZ >"$files_dir/seeded-at"

for source in $sources; do
  started=$(date +%s)
  if ! systemctl start "restic-backups@$source.service"; then
    journalctl -u "restic-backups@$source.service" -n 30 --no-pager -o cat >&2 || true
    fail "the backup of source $source failed (restic-backups@$source.service)"
  fi
  echo "source $source backed up in $(($(date +%s) - started)) s"
done
echo "PASS backup-now"
