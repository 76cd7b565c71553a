#!/usr/bin/env bash
# Usage: scripts/run.sh
#
# Runs the server (release build). Without DATABASE_URL it starts a private PostgreSQL
# under ./data (TENANTRY_DATA_DIR) and stops it on exit.

# -h/--help: the comment at the top, and nothing else.
case " $* " in *" -h "* | *" --help "*) sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_deps
exec cargo run --locked --release --bin tenantry -- serve "$@"
