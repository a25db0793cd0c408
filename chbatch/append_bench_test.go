package chbatch

import (
	"context"
	"fmt"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// BenchmarkAppendArrayColumn appends the attribute arrays of 20 000 spans
// (8 attributes each) to a prepared batch, through the driver's Append of the whole
// slice of rows (reflection) and row by row (appendColumn). Nothing is sent.
func BenchmarkAppendArrayColumn(b *testing.B) {
	db := chtest.New(b)
	db.Exec(b, "CREATE TABLE a (k Array(String), v Array(String)) ENGINE = MergeTree ORDER BY tuple()")
	const rows = 20000
	keys, vals := make([][]string, rows), make([][]string, rows)
	for i := range rows {
		for j := range 8 {
			keys[i] = append(keys[i], fmt.Sprintf("pos.attribute_%d", j))
			vals[i] = append(vals[i], fmt.Sprintf("value-%d-%d", i, j))
		}
	}
	for _, bc := range []struct {
		name string
		add  func(driver.BatchColumn, any) error
	}{
		{"driver_append_of_all_rows", func(c driver.BatchColumn, v any) error { return c.Append(v) }},
		{"row_by_row", appendColumn},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				batch, err := db.Conn.PrepareBatch(context.Background(), "INSERT INTO `"+db.Name+"`.a (k, v)")
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := bc.add(batch.Column(0), keys); err != nil {
					b.Fatal(err)
				}
				if err := bc.add(batch.Column(1), vals); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if batch.Rows() != rows {
					b.Fatalf("%d rows", batch.Rows())
				}
				_ = batch.Abort()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}

// BenchmarkInsert sends 50 000 span-like rows (six strings, a number and
// eight attributes) with one Insert, in one block or in blocks of
// BlockRows, to a real server.
func BenchmarkInsert(b *testing.B) {
	db := chtest.New(b)
	db.Exec(b, "CREATE TABLE s (id UInt64, a String, b String, c String, d String, e String, f String,"+
		" attributes Nested(key String, value String)) ENGINE = MergeTree ORDER BY id")
	table := chschema.Table{Name: "s", ColumnDefs: []chschema.Column{{Name: "id", Type: "UInt64"},
		{Name: "a", Type: "String"}, {Name: "b", Type: "String"}, {Name: "c", Type: "String"},
		{Name: "d", Type: "String"}, {Name: "e", Type: "String"}, {Name: "f", Type: "String"},
		{Name: "attributes", Fields: []chschema.Column{{Name: "key", Type: "String"}, {Name: "value", Type: "String"}}}}}
	const rows = 50000
	cols := Columns{"id": make([]uint64, rows)}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		v := make([]string, rows)
		for i := range v {
			v[i] = fmt.Sprintf("%s-%016x-%d", n, i*7919, i)
		}
		cols[n] = v
	}
	keys, vals := make([][]string, rows), make([][]string, rows)
	for i := range rows {
		cols["id"].([]uint64)[i] = uint64(i)
		for j := range 8 {
			keys[i] = append(keys[i], fmt.Sprintf("pos.attribute_%d", j))
			vals[i] = append(vals[i], fmt.Sprintf("value-%d-%d", i, j))
		}
	}
	cols["attributes.key"], cols["attributes.value"] = keys, vals
	for _, size := range []int{rows, BlockRows} {
		b.Run(fmt.Sprintf("blocks_of_%d", size), func(b *testing.B) {
			defer func(old int) { blockRows = old }(blockRows)
			blockRows = size
			b.ReportAllocs()
			for b.Loop() {
				if err := Insert(context.Background(), db.Conn, db.Name, table, cols, rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
