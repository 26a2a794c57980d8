#!/usr/bin/env bash
# Attaches this host's data volume to this instance and mounts it at $DATA_DIR by label.
#
# - The volume is found by its id in the NVMe serial (/dev/disk/by-id), never by a guessed
#   device name.
# - A volume still attached to this host's predecessor (an instance with the same
#   shtetl:data-host tag, during a CloudFormation replacement) is taken over cleanly: the
#   predecessor is stopped (its services shut down and /data unmounts), then the volume is
#   detached. A volume attached to any other instance is never taken.
# - The volume is formatted only when it carries no signature at all (never held a
#   filesystem or partition table). A filesystem with another label stops the boot.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

volume=${SVC_DATA_VOLUME_ID:?SVC_DATA_VOLUME_ID is not set (host.env)}
host_tag=${SVC_HOST_TAG:?SVC_HOST_TAG is not set (host.env)}
by_id=${SVC_DISK_BY_ID_DIR:-/dev/disk/by-id}
fstab=${SVC_FSTAB:-/etc/fstab}
timeout=${SVC_ATTACH_TIMEOUT:-300}
self=$(instance_id)
[[ "$volume" =~ ^vol-[0-9a-f]+$ ]] || die "SVC_DATA_VOLUME_ID '$volume' is not an EBS volume id"

# The NVMe serial of an EBS volume is its id without the dash.
link="$by_id/nvme-Amazon_Elastic_Block_Store_${volume/-/}"

describe_volume() {
  aws_cli ec2 describe-volumes --volume-ids "$volume" \
    --query 'Volumes[0].[State, Attachments[0].InstanceId]' --output text
}

if [[ ! -e "$link" ]]; then
  read -r state attached_to <<<"$(describe_volume)"
  log "volume $volume is $state${attached_to:+ (attached to $attached_to)}"
  if [[ "$state" == "in-use" && "$attached_to" != "$self" && "$attached_to" != "None" ]]; then
    owner_tag=$(aws_cli ec2 describe-instances --instance-ids "$attached_to" \
      --query "Reservations[0].Instances[0].Tags[?Key=='shtetl:data-host'] | [0].Value" --output text)
    if [[ "$owner_tag" != "$host_tag" ]]; then
      die "volume $volume is attached to $attached_to, which is not a predecessor of this host (its shtetl:data-host tag is '$owner_tag', ours '$host_tag'): refusing to take it. Detach it yourself if that is intended."
    fi
    log "taking $volume over from the predecessor $attached_to: stopping it so that it shuts down cleanly"
    aws_cli ec2 stop-instances --instance-ids "$attached_to" >/dev/null
    aws_cli ec2 wait instance-stopped --instance-ids "$attached_to"
    aws_cli ec2 detach-volume --volume-id "$volume" --instance-id "$attached_to" >/dev/null
    aws_cli ec2 wait volume-available --volume-ids "$volume"
    state=available
  fi
  if [[ "$state" == "available" ]]; then
    log "attaching $volume to $self"
    aws_cli ec2 attach-volume --volume-id "$volume" --instance-id "$self" --device /dev/sdf >/dev/null
  elif [[ "$attached_to" != "$self" ]]; then
    die "volume $volume is $state and cannot be attached now"
  fi
  for ((waited = 0; waited < timeout; waited += 2)); do
    [[ -e "$link" ]] && break
    sleep 2
  done
  [[ -e "$link" ]] || die "volume $volume did not appear as $link within ${timeout}s"
fi

device=$(readlink -f "$link")
log "volume $volume is $device"

signatures=$(wipefs --no-act --noheadings --output TYPE "$device" 2>/dev/null || true)
if [[ -z "$signatures" ]]; then
  log "$device has never held a filesystem: creating xfs labelled $DATA_LABEL"
  mkfs.xfs -q -L "$DATA_LABEL" "$device"
fi
fstype=$(blkid -p -o value -s TYPE "$device" || true)
label=$(blkid -p -o value -s LABEL "$device" || true)
if [[ "$label" != "$DATA_LABEL" ]]; then
  die "$device (volume $volume) holds '${fstype:-${signatures//$'\n'/,}}' labelled '${label}', not a filesystem labelled '$DATA_LABEL': refusing to format or mount it. If its content is the data, relabel it (xfs_admin -L $DATA_LABEL $device)."
fi
# A second device with the same label (a restored snapshot left attached) would make a mount
# by label ambiguous.
others=$(blkid -t "LABEL=$DATA_LABEL" -o device 2>/dev/null | grep -vx "$device" || true)
[[ -z "$others" ]] || die "other devices also carry the label $DATA_LABEL: $others; detach them (README, snapshot restore) and reboot"

install -d -m 0755 "$DATA_DIR"
entry="LABEL=$DATA_LABEL $DATA_DIR $fstype defaults,noatime,nofail 0 2"
if ! grep -qxF "$entry" "$fstab" 2>/dev/null; then
  { grep -v " $DATA_DIR " "$fstab" 2>/dev/null || true; echo "$entry"; } | write_file "$fstab" 0644 root:root
  # systemd generates data.mount (RequiresMountsFor=/data in the units) from fstab.
  "$SYSTEMCTL" daemon-reload
fi
if ! mountpoint -q "$DATA_DIR"; then
  mount "$DATA_DIR"
fi
mountpoint -q "$DATA_DIR" || die "$DATA_DIR is not mounted after mount"
log "$volume mounted at $DATA_DIR"
