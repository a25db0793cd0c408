// Package e2e holds the plugin's end-to-end tests and benchmarks: they build
// the plugin binary, launch it through hashicorp/go-plugin exactly as Grafana
// does (handshake, protocol 2, gRPC, the SDK's plugin set) and query it
// against a real ClickHouse holding simulated traffic with ground truth.
package e2e
