package chbatch_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// Strings and StringArrays give back what was appended (as strings or as
// bytes), whole and in slices, empty values and rows included.
func TestStringsHoldTheirValues(t *testing.T) {
	s := chbatch.NewStrings(0, 0)
	a := chbatch.NewStringArrays(0, 0, 0)
	var want []string
	var wantRows [][]string
	for i := range 50 {
		v := strings.Repeat("é", i%4) + fmt.Sprint(i)
		if i%7 == 0 {
			v = ""
		}
		if i%2 == 0 {
			s.Append(v)
		} else {
			// Bytes are copied: the caller's buffer may change after.
			buf := []byte(v)
			s.AppendBytes(buf)
			clear(buf)
		}
		want = append(want, v)
		row := make([]string, i%3)
		for j := range row {
			row[j] = fmt.Sprintf("%d.%d", i, j)
		}
		a.AppendRow(row)
		wantRows = append(wantRows, row)
	}
	if got := s.Block(0, s.Len()).([]string); !reflect.DeepEqual(got, want) {
		t.Fatalf("Strings: %q, want %q", got, want)
	}
	if got := s.Slice(10, 20).Block(2, 5).([]string); !reflect.DeepEqual(got, want[12:15]) {
		t.Errorf("a slice's block: %q, want %q", got, want[12:15])
	}
	if got, want := s.Slice(10, 20).Bytes(0, 10), len(strings.Join(want[10:20], "")); got != want {
		t.Errorf("bytes of a slice: %d, want %d", got, want)
	}
	for i, row := range a.Slice(5, 45).Block(0, 40).([][]string) {
		if len(row) != len(wantRows[i+5]) || (len(row) > 0 && !reflect.DeepEqual(row, wantRows[i+5])) {
			t.Fatalf("StringArrays row %d: %q, want %q", i+5, row, wantRows[i+5])
		}
	}
	if got := a.Row(49); !reflect.DeepEqual(got, wantRows[49]) {
		t.Errorf("row 49: %q, want %q", got, wantRows[49])
	}
}

// Columns held as Strings and StringArrays store the same rows as slices
// would, across blocks and through Columns.Slice.
func TestInsertStringsColumns(t *testing.T) {
	db := chtest.New(t)
	table := create(t, db, chschema.Table{
		Name: "held",
		ColumnDefs: []chschema.Column{
			{Name: "id", Type: "UInt64"},
			{Name: "name", Type: "String"},
			{Name: "words", Type: "Array(String)"},
			{Name: "picked", Type: "String"},
		},
	})
	defer chbatch.SetBlockRows(7)()
	const rows = 100
	ids := make([]uint64, rows)
	names := chbatch.NewStrings(rows, 0)
	words := chbatch.NewStringArrays(rows, 0, 0)
	for i := range rows {
		ids[i] = uint64(i)
		names.Append(fmt.Sprintf("n%03d", i))
		for j := range i % 4 {
			words.Add(fmt.Sprintf("w%d", j))
		}
		words.EndRow()
	}
	reversed := make([]int32, rows) // row i picks the name of row rows-1-i
	for i := range reversed {
		reversed[i] = int32(rows - 1 - i)
	}
	cols := chbatch.Columns{"id": ids, "name": names, "words": words, "picked": chbatch.Pick(names, reversed)}
	ctx := context.Background()
	for _, r := range [][2]int{{0, 40}, {40, 100}} {
		part, err := cols.Slice(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		if err := chbatch.Insert(ctx, db.Conn, db.Name, table, part, r[1]-r[0]); err != nil {
			t.Fatal(err)
		}
	}
	got := db.Count(t, "SELECT count() FROM held WHERE name = concat('n', substring(toString(1000 + id), 2)) AND length(words) = id % 4 AND (id % 4 = 0 OR words[1] = 'w0') AND picked = concat('n', substring(toString(1000 + 99 - id), 2))")
	if got != rows {
		t.Errorf("%d of %d rows stored as appended", got, rows)
	}
	if err := chbatch.Insert(ctx, db.Conn, db.Name, table, cols, rows+1); err == nil || !strings.Contains(err.Error(), "holds 100 rows") {
		t.Errorf("a row count the columns do not hold: %v", err)
	}
}
