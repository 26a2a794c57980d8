#!/usr/bin/env bash
# After the update: the row that the first instance (generation 1, the committed snapshot)
# wrote at its boot is read on this instance (generation 2), which replaced it, and the
# writer is gone. The row can only be here if the data volume moved to the new instance.
set -euo pipefail
# shellcheck source=/dev/null
source "${SURVIVOR_ENV:-/etc/shtetl-integ/survivor.env}"
: "${GENERATION:?}" "${DB_NAME:?}" "${DB_USER:?}" "${POSTGRES_PASSWORD_FILE:?}"
aws_cli=${AWS_CLI:-aws}
fail() { echo "FAIL survivor: $*"; exit 1; }
if [[ -z "${INSTANCE_ID:-}" ]]; then
  token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
  INSTANCE_ID=$(curl -sSf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
fi
cd /
row=$(PGPASSWORD=$(<"$POSTGRES_PASSWORD_FILE") psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PG_PORT:-5432}" -U "$DB_USER" -d "$DB_NAME" \
  -tA -F ' ' -c 'SELECT instance_id, generation FROM integ_survivor WHERE id = 1') || fail "cannot read integ_survivor"
read -r writer written_generation <<<"$row"
[[ -n "${writer:-}" ]] || fail "integ_survivor has no row 1"
if [[ "$writer" == "$INSTANCE_ID" ]]; then
  fail "row 1 was written by this instance ($INSTANCE_ID, generation $written_generation): no replacement happened. The update workflow must deploy the committed snapshot (generation 1) first; see the test's header."
fi
[[ "$written_generation" == 1 && "$GENERATION" == 2 ]] \
  || fail "row 1 comes from generation $written_generation and this instance is generation $GENERATION (expected 1 and 2)"
state=$("$aws_cli" --region "${AWS_REGION:?}" ec2 describe-instances --instance-ids "$writer" \
  --query 'Reservations[0].Instances[0].State.Name' --output text)
[[ "$state" == terminated || "$state" == shutting-down ]] || fail "the instance that wrote row 1, $writer, is $state, not terminated"
echo "row 1 written by $writer (generation 1, now $state) read on $INSTANCE_ID (generation 2)"
echo "PASS survivor"
