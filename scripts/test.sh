#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what is missing,
# starts a private ClickHouse on a loopback port of its own, runs vet,
# staticcheck and every Go test against it, and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-clickhouse.sh

run_dir="$(mktemp -d /tmp/settlewatch-test.XXXXXX)"
port="${SETTLEWATCH_TEST_CH_PORT:-19410}"
http_port=$((port + 1))
mkdir -p "$run_dir/bin"
go build -o "$run_dir/bin/settlewatch-chserver" ./cmd/settlewatch-chserver

stop() {
  "$run_dir/bin/settlewatch-chserver" stop -dir "$run_dir/clickhouse" >/dev/null 2>&1 || true
  rm -rf "$run_dir"
}
trap stop EXIT

echo "==> starting ClickHouse on 127.0.0.1:$port"
"$run_dir/bin/settlewatch-chserver" start -dir "$run_dir/clickhouse" -tcp-port "$port" -http-port "$http_port"
export SETTLEWATCH_TEST_CH_ADDR="127.0.0.1:$port"

# npm packages may ship Go files (node_modules is not excluded by ./...).
pkgs=$(go list ./... | grep -v /node_modules/)

echo "==> go vet"
go vet $pkgs

echo "==> telemetrygen (an outside OTLP client the tests drive)"
if ! command -v telemetrygen >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/telemetrygen" ]; then
  GOFLAGS= go install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v0.161.0
fi

echo "==> go test"
go test -count=1 -timeout 25m $pkgs

echo "==> fuzz (short runs here; the seed corpora also run in go test above)"
for target in "FuzzConvert ./collector/clickhouseexporter" "FuzzRead ./collector/otlpwire" "FuzzClassify ./domain" "FuzzMask ./panmask" \
              "FuzzParseQuery ./grafana-plugin/pkg/plugin" "FuzzParseConfig ./simulator"; do
  set -- $target
  # A count, not a duration: a time limit that expires while the fuzzer is
  # minimizing a new input fails the run with "context deadline exceeded".
  go test -run '^$' -fuzz "^$1\$" -fuzztime "${SETTLEWATCH_FUZZTIME:-10000x}" "$2"
done

echo "==> Grafana plugin frontend (Jest, React Testing Library, tsc)"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: install Node.js 20 and npm (the plugin frontend needs them)" >&2
  exit 1
fi
grafana-plugin/scripts/test-frontend.sh

echo "==> ClickHouse cluster mode (two 18.16 replicas + ZooKeeper)"
deploy/clickhouse-cluster/test.sh

echo "==> staticcheck"
if ! command -v staticcheck >/dev/null 2>&1; then
  GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
  PATH="$PATH:$(go env GOPATH)/bin"
fi
staticcheck $pkgs
