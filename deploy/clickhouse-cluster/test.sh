#!/usr/bin/env bash
# ClickHouse cluster-mode integration test (clustertest.TestClusterMode): two
# ClickHouse 18.16 servers replicating one shard through Debian's ZooKeeper,
# all on loopback ports with private data directories, configured from this
# folder. Installs clickhouse-server and zookeeper when missing (as root or
# through sudo), then runs the test. About 25 s on 2 cores once built.
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/ensure-clickhouse.sh

if ! command -v java >/dev/null 2>&1 || [ ! -f /usr/share/java/zookeeper.jar ]; then
  echo "==> installing zookeeper (Debian package; the test starts its own server)" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq zookeeper >/dev/null
fi

export SETTLEWATCH_CLUSTER_TEST=1
exec go test -count=1 -timeout 15m -run '^TestClusterMode$' -v ./clustertest
