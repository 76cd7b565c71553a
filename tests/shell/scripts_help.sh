#!/usr/bin/env bash
# Usage: tests/shell/scripts_help.sh [SCRIPT...]
#
# Checks that every script in scripts/ (or each SCRIPT given) answers -h and --help with
# its usage on stdout, exits 0 and does nothing else: the commands a script could run
# (cargo, apt-get, the PostgreSQL tools, wrk, python3, the tenantry binary, Prometheus)
# are replaced on PATH by stubs that record being called, and any call fails the check.
# Run by the test suite (tests/api/cli.rs); prints one line per failure, exits 1 on any.

case " $* " in *" -h "* | *" --help "*) sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;; esac
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
for tool in cargo rustc apt-get sudo pg_dump pg_restore psql createdb initdb pg_ctl pg_config \
  wrk python3 pip tenantry prometheus promtool docker flock sha256sum; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/called"\nexit 97\n' "$tool" "$stubs" > "$stubs/$tool"
  chmod +x "$stubs/$tool"
done

scripts=("$@")
if [ ${#scripts[@]} -eq 0 ]; then scripts=("$root"/scripts/*.sh); fi
failures=0
for script in "${scripts[@]}"; do
  name=$(basename "$script")
  for flag in -h --help; do
    rm -f "$stubs/called"
    out=$(cd "$stubs" && PATH="$stubs:/usr/bin:/bin" TENANTRY_BIN="$stubs/tenantry" \
      bash "$script" "$flag" 2>"$stubs/stderr")
    status=$?
    if [ $status -ne 0 ]; then
      echo "$name $flag: exit status $status: $(head -c 300 "$stubs/stderr")"; failures=$((failures + 1))
    # The first line without a pipe: under pipefail, a pipe's early reader can fail it.
    elif first=${out%%$'\n'*} && [[ $first != "Usage: "* ]]; then
      echo "$name $flag: the first line is not 'Usage: ...': $first"
      failures=$((failures + 1))
    fi
    if [ -e "$stubs/called" ]; then
      echo "$name $flag: ran $(tr '\n' ';' < "$stubs/called")"; failures=$((failures + 1))
    fi
  done
done
[ $failures -eq 0 ] || exit 1
echo "ok: ${#scripts[@]} scripts answer -h and --help"
