#!/usr/bin/env bash
# Usage: scripts/seed.sh [--tenants N [--users M --projects P --tasks T --expenses E --items I --jobs J]]
#
# Seeds demo data (`tenantry seed`: tenants demo and test, idempotent) or, with
# --tenants N [--users M --projects P --tasks T --expenses E --items I --jobs J], volume
# data (see `tenantry seed --help`). DATABASE_URL, or the private cluster when unset.

# -h/--help: the comment at the top, and nothing else.
source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
tenantry_cmd
exec "${TENANTRY[@]}" seed "$@"
