#!/usr/bin/env bash
# Usage: scripts/prometheus-tool.sh promtool|prometheus [ARGUMENTS...]
#
# Runs promtool or prometheus, installing Debian's `prometheus` package first when
# either is missing (as the tests need them). Exits non-zero when they cannot be
# installed: the tests call this, so a missing tool fails them instead of skipping.
# Relative paths in ARGUMENTS are taken from the caller's directory.

# -h/--help: the comment at the top, and nothing else.
source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."
ensure_prometheus
tool=${1:-}
shift || true
cd "$caller_dir"
case "$tool" in
  promtool) exec "$PROMTOOL" "$@" ;;
  prometheus) exec "$PROMETHEUS" "$@" ;;
  *) echo "usage: scripts/prometheus-tool.sh promtool|prometheus [ARGUMENTS...]" >&2; exit 2 ;;
esac
