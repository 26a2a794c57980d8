#!/usr/bin/env bash
# Packer post-processor: writes the new AMI id (from the manifest of the last run) to the SSM
# parameter that GravitonDataHost reads. The next deployment replaces the instance with one
# from this AMI; the data volume stays.
set -euo pipefail

: "${AMI_PARAMETER:?AMI_PARAMETER is not set}" "${AWS_REGION:?AWS_REGION is not set}" "${MANIFEST:?MANIFEST is not set}"
ami=$(python3 - "$MANIFEST" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
run = manifest["last_run_uuid"]
build = [b for b in manifest["builds"] if b["packer_run_uuid"] == run][-1]
print(build["artifact_id"].split(":")[-1])
PY
)
[[ "$ami" =~ ^ami-[0-9a-f]+$ ]] || { echo "publish-ami: no AMI id in $MANIFEST (got '$ami')" >&2; exit 1; }
aws ssm put-parameter --region "$AWS_REGION" --name "$AMI_PARAMETER" --type String \
  --data-type aws:ec2:image --value "$ami" --overwrite >/dev/null
echo "publish-ami: $AMI_PARAMETER = $ami"
