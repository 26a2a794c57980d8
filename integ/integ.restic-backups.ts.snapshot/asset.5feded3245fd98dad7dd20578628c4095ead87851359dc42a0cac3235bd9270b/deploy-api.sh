#!/usr/bin/env bash
# Deploys the API release that is now in the release location: restarts zmanim-api (whose
# ExecStartPre fetches it) and waits until its health endpoint answers. Run through SSM Run
# Command (README, GravitonDataHost: deploying an API release); exits non-zero when the new
# version is not healthy, so the command and the workflow fail.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

url="http://127.0.0.1:${ZMANIM_API_PORT:-8080}${ZMANIM_API_HEALTH_PATH:-/health}"
ZMANIM_REQUIRE_RELEASE=1 bash "$HOST_DIR/fetch-api.sh"
"$SYSTEMCTL" restart zmanim-api.service
for _ in $(seq 1 "${ZMANIM_DEPLOY_WAIT_SECONDS:-60}"); do
  if curl -fsS -o /dev/null --max-time 2 "$url"; then
    log "zmanim-api is healthy at $url ($(sha256sum "$API_DIR/zmanim-api" | cut -d' ' -f1))"
    exit 0
  fi
  sleep 1
done
"$SYSTEMCTL" status --no-pager zmanim-api.service >&2 || true
die "zmanim-api did not answer $url after the restart"
