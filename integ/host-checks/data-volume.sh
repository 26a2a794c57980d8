#!/usr/bin/env bash
# /data is the host's data volume: the EBS volume DATA_VOLUME_ID (found by its NVMe serial,
# the volume id without the dash) holds an xfs filesystem labelled DATA_LABEL, fstab mounts
# /data by that label, and PostgreSQL's and Redis's data directories are on it.
set -euo pipefail
volume=${DATA_VOLUME_ID:?DATA_VOLUME_ID is not set}
label=${DATA_LABEL:?DATA_LABEL is not set}
data_dir=${DATA_DIR:-/data}
by_id=${DISK_BY_ID_DIR:-/dev/disk/by-id}
fstab=${FSTAB:-/etc/fstab}
fail() { echo "FAIL data-volume: $*"; exit 1; }

link="$by_id/nvme-Amazon_Elastic_Block_Store_${volume/-/}"
[[ -e "$link" ]] || fail "volume $volume is not attached (no $link)"
device=$(readlink -f "$link")
mounted=$(findmnt -n -o SOURCE --mountpoint "$data_dir") || fail "$data_dir is not a mount point"
[[ "$(readlink -f "$mounted")" == "$device" ]] || fail "$data_dir is $mounted, not the data volume $volume ($device)"
fstype=$(findmnt -n -o FSTYPE --mountpoint "$data_dir")
[[ "$fstype" == xfs ]] || fail "$data_dir is $fstype, not xfs"
[[ "$(blkid -o value -s LABEL "$device")" == "$label" ]] || fail "$device is not labelled $label"
entry=$(awk -v dir="$data_dir" '$2 == dir { print $1 }' "$fstab")
[[ "$entry" == "LABEL=$label" ]] || fail "fstab mounts $data_dir from '$entry', not LABEL=$label"
for dir in postgres redis; do
  [[ "$(findmnt -n -o TARGET --target "$data_dir/$dir")" == "$data_dir" ]] || fail "$data_dir/$dir is not on the data volume"
done
echo "data volume $volume is $device, xfs labelled $label, mounted at $data_dir by label; postgres and redis data on it"
echo "PASS data-volume"
