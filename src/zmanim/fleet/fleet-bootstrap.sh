#!/usr/bin/env bash
# First thing an API fleet instance runs (cloud-config runcmd), at every launch: fetch the
# GravitonDataHost host scripts and the fleet scripts (S3 assets named in host.env, each
# checked against the SHA-256 there before anything in it runs),
# provision the image as the single host's (idempotent; the packer AMI already is), boot the
# API, and tell CloudFormation whether this instance came up (the Auto Scaling group's
# creation and rolling-update policies wait for it).
set -euo pipefail
# shellcheck source=/dev/null
source "${ZMANIM_HOST_ENV:-/etc/zmanim/host.env}"
host_dir=${ZMANIM_HOST_DIR:-/opt/zmanim/host}
fleet_dir=${ZMANIM_FLEET_DIR:-/opt/zmanim/fleet}
log_dir=${ZMANIM_LOG_DIR:-/var/log/zmanim}
aws_cmd=${ZMANIM_AWS:-aws}

install -d -m 0755 "$log_dir"
exec > >(tee -a "$log_dir/boot.log") 2>&1
log() { printf '%s zmanim[fleet-bootstrap]: %s\n' "$(date -u +%FT%TZ)" "$*"; }

signal() {
  local token instance
  token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
  instance=$(curl -sSf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
  log "signalling $1 for $ZMANIM_LOGICAL_ID ($instance) in $ZMANIM_STACK_NAME"
  "$aws_cmd" --region "$ZMANIM_REGION" cloudformation signal-resource --stack-name "$ZMANIM_STACK_NAME" \
    --logical-resource-id "$ZMANIM_LOGICAL_ID" --unique-id "$instance" --status "$1"
}
on_exit() {
  local code=$?
  if ((code != 0)); then
    log "fleet bootstrap failed (exit $code); the lines above say why"
    signal FAILURE || log "could not signal FAILURE"
  fi
}
trap on_exit EXIT

# Fetches and checks a zip as the GravitonDataHost bootstrap does (this file runs from user
# data, before any script is on the instance).
fetch() { # S3_URL#SHA256 DIR
  local work url=${1%%#*} sha256=${1#*#} actual
  if [[ "$1" != *#* || ! "$sha256" =~ ^[0-9a-f]{64}$ ]]; then
    log "asset $1 carries no SHA-256 (s3://bucket/key#<sha256>): refusing to run it"
    return 1
  fi
  work=$(mktemp -d)
  log "fetching $url into $2"
  "$aws_cmd" --region "$ZMANIM_REGION" s3 cp --only-show-errors "$url" "$work/asset.zip"
  actual=$(sha256sum "$work/asset.zip" | cut -d' ' -f1)
  if [[ "$actual" != "$sha256" ]]; then
    log "$url has SHA-256 $actual, not the $sha256 the user data names: refusing to run it"
    return 1
  fi
  python3 -m zipfile -e "$work/asset.zip" "$work/x"
  rm -rf "$2"
  mkdir -p "$(dirname "$2")"
  mv "$work/x" "$2"
  chmod -R go-w "$2"
  rm -rf "$work"
}
fetch "$ZMANIM_HOST_ASSET" "$host_dir"
# The GravitonDataHost scripts take the service's name from here (lib.sh).
echo 'SERVICE=zmanim' >"$host_dir/service.env"
fetch "$ZMANIM_FLEET_ASSET" "$fleet_dir"
# The ResticBackups host script, for migrate.sh (README, "Scaling path").
fetch "$ZMANIM_RESTIC_ASSET" "${ZMANIM_RESTIC_DIR:-/opt/zmanim/restic-backups}"

bash "$host_dir/provision.sh"
bash "$fleet_dir/fleet-boot.sh"
signal SUCCESS
