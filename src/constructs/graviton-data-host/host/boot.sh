#!/usr/bin/env bash
# ExecStart of <service>-boot.service, at every boot of every instance, in this order:
# attach and mount /data, read the secrets, write the API environment, prepare PostgreSQL and
# Redis, start them, ensure the application role, start the API and the CloudWatch agent,
# then run the boot commands that other constructs added (boot.d/*.sh, in name order).
# Any failure stops the boot with a non-zero exit (and, on the first boot, a FAILURE signal).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Steps a test run leaves out (e.g. "attach-volume cloudwatch-agent"); never set on a host.
skip=" ${SVC_BOOT_SKIP:-} "
step() {
  local name=$1
  shift
  if [[ "$skip" == *" $name "* ]]; then
    log "skipping $name"
    return
  fi
  log "step $name"
  "$@" || die "boot step $name failed"
}

install -d -m 0755 "$LOG_DIR"
step attach-volume bash "$HOST_DIR/attach-volume.sh"
step read-secrets bash "$HOST_DIR/read-secrets.sh"
step write-api-env bash "$HOST_DIR/write-api-env.sh"
step configure-postgres bash "$HOST_DIR/configure-postgres.sh"
step configure-redis bash "$HOST_DIR/configure-redis.sh"
step start-data-services "$SYSTEMCTL" restart "$SERVICE-postgresql.service" "$SERVICE-redis.service"
step postgres-roles bash "$HOST_DIR/postgres-roles.sh"
# The API: fetched from the release location (or the local copy). Before the first release
# exists there is nothing to start; the first deployment (deploy-api.sh) starts it.
api_status=0
bash "$HOST_DIR/fetch-api.sh" || api_status=$?
case "$api_status" in
  0) step start-api "$SYSTEMCTL" restart "$API_UNIT" ;;
  3) log "WARNING: no API release yet; $API_UNIT stays stopped until the first deployment (README, deploying an API release)" ;;
  *) die "boot step fetch-api failed (exit $api_status)" ;;
esac
step cloudwatch-agent bash "$HOST_DIR/cloudwatch-agent.sh"

if [[ -d "$BOOT_D" ]]; then
  for script in "$BOOT_D"/*.sh; do
    [[ -e "$script" ]] || continue
    step "boot.d/${script##*/}" bash "$script"
  done
fi
log "boot complete"
