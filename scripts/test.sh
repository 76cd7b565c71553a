#!/usr/bin/env bash
# Runs every test against a real PostgreSQL: DATABASE_URL's server when set, else a
# private throw-away cluster started by the test harness.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_deps
exec cargo test --locked "$@"
