#!/usr/bin/env bash
# ExecStart of <service>-postgresql.service (as user postgres): the server binary differs
# between the dnf family (/usr/bin) and Debian (/usr/lib/postgresql/N/bin).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
exec "$(pg_bindir)/postgres" -D "$DATA_DIR/postgres"
