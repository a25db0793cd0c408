// Package chbatch sends rows to ClickHouse column by column: one PrepareBatch
// per table with the table's explicit column list (without it clickhouse-go
// can store zero rows on 18.16 and report success), slices appended per
// column, a block of BlockRows rows at a time.
package chbatch

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chschema"
)

// Columns holds one table's rows keyed by column name; each value is a slice
// (or a slice of slices for arrays) with one element per row, or a Column.
type Columns map[string]any

// BlockRows is how many rows go into one block of an INSERT. The driver's
// column buffers cannot be sized up front and grow by copying; flushed a
// block at a time they are reused at one block's size. Every INSERT
// prepares new columns, so each one still grows its first block from empty
// (the string positions; reserveStrings sizes the bytes): smaller blocks
// grow less. 2048 rows allocate a third of what 8192 did per insert and run
// no slower (docs/benchmarks.md, "The driver's columns, smaller"). The
// server squashes the blocks of one INSERT (min_insert_block_size_rows), so
// the rows still make one part.
const BlockRows = 2048

var blockRows = BlockRows // benchmarks compare other sizes

// Insert sends rows rows of cols into t with one INSERT, in blocks of
// BlockRows. Every column of t must be in cols with exactly rows values.
func Insert(ctx context.Context, conn driver.Conn, db string, t chschema.Table, cols Columns, rows int) error {
	if rows == 0 {
		return nil
	}
	names := t.Columns()
	vals := make([]source, len(names))
	for i, name := range names {
		v, ok := cols[name]
		if !ok {
			return fmt.Errorf("insert into %s: no values for column %s", t.Name, name)
		}
		if c, ok := v.(Column); ok {
			if c.Len() != rows {
				return fmt.Errorf("insert into %s: column %s holds %d rows, expected %d", t.Name, name, c.Len(), rows)
			}
			vals[i] = source{col: c}
			continue
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice || rv.Len() != rows {
			return fmt.Errorf("insert into %s: column %s holds %s, expected a slice of %d rows", t.Name, name, describe(rv), rows)
		}
		vals[i] = source{slice: rv}
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
	reserveStrings(batch.Columns(), vals, rows)
	for off := 0; off < rows; off += blockRows {
		end := min(off+blockRows, rows)
		for i, name := range names {
			if err := appendColumn(batch.Column(i), vals[i].block(off, end)); err != nil {
				return fmt.Errorf("insert into %s: column %s: %w", t.Name, name, err)
			}
		}
		if got := batch.Rows(); got != end-off {
			return fmt.Errorf("insert into %s: block holds %d rows, expected %d", t.Name, got, end-off)
		}
		if end < rows {
			if err := batch.Flush(); err != nil {
				return fmt.Errorf("insert %d rows into %s: send rows %d-%d: %w", rows, t.Name, off, end, err)
			}
		}
	}
	sent = true
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", rows, t.Name, err)
	}
	return nil
}

// source is one column's values: a Column or a slice.
type source struct {
	col   Column
	slice reflect.Value
}

func (s source) block(from, to int) any {
	if s.col != nil {
		return s.col.Block(from, to)
	}
	return s.slice.Slice(from, to).Interface()
}

// bytes returns each row's string bytes for a String or Array(String)
// column given as a slice, or the bytes of a block for a Column; nil for
// other columns.
func (s source) bytes() func(from, to int) int {
	if s.col != nil {
		return s.col.Bytes
	}
	var row func(int) int
	switch v := s.slice.Interface().(type) {
	case []string:
		row = func(r int) int { return len(v[r]) }
	case [][]string:
		row = func(r int) int {
			n := 0
			for _, x := range v[r] {
				n += len(x)
			}
			return n
		}
	default:
		return nil
	}
	return func(from, to int) int {
		n := 0
		for r := from; r < to; r++ {
			n += row(r)
		}
		return n
	}
}

func describe(v reflect.Value) string {
	if v.Kind() == reflect.Slice {
		return fmt.Sprintf("%d rows", v.Len())
	}
	if !v.IsValid() {
		return "nil"
	}
	return v.Type().String()
}

// Slice returns rows [from, to) of every column (views, not copies).
func (c Columns) Slice(from, to int) (Columns, error) {
	out := make(Columns, len(c))
	for name, v := range c {
		if col, ok := v.(Column); ok {
			if col.Len() < to || from > to || from < 0 {
				return nil, fmt.Errorf("column %s holds %d rows: no rows %d-%d", name, col.Len(), from, to)
			}
			out[name] = col.Slice(from, to)
			continue
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice || rv.Len() < to || from > to || from < 0 {
			return nil, fmt.Errorf("column %s holds %s: no rows %d-%d", name, describe(rv), from, to)
		}
		out[name] = rv.Slice(from, to).Interface()
	}
	return out, nil
}

// appendColumn appends one column's values. Given a slice of slices, the
// driver's Append walks it by reflection and boxes every element (14 % of
// the collector's CPU under load, docs/benchmarks.md); given one row at a
// time, an array column takes its typed path.
func appendColumn(c driver.BatchColumn, v any) error {
	switch rows := v.(type) {
	case [][]string:
		return appendRows(c, rows, noStrings)
	case [][]uint64:
		return appendRows(c, rows, noUint64s)
	case [][]time.Time:
		return appendRows(c, rows, noTimes)
	}
	return c.Append(v)
}

// Empty array rows as the driver's typed path takes them, boxed once: most
// spans have no events and no links, and boxing a row allocated.
var (
	noStrings any = []*string{}
	noUint64s any = []*uint64{}
	noTimes   any = []*time.Time{}
)

// appendRows appends array rows as slices of pointers to their elements:
// the driver's typed path hands each element to the inner column as an
// interface, which costs an allocation for a string, a time or a large
// number, and none for a pointer. The inner column copies the values, so
// one scratch slice serves every row. A row is boxed (an allocation) only
// when it differs from the row before: an empty row is the shared empty
// one, and the spans of a resource share its attributes, so the same
// pointers serve each of its rows.
func appendRows[T any](c driver.BatchColumn, rows [][]T, empty any) error {
	var (
		ptrs  []*T
		prev  []T
		boxed any
	)
	for i, r := range rows {
		switch {
		case len(r) == 0:
			prev, boxed = nil, empty
		case len(r) != len(prev) || &r[0] != &prev[0]:
			ptrs = ptrs[:0]
			for j := range r {
				ptrs = append(ptrs, &r[j])
			}
			prev, boxed = r, ptrs
		}
		if err := c.AppendRow(boxed); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	return nil
}

// reserveStrings sizes the byte buffer of every String and Array(String)
// column for its largest block before the first row goes in. The driver
// has no way to reserve (docs/benchmarks.md, "Where the collector's CPU
// goes"), so the buffer is grown by one placeholder value of that many
// bytes, then the column is reset: Reset keeps the capacity (ch-go's
// ColStr.Reset truncates), and Flush resets the same way between blocks.
// Without it the first block's buffers grow by copying, 1.25× at a time:
// the largest allocation of the collector under load. Only capacity is at
// stake: whatever the driver does, the column is empty again before any
// row is appended (Insert checks the rows of every block).
func reserveStrings(cols []column.Interface, vals []source, rows int) {
	if len(cols) != len(vals) {
		return
	}
	for i, c := range cols {
		bytes := vals[i].bytes()
		if bytes == nil {
			continue
		}
		n := maxBlockBytes(rows, bytes)
		if n == 0 {
			continue
		}
		// A refused placeholder only leaves the buffer unsized.
		switch c.Type() {
		case "String":
			_ = c.AppendRow(placeholder(n))
		case "Array(String)":
			_ = c.AppendRow([]string{placeholder(n)})
		default:
			continue
		}
		c.Reset()
	}
}

// maxBlockBytes is the most bytes any block of blockRows rows holds, given
// the bytes of rows [from, to).
func maxBlockBytes(rows int, bytes func(from, to int) int) int {
	most := 0
	for off := 0; off < rows; off += blockRows {
		most = max(most, bytes(off, min(off+blockRows, rows)))
	}
	return most
}

// zeros backs the placeholders, read only; a larger one replaces it (strings
// made from the old one keep it alive).
var zeros struct {
	sync.Mutex
	b []byte
}

// placeholder is a string of n zero bytes without allocating one per call.
func placeholder(n int) string {
	zeros.Lock()
	defer zeros.Unlock()
	if len(zeros.b) < n {
		zeros.b = make([]byte, max(n, 2*len(zeros.b)))
	}
	return unsafe.String(&zeros.b[0], n)
}
