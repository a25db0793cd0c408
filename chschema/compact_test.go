package chschema_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// Closed days left in three parts each are merged into one, newest first and
// no more than the limit a call, every row kept; today's day and yesterday's
// (not closed for ClosedAfter) are left alone. Merges are stopped while the
// parts are written, and the server then waits seconds before it merges on
// its own, so the parts are still there when CompactClosedDays looks.
func TestCompactClosedDays(t *testing.T) {
	db := chtest.Migrated(t)
	d := dialect(t, db)
	ctx := t.Context()
	now := time.Now().UTC()
	ages := []time.Duration{0, 24 * time.Hour, 72 * time.Hour, 120 * time.Hour} // today, yesterday, two closed days
	day := func(age time.Duration) string { return now.Add(-age).Format("20060102") }
	fill := map[string]string{
		chschema.PaymentFacts.Name: "INSERT INTO %s (txn_id, span_id, start_time, ingested_ns)" +
			" SELECT concat('T', toString(number)), toFixedString(toString(number), 8), toDateTime(?), ? + number FROM numbers(?, 100)",
		chschema.Spans.Name: "INSERT INTO %s (trace_id, span_id, start_time, start_ns, ingested_ns)" +
			" SELECT toFixedString(concat('t', toString(number)), 16), toFixedString(toString(number), 8), toDateTime(?), ? + number, ? FROM numbers(?, 100)",
	}
	for _, tb := range chschema.CompactedTables {
		t.Run(tb.Name, func(t *testing.T) {
			name := db.Name + "." + tb.Name
			parts := func(p string) uint64 {
				return db.Count(t, "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND partition = ? AND active", db.Name, tb.Name, p)
			}
			rows := func(p string) uint64 {
				return db.Count(t, "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = ? AND partition = ? AND active", db.Name, tb.Name, p)
			}
			db.Exec(t, "SYSTEM STOP MERGES "+name)
			for _, age := range ages {
				at := now.Add(-age)
				// Three parts of distinct rows: copies of one row (a retried
				// request) would be merged into one, as FINAL reads them.
				for i := range 3 {
					args := []any{at.Unix(), uint64(at.UnixNano())}
					if tb.Name == chschema.Spans.Name {
						args = append(args, uint64(now.UnixNano()))
					}
					args = append(args, uint64(i*100))
					db.Exec(t, strings.Replace(fill[tb.Name], "%s", name, 1), args...)
				}
				if n := parts(day(age)); n != 3 {
					t.Fatalf("day %s holds %d parts before compaction, want 3", day(age), n)
				}
			}
			db.Exec(t, "SYSTEM START MERGES "+name)

			newest, older := day(ages[2]), day(ages[3])
			for _, want := range [][]string{{newest}, {older}, nil} {
				got, err := chschema.CompactClosedDays(ctx, db.Conn, db.Name, d, tb, now, 1)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("compacted %v, want %v", got, want)
				}
			}
			for _, p := range []string{newest, older} {
				if n := parts(p); n != 1 {
					t.Errorf("closed day %s holds %d parts after compaction, want 1", p, n)
				}
				if n := rows(p); n != 300 {
					t.Errorf("closed day %s holds %d rows after compaction, want 300", p, n)
				}
			}
		})
	}
}

// Only day-partitioned tables can be compacted; a hostile database name is
// refused before any statement.
func TestCompactClosedDaysRefuses(t *testing.T) {
	db := chtest.New(t)
	d := dialect(t, db)
	if _, err := chschema.CompactClosedDays(t.Context(), db.Conn, db.Name, d, chschema.Rollups, time.Now(), 1); err == nil ||
		!strings.Contains(err.Error(), "not partitioned by day") {
		t.Errorf("rollups: got %v, want a refusal naming its partitioning", err)
	}
	if _, err := chschema.CompactClosedDays(t.Context(), db.Conn, "x`; DROP TABLE y", d, chschema.Spans, time.Now(), 1); err == nil ||
		!strings.Contains(err.Error(), "database name") {
		t.Errorf("hostile database: got %v, want the name refused", err)
	}
}

// WaitMerges returns once no merge it watches has run for the quiet time,
// and not before.
func TestWaitMergesWaitsForTheQuietTime(t *testing.T) {
	db := chtest.New(t)
	waited, err := chschema.WaitMerges(t.Context(), db.Conn, chschema.Merges{Database: db.Name}, 600*time.Millisecond, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if waited < 600*time.Millisecond || waited > 30*time.Second {
		t.Errorf("waited %s for an idle database, want the quiet time of 600ms and little more", waited)
	}
}
