#!/usr/bin/env bash
# Boot of an API fleet instance (managed profile), at every launch: read the secrets from SSM,
# write the API's environment with the RDS and ElastiCache endpoints, install the units, start
# the API (it fetches the current release) and wait until it is healthy. PostgreSQL and Redis
# are not started here: the data lives in RDS and ElastiCache. Reuses the single host's
# scripts (lib.sh, read-secrets.sh, fetch-api.sh, deploy-api.sh) from $HOST_DIR.
# The service whose GravitonDataHost scripts these are (paths, units, ZMANIM_ settings).
export SHTETL_SERVICE=zmanim
# shellcheck source-path=SCRIPTDIR source=../../constructs/graviton-data-host/host/lib.sh
source "${ZMANIM_HOST_DIR:-/opt/zmanim/host}/lib.sh"
FLEET_DIR=${ZMANIM_FLEET_DIR:-/opt/zmanim/fleet}

install -d -m 0755 "$LOG_DIR" "$CONF_DIR"
bash "$HOST_DIR/read-secrets.sh"
bash "$FLEET_DIR/write-fleet-env.sh" >/dev/null
bash "$FLEET_DIR/api-unit.sh" | write_file "$UNITS_DIR/zmanim-api.service" 0644
install -m 0644 "$FLEET_DIR/units/zmanim-fleet-refresh.service" "$FLEET_DIR/units/zmanim-fleet-refresh.timer" "$UNITS_DIR/"
"$SYSTEMCTL" daemon-reload
"$SYSTEMCTL" enable zmanim-api.service zmanim-fleet-refresh.timer
"$SYSTEMCTL" start zmanim-fleet-refresh.timer
if [[ -n "${ZMANIM_MIGRATION_REPOSITORY:-}" ]]; then
  # Migrating (managed.migrationBackupBucketName): RDS has no data and the release bucket no
  # release yet, and the single host still serves; migrate.sh runs here (README, Scaling path).
  log "migration mode: the API is not started; run migrate.sh, then remove migrationBackupBucketName and deploy"
else
  bash "$HOST_DIR/deploy-api.sh"
fi
log "fleet boot complete"
