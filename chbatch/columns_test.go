package chbatch_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// create makes t in db from its definition, as migrations do (id is its
// sort key and version: every row here has its own).
func create(tb testing.TB, db *chtest.DB, t chschema.Table) chschema.Table {
	tb.Helper()
	t.OrderBy, t.Version = "id", "id"
	v, err := chconn.ServerVersion(context.Background(), db.Conn)
	if err != nil {
		tb.Fatal(err)
	}
	ddl, err := t.CreateSQL(db.Name, chschema.DialectFor(v, ""))
	if err != nil {
		tb.Fatal(err)
	}
	for _, q := range ddl {
		db.Exec(tb, q)
	}
	return t
}

// Array columns, plain and Nested, given as slices of rows (appended row by
// row, not through the driver's reflection): every row keeps its own
// elements in order, empty and nil rows stay empty, and the row count is
// checked against what the caller expects.
func TestInsertArrayColumnsRowByRow(t *testing.T) {
	db := chtest.New(t)
	table := create(t, db, chschema.Table{
		Name: "arrays",
		ColumnDefs: []chschema.Column{
			{Name: "id", Type: "UInt64"},
			{Name: "words", Type: "Array(String)"},
			{Name: "counts", Type: "Array(UInt64)"},
			{Name: "hours", Type: "Array(DateTime('UTC'))"},
			{Name: "attributes", Fields: []chschema.Column{{Name: "key", Type: "String"}, {Name: "value", Type: "String"}}},
		},
	})
	h := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	cols := chbatch.Columns{
		"id":               []uint64{1, 2, 3},
		"words":            [][]string{{"a", "b"}, nil, {"c"}},
		"counts":           [][]uint64{{}, {7, 8, 9}, {1}},
		"hours":            [][]time.Time{{h}, {h, h.Add(time.Hour)}, nil},
		"attributes.key":   [][]string{{"pos.terminal_id"}, {}, {"k1", "k2"}},
		"attributes.value": [][]string{{"T-1"}, {}, {"v1", "v2"}},
	}
	if err := chbatch.Insert(context.Background(), db.Conn, db.Name, table, cols, 3); err != nil {
		t.Fatal(err)
	}
	got := db.Lines(t, "SELECT concat(toString(id), ' ', toString(words), ' ', toString(counts), ' ', toString(arrayMap(x -> toUInt32(x), hours)), ' ',"+
		" toString(attributes.key), ' ', toString(attributes.value)) FROM arrays ORDER BY id")
	hu, hu1 := h.Unix(), h.Add(time.Hour).Unix()
	want := strings.Join([]string{
		"1 ['a','b'] [] [" + itoa(hu) + "] ['pos.terminal_id'] ['T-1']",
		"2 [] [7,8,9] [" + itoa(hu) + "," + itoa(hu1) + "] [] []",
		"3 ['c'] [1] [] ['k1','k2'] ['v1','v2']",
	}, "\n")
	if got != want {
		t.Errorf("stored rows:\n%s\nwant:\n%s", got, want)
	}

	// A column one row short is refused before anything is sent.
	cols["counts"] = [][]uint64{{1}, {2}}
	err := chbatch.Insert(context.Background(), db.Conn, db.Name, table, cols, 3)
	if err == nil || !strings.Contains(err.Error(), "column counts holds 2 rows, expected a slice of 3 rows") {
		t.Fatalf("a short array column: %v", err)
	}
	if n := db.Count(t, "SELECT count() FROM arrays"); n != 3 {
		t.Errorf("%d rows after the refused insert, want 3", n)
	}
}

// Rows that share their elements (a resource's attributes on each of its
// spans), rows as long as the row before with other elements, and empty
// rows between them: each row stores its own elements, whatever the row
// before held.
func TestInsertSharedAndEmptyArrayRows(t *testing.T) {
	db := chtest.New(t)
	table := create(t, db, chschema.Table{Name: "shared", ColumnDefs: []chschema.Column{
		{Name: "id", Type: "UInt64"}, {Name: "words", Type: "Array(String)"}, {Name: "counts", Type: "Array(UInt64)"},
	}})
	res := []string{"service.name", "pos-terminal", "region"}
	nums := []uint64{4, 5, 6}
	words := [][]string{res, res, nil, res, res[:2], res[1:], {}, res[1:], {"service.name", "pos-terminal", "region"}, res}
	counts := [][]uint64{nums, nil, nums, nums[:1], nums, {}, nums, nums, nums[2:], nil}
	ids := make([]uint64, len(words))
	for i := range ids {
		ids[i] = uint64(i)
	}
	if err := chbatch.Insert(context.Background(), db.Conn, db.Name, table, chbatch.Columns{"id": ids, "words": words, "counts": counts}, len(ids)); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range ids {
		w := make([]string, len(words[i]))
		for j, x := range words[i] {
			w[j] = "'" + x + "'"
		}
		c := make([]string, len(counts[i]))
		for j, x := range counts[i] {
			c[j] = itoa(int64(x))
		}
		want = append(want, itoa(int64(i))+" ["+strings.Join(w, ",")+"] ["+strings.Join(c, ",")+"]")
	}
	got := db.Lines(t, "SELECT concat(toString(id), ' ', toString(words), ' ', toString(counts)) FROM shared ORDER BY id")
	if got != strings.Join(want, "\n") {
		t.Errorf("stored:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// Rows beyond one block are sent in several blocks of one INSERT: every row
// arrives once, in order, and the server writes them as one part, as it
// would one block.
func TestInsertInBlocksMakesOnePart(t *testing.T) {
	db := chtest.New(t)
	table := create(t, db, chschema.Table{Name: "blocks", ColumnDefs: []chschema.Column{
		{Name: "id", Type: "UInt64"}, {Name: "name", Type: "String"}, {Name: "tags", Type: "Array(String)"},
	}})
	rows := 2*chbatch.BlockRows + 5
	ids, names, tags := make([]uint64, rows), make([]string, rows), make([][]string, rows)
	for i := range rows {
		ids[i], names[i], tags[i] = uint64(i), "n"+strconv.Itoa(i), []string{strconv.Itoa(i % 7)}
	}
	if err := chbatch.Insert(context.Background(), db.Conn, db.Name, table, chbatch.Columns{"id": ids, "name": names, "tags": tags}, rows); err != nil {
		t.Fatal(err)
	}
	if n := db.Count(t, "SELECT count() FROM blocks WHERE name = concat('n', toString(id)) AND tags[1] = toString(id % 7)"); n != uint64(rows) {
		t.Errorf("%d rows stored whole, want %d", n, rows)
	}
	if n := db.Count(t, "SELECT uniqExact(id) FROM blocks"); n != uint64(rows) {
		t.Errorf("%d distinct ids, want %d", n, rows)
	}
	// Parts merged away stay listed (inactive) for minutes: count every
	// part the insert wrote, merged or not.
	if n := db.Count(t, "SELECT count() FROM system.parts WHERE database = ? AND table = 'blocks' AND level = 0", db.Name); n != 1 {
		t.Errorf("the insert wrote %d parts, want 1", n)
	}
}

func TestColumnsSlice(t *testing.T) {
	c := chbatch.Columns{"a": []uint64{1, 2, 3}, "b": [][]string{{"x"}, nil, {"y", "z"}}}
	s, err := c.Slice(1, 3)
	if err != nil || fmt.Sprint(s["a"], s["b"]) != "[2 3] [[] [y z]]" {
		t.Errorf("slice: %v %v", s, err)
	}
	if _, err := c.Slice(2, 4); err == nil || !strings.Contains(err.Error(), "holds 3 rows: no rows 2-4") {
		t.Errorf("past the end: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
