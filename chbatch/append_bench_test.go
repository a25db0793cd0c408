package chbatch_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// spanLike makes a table of span-like rows (a number, six strings and eight
// attributes) and rows of them.
func spanLike(b *testing.B, db *chtest.DB, rows int) (chschema.Table, chbatch.Columns) {
	table := create(b, db, chschema.Table{Name: "s", ColumnDefs: []chschema.Column{{Name: "id", Type: "UInt64"},
		{Name: "a", Type: "String"}, {Name: "b", Type: "String"}, {Name: "c", Type: "String"},
		{Name: "d", Type: "String"}, {Name: "e", Type: "String"}, {Name: "f", Type: "String"},
		{Name: "attributes", Fields: []chschema.Column{{Name: "key", Type: "String"}, {Name: "value", Type: "String"}}}}})
	ids := make([]uint64, rows)
	cols := chbatch.Columns{"id": ids}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		v := make([]string, rows)
		for i := range v {
			v[i] = fmt.Sprintf("%s-%016x-%d", n, i*7919, i)
		}
		cols[n] = v
	}
	keys, vals := make([][]string, rows), make([][]string, rows)
	for i := range rows {
		ids[i] = uint64(i)
		for j := range 8 {
			keys[i] = append(keys[i], fmt.Sprintf("pos.attribute_%d", j))
			vals[i] = append(vals[i], fmt.Sprintf("value-%d-%d", i, j))
		}
	}
	cols["attributes.key"], cols["attributes.value"] = keys, vals
	return table, cols
}

// BenchmarkAppendArrayColumn appends 20 000 span-like rows to a prepared
// batch, each column through the driver's Append of the whole column
// (reflection for the attribute arrays) or through appendColumn (arrays row
// by row). Nothing is sent.
func BenchmarkAppendArrayColumn(b *testing.B) {
	db := chtest.New(b)
	const rows = 20000
	table, cols := spanLike(b, db, rows)
	for _, bc := range []struct {
		name string
		add  func(driver.BatchColumn, any) error
	}{
		{"driver_append_of_all_rows", func(c driver.BatchColumn, v any) error { return c.Append(v) }},
		{"row_by_row", chbatch.AppendColumn},
	} {
		b.Run(bc.name, func(b *testing.B) { appendAll(b, db, table, cols, rows, bc.add) })
	}
}

// BenchmarkInsert sends 50 000 span-like rows with one Insert, in one block,
// in blocks of the former 8 192 rows or of BlockRows, to a real server.
func BenchmarkInsert(b *testing.B) {
	db := chtest.New(b)
	const rows = 50000
	table, cols := spanLike(b, db, rows)
	for _, size := range []int{rows, 8192, chbatch.BlockRows} {
		b.Run(fmt.Sprintf("blocks_of_%d", size), func(b *testing.B) {
			defer chbatch.SetBlockRows(size)()
			b.ReportAllocs()
			for b.Loop() {
				if err := chbatch.Insert(context.Background(), db.Conn, db.Name, table, cols, rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}

// BenchmarkAppendSpanArrays appends the nine array columns of 20 000 rows
// shaped as the exporter's span rows: eight attributes of the span's own,
// three of its resource's shared by the 50 spans of the resource, and no
// events or links (most spans have none). Nothing is sent.
func BenchmarkAppendSpanArrays(b *testing.B) {
	db := chtest.New(b)
	const rows = 20000
	arrays := []string{"attributes.key", "attributes.value", "resource.key", "resource.value",
		"events.time_ns", "events.name", "events.attributes", "links.trace_id", "links.span_id"}
	defs := []chschema.Column{{Name: "id", Type: "UInt64"}}
	for _, n := range arrays {
		typ := "Array(String)"
		if n == "events.time_ns" {
			typ = "Array(UInt64)"
		}
		defs = append(defs, chschema.Column{Name: strings.ReplaceAll(n, ".", "_"), Type: typ})
	}
	table := create(b, db, chschema.Table{Name: "span_arrays", ColumnDefs: defs})
	cols := chbatch.Columns{"id": make([]uint64, rows)}
	keys, vals, resKeys, resVals := make([][]string, rows), make([][]string, rows), make([][]string, rows), make([][]string, rows)
	var rk, rv []string
	for i := range rows {
		for j := range 8 {
			keys[i] = append(keys[i], fmt.Sprintf("pos.attribute_%d", j))
			vals[i] = append(vals[i], fmt.Sprintf("value-%d-%d", i, j))
		}
		if i%50 == 0 {
			rk = []string{"service.name", "service.version", "pos.merchant.region"}
			rv = []string{fmt.Sprintf("pos-terminal-%d", i), "4.2.0", "east"}
		}
		resKeys[i], resVals[i] = rk, rv
	}
	cols["attributes_key"], cols["attributes_value"], cols["resource_key"], cols["resource_value"] = keys, vals, resKeys, resVals
	cols["events_time_ns"] = make([][]uint64, rows)
	for _, n := range []string{"events_name", "events_attributes", "links_trace_id", "links_span_id"} {
		cols[n] = make([][]string, rows)
	}
	appendAll(b, db, table, cols, rows, chbatch.AppendColumn)
}

// appendAll times appending rows rows of every column of table to a
// prepared batch with add, then aborts the batch: nothing is sent.
func appendAll(b *testing.B, db *chtest.DB, table chschema.Table, cols chbatch.Columns, rows int, add func(driver.BatchColumn, any) error) {
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		batch, err := db.Conn.PrepareBatch(context.Background(), table.InsertSQL(db.Name))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i, name := range table.Columns() {
			if err := add(batch.Column(i), cols[name]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if batch.Rows() != rows {
			b.Fatalf("%d rows", batch.Rows())
		}
		_ = batch.Abort()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}
