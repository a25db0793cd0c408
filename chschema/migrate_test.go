package chschema_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

func dialect(t *testing.T, db *chtest.DB) chschema.Dialect {
	t.Helper()
	v, err := chconn.ServerVersion(t.Context(), db.Conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server %s", v)
	return chschema.DialectFor(v, "")
}

func TestMigrateCreatesEveryTable(t *testing.T) {
	db := chtest.New(t)
	d := dialect(t, db)
	ctx := t.Context()
	if v, err := chschema.Status(ctx, db.Conn, db.Name); err != nil || v != 0 {
		t.Fatalf("Status before migrating = %d, %v; want 0", v, err)
	}
	applied, err := chschema.Migrate(ctx, db.Conn, db.Name, d, chtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for _, m := range chschema.AllMigrations() {
		want = append(want, m.Version)
	}
	if !slices.Equal(applied, want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	for _, tb := range chschema.All() {
		names, types := columnsOf(t, db, tb.Name)
		if !slices.Equal(names, tb.Columns()) {
			t.Errorf("%s: server has columns %v\nwant %v", tb.Name, names, tb.Columns())
			continue
		}
		if want := expectedTypes(tb, d); !slices.Equal(types, want) {
			t.Errorf("%s: server has types %v\nwant %v", tb.Name, types, want)
		}
	}
	// Nothing else: a table a migration dropped (txn_traces) is gone.
	var schema []string
	for _, tb := range chschema.All() {
		schema = append(schema, tb.Name)
	}
	slices.Sort(schema)
	stored := db.Lines(t, "SELECT name FROM system.tables WHERE database = ? AND engine != 'MaterializedView' ORDER BY name", db.Name)
	if want := strings.Join(schema, "\n"); stored != want {
		t.Errorf("server has tables\n%s\nwant the schema's\n%s", stored, want)
	}
	if v, err := chschema.Status(ctx, db.Conn, db.Name); err != nil || v != chschema.LatestVersion() || v != want[len(want)-1] {
		t.Errorf("Status = %d, %v; want %d", v, err, want[len(want)-1])
	}

	again, err := chschema.Migrate(ctx, db.Conn, db.Name, d, chtest.Logger(t))
	if err != nil || len(again) != 0 {
		t.Errorf("second Migrate applied %v, %v; want nothing", again, err)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".schema_migrations FINAL"); n != uint64(len(want)) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(want))
	}
}

// A database created before migrations 3 and 4 (transactions without
// fact_hours, no transactions_by_time) gets the column, the table, the view,
// and a copy of its transactions' latest versions.
func TestUpgradeFillsTransactionsByTime(t *testing.T) {
	db := chtest.New(t)
	d := dialect(t, db)
	ctx := t.Context()
	createAsOf(t, db, d, 2)
	if ok, err := chschema.ColumnExists(ctx, db.Conn, db.Name, "transactions", "fact_hours"); err != nil || ok {
		t.Fatalf("a version-2 database has fact_hours: %v, %v", ok, err)
	}
	// Two versions of t1 (the newer one moved to 11:00) and one of t2.
	// (INSERT … SELECT: the native driver's Exec cannot send VALUES.)
	db.Exec(t, "INSERT INTO "+db.Name+".transactions (txn_id, version, txn_time, outcome, amount_minor, currency)"+
		" SELECT 't1', 1, toDateTime('2026-03-01 10:10:00', 'UTC'), 'pending', 500, 'EUR' UNION ALL"+
		" SELECT 't1', 2, toDateTime('2026-03-01 11:20:00', 'UTC'), 'settled', 500, 'EUR' UNION ALL"+
		" SELECT 't2', 1, toDateTime('2026-03-01 10:40:00', 'UTC'), 'declined', 700, 'EUR'")
	applied, err := chschema.Migrate(ctx, db.Conn, db.Name, d, chtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(applied, 3) || !slices.Contains(applied, 4) {
		t.Fatalf("applied %v, want 3 and 4 among them", applied)
	}
	live := func(hour string) uint64 {
		return db.Count(t, "SELECT count() FROM (SELECT * FROM "+db.Name+".transactions_by_time FINAL WHERE txn_hour = toDateTime(?, 'UTC')) WHERE deleted = 0", hour)
	}
	if n10, n11 := live("2026-03-01 10:00:00"), live("2026-03-01 11:00:00"); n10 != 1 || n11 != 1 {
		t.Errorf("copied rows: %d at 10:00 (want t2 only), %d at 11:00 (want t1)", n10, n11)
	}
	// From now on the view writes (from transaction_versions, since
	// migration 8): a new version of t2 moved to 12:00 with its old hour
	// among its facts hides the 10:00 copy.
	db.Exec(t, "INSERT INTO "+db.Name+".transaction_versions (txn_id, version, txn_time, outcome, fact_hours)"+
		" SELECT 't2', 2, toDateTime('2026-03-01 12:05:00', 'UTC'), 'declined', [toDateTime('2026-03-01 10:00:00', 'UTC')]")
	if n10, n12 := live("2026-03-01 10:00:00"), live("2026-03-01 12:00:00"); n10 != 0 || n12 != 1 {
		t.Errorf("after the move: %d live rows at 10:00 (want 0), %d at 12:00 (want 1)", n10, n12)
	}
}

// A database from before migration 7 loses txn_traces and keeps its facts,
// which hold the same (transaction, trace) pairs (in payment_facts_by_arrival
// since migration 9).
func TestUpgradeDropsTxnTraces(t *testing.T) {
	db, _ := upgradeFrom(t, 6,
		"INSERT INTO {db}.txn_traces (txn_id, trace_id, start_time) SELECT 't1', toFixedString('TRACE-0000000001', 16), toDateTime('2026-03-01 10:10:00', 'UTC')",
		t1Fact)
	if n := db.Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name LIKE 'txn_traces%'", db.Name); n != 0 {
		t.Errorf("%d txn_traces tables left after migration 7, want none", n)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".payment_facts_by_arrival WHERE txn_id = 't1' AND trace_id = toFixedString('TRACE-0000000001', 16)"); n != 1 {
		t.Errorf("payment_facts_by_arrival holds %d rows of t1's trace, want 1", n)
	}
}

// A database from before migration 8 keeps its transactions, in
// transactions_by_time, and loses the table ordered by txn_id and its view;
// versions written to transaction_versions reach transactions_by_time, and
// the one-transaction lookup finds the transaction among its facts' hours.
func TestUpgradeStoresTransactionsOnce(t *testing.T) {
	db, d := upgradeFrom(t, 7,
		"INSERT INTO {db}.transactions (txn_id, version, txn_time, outcome, amount_minor, currency)"+
			" SELECT 't1', 1, toDateTime('2026-03-01 10:10:00', 'UTC'), 'pending', 500, 'EUR'",
		t1Fact)
	ctx := t.Context()
	if got := db.Lines(t, "SELECT concat(name, ' ', engine) FROM system.tables WHERE database = ? AND name LIKE 'transaction%' ORDER BY name", db.Name); got != "transaction_versions Null\ntransaction_versions_mv MaterializedView\ntransactions_by_time ReplacingMergeTree" {
		t.Errorf("tables after migration 8:\n%s", got)
	}
	db.Exec(t, "INSERT INTO "+db.Name+".transaction_versions (txn_id, version, txn_time, outcome, amount_minor, currency)"+
		" SELECT 't1', 2, toDateTime('2026-03-01 10:10:00', 'UTC'), 'settled', 500, 'EUR'")
	facts, err := chschema.ReadTxnFacts(ctx, db.Conn, db.Name, "t1")
	if err != nil || len(facts.Hours) != 1 || len(facts.Traces) != 1 || facts.First.Format(time.DateTime) != "2026-03-01 10:10:00" {
		t.Fatalf("t1's facts: %+v, %v; want its one hour and trace, at 10:10", facts, err)
	}
	hours := facts.Hours
	got := db.Lines(t, "SELECT concat(toString(outcome), ' ', toString(version)) FROM "+
		chschema.ByTimeSource(db.Name, chschema.AtHours+" AND txn_id = ?"), hours, "t1")
	if got != "settled 2" {
		t.Errorf("t1 found by its facts' hours: %q, want the version written after the migration", got)
	}

	// A collector from before migration 8, allowed to create the schema,
	// repairs a missing table by running its migrations' statements again:
	// the old table and its view come back, and what it writes still
	// reaches transactions_by_time (deploy/README.md says so).
	createAsOf(t, db, d, 7)
	db.Exec(t, "INSERT INTO "+db.Name+".transactions (txn_id, version, txn_time, outcome, amount_minor, currency)"+
		" SELECT 't1', 3, toDateTime('2026-03-01 10:10:00', 'UTC'), 'unsettled', 500, 'EUR'")
	live := "SELECT concat(toString(outcome), ' ', toString(version)) FROM " + chschema.ByTimeSource(db.Name, chschema.AtHours+" AND txn_id = ?")
	if got := db.Lines(t, live, hours, "t1"); got != "unsettled 3" {
		t.Errorf("after an older collector's repair and insert: %q, want its version", got)
	}
	// This version's repair drops them again and keeps the transactions.
	if err := chschema.Repair(ctx, db.Conn, db.Name, d, chtest.Logger(t)); err != nil {
		t.Fatal(err)
	}
	if n := db.Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name IN ('transactions', 'transactions_by_time_mv')", db.Name); n != 0 {
		t.Errorf("%d of the old table and view left after Repair, want none", n)
	}
	if got := db.Lines(t, live, hours, "t1"); got != "unsettled 3" {
		t.Errorf("after Repair: %q, want the version kept", got)
	}
}

// t1Fact is a fact of transaction t1 as a collector from before migration 9
// stored it, for upgradeFrom.
const t1Fact = "INSERT INTO {db}.payment_facts (txn_id, trace_id, span_id, start_time)" +
	" SELECT 't1', toFixedString('TRACE-0000000001', 16), toFixedString('SPAN0001', 8), toDateTime('2026-03-01 10:10:00', 'UTC')"

// upgradeFrom builds a database as the first n migrations left it, runs the
// statements (with {db} its name) and migrates it, which must apply
// migration n+1.
func upgradeFrom(t *testing.T, n int, statements ...string) (*chtest.DB, chschema.Dialect) {
	t.Helper()
	db := chtest.New(t)
	d := dialect(t, db)
	createAsOf(t, db, d, n)
	for _, stmt := range statements {
		db.Exec(t, strings.ReplaceAll(stmt, "{db}", db.Name))
	}
	applied, err := chschema.Migrate(t.Context(), db.Conn, db.Name, d, chtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(applied, uint32(n+1)) {
		t.Fatalf("applied %v, want %d among them", applied, n+1)
	}
	return db, d
}

// createAsOf builds db as the first n migrations left it (without recording
// them), for upgrade tests.
func createAsOf(t *testing.T, db *chtest.DB, d chschema.Dialect, n int) {
	t.Helper()
	for _, m := range chschema.AllMigrations()[:n] {
		for _, stmt := range m.Statements(db.Name, d) {
			db.Exec(t, stmt)
		}
		if m.Run != nil {
			if err := m.Run(t.Context(), db.Conn, db.Name, d); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func columnsOf(t *testing.T, db *chtest.DB, table string) (names, types []string) {
	t.Helper()
	rows, err := db.Conn.Query(t.Context(),
		// In table order; 18.16's system.columns has no position column to sort by.
		"SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db.Name, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		names, types = append(names, n), append(types, ty)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names, types
}

func expectedTypes(tb chschema.Table, d chschema.Dialect) []string {
	var out []string
	for _, c := range tb.ColumnDefs {
		switch {
		case c.Fields != nil:
			for _, f := range c.Fields {
				out = append(out, "Array("+f.Type+")")
			}
		case c.LowCard && d.Modern:
			out = append(out, "LowCardinality("+c.Type+")")
		default:
			out = append(out, c.Type)
		}
	}
	return out
}

// Two services starting at once both migrate; both must succeed and the
// version must be recorded once (after FINAL).
func TestMigrateConcurrently(t *testing.T) {
	db := chtest.New(t)
	d := dialect(t, db)
	for round := range 3 {
		name := fmt.Sprintf("%s_c%d", db.Name, round) // not created yet: Migrate makes it
		t.Cleanup(func() { _ = db.Conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name) })
		var wg sync.WaitGroup
		errs := make([]error, 3)
		applied := make([][]uint32, 3)
		for i := range errs {
			wg.Go(func() {
				conn, err := chconn.OpenNoDatabase(t.Context(), db.Settings)
				if err != nil {
					errs[i] = err
					return
				}
				defer conn.Close()
				applied[i], errs[i] = chschema.Migrate(t.Context(), conn, name, d, chtest.Logger(t))
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d migrator %d: %v", round, i, err)
			}
		}
		t.Logf("round %d: applied %v", round, applied)
		q := "SELECT count() FROM " + name + ".schema_migrations FINAL"
		if n := db.Count(t, q); n != uint64(len(chschema.AllMigrations())) {
			t.Errorf("round %d: %d rows after FINAL, want one per version", round, n)
		}
		if n := db.Count(t, "SELECT uniqExact(version) FROM "+name+".schema_migrations"); n != uint64(len(chschema.AllMigrations())) {
			t.Errorf("round %d: %d distinct versions", round, n)
		}
		if v, err := chschema.Status(t.Context(), db.Conn, name); err != nil || v != chschema.LatestVersion() {
			t.Errorf("round %d: Status = %d, %v", round, v, err)
		}
	}
}

// Every table takes a 3-row batch built from its InsertSQL column list, and
// exactly 3 rows arrive.
func TestInsertEveryTable(t *testing.T) {
	db := chtest.Migrated(t)
	ctx := t.Context()
	for _, tb := range append(chschema.Tables(), chschema.Transactions) {
		// A Null table's rows arrive through its view.
		stored := db.Name + "." + tb.Name
		if tb.Null {
			stored = db.Name + "." + chschema.TransactionsByTime.Name + " WHERE deleted = 0"
		}
		before := db.Count(t, "SELECT count() FROM "+stored) // schema_migrations has v1
		batch, err := db.Conn.PrepareBatch(ctx, tb.InsertSQL(db.Name))
		if err != nil {
			t.Fatalf("%s: prepare: %v", tb.Name, err)
		}
		for i := range 3 {
			if err := batch.Append(rowFor(t, tb, i)...); err != nil {
				t.Fatalf("%s: append row %d: %v", tb.Name, i, err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("%s: send: %v", tb.Name, err)
		}
		if n := db.Count(t, "SELECT count() FROM "+stored) - before; n != 3 {
			t.Errorf("%s: %d rows arrived, want 3", tb.Name, n)
		}
	}
	// Nested arrays arrive intact: 2 attributes on each of the 3 spans.
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".spans ARRAY JOIN attributes WHERE attributes.key != ''"); n != 6 {
		t.Errorf("spans carry %d attributes, want 6", n)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".transactions_by_time WHERE deleted = 0 AND has(data_issues, 'data_issues-1')"); n != 1 {
		t.Errorf("transaction_versions: array column round trip found %d rows", n)
	}
	// The view copies each transaction to its own hour (03:00, from
	// txn_time) and leaves a tombstone at its other fact hour (05:00).
	byTime := "SELECT count() FROM " + db.Name + ".transactions_by_time FINAL WHERE "
	if n := db.Count(t, byTime+"deleted = 0 AND txn_hour = toDateTime('2026-01-02 03:00:00', 'UTC')"); n != 3 {
		t.Errorf("transactions_by_time: %d live rows at their own hour, want 3", n)
	}
	if n := db.Count(t, byTime+"deleted = 1 AND txn_hour = toDateTime('2026-01-02 05:00:00', 'UTC')"); n != 3 {
		t.Errorf("transactions_by_time: %d tombstones at the other fact hour, want 3", n)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".transactions_by_time"); n != 6 {
		t.Errorf("transactions_by_time: %d rows, want 6", n)
	}
}

var enumFirst = regexp.MustCompile(`^Enum8\('([a-z_]+)'`)

// rowFor builds row i of tb from the column types alone, so a column added to
// a table is covered without touching this test.
func rowFor(t *testing.T, tb chschema.Table, i int) []any {
	var row []any
	for _, c := range tb.ColumnDefs {
		if c.Fields == nil {
			row = append(row, value(t, c.Name, c.Type, i))
			continue
		}
		for _, f := range c.Fields { // parallel arrays of equal length
			row = append(row, []any{value(t, f.Name, f.Type, i), value(t, f.Name, f.Type, i+10)})
		}
	}
	return row
}

func value(t *testing.T, name, typ string, i int) any {
	switch {
	case typ == "String":
		return fmt.Sprintf("%s-%d", name, i)
	case typ == "FixedString(16)":
		return strings.Repeat(string(rune('a'+i)), 16)
	case typ == "FixedString(8)":
		return strings.Repeat(string(rune('a'+i)), 8)
	case typ == "DateTime('UTC')":
		return time.Date(2026, 1, 2, 3, 4, i, 0, time.UTC)
	case typ == "UInt64":
		return uint64(1_700_000_000_000_000_000 + i)
	case typ == "UInt32":
		return uint32(100 + i) // clear of real migration versions
	case typ == "UInt8":
		return uint8(i % 2)
	case typ == "Int64":
		return int64(-100 * i)
	case typ == "Array(String)":
		return []string{fmt.Sprintf("%s-%d", name, i)}
	case typ == "Array(DateTime('UTC'))":
		return []time.Time{time.Date(2026, 1, 2, 5, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)}
	case enumFirst.MatchString(typ):
		return enumFirst.FindStringSubmatch(typ)[1]
	}
	t.Fatalf("test has no value for type %s of %s", typ, name)
	return nil
}

func TestAddColumnIfMissing(t *testing.T) {
	db := chtest.Migrated(t)
	d := dialect(t, db)
	ctx := t.Context()
	c := chschema.Column{Name: "extra_note", Type: "String", LowCard: true}
	for i, want := range []bool{true, false} {
		added, err := chschema.AddColumnIfMissing(ctx, db.Conn, db.Name, d, chschema.TransactionsByTime, c, "txn_id")
		if err != nil || added != want {
			t.Fatalf("call %d: added %v, %v; want %v", i+1, added, err, want)
		}
	}
	names, _ := columnsOf(t, db, chschema.TransactionsByTime.Name)
	if len(names) < 2 || names[1] != "extra_note" {
		t.Errorf("column not placed after txn_id: %v", names)
	}
	if ok, err := chschema.ColumnExists(ctx, db.Conn, db.Name, chschema.TransactionsByTime.Name, "no_such_column"); err != nil || ok {
		t.Errorf("ColumnExists(no_such_column) = %v, %v", ok, err)
	}
}
