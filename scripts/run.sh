#!/usr/bin/env bash
# Runs the server (release build). Without DATABASE_URL it starts a private PostgreSQL
# under ./data (TENANTRY_DATA_DIR) and stops it on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_deps
exec cargo run --locked --release --bin tenantry -- serve "$@"
