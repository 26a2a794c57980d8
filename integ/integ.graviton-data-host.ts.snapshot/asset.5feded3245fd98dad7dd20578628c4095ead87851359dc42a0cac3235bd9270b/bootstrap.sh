#!/usr/bin/env bash
# First boot of an instance (cloud-init runcmd, once per instance). User data wrote
# /etc/zmanim/host.env; this fetches the host scripts and the files other constructs added
# (S3 assets), installs packages and units when the AMI lacks them, runs the boot once through
# zmanim-boot.service (which then runs at every later boot), and tells CloudFormation
# whether the instance came up (creation policy signal).
set -euo pipefail
# shellcheck source=/dev/null
source "${ZMANIM_HOST_ENV:-/etc/zmanim/host.env}"
host_dir=${ZMANIM_HOST_DIR:-/opt/zmanim/host}
log_dir=${ZMANIM_LOG_DIR:-/var/log/zmanim}
aws_cmd=${ZMANIM_AWS:-aws}
systemctl_cmd=${ZMANIM_SYSTEMCTL:-systemctl}
root=${ZMANIM_ROOT:-}

install -d -m 0755 "$log_dir"
exec > >(tee -a "$log_dir/boot.log") 2>&1
log() { printf '%s zmanim[bootstrap]: %s\n' "$(date -u +%FT%TZ)" "$*"; }

signal() {
  local status=$1 token instance
  if [[ -n "${ZMANIM_INSTANCE_ID:-}" ]]; then
    instance=$ZMANIM_INSTANCE_ID
  else
    token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
    instance=$(curl -sSf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
  fi
  log "signalling $status for $ZMANIM_LOGICAL_ID ($instance) in $ZMANIM_STACK_NAME"
  "$aws_cmd" --region "$ZMANIM_REGION" cloudformation signal-resource --stack-name "$ZMANIM_STACK_NAME" \
    --logical-resource-id "$ZMANIM_LOGICAL_ID" --unique-id "$instance" --status "$status"
}
on_exit() {
  local code=$?
  if ((code != 0)); then
    log "bootstrap failed (exit $code); the last boot log lines say why"
    signal FAILURE || log "could not signal FAILURE"
  fi
}
trap on_exit EXIT

# Each asset is a zip: the first holds the host scripts, the others files with a MANIFEST of
# "mode owner path" lines (HostFile).
work=$(mktemp -d)
first=1
for url in $ZMANIM_HOST_ASSETS; do
  log "fetching $url"
  "$aws_cmd" --region "$ZMANIM_REGION" s3 cp --only-show-errors "$url" "$work/asset.zip"
  rm -rf "$work/x"
  python3 -m zipfile -e "$work/asset.zip" "$work/x"
  if ((first)); then
    rm -rf "$host_dir.new"
    mkdir -p "$(dirname "$host_dir")"
    mv "$work/x" "$host_dir.new"
    rm -rf "$host_dir"
    mv "$host_dir.new" "$host_dir"
    chmod -R go-w "$host_dir"
    first=0
  else
    while read -r mode owner path; do
      [[ -n "$path" ]] || continue
      install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$work/x/files${path}" "$root$path"
      log "installed $path"
    done <"$work/x/MANIFEST"
  fi
done
rm -rf "$work"

bash "$host_dir/provision.sh"
"$systemctl_cmd" daemon-reload
"$systemctl_cmd" enable zmanim-boot.service
log "running the first boot"
"$systemctl_cmd" start zmanim-boot.service
signal SUCCESS
