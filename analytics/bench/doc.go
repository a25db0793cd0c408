// Package bench holds the analytics benchmarks (bench_test.go): the hourly
// rollup of an hour with 1M transactions, a 30-day backfill, and the causes
// question over 30 days from rollups and from raw transactions in the same
// run. They need a ClickHouse server like the tests (chtest) and run only
// with -bench; see docs/benchmarks.md for the figures and the command.
package bench
