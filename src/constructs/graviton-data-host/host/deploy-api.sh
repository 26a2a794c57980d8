#!/usr/bin/env bash
# Deploys the API release that is now in the release location: restarts <service>-api (whose
# ExecStartPre fetches it) and waits until its health endpoint answers. Run through SSM Run
# Command (README, GravitonDataHost: deploying an API release); exits non-zero when the new
# version is not healthy, so the command and the workflow fail.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

url="http://127.0.0.1:${SVC_API_PORT:-8080}${SVC_API_HEALTH_PATH:-/health}"
SVC_REQUIRE_RELEASE=1 bash "$HOST_DIR/fetch-api.sh"
"$SYSTEMCTL" restart "$API_UNIT"
for _ in $(seq 1 "${SVC_DEPLOY_WAIT_SECONDS:-60}"); do
  if curl -fsS -o /dev/null --max-time 2 "$url"; then
    log "$API_UNIT is healthy at $url ($(sha256sum "$API_BINARY" | cut -d' ' -f1))"
    exit 0
  fi
  sleep 1
done
"$SYSTEMCTL" status --no-pager "$API_UNIT" >&2 || true
die "$API_UNIT did not answer $url after the restart"
