package chbatch

import "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

// AppendColumn is appendColumn, for the benchmarks.
func AppendColumn(c driver.BatchColumn, v any) error { return appendColumn(c, v) }

// SetBlockRows sets the block size of Insert and returns the function that
// restores it.
func SetBlockRows(n int) (restore func()) {
	old := blockRows
	blockRows = n
	return func() { blockRows = old }
}
