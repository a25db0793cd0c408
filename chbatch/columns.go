// Package chbatch sends rows to ClickHouse column by column: one PrepareBatch
// per table with the table's explicit column list (without it clickhouse-go
// can store zero rows on 18.16 and report success) and whole slices appended
// per column, the driver's fast path.
package chbatch

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chschema"
)

// Columns holds one table's rows keyed by column name; each value is a slice
// (or a slice of slices for arrays) with one element per row.
type Columns map[string]any

// Insert sends cols to table t in database db. Every column of the table must
// be present, so a column added to the schema cannot be silently left empty.
func Insert(ctx context.Context, conn driver.Conn, db string, t chschema.Table, cols Columns, rows int) error {
	if rows == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, t.InsertSQL(db))
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", t.Name, err)
	}
	sent := false
	defer func() {
		if !sent {
			_ = batch.Abort()
		}
	}()
	for i, name := range t.Columns() {
		v, ok := cols[name]
		if !ok {
			return fmt.Errorf("insert into %s: no values for column %s", t.Name, name)
		}
		if err := appendColumn(batch.Column(i), v); err != nil {
			return fmt.Errorf("insert into %s: column %s: %w", t.Name, name, err)
		}
	}
	if got := batch.Rows(); got != rows {
		return fmt.Errorf("insert into %s: batch holds %d rows, expected %d", t.Name, got, rows)
	}
	sent = true
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", rows, t.Name, err)
	}
	return nil
}

// appendColumn appends one column's values. Given a slice of slices, the
// driver's Append walks it by reflection and boxes every element (14 % of
// the collector's CPU under load, docs/benchmarks.md); given one row at a
// time, an array column takes its typed path.
func appendColumn(c driver.BatchColumn, v any) error {
	switch rows := v.(type) {
	case [][]string:
		return appendRows(c, rows)
	case [][]uint64:
		return appendRows(c, rows)
	case [][]time.Time:
		return appendRows(c, rows)
	}
	return c.Append(v)
}

func appendRows[T any](c driver.BatchColumn, rows [][]T) error {
	for i, r := range rows {
		if err := c.AppendRow(r); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return nil
}
