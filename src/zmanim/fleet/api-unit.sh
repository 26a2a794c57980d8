#!/usr/bin/env bash
# Prints the single host's zmanim-api.service (GravitonDataHost) as an API fleet instance runs
# it: without its dependencies on the local PostgreSQL and Redis units (the data is in RDS and
# ElastiCache). Derived at boot, so the unit is written once. (A drop-in cannot do this:
# systemd cannot reset Requires= or After= lists.)
set -euo pipefail
host_dir=${ZMANIM_HOST_DIR:-/opt/zmanim/host}
# The host's unit template names the service @SERVICE@ (provision.sh renders it the same way).
sed -E \
  -e 's/@SERVICE@/zmanim/g' \
  -e '/^(Requires|After|Wants|BindsTo)=/ s/ ?zmanim-(postgresql|redis)\.service//g' \
  -e '/^(Requires|After|Wants|BindsTo)=$/d' \
  -e 's/^Description=.*/& (API fleet: data in RDS and ElastiCache)/' \
  "$host_dir/units/api.service"
