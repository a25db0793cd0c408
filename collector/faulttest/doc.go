// Package faulttest holds fault-injection tests of the collector: ClickHouse
// stopped under load, the collector killed with SIGKILL on its persistent
// queue, a table dropped by an operator, the collector's user turned
// read-only, ClickHouse's disk full. Each test runs the real collector
// binary and a private ClickHouse server it may stop, sends contract-shaped
// OTLP with known span ids, and counts what was stored.
package faulttest
