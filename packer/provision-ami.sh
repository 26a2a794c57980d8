#!/usr/bin/env bash
# Runs on the packer build instance as root: installs the host scripts where the instances of
# SERVICE expect them (/opt/<service>/host, with service.env), provisions packages and units
# (the same provision.sh a stock image runs at its first boot), optionally bakes in an API
# release as the fallback copy, and cleans up.
set -euo pipefail

service=${SERVICE:?SERVICE (the GravitonDataHost serviceName) is not set}
[[ "$service" =~ ^[a-z][a-z0-9-]*$ ]] || { echo "SERVICE '$service' is not a GravitonDataHost serviceName" >&2; exit 64; }
staging=/tmp/graviton-data-host

install -d -m 0755 "/opt/$service"
rm -rf "/opt/$service/host"
cp -r "$staging" "/opt/$service/host"
printf 'SERVICE=%s\n' "$service" >"/opt/$service/host/service.env"
chmod -R go-w "/opt/$service/host"
bash "/opt/$service/host/provision.sh"

if [[ -n "${API_RELEASE_URL:-}" ]]; then
  install -d -m 0755 "/opt/$service/api"
  aws s3 cp --only-show-errors "$API_RELEASE_URL" "/opt/$service/api/$service-api"
  chmod 0755 "/opt/$service/api/$service-api"
fi

# Nothing instance-specific in the image: cloud-init runs afresh on each instance.
dnf clean all || true
cloud-init clean --logs || true
rm -rf "$staging"
