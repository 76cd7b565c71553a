#!/usr/bin/env bash
# Shared set-up for the scripts: installs what a fresh Debian/Ubuntu machine lacks
# (PostgreSQL server binaries, libpq for Diesel) with the system package manager, and
# checks for a Rust toolchain. Sourced, not run.

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
  if [ ${#pkgs[@]} -gt 0 ]; then apt_install "${pkgs[@]}"; fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust from https://rustup.rs" >&2
    return 1
  fi
}
