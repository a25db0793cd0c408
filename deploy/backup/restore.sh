#!/usr/bin/env bash
# restore.sh — restore a backup made by backup.sh into a server that does not
# have the database's tables yet (ClickHouse 18.16 and later). Run it on the
# server's host, as a user that can write the tables' detached/ directories
# (as root, copied parts are chowned to the owner of the table's directory).
#
#   restore.sh --clickhouse-path /var/lib/clickhouse --from /backups/sw-20261125 \
#              [--host 127.0.0.1] [--port 9000] [--user default] [--password …]
#
# It creates the database and every table from the saved CREATE statements,
# copies each table's parts into its detached/ directory, attaches them with
# ALTER TABLE … ATTACH PARTITION ID '<id>' (the id is the part name up to its
# first '_'), then compares every table's count() with the rows saved at backup
# time. Exit status: 0 restored and verified, 1 error, 2 usage, 3 row counts differ.
set -euo pipefail

host=127.0.0.1 port=9000 user=default password= chpath= from=
usage() { sed -n '2,10p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --host) host=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --password) password=$2; shift 2 ;;
    --clickhouse-path) chpath=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "restore.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$chpath" ] && [ -n "$from" ] || usage
chpath=${chpath%/}
[ -f "$from/COMPLETE" ] || { echo "restore.sh: $from is not a complete backup (no COMPLETE file)" >&2; exit 2; }
db=$(cat "$from/database.txt")
[[ "$db" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "restore.sh: bad database name $db" >&2; exit 2; }

ch() { clickhouse-client --host "$host" --port "$port" --user "$user" ${password:+--password "$password"} "$@"; }
log() { echo "restore.sh: $*" >&2; }

start=$(date +%s)
log "restoring $db (backed up from $(cat "$from/server_version.txt")) into server $(ch -q 'SELECT version()')"
ch -q "CREATE DATABASE IF NOT EXISTS \`$db\`"

while read -r t; do
  create=$(cat "$from/schema/$t.sql")
  extra=()
  case "$create" in *LowCardinality*) extra=(--allow_experimental_low_cardinality_type=1) ;; esac
  # Plain CREATE: an existing table is an error, never merged into.
  ch "${extra[@]}" -q "$create"
  if ! compgen -G "$from/data/$t/*/" > /dev/null; then
    log "$t: no parts to attach"
    continue
  fi

  dir=$(ch -q "SELECT data_path FROM system.tables WHERE database = '$db' AND name = '$t'" 2>/dev/null || true)
  [ -n "$dir" ] || dir=$(ch -q "SELECT data_paths[1] FROM system.tables WHERE database = '$db' AND name = '$t'" 2>/dev/null || true)
  [ -n "$dir" ] || dir="$chpath/data/$db/$t/"
  case "$dir" in "$chpath"/*) ;; *) log "$t: data path $dir is not under $chpath"; exit 1 ;; esac
  detached="${dir%/}/detached"
  mkdir -p "$detached"

  parts=0
  ids=()
  for part in "$from/data/$t"/*/; do
    [ -d "$part" ] || continue
    name=$(basename "$part")
    cp -R "${part%/}" "$detached/$name"
    ids+=("${name%%_*}")
    parts=$((parts + 1))
  done
  if [ "$(id -u)" = 0 ]; then chown -R --reference="$dir" "$detached"; fi
  for id in $(printf '%s\n' "${ids[@]+"${ids[@]}"}" | sort -u); do
    ch -q "ALTER TABLE \`$db\`.\`$t\` ATTACH PARTITION ID '$id'"
  done
  log "$t: attached $parts parts"
done < "$from/tables.txt"

# Views last, once their tables hold the restored rows (ATTACH does not fire
# them). Backups made before views were saved have no views.txt.
views=0
if [ -f "$from/views.txt" ]; then
  while read -r v; do
    ch -q "$(cat "$from/schema/$v.sql")"
    views=$((views + 1))
    log "$v: view created"
  done < "$from/views.txt"
fi

bad=0 total=0
while IFS=$'\t' read -r t want _; do
  [ "$t" = table ] && continue
  got=$(ch -q "SELECT count() FROM \`$db\`.\`$t\`")
  total=$((total + got))
  if [ "$got" != "$want" ]; then
    log "MISMATCH $t: $got rows restored, $want in the backup"; bad=1
  fi
done < "$from/counts.tsv"
if [ "$bad" != 0 ]; then log "row counts differ"; exit 3; fi
log "restored and verified $(wc -l < "$from/tables.txt") tables ($views views), $total rows of $db in $(( $(date +%s) - start ))s"
