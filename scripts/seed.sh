#!/usr/bin/env bash
# Seeds demo data (`tenantry seed`: tenants demo and test, idempotent) or, with
# --tenants N [--users M --projects P --tasks T --expenses E --items I --jobs J], volume
# data (see `tenantry seed --help`). DATABASE_URL, or the private cluster when unset.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
tenantry_cmd
exec "${TENANTRY[@]}" seed "$@"
