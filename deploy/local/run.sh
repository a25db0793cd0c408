#!/usr/bin/env bash
# The main job: the whole stack on this machine, no containers.
#  1. installs ClickHouse (Debian package) when absent and starts it on a
#     private data dir and port;
#  2. builds and starts the settlewatch collector;
#  3. sends simulated POS traffic (two days of history with incidents);
#  4. sweeps the settlement window and prints what landed.
# Idempotent: a second run reuses the running ClickHouse and adds traffic.
# Everything lives under .run/ (logs in .run/logs). Stop with deploy/local/stop.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
run="$root/.run"
bin="$run/bin"
logs="$run/logs"
mkdir -p "$bin" "$logs"

ch_port="${SETTLEWATCH_CH_PORT:-19300}"
otlp_grpc="${SETTLEWATCH_OTLP_GRPC_ENDPOINT:-127.0.0.1:14317}"
otlp_http="${SETTLEWATCH_OTLP_HTTP_ENDPOINT:-127.0.0.1:14318}"
health="${SETTLEWATCH_HEALTH_ENDPOINT:-127.0.0.1:13133}"
metrics_port="${SETTLEWATCH_METRICS_PORT:-18888}"
days="${SETTLEWATCH_DEMO_DAYS:-2}"
scenario="${SETTLEWATCH_DEMO_SCENARIO:-simulator/scenarios/demo.yaml}"

scripts/ensure-clickhouse.sh

echo "==> building (first build takes a few minutes)"
for cmd in settlewatch settlewatch-collector settlewatch-sim settlewatch-chserver; do
  src="./cmd/$cmd"
  [ "$cmd" = settlewatch-collector ] && src="./collector/cmd/settlewatch-collector"
  go build -o "$bin/$cmd" "$src"
done

if "$bin/settlewatch-chserver" status -dir "$run/clickhouse" -tcp-port "$ch_port" >/dev/null 2>&1; then
  echo "==> ClickHouse already running on 127.0.0.1:$ch_port"
else
  echo "==> starting ClickHouse on 127.0.0.1:$ch_port (data in .run/clickhouse)"
  "$bin/settlewatch-chserver" start -dir "$run/clickhouse" -tcp-port "$ch_port" -http-port $((ch_port + 1))
fi

export SETTLEWATCH_CH_ADDR="127.0.0.1:$ch_port"
export SETTLEWATCH_CH_DATABASE="${SETTLEWATCH_CH_DATABASE:-settlewatch}"
export SETTLEWATCH_OTLP_GRPC_ENDPOINT="$otlp_grpc" SETTLEWATCH_OTLP_HTTP_ENDPOINT="$otlp_http"
export SETTLEWATCH_HEALTH_ENDPOINT="$health" SETTLEWATCH_METRICS_PORT="$metrics_port"
export SETTLEWATCH_QUEUE_DIR="$run/queue"

"$bin/settlewatch" migrate

if [ -f "$run/collector.pid" ] && kill -0 "$(cat "$run/collector.pid")" 2>/dev/null; then
  echo "==> stopping the collector left from a previous run"
  kill "$(cat "$run/collector.pid")"; sleep 2
fi
echo "==> starting the collector (OTLP gRPC $otlp_grpc, HTTP $otlp_http; log .run/logs/collector.log)"
"$bin/settlewatch-collector" --config collector/config.yaml >"$logs/collector.log" 2>&1 &
echo $! >"$run/collector.pid"
for _ in $(seq 1 100); do
  if curl -fsS "http://$health/" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fsS "http://$health/" >/dev/null || { echo "collector did not become healthy; see $logs/collector.log" >&2; exit 1; }

echo "==> simulating $days days of POS traffic with incidents ($scenario)"
"$bin/settlewatch-sim" backfill -endpoint "$otlp_grpc" -days "$days" -scenario "$scenario" -truth "$run/truth" 2>"$logs/simulator.log"

echo "==> waiting for the collector to store everything"
prev=-1
for _ in $(seq 1 120); do
  n=$(clickhouse-client --port "$ch_port" -q "SELECT count() FROM $SETTLEWATCH_CH_DATABASE.transactions" 2>/dev/null || echo 0)
  [ "$n" = "$prev" ] && [ "$n" != 0 ] && break
  prev="$n"; sleep 2
done

"$bin/settlewatch" sweep
echo "==> stopping the collector"
kill "$(cat "$run/collector.pid")" && rm -f "$run/collector.pid"

echo
"$bin/settlewatch" summary -since $((days * 24 + 24))h
cat <<TXT

ClickHouse keeps running on 127.0.0.1:$ch_port with the data. Look around:
  clickhouse-client --port $ch_port -q "SELECT outcome, cause, count() FROM $SETTLEWATCH_CH_DATABASE.transactions FINAL GROUP BY outcome, cause ORDER BY count() DESC"
  SETTLEWATCH_CH_ADDR=127.0.0.1:$ch_port .run/bin/settlewatch summary
What the simulator meant to send: .run/truth/   Logs: .run/logs/
Stop everything: deploy/local/stop.sh
TXT
