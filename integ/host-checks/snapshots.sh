#!/usr/bin/env bash
# The repository holds at least one snapshot of every source (tag source:NAME).
set -euo pipefail
sources=${SOURCES:?SOURCES is not set}
tool=${RESTIC_BACKUPS:-/usr/local/sbin/restic-backups}
fail() { echo "FAIL snapshots: $*"; exit 1; }

json=$("$tool" snapshots --json) || fail "restic-backups snapshots failed"
for source in $sources; do
  count=$(SNAPSHOTS="$json" python3 -c '
import json, os, sys
tag = "source:" + sys.argv[1]
print(sum(1 for s in json.loads(os.environ["SNAPSHOTS"]) if tag in (s.get("tags") or [])))' "$source")
  ((count >= 1)) || fail "no snapshot tagged source:$source"
  echo "source $source: $count snapshot(s)"
done
echo "PASS snapshots"
