#!/usr/bin/env bash
# Builds the settlewatch Grafana data source into grafana-plugin/dist/ and
# packages it as grafana-plugin/settlewatch-settlement-datasource-<version>.zip:
#   - the frontend bundle (webpack: dist/module.js, plugin.json, README, images)
#   - the backend, static and stripped, per Grafana's naming convention:
#     dist/gpx_settlewatch_linux_amd64 and dist/gpx_settlewatch_linux_arm64,
#     stamped with the plugin id and version (gpx_… -buildinfo prints them)
#   - the zip (one top folder named after the plugin id), then our package
#     check (plugin.json, executables, module.js, version, no secrets).
# Needs Go and Node 20 with npm; run from anywhere.
set -euo pipefail
plugin_dir="$(cd "$(dirname "$0")/.." && pwd)"
repo_dir="$(cd "$plugin_dir/.." && pwd)"
cd "$plugin_dir"

id=settlewatch-settlement-datasource
version="$(node -p "require('./package.json').version")"

echo "==> frontend ($id $version)"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build

echo "==> backend"
stamp="{\"time\":$(date +%s)000,\"pluginID\":\"$id\",\"version\":\"$version\"}"
ldflags="-w -s -X 'github.com/grafana/grafana-plugin-sdk-go/build/buildinfo.buildInfoJSON=$stamp'"
for arch in amd64 arm64; do
  echo "    gpx_settlewatch_linux_$arch"
  (cd "$repo_dir" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" \
    go build -trimpath -ldflags "$ldflags" -o "$plugin_dir/dist/gpx_settlewatch_linux_$arch" ./grafana-plugin/pkg)
done

echo "==> package"
zip="$plugin_dir/$id-$version.zip"
rm -f "$zip"
(cd "$repo_dir" && go run ./grafana-plugin/cmd/pluginpkg zip -dist "$plugin_dir/dist" -out "$zip")
(cd "$repo_dir" && go run ./grafana-plugin/cmd/pluginpkg check "$zip")
echo "built $zip"
