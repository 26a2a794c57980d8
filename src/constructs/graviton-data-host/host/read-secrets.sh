#!/usr/bin/env bash
# Reads every required secret from SSM Parameter Store (SecureStrings, decrypted by SSM) into
# root-only files under $SECRETS_DIR, one file per name. Values never pass through user data,
# the command line or the log. Fails naming every parameter that is missing or unreadable.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ssm_path=${SVC_SSM_PATH:?SVC_SSM_PATH is not set (host.env)}
read -r -a names <<<"${SVC_SECRET_NAMES:?SVC_SECRET_NAMES is not set (host.env)}"

umask 077
install -d -m 0700 -o root -g root "$SECRETS_DIR"

missing=()
for name in "${names[@]}"; do
  parameter="$ssm_path/$name"
  tmp=$(mktemp "$SECRETS_DIR/.$name.XXXXXX")
  if ! aws_cli ssm get-parameter --name "$parameter" --with-decryption \
    --query Parameter.Value --output text >"$tmp" 2>"$tmp.err"; then
    reason=$(tr -s '\n' ' ' <"$tmp.err")
    rm -f "$tmp" "$tmp.err"
    missing+=("$parameter (${reason:-no error text})")
    continue
  fi
  rm -f "$tmp.err"
  # The CLI's text output ends with a newline that is not part of the value.
  value=$(<"$tmp")
  if [[ -z "$value" || "$value" == "None" ]]; then
    rm -f "$tmp"
    missing+=("$parameter (empty)")
    continue
  fi
  printf '%s' "$value" >"$tmp"
  mv -f "$tmp" "$SECRETS_DIR/$name"
done

if ((${#missing[@]} > 0)); then
  for entry in "${missing[@]}"; do log "missing secret: $entry"; done
  die "${#missing[@]} required secret(s) missing or unreadable: ${missing[*]%% (*}. Put them with: aws ssm put-parameter --type SecureString --name NAME --value ... (README, Secrets)"
fi
log "read ${#names[@]} secrets from $ssm_path into $SECRETS_DIR"
