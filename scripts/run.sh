#!/usr/bin/env bash
# Usage: scripts/run.sh
#
# Runs the server (release build). Without DATABASE_URL it starts a private PostgreSQL
# under ./data (TENANTRY_DATA_DIR) and stops it on exit.

# -h/--help: the comment at the top, and nothing else.
source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
ensure_deps
exec cargo run --locked --release --bin tenantry -- serve "$@"
