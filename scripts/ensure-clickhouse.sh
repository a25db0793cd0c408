#!/usr/bin/env bash
# Installs Debian's ClickHouse server and client when they are missing.
set -euo pipefail
if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
  exit 0
fi
echo "==> installing clickhouse-server and clickhouse-client (Debian packages)" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
