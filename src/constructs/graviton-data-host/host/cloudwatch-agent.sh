#!/usr/bin/env bash
# Configures and (re)starts the CloudWatch agent: the API, PostgreSQL, Redis and boot logs
# into the construct's log groups, memory and /data disk use into its metrics namespace.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ctl=${SVC_CWAGENT_CTL:-/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl}
config=${SVC_CWAGENT_CONFIG:-/opt/aws/amazon-cloudwatch-agent/etc/$SERVICE.json}
safe='^[A-Za-z0-9_./#-]+$'
for var in SVC_METRICS_NAMESPACE SVC_LOG_GROUP_API SVC_LOG_GROUP_POSTGRESQL SVC_LOG_GROUP_REDIS SVC_LOG_GROUP_BOOT; do
  [[ "${!var:-}" =~ $safe ]] || die "$var is missing or has unexpected characters (host.env): '${!var:-}'"
done

install -d -m 0755 "$(dirname "$config")"
sed -e "s|@METRICS_NAMESPACE@|$SVC_METRICS_NAMESPACE|" \
  -e "s|@DATA_DIR@|$DATA_DIR|" -e "s|@LOG_DIR@|$LOG_DIR|g" \
  -e "s|@LOG_GROUP_API@|$SVC_LOG_GROUP_API|" \
  -e "s|@LOG_GROUP_POSTGRESQL@|$SVC_LOG_GROUP_POSTGRESQL|" \
  -e "s|@LOG_GROUP_REDIS@|$SVC_LOG_GROUP_REDIS|" \
  -e "s|@LOG_GROUP_BOOT@|$SVC_LOG_GROUP_BOOT|" \
  "$HOST_DIR/config/cloudwatch-agent.json" | write_file "$config" 0644 root:root
[[ -x "$ctl" ]] || die "the CloudWatch agent is not installed ($ctl); provision.sh installs amazon-cloudwatch-agent"
"$ctl" -a fetch-config -m ec2 -s -c "file:$config" >&2
log "CloudWatch agent running with $config"
