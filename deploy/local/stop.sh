#!/usr/bin/env bash
# Stops what deploy/local/run.sh started. Data stays in .run/ (rm -rf .run to forget it).
set -uo pipefail
cd "$(dirname "$0")/../.."
run="$PWD/.run"
for p in collector analytics; do
  if [ -f "$run/$p.pid" ]; then kill "$(cat "$run/$p.pid")" 2>/dev/null; rm -f "$run/$p.pid"; fi
done
if [ -x "$run/bin/settlewatch-chserver" ]; then "$run/bin/settlewatch-chserver" stop -dir "$run/clickhouse"; fi
echo "stopped"
