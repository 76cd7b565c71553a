#!/usr/bin/env bash
# Usage: source scripts/pgpass.sh   (from the other scripts; run, it only prints this)
#
# Keeps database passwords off command lines, where `ps` shows them to every local user.
#
# hide_password VAR: when the PostgreSQL URL in $VAR carries a password
# (postgres://user:secret@host/db), moves it into PGPASSWORD (exported: only this user
# and root can read a process's environment) and leaves the URL without it in $VAR.

# Run rather than sourced (with -h/--help or anything else): the usage above.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"; exit 0; fi

hide_password() {
  local name=$1
  local url=${!name}
  local re='^(postgres(ql)?://)([^:@/?#]*):([^@/?#]*)@(.*)$'
  if [[ $url =~ $re ]]; then
    local encoded=${BASH_REMATCH[4]}
    # Percent-decoding: %XX becomes the byte 0xXX.
    local decoded
    decoded=$(printf '%b' "${encoded//%/\\x}")
    export PGPASSWORD="$decoded"
    printf -v "$name" '%s' "${BASH_REMATCH[1]}${BASH_REMATCH[3]}@${BASH_REMATCH[5]}"
  fi
}
