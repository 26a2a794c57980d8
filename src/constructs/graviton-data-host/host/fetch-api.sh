#!/usr/bin/env bash
# ExecStartPre of <service>-api.service (as root): fetches the API binary from the release
# location in S3. When S3 cannot be reached, the local copy (from the AMI or the last
# successful fetch) starts instead, so a restart never depends on anything outside AWS.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary=$API_BINARY
install -d -m 0755 "$API_DIR"
if [[ -z "${SVC_RELEASE_BUCKET:-}" || -z "${SVC_RELEASE_KEY:-}" ]]; then
  log "no release location configured; using $binary"
else
  source_url="s3://$SVC_RELEASE_BUCKET/$SVC_RELEASE_KEY"
  download=$(mktemp "$API_DIR/.download.XXXXXX")
  if aws_cli s3 cp --only-show-errors "$source_url" "$download" >&2 && [[ -s "$download" ]]; then
    chmod 0755 "$download"
    mv -f "$download" "$binary"
    log "fetched $source_url into $binary ($(sha256sum "$binary" | cut -d' ' -f1))"
  else
    rm -f "$download"
    # A deployment must run the release it uploaded, not the copy it replaces.
    [[ "${SVC_REQUIRE_RELEASE:-0}" != 1 ]] || die "could not fetch $source_url; nothing deployed"
    log "WARNING: could not fetch $source_url; starting the local copy $binary"
  fi
fi
if [[ ! -x "$binary" ]]; then
  log "no API release yet: $binary does not exist and the release location gave none"
  # Distinct status: boot.sh leaves the API stopped until the first release is deployed.
  exit 3
fi
