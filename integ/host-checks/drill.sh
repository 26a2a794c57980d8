#!/usr/bin/env bash
# The restore drill restores the newest database snapshot into a scratch database, runs the
# source's verify query there, drops it and publishes DrillSuccess: run now, as its timer would.
set -euo pipefail
fail() { echo "FAIL drill: $*"; exit 1; }
started=$(date +%s)
if ! systemctl start restic-backups-drill.service; then
  journalctl -u restic-backups-drill.service -n 40 --no-pager -o cat >&2 || true
  fail "the restore drill failed (restic-backups-drill.service)"
fi
echo "restore drill verified in $(($(date +%s) - started)) s"
echo "PASS drill"
