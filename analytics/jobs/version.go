package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/settlewatch/settlewatch/chschema"
)

// Version is the ReplacingMergeTree version for rows that replace rows
// whose newest stored version is newest: the clock in nanoseconds, but
// always above newest. The clock alone is not enough: after it steps back
// (NTP step, VM restore), or on a host whose clock is behind another
// daemon's, it would be below the rows to replace, and ReplacingMergeTree
// would keep the stale rows. Every wall-clock version in analytics comes
// from here.
func Version(clock time.Time, newest uint64) uint64 {
	return max(uint64(max(clock.UnixNano(), 0)), newest+1)
}

// NextVersion reads the newest stored version of t's rows that match cond
// (a condition on t's columns with ? placeholders for args) and returns
// Version(env clock, newest). Read it in the run that writes the rows,
// before it writes them.
func (e *Env) NextVersion(ctx context.Context, t chschema.Table, cond string, args ...any) (uint64, error) {
	v, _, err := e.NextVersionOver(ctx, t, cond, args...)
	return v, err
}

// NextVersionOver is NextVersion with the newest stored version itself, 0
// when no row matches: a run that finds nothing to replace can skip
// looking for stale rows to zero.
func (e *Env) NextVersionOver(ctx context.Context, t chschema.Table, cond string, args ...any) (v, newest uint64, err error) {
	newest, err = e.newestVersion(ctx, t, cond, args...)
	if err != nil {
		return 0, 0, err
	}
	return Version(e.NowUTC(), newest), newest, nil
}

func (e *Env) newestVersion(ctx context.Context, t chschema.Table, cond string, args ...any) (uint64, error) {
	qctx, cancel := e.Ctx(ctx)
	defer cancel()
	var newest uint64
	// Without FINAL: the newest version among all rows, replaced or not.
	q := "SELECT max(`" + t.Version + "`) FROM " + e.Table(t.Name) + " WHERE " + cond
	if err := e.Conn.QueryRow(qctx, q, args...).Scan(&newest); err != nil {
		return 0, fmt.Errorf("read the newest version in %s: %w", t.Name, err)
	}
	return newest, nil
}

// DataTime is how far the data has got: the newest assembled_at among the
// transactions (the collectors' clocks when they assemble at ingest),
// zero when there is none. Jobs use it instead of the daemon's clock where a
// clock that jumped would change a result: where new data must be looked
// for (rollup), what counts as overdue (sweep), which buckets are evaluated
// (incidents, timeouts). Only transactions of the last 60 days by the
// clock are read (the table is partitioned by month). Tombstones count too:
// one carries the assembled_at of the version that made it.
func (e *Env) DataTime(ctx context.Context) (time.Time, error) {
	qctx, cancel := e.Ctx(ctx)
	defer cancel()
	var n uint64
	var at time.Time
	err := e.Conn.QueryRow(qctx, "SELECT count(), max(assembled_at) FROM "+e.Table(chschema.TransactionsByTime.Name)+
		" WHERE txn_hour >= toDateTime(?)", max(e.NowUTC().Add(-60*24*time.Hour).Truncate(time.Hour).Unix(), 0)).Scan(&n, &at)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the newest assembled_at: %w", err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return at.UTC(), nil
}
