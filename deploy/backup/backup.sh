#!/usr/bin/env bash
# backup.sh — back up one ClickHouse database (settlewatch by default) with
# ALTER TABLE … FREEZE: works on ClickHouse 18.16 and later. Run it on the
# server's host, as a user that can read (and remove) <clickhouse path>/shadow.
#
#   backup.sh --clickhouse-path /var/lib/clickhouse --out /backups/sw-20261125 \
#             [--host 127.0.0.1] [--port 9000] [--database settlewatch] [--user default] [--password …]
#
# The backup directory gets:
#   tables.txt         tables in backup order (one per line)
#   schema/<t>.sql     SHOW CREATE TABLE of each table and view
#   views.txt          views (no data of their own), created after the tables on restore
#   data/<t>/<part>/   the frozen parts of each table (a real copy, not hard links)
#   counts.tsv         table, rows in the frozen parts (sum of count.txt), count() seen at backup
#   server_version.txt, database.txt, and COMPLETE once everything is written.
# Views keep no data (settlewatch's materialized view writes into a table
# TO which it points, backed up like any table): only their CREATE is saved.
set -euo pipefail

host=127.0.0.1 port=9000 db=settlewatch user=default password= chpath= out=
usage() { sed -n '2,9p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --host) host=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --database) db=$2; shift 2 ;;
    --user) user=$2; shift 2 ;;
    --password) password=$2; shift 2 ;;
    --clickhouse-path) chpath=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "backup.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$chpath" ] && [ -n "$out" ] || usage
[[ "$db" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "backup.sh: bad database name $db" >&2; exit 2; }
chpath=${chpath%/}
[ -d "$chpath" ] || { echo "backup.sh: clickhouse path $chpath is not a directory" >&2; exit 2; }
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "backup.sh: $out exists and is not empty" >&2; exit 2
fi

ch() { clickhouse-client --host "$host" --port "$port" --user "$user" ${password:+--password "$password"} "$@"; }
log() { echo "backup.sh: $*" >&2; }

start=$(date +%s)
mkdir -p "$out/schema" "$out/data"
ch -q "SELECT version()" > "$out/server_version.txt"
echo "$db" > "$out/database.txt"
# Tables with data; views (and materialized views' .inner tables) are skipped.
ch -q "SELECT name FROM system.tables WHERE database = '$db' AND engine NOT LIKE '%View' AND name NOT LIKE '.inner.%' ORDER BY name" > "$out/tables.txt"
[ -s "$out/tables.txt" ] || { log "database $db has no tables"; exit 1; }
ch -q "SELECT name FROM system.tables WHERE database = '$db' AND engine LIKE '%View' ORDER BY name" > "$out/views.txt"
while read -r v; do
  ch --format TSVRaw -q "SHOW CREATE TABLE \`$db\`.\`$v\`" > "$out/schema/$v.sql"
done < "$out/views.txt"

tag="settlewatch_backup_$(date -u +%Y%m%dT%H%M%S)_$$"
printf 'table\tpart_rows\tcount_at_backup\n' > "$out/counts.tsv"
total=0
while read -r t; do
  ch --format TSVRaw -q "SHOW CREATE TABLE \`$db\`.\`$t\`" > "$out/schema/$t.sql"
  mkdir -p "$out/data/$t"
  if [ "$(ch -q "SELECT engine FROM system.tables WHERE database = '$db' AND name = '$t'")" = Null ]; then
    # Stores nothing (transaction_versions: its view writes transactions_by_time).
    printf '%s\t0\t0\n' "$t" >> "$out/counts.tsv"
    log "$t: Null table, schema only"
    continue
  fi
  name="${tag}_$t"
  # FREEZE WITH NAME (18.16+) puts hard links to every active part in shadow/<name>/…;
  # one name per table, so every part under it is this table's.
  ch -q "ALTER TABLE \`$db\`.\`$t\` FREEZE WITH NAME '$name'"
  seen=$(ch -q "SELECT count() FROM \`$db\`.\`$t\`")
  rows=0
  if [ -d "$chpath/shadow/$name" ]; then
    # 18.16: shadow/<name>/data/<db>/<t>/<part>; Atomic databases: shadow/<name>/store/<xxx>/<uuid>/<part>.
    while IFS= read -r sum; do
      part=$(dirname "$sum")
      cp -R "$part" "$out/data/$t/"
      rows=$((rows + $(cat "$part/count.txt")))
    done < <(find "$chpath/shadow/$name" -mindepth 2 -name checksums.txt)
    rm -rf "${chpath:?}/shadow/$name"
  fi
  printf '%s\t%s\t%s\n' "$t" "$rows" "$seen" >> "$out/counts.tsv"
  total=$((total + rows))
  log "$t: $(ls "$out/data/$t" | wc -l) parts, $rows rows (count() $seen)"
done < "$out/tables.txt"

date -u +%Y-%m-%dT%H:%M:%SZ > "$out/COMPLETE"
log "backed up $(wc -l < "$out/tables.txt") tables and $(wc -l < "$out/views.txt") views, $total rows of $db in $(( $(date +%s) - start ))s to $out"
