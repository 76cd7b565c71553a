#!/usr/bin/env bash
# Usage: scripts/test.sh [CARGO TEST ARGUMENTS...]
#
# Runs every test against a real PostgreSQL: DATABASE_URL's server when set, else a
# private throw-away cluster started by the test harness.

# -h/--help: the comment at the top, and nothing else.
source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
ensure_deps
# promtool and prometheus for the metrics tests (tests/api/prometheus.rs).
ensure_prometheus
exec cargo test --locked "$@"
