package chschema

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// CompactedTables are the tables whose closed days CompactClosedDays merges:
// a lookup by transaction id reads a granule of each per day and part
// (ReadTxnFacts, the spans of its traces' days), so a day left in five parts
// costs a lookup five granules where one would do (docs/benchmarks.md,
// "Every target re-measured, …").
var CompactedTables = []Table{PaymentFacts, Spans}

// ClosedAfter is how long after its end a day partition is compacted: a
// fact's day is its arrival and ends at midnight, but a span's is its start,
// and spans of a day still arrive after it (a terminal's clock, a retried
// request). A span later than that lands in a small part of its own, which
// the server merges as usual.
const ClosedAfter = 24 * time.Hour

// mergeWait bounds the wait for merges already running in a day partition.
const mergeWait = 5 * time.Minute

// CompactClosedDays merges each day partition of t that ended ClosedAfter
// before now and is still in more than one part into one part
// (OPTIMIZE … PARTITION … FINAL), newest day first and at most limit days,
// and returns the days it compacted. The parts counted are the server's
// that conn reaches (one replica in cluster mode); the OPTIMIZE runs ON
// CLUSTER. It rewrites whole days, so callers bound limit. db must be
// validated.
func CompactClosedDays(ctx context.Context, conn driver.Conn, db string, d Dialect, t Table, now time.Time, limit int) ([]string, error) {
	if err := check(db, d); err != nil {
		return nil, fmt.Errorf("compact %s: %w", t.Name, err)
	}
	if !dayPartitioned(t) {
		return nil, fmt.Errorf("compact %s: not partitioned by day (%s)", t.Name, t.PartitionBy)
	}
	days, err := dayPartitions(ctx, conn, db, d, t, dayNumber(now.Add(-ClosedAfter)), 2)
	if err != nil {
		return nil, err
	}
	var done []string
	for i := len(days) - 1; i >= 0 && len(done) < limit; i-- {
		if err := compactDay(ctx, conn, db, d, t, days[i]); err != nil {
			return done, err
		}
		done = append(done, days[i])
	}
	return done, nil
}

// compactDay merges day p of t into one part. A merge the server is already
// running in the day makes OPTIMIZE do nothing, so it waits for those and
// tries up to three times.
func compactDay(ctx context.Context, conn driver.Conn, db string, d Dialect, t Table, p string) error {
	local := t.LocalName(d)
	parts := 0
	for range 3 {
		if _, err := WaitMerges(ctx, conn, Merges{Database: db, Table: local, Partition: p}, 0, mergeWait); err != nil {
			return fmt.Errorf("compact day %s of %s: %w", p, t.Name, err)
		}
		// p is a plain day number read from the server (dayPartitions).
		if err := conn.Exec(ctx, fmt.Sprintf("OPTIMIZE TABLE %s.%s%s PARTITION %s FINAL", quote(db), quote(local), d.onCluster(), p)); err != nil {
			return fmt.Errorf("compact day %s of %s: %w", p, t.Name, err)
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND partition = ? AND active",
			db, local, p).Scan(&n); err != nil {
			return fmt.Errorf("count the parts of day %s of %s: %w", p, t.Name, err)
		}
		if parts = int(n); parts <= 1 {
			return nil
		}
	}
	return fmt.Errorf("compact day %s of %s: still %d parts after three tries (inserts into the day?)", p, t.Name, parts)
}
