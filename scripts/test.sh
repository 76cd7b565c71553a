#!/usr/bin/env bash
# Usage: scripts/test.sh [CARGO TEST ARGUMENTS...]
#
# Runs every test against a real PostgreSQL: DATABASE_URL's server when set, else a
# private throw-away cluster started by the test harness.

# -h/--help: the comment at the top, and nothing else.
case " $* " in *" -h "* | *" --help "*) sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_deps
# promtool and prometheus for the metrics tests (tests/api/prometheus.rs).
ensure_prometheus
exec cargo test --locked "$@"
