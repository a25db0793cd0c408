// Package query is the one query layer of settlewatch: typed questions in,
// SQL with bound values out, rows back. The CLI and the Grafana plugin both
// call it, so a number on a dashboard and in the CLI cannot disagree.
//
// Rules every question follows: values are bound (never spliced into SQL);
// identifiers (columns of a dimension, table names) come from allow-lists;
// every query carries a deadline paired with max_execution_time and a row
// cap. Questions over long, aligned ranges read the rollups when the rollup
// job has covered the range; short or unaligned ranges, or rollups not yet
// ready, read the raw rows (transactions_by_time FINAL over the range's hours:
// one row per pos.txn.id, its latest version).
// Both give the same numbers; Meta says which was used.
package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/chconn"
)

// Querier runs typed questions against one settlewatch database.
type Querier struct {
	Conn driver.Conn
	DB   string
	// Timeout bounds each query, paired with max_execution_time (0: 30s).
	Timeout time.Duration
	// MaxRows caps every result (0: 10000).
	MaxRows int
	// MinRollupRange: shorter ranges read raw tables (0: 6h).
	MinRollupRange time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Range is a half-open time range [From, To) on transaction time.
type Range struct{ From, To time.Time }

// MaxRange bounds any question's range.
const MaxRange = 400 * 24 * time.Hour

// Validate refuses empty, inverted or unbounded ranges.
func (r Range) Validate() error {
	switch {
	case r.From.IsZero() || r.To.IsZero():
		return invalid("time range needs both from and to")
	case !r.From.Before(r.To):
		return invalid("time range: from %s is not before to %s", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	case r.To.Sub(r.From) > MaxRange:
		return invalid("time range of %s is longer than the %d days allowed", r.To.Sub(r.From).Round(time.Hour), int(MaxRange.Hours()/24))
	case r.From.Unix() < 0:
		return invalid("time range starts before 1970")
	}
	return nil
}

// ErrInvalid marks errors in the question itself (bad dimension, range,
// value): the caller's fault, never the server's. Test with errors.Is.
var ErrInvalid = errors.New("invalid question")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// ErrNotFound is returned when a looked-up object does not exist.
var ErrNotFound = errors.New("not found")

// Meta says how a question was answered.
type Meta struct {
	// Source is "rollup" or "raw".
	Source string `json:"source"`
	// Granularity of the rollups read ("" for raw).
	Granularity string `json:"granularity,omitempty"`
	// Truncated is set when the row cap cut the result.
	Truncated bool `json:"truncated,omitempty"`
}

func (q *Querier) maxRows() int {
	if q.MaxRows > 0 {
		return q.MaxRows
	}
	return 10000
}

func (q *Querier) now() time.Time {
	if q.Now != nil {
		return q.Now().UTC()
	}
	return time.Now().UTC()
}

func (q *Querier) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := q.Timeout
	if t <= 0 {
		t = 30 * time.Second
	}
	return chconn.WithQuerySettings(ctx, t)
}

func (q *Querier) env() *jobs.Env {
	return &jobs.Env{Conn: q.Conn, DB: q.DB, QueryTimeout: q.Timeout}
}

// table names one of our tables; DB was validated with the settings.
func (q *Querier) table(name string) string { return "`" + q.DB + "`.`" + name + "`" }

// OutcomeRow is one line of the outcomes breakdown.
type OutcomeRow struct {
	Outcome      string `json:"outcome"`
	Transactions uint64 `json:"transactions"`
	AmountMinor  int64  `json:"amount_minor"`
	Currency     string `json:"currency"`
}

// Outcomes counts transactions and money by outcome in r (raw tables).
func (q *Querier) Outcomes(ctx context.Context, r Range) ([]OutcomeRow, error) {
	res, err := q.OutcomeBreakdown(ctx, OutcomesQuery{Range: r, Source: SourceRaw})
	return res.Rows, err
}

// Causes counts failed transactions (declined, failed, settlement_rejected,
// unsettled) by cause and currency in r (raw tables), with each row's share
// of all failures. Money is never summed across currencies.
func (q *Querier) Causes(ctx context.Context, r Range) ([]CauseRow, error) {
	res, err := q.CauseBreakdown(ctx, CausesQuery{Range: r, Source: SourceRaw})
	return res.Rows, err
}
