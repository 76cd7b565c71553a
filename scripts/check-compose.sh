#!/usr/bin/env bash
# Usage: scripts/check-compose.sh [FILE]
#
# Validates a Compose file (default: docker-compose.yml) against the Compose
# specification's JSON schema with check-jsonschema (installed from PyPI into target/
# on first use). No Docker engine is needed. Exits non-zero when the file is invalid or
# the checker cannot be installed.

# -h/--help: the comment at the top, and nothing else.
source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
caller_dir=$PWD
cd "$(dirname "$self")/.."
file=${1:-docker-compose.yml}
case "$file" in /*) ;; *) [ -e "$caller_dir/$file" ] && file="$caller_dir/$file" ;; esac
ensure_check_jsonschema
exec "$CHECK_JSONSCHEMA" --builtin-schema vendor.compose-spec "$file"
