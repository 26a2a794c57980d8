#!/usr/bin/env bash
# Installs what the host needs, on the dnf family (Amazon Linux 2023) or the apt family
# (Debian/Ubuntu): PostgreSQL, Redis, restic, the CloudWatch agent, the AWS CLI, xfsprogs;
# then the systemd units, log rotation and kernel settings. Packages are installed once (the
# AMI build runs this; so does the first boot of a stock AL2023 image); units and settings are
# rewritten at every run so a new construct version takes effect. Units are installed but not
# enabled: <service>-boot.service starts them once /data is mounted.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

root=${SVC_ROOT:-}
restic_version=${SVC_RESTIC_VERSION:-0.17.3}

if command -v dnf >/dev/null 2>&1; then
  family=dnf
  packages=(postgresql16-server postgresql16 redis6 amazon-cloudwatch-agent awscli-2 xfsprogs logrotate python3 tar bzip2)
elif command -v apt-get >/dev/null 2>&1; then
  family=apt
  packages=(postgresql redis-server restic awscli xfsprogs logrotate python3 curl)
else
  die "neither dnf nor apt-get found: this host's distribution is not supported"
fi

marker="$root$CONF_DIR/provisioned"
wanted="$family ${packages[*]} restic-$restic_version"
if [[ -r "$marker" ]] && grep -qxF "$wanted" "$marker"; then
  log "packages already installed ($wanted)"
else
  log "installing with $family: ${packages[*]}"
  if [[ "$family" == dnf ]]; then
    dnf install -y "${packages[@]}"
  else
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
    log "note: amazon-cloudwatch-agent is not in Debian's archive; install its .deb for CloudWatch logs and metrics"
  fi
  if [[ "$family" == dnf ]] && ! command -v restic >/dev/null 2>&1; then
    # AL2023 has no restic package: the pinned release binary (at AMI build time, or at the
    # first boot of a stock image), checked against its SHA-256.
    url="https://github.com/restic/restic/releases/download/v$restic_version"
    file="restic_${restic_version}_linux_arm64.bz2"
    tmp=$(mktemp -d)
    curl -fsSL -o "$tmp/$file" "$url/$file"
    if [[ -n "${SVC_RESTIC_SHA256:-}" ]]; then
      echo "$SVC_RESTIC_SHA256  $file" >"$tmp/SHA256SUMS"
    else
      curl -fsSL -o "$tmp/SHA256SUMS" "$url/SHA256SUMS"
    fi
    (cd "$tmp" && grep " $file\$" SHA256SUMS | sha256sum -c -)
    bunzip2 -c "$tmp/$file" >"$tmp/restic"
    install -m 0755 "$tmp/restic" /usr/local/bin/restic
    rm -rf "$tmp"
  fi
  # Distribution services would take the ports and data paths of ours.
  for unit in postgresql.service redis.service redis6.service redis-server.service; do
    "$SYSTEMCTL" disable --now "$unit" >/dev/null 2>&1 || true
  done
  install -d -m 0755 "$root$CONF_DIR"
  echo "$wanted" | write_file "$marker" 0644 root:root
fi

install -d -m 0755 "$root$CONF_DIR" "$root$BOOT_D" "$root$LOG_DIR" "$root$API_DIR" "$root$UNITS_DIR"
install -d -m 0700 "$root$SECRETS_DIR"
# Unit and log rotation templates name the service (@SERVICE@): <service>-api.service etc.
install_rendered() {
  local tmp
  tmp=$(mktemp)
  sed -e "s|@SERVICE@|$SERVICE|g" "$1" >"$tmp"
  install -m 0644 "$tmp" "$2"
  rm -f "$tmp"
}
for unit in "$HOST_DIR"/units/*.service; do
  install_rendered "$unit" "$root$UNITS_DIR/$SERVICE-${unit##*/}"
done
install -d -m 0755 "$root/etc/logrotate.d" "$root/etc/sysctl.d"
install_rendered "$HOST_DIR/config/logrotate" "$root/etc/logrotate.d/$SERVICE"
install -m 0644 "$HOST_DIR/config/sysctl.conf" "$root/etc/sysctl.d/90-$SERVICE.conf"
if [[ -z "$root" ]]; then
  sysctl -q --load="/etc/sysctl.d/90-$SERVICE.conf" || log "could not apply kernel settings now; they apply at the next boot"
fi
log "provisioned ($family); units in $root$UNITS_DIR"
