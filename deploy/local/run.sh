#!/usr/bin/env bash
# The main job: the whole stack on this machine, no containers.
#  1. installs ClickHouse (Debian package) when absent and starts it on a
#     private data dir and port;
#  2. builds and starts the settlewatch collector;
#  3. starts the analytics daemon (rollups, sweep, incidents, timeout advice);
#  4. sends simulated POS traffic (eight days of history, incidents yesterday);
#  5. backfills the analytics over that history and prints what landed:
#     outcomes, causes, incidents, and where everything listens.
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
days="${SETTLEWATCH_DEMO_DAYS:-8}"
scenario="${SETTLEWATCH_DEMO_SCENARIO:-deploy/local/scenario.yaml}"
analytics_cfg="deploy/local/analytics.yaml"
analytics_metrics="${SETTLEWATCH_ANALYTICS_METRICS:-127.0.0.1:19464}"

scripts/ensure-clickhouse.sh

echo "==> building (first build takes a few minutes)"
for cmd in settlewatch settlewatch-collector settlewatch-analytics settlewatch-sim settlewatch-chserver; do
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
# Backfilling a week as fast as possible: give the collector room before its
# memory limiter pushes back (the simulator retries when it does).
export SETTLEWATCH_MEMORY_LIMIT_MIB="${SETTLEWATCH_MEMORY_LIMIT_MIB:-1536}" SETTLEWATCH_MEMORY_SPIKE_MIB="${SETTLEWATCH_MEMORY_SPIKE_MIB:-384}"

"$bin/settlewatch" migrate

for p in collector analytics; do
  if [ -f "$run/$p.pid" ] && kill -0 "$(cat "$run/$p.pid")" 2>/dev/null; then
    echo "==> stopping the $p left from a previous run"
    kill "$(cat "$run/$p.pid")"; sleep 2
  fi
done
echo "==> starting the collector (OTLP gRPC $otlp_grpc, HTTP $otlp_http; log .run/logs/collector.log)"
"$bin/settlewatch-collector" --config collector/config.yaml >"$logs/collector.log" 2>&1 &
echo $! >"$run/collector.pid"
for _ in $(seq 1 100); do
  if curl -fsS "http://$health/" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fsS "http://$health/" >/dev/null || { echo "collector did not become healthy; see $logs/collector.log" >&2; exit 1; }

echo "==> starting the analytics daemon (metrics http://$analytics_metrics/metrics; log .run/logs/analytics.log)"
"$bin/settlewatch-analytics" -config "$analytics_cfg" -metrics-addr "$analytics_metrics" >"$logs/analytics.log" 2>&1 &
echo $! >"$run/analytics.pid"

echo "==> simulating $days days of POS traffic with incidents ($scenario)"
"$bin/settlewatch-sim" backfill -endpoint "$otlp_grpc" -days "$days" -scenario "$scenario" -truth "$run/truth" 2>"$logs/simulator.log"

echo "==> waiting for the collector to store everything"
# Done when the exporter has sent every span the receiver accepted, its queue
# is empty, and the transactions stopped changing (assembly of late
# facts): a count that merely paused for a moment ended the wait too early
# and the rollups below missed the last hours.
metric() {
  curl -fsS "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null |
    awk -v m="$1" '$1 ~ "^"m"[{]" {s += $2} END {printf "%d", s}'
}
prev=-1 stable=0
for _ in $(seq 1 150); do
  n=$(clickhouse-client --port "$ch_port" -q "SELECT count() FROM $SETTLEWATCH_CH_DATABASE.transactions_by_time" 2>/dev/null || echo 0)
  if [ "$n" = "$prev" ] && [ "$n" != 0 ] && [ "$(metric otelcol_exporter_queue_size)" = 0 ] &&
     [ "$(metric otelcol_exporter_sent_spans)" = "$(metric otelcol_receiver_accepted_spans)" ]; then
    stable=$((stable + 1))
    [ "$stable" -ge 2 ] && break
  else
    stable=0
  fi
  prev="$n"; sleep 2
done

"$bin/settlewatch" sweep
from=$(date -u -d "$((days + 1)) days ago" +%Y-%m-%d)
to=$(date -u -d "tomorrow" +%Y-%m-%d)
echo "==> computing rollups, incidents and timeout advice over $from .. $to"
"$bin/settlewatch" backfill -job all -from "$from" -to "$to" -config "$analytics_cfg" -quiet

echo
"$bin/settlewatch" summary -since $((days * 24 + 24))h
echo
"$bin/settlewatch" incidents -from "$from" -to "$to"
cat <<TXT

Running now (stop with deploy/local/stop.sh):
  ClickHouse       127.0.0.1:$ch_port (native), data in .run/clickhouse
  collector        OTLP gRPC $otlp_grpc, HTTP $otlp_http; health http://$health/; metrics http://127.0.0.1:$metrics_port/metrics
  analytics daemon metrics http://$analytics_metrics/metrics (rollups every 5 min, incidents, sweep, timeout advice)
  logs             .run/logs/{collector,analytics,simulator}.log
TXT
cat <<TXT

Look around:
  clickhouse-client --port $ch_port -q "SELECT outcome, cause, count() FROM (SELECT * FROM $SETTLEWATCH_CH_DATABASE.transactions_by_time FINAL) WHERE deleted = 0 GROUP BY outcome, cause ORDER BY count() DESC"
  SETTLEWATCH_CH_ADDR=127.0.0.1:$ch_port .run/bin/settlewatch summary
  SETTLEWATCH_CH_ADDR=127.0.0.1:$ch_port .run/bin/settlewatch causes -from $from -to $to -by gateway
Send more traffic: .run/bin/settlewatch-sim live -endpoint $otlp_grpc -rate 20 -scenario simulator/scenarios/live-demo.yaml
What the simulator meant to send: .run/truth/
TXT
