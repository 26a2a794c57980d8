#!/usr/bin/env bash
# First boot of an instance (cloud-init runcmd, once per instance): `bootstrap SERVICE`.
# User data wrote /etc/<service>/host.env; this fetches the host scripts and the files other
# constructs added (S3 assets, each checked against the SHA-256 that user data carries before
# anything in it is used), installs packages and units when the AMI lacks them, runs the boot
# once through <service>-boot.service (which then runs at every later boot), and tells
# CloudFormation whether the instance came up (creation policy signal).
# <PREFIX>_FIRST_BOOT names a script to run instead of <service>-boot.service, for instances
# that reuse the host scripts without the data services (an API fleet behind a load balancer).
set -euo pipefail

service=${1:-${SHTETL_SERVICE:-}}
if [[ ! "$service" =~ ^[a-z][a-z0-9-]*$ ]]; then
  echo "usage: ${0##*/} SERVICE (lowercase letters, digits and hyphens; got '$service')" >&2
  exit 64
fi
prefix=$(tr '[:lower:]-' '[:upper:]_' <<<"$service")
# The service's settings are <PREFIX>_<NAME> (host.env or the environment); read as SVC_<NAME>,
# as lib.sh does (this file runs from user data, before lib.sh is on the host).
import_settings() {
  local name
  for name in $(compgen -v "${prefix}_" || true); do
    printf -v "SVC_${name#"${prefix}"_}" '%s' "${!name}"
  done
}
import_settings
# shellcheck source=/dev/null
source "${SVC_HOST_ENV:-/etc/$service/host.env}"
import_settings
host_dir=${SVC_HOST_DIR:-/opt/$service/host}
log_dir=${SVC_LOG_DIR:-/var/log/$service}
aws_cmd=${SVC_AWS:-aws}
systemctl_cmd=${SVC_SYSTEMCTL:-systemctl}
root=${SVC_ROOT:-}

install -d -m 0755 "$log_dir"
exec > >(tee -a "$log_dir/boot.log") 2>&1
log() { printf '%s %s[bootstrap]: %s\n' "$(date -u +%FT%TZ)" "$service" "$*"; }

signal() {
  local status=$1 token instance
  if [[ -n "${SVC_INSTANCE_ID:-}" ]]; then
    instance=$SVC_INSTANCE_ID
  else
    token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
    instance=$(curl -sSf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
  fi
  log "signalling $status for $SVC_LOGICAL_ID ($instance) in $SVC_STACK_NAME"
  "$aws_cmd" --region "$SVC_REGION" cloudformation signal-resource --stack-name "$SVC_STACK_NAME" \
    --logical-resource-id "$SVC_LOGICAL_ID" --unique-id "$instance" --status "$status"
}
work=""
on_exit() {
  local code=$?
  [[ -z "$work" ]] || rm -rf "$work"
  if ((code != 0)); then
    log "bootstrap failed (exit $code); the last boot log lines say why"
    signal FAILURE || log "could not signal FAILURE"
  fi
}
trap on_exit EXIT

# Each asset is "s3://bucket/key.zip#<sha256>", a zip: the first holds the host scripts, the
# others files with a MANIFEST of "mode owner path" lines (HostFile).
work=$(mktemp -d)
first=1
for entry in $SVC_HOST_ASSETS; do
  url=${entry%%#*}
  sha256=${entry#*#}
  if [[ "$entry" != *#* || ! "$sha256" =~ ^[0-9a-f]{64}$ ]]; then
    log "asset entry '$entry' carries no SHA-256 (s3://bucket/key#<sha256>): refusing to run it"
    exit 1
  fi
  log "fetching $url"
  "$aws_cmd" --region "$SVC_REGION" s3 cp --only-show-errors "$url" "$work/asset.zip"
  actual=$(sha256sum "$work/asset.zip" | cut -d' ' -f1)
  if [[ "$actual" != "$sha256" ]]; then
    log "$url has SHA-256 $actual, not the $sha256 this instance's user data names: refusing to run it"
    exit 1
  fi
  rm -rf "$work/x"
  python3 -m zipfile -e "$work/asset.zip" "$work/x"
  if ((first)); then
    printf 'SERVICE=%s\n' "$service" >"$work/x/service.env"
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

SHTETL_SERVICE=$service bash "$host_dir/provision.sh"
if [[ -n "${SVC_FIRST_BOOT:-}" ]]; then
  log "running the first boot: $SVC_FIRST_BOOT"
  bash "$root$SVC_FIRST_BOOT"
else
  "$systemctl_cmd" daemon-reload
  "$systemctl_cmd" enable "$service-boot.service"
  log "running the first boot"
  "$systemctl_cmd" start "$service-boot.service"
fi
signal SUCCESS
