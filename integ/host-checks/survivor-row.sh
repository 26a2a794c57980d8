#!/usr/bin/env bash
# Boot command of the data-host integ host (every boot of every instance): as the application
# role, writes row 1 of integ_survivor with this instance's id and generation unless the row
# exists. The first instance writes it; a replacement finds it on the volume it took over.
set -euo pipefail
# shellcheck source=/dev/null
source "${SURVIVOR_ENV:-/etc/shtetl-integ/survivor.env}"
: "${GENERATION:?}" "${DB_NAME:?}" "${DB_USER:?}" "${POSTGRES_PASSWORD_FILE:?}"
if [[ -z "${INSTANCE_ID:-}" ]]; then
  token=$(curl -sSf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
  INSTANCE_ID=$(curl -sSf -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
fi
cd /
PGPASSWORD=$(<"$POSTGRES_PASSWORD_FILE") psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PG_PORT:-5432}" -U "$DB_USER" -d "$DB_NAME" \
  -v instance="$INSTANCE_ID" -v generation="$GENERATION" <<'SQL'
CREATE TABLE IF NOT EXISTS integ_survivor (
  id int PRIMARY KEY,
  instance_id text NOT NULL,
  generation int NOT NULL,
  written_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO integ_survivor (id, instance_id, generation) VALUES (1, :'instance', :'generation') ON CONFLICT (id) DO NOTHING;
SQL
echo "integ_survivor row 1 present (this is $INSTANCE_ID, generation $GENERATION)"
