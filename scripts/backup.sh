#!/usr/bin/env bash
# Usage: scripts/backup.sh
#
# Dumps the database to backups/backup_<UTC timestamp>.dump (pg_dump -Fc) with
# <dump>.sha256 beside it, and keeps the newest BACKUP_KEEP (default 7) backups.
#
#   DATABASE_URL   the database to dump (MIGRATION_DATABASE_URL, the owner, when set); unset: the private cluster under
#                  TENANTRY_DATA_DIR (started for the duration of the backup when it
#                  is not running, through `tenantry db exec`)
#   BACKUP_DIR     where backups go (default: backups/; relative to the repository root)
#   BACKUP_KEEP    how many backups to keep (default 7)
#   PG_BINDIR      the PostgreSQL client tools to use (default: the server's version)
#   TENANTRY_BIN   a prebuilt tenantry binary (default: cargo run --release)
#
# The dump is written under a temporary name and renamed only when complete and
# readable, so a failed or interrupted backup never leaves a file that looks whole.

# -h/--help: the comment at the top, and nothing else.
case " $* " in *" -h "* | *" --help "*) sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;; esac
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."
source scripts/lib.sh

if [ -z "${DATABASE_URL:-}" ]; then
  # The private cluster stops when the process that started it exits: run this script
  # again inside `tenantry db exec`, which holds the cluster and sets DATABASE_URL.
  tenantry_cmd
  exec "${TENANTRY[@]}" db exec -- "$self" "$@"
fi

source scripts/pgpass.sh
# pg_dump gets the URL without its password (in PGPASSWORD instead), so `ps` never
# shows it; the dumps are the whole database: owner only.
hide_password DATABASE_URL
umask 077
ensure_pg_client
dir=${BACKUP_DIR:-backups}
keep=${BACKUP_KEEP:-7}
if ! [[ "$keep" =~ ^[1-9][0-9]*$ ]]; then
  echo "backup: BACKUP_KEEP must be a positive integer, got '$keep'" >&2
  exit 2
fi
mkdir -p "$dir"
chmod 700 "$dir"

name="backup_$(date -u +%Y%m%dT%H%M%SZ).dump"
final="$dir/$name"
if [ -e "$final" ]; then
  echo "backup: $final already exists (one backup per second at most)" >&2
  exit 1
fi
tmp="$dir/.$name.partial"
tmp_sum="$dir/.$name.sha256.partial"
trap 'rm -f "$tmp" "$tmp_sum"' EXIT

# As the owner (MIGRATION_DATABASE_URL when DATABASE_URL names the restricted role).
# Row-level security is forced on the tenant tables, so a dump by the owner (not a
# superuser) reads them through the policies, where its membership of
# tenantry_platform shows every row; without --enable-row-security pg_dump would refuse.
"$PG_BIN/pg_dump" --format=custom --no-password --enable-row-security --file="$tmp" \
  --dbname="${MIGRATION_DATABASE_URL:-$DATABASE_URL}"
# A dump pg_restore cannot read is no backup.
"$PG_BIN/pg_restore" --list "$tmp" >/dev/null
sum=$(sha256sum "$tmp" | cut -d' ' -f1)
# The checksum names the final file, so `sha256sum -c` works in the backup directory.
printf '%s  %s\n' "$sum" "$name" >"$tmp_sum"
sync "$tmp" "$tmp_sum"
# The dump first: a crash between the renames leaves a dump without a checksum, which
# restore.sh refuses, never a checksum without its dump.
mv "$tmp" "$final"
mv "$tmp_sum" "$final.sha256"
trap - EXIT
echo "backup: wrote $final ($(stat -c %s "$final") bytes, sha256 $sum)"

# Keep the newest $keep; the timestamped names sort in time order.
mapfile -t old < <(find "$dir" -maxdepth 1 -name 'backup_*.dump' -printf '%f\n' | sort -r | tail -n +"$((keep + 1))")
for f in "${old[@]}"; do
  rm -f "$dir/$f" "$dir/$f.sha256"
  echo "backup: removed old $dir/$f"
done
