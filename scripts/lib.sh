#!/usr/bin/env bash
# Usage: source scripts/lib.sh   (from the other scripts; run, it only prints this)
#
# Shared set-up for the scripts: installs what a fresh Debian/Ubuntu machine lacks
# (PostgreSQL server binaries, libpq for Diesel) with the system package manager, and
# checks for a Rust toolchain. Sourced, not run.

# Run rather than sourced (with -h/--help or anything else): the usage above.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"; exit 0; fi

# -h or --help among the arguments: prints the calling script's header comment (from its
# second line to the first line that is not a comment, without the leading "# ") and
# exits 0, before the script does anything. Every script starts with
#   source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
help_if_asked() {
  case " $* " in *" -h "* | *" --help "*) ;; *) return 0 ;; esac
  sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"
  exit 0
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing packages ($*) and no apt-get: install them with your package manager" >&2
    return 1
  fi
  echo "installing: $*" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null \
    || { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }
}

have_pg_server() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1
}

have_libpq() {
  ldconfig -p 2>/dev/null | grep -q 'libpq\.so ' || compgen -G "/usr/lib/*/libpq.so" >/dev/null
}

ensure_deps() {
  local pkgs=()
  # The private cluster needs the server binaries only when no DATABASE_URL is given.
  if [ -z "${DATABASE_URL:-}" ] && ! have_pg_server; then pkgs+=(postgresql); fi
  if ! have_libpq; then pkgs+=(libpq-dev); fi
  if ! command -v pkg-config >/dev/null 2>&1; then pkgs+=(pkg-config); fi
  # A C compiler: rustc links with `cc`, and mimalloc (the server's allocator) is C.
  if ! command -v cc >/dev/null 2>&1; then pkgs+=(gcc libc6-dev); fi
  if [ ${#pkgs[@]} -gt 0 ]; then apt_install "${pkgs[@]}"; fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust from https://rustup.rs" >&2
    return 1
  fi
}

# The directory of the PostgreSQL client tools (pg_dump, pg_restore, psql), of the same
# version as the server binaries the private cluster uses: $PG_BINDIR when set, else
# `pg_config --bindir`, else the highest /usr/lib/postgresql/*/bin, else PATH. (Debian's
# /usr/bin wrappers pick a version by their own rules, so the bindir is used directly.)
pg_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$dir" ] && [ -x "$dir/pg_dump" ]; then echo "$dir"; return; fi
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/pg_dump" ]; then echo "$dir"; return; fi
  dir=$(command -v pg_dump 2>/dev/null || true)
  if [ -n "$dir" ]; then dirname "$dir"; return; fi
  return 1
}

# Installs the PostgreSQL client tools when none are found; sets PG_BIN to their directory.
ensure_pg_client() {
  if ! PG_BIN=$(pg_bindir); then
    apt_install postgresql-client
    PG_BIN=$(pg_bindir) || { echo "pg_dump not found after installing postgresql-client" >&2; return 1; }
  fi
  for tool in pg_dump pg_restore psql; do
    [ -x "$PG_BIN/$tool" ] || { echo "$PG_BIN/$tool is missing" >&2; return 1; }
  done
}

# How to run the tenantry binary: $TENANTRY_BIN when set (a prebuilt binary), else
# the same `cargo run --release` as run.sh. Sets the array TENANTRY.
tenantry_cmd() {
  if [ -n "${TENANTRY_BIN:-}" ]; then
    TENANTRY=("$TENANTRY_BIN")
  else
    ensure_deps
    TENANTRY=(cargo run --locked --release --quiet --bin tenantry --)
  fi
}

# Runs COMMAND... while holding target/tools/.lock-NAME: two test processes that need the
# same tool at once install it once (one installs, the other waits, then finds it).
with_install_lock() {
  local name=$1
  shift
  mkdir -p target/tools
  ( flock 9 && "$@" ) 9>"target/tools/.lock-$name"
}

# A PyPI tool, pinned, in its own virtualenv under target/tools, so it touches neither the
# system Python nor the user's. `ensure_pip_tool NAME VERSION [EXTRA_PACKAGES...]` leaves
# the venv's directory in PIP_TOOL_VENV; it fails loudly when it cannot install: a check
# that was skipped must never look like one that passed.
ensure_pip_tool() {
  local name=$1 version=$2
  shift 2
  local venv=target/tools/$name-$version
  PIP_TOOL_VENV=$venv
  if [ -f "$venv/.installed" ]; then return; fi
  if ! command -v python3 >/dev/null 2>&1; then apt_install python3 python3-venv; fi
  with_install_lock "$name" pip_venv_install "$venv" "$name==$version" "$@"
  [ -f "$venv/.installed" ] || { echo "$name $version could not be installed" >&2; return 1; }
}

# `pip_venv_install VENV PACKAGE...`: a fresh virtualenv with the packages, unless one is
# already complete. The marker is written last, so a half-finished install is never taken
# for a whole one.
pip_venv_install() {
  local venv=$1
  shift
  if [ -f "$venv/.installed" ]; then return; fi
  rm -rf "$venv"
  { python3 -m venv "$venv" >&2 || { apt_install python3-venv && python3 -m venv "$venv" >&2; }; } \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2 \
    && touch "$venv/.installed"
}

# check-jsonschema (PyPI), pinned (see ensure_pip_tool). Sets CHECK_JSONSCHEMA.
CHECK_JSONSCHEMA_VERSION=0.39.0
ensure_check_jsonschema() {
  ensure_pip_tool check-jsonschema "$CHECK_JSONSCHEMA_VERSION" || return 1
  CHECK_JSONSCHEMA=$PIP_TOOL_VENV/bin/check-jsonschema
}

have_prometheus() {
  command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1
}

install_prometheus() {
  have_prometheus || apt_install prometheus
}

# Prometheus and promtool (Debian's `prometheus` package), for the metrics tests; sets
# PROMETHEUS and PROMTOOL. Fails loudly when they cannot be installed, so a check that
# could not run never passes for one that did.
ensure_prometheus() {
  have_prometheus || with_install_lock prometheus install_prometheus
  PROMETHEUS=$(command -v prometheus) || { echo "prometheus not found after installing it" >&2; return 1; }
  PROMTOOL=$(command -v promtool) || { echo "promtool not found after installing it" >&2; return 1; }
}

SCHEMATHESIS_VERSION=4.32.5
OPENAPI_PYTHON_CLIENT_VERSION=0.29.1
PYTHON_DATEUTIL_VERSION=4.0.0
WEBSOCKET_CLIENT_VERSION=1.9.2
