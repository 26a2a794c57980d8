#!/usr/bin/env bash
# Every few minutes on a fleet instance (zmanim-fleet-refresh.timer): re-read the secrets and,
# when the API's environment changed (the origin-verify key after a rotation, a Clerk key an
# operator replaced), restart the API and wait until it is healthy. On the single host the
# rotation runs this through SSM Run Command; a fleet has no single instance to target, and
# the previous origin-verify value stays valid for an hour, longer than this period.
# The service whose GravitonDataHost scripts these are (paths, units, ZMANIM_ settings).
export SHTETL_SERVICE=zmanim
# shellcheck source-path=SCRIPTDIR source=../../constructs/graviton-data-host/host/lib.sh
source "${ZMANIM_HOST_DIR:-/opt/zmanim/host}/lib.sh"
FLEET_DIR=${ZMANIM_FLEET_DIR:-/opt/zmanim/fleet}

bash "$HOST_DIR/read-secrets.sh"
if [[ "$(bash "$FLEET_DIR/write-fleet-env.sh")" == changed ]]; then
  log "the API environment changed: restarting the API"
  bash "$HOST_DIR/deploy-api.sh"
fi
