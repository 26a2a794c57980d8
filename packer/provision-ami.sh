#!/usr/bin/env bash
# Runs on the packer build instance as root: installs the host scripts where the instances
# expect them, provisions packages and units (the same provision.sh a stock image runs at its
# first boot), optionally bakes in an API release as the fallback copy, and cleans up.
set -euo pipefail

install -d -m 0755 /opt/zmanim
rm -rf /opt/zmanim/host
cp -r /tmp/zmanim-host /opt/zmanim/host
chmod -R go-w /opt/zmanim/host
bash /opt/zmanim/host/provision.sh

if [[ -n "${API_RELEASE_URL:-}" ]]; then
  install -d -m 0755 /opt/zmanim/api
  aws s3 cp --only-show-errors "$API_RELEASE_URL" /opt/zmanim/api/zmanim-api
  chmod 0755 /opt/zmanim/api/zmanim-api
fi

# Nothing instance-specific in the image: cloud-init runs afresh on each instance.
dnf clean all || true
cloud-init clean --logs || true
rm -rf /tmp/zmanim-host
