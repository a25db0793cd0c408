// Package query is the one query layer of settlewatch: typed questions in,
// SQL with bound values out, rows back. The CLI and the Grafana plugin both
// call it, so a number on a dashboard and in the CLI cannot disagree.
package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
)

// Querier runs typed questions against one settlewatch database.
type Querier struct {
	Conn driver.Conn
	DB   string
	// Timeout bounds each query, paired with max_execution_time.
	Timeout time.Duration
	// MaxRows caps every result (0: 10000).
	MaxRows int
}

// Range is a half-open time range [From, To) on transaction time.
type Range struct{ From, To time.Time }

// Validate refuses empty, inverted or unbounded ranges.
func (r Range) Validate() error {
	switch {
	case r.From.IsZero() || r.To.IsZero():
		return errors.New("time range needs both from and to")
	case !r.From.Before(r.To):
		return fmt.Errorf("time range: from %s is not before to %s", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	}
	return nil
}

func (q *Querier) maxRows() int {
	if q.MaxRows > 0 {
		return q.MaxRows
	}
	return 10000
}

func (q *Querier) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := q.Timeout
	if t <= 0 {
		t = 30 * time.Second
	}
	return chconn.WithQuerySettings(ctx, t)
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

// Outcomes counts transactions and money by outcome in r.
func (q *Querier) Outcomes(ctx context.Context, r Range) ([]OutcomeRow, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	rows, err := q.Conn.Query(qctx, "SELECT toString(outcome) AS o, currency, count() AS n, sum(amount_minor) AS amt FROM "+q.table("transactions")+
		" FINAL WHERE txn_time >= toDateTime(?) AND txn_time < toDateTime(?) GROUP BY o, currency ORDER BY n DESC, o, currency LIMIT ?",
		r.From.Unix(), r.To.Unix(), q.maxRows())
	if err != nil {
		return nil, fmt.Errorf("outcomes: %w", err)
	}
	defer rows.Close()
	var out []OutcomeRow
	for rows.Next() {
		var o OutcomeRow
		if err := rows.Scan(&o.Outcome, &o.Currency, &o.Transactions, &o.AmountMinor); err != nil {
			return nil, fmt.Errorf("outcomes: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CauseRow is one line of the failure-cause breakdown.
type CauseRow struct {
	Cause        string  `json:"cause"`
	Class        string  `json:"class"`
	Transactions uint64  `json:"transactions"`
	AmountMinor  int64   `json:"amount_minor"`
	Currency     string  `json:"currency"`
	Share        float64 `json:"share"`
}

// Causes counts failed transactions (declined, failed, settlement_rejected,
// unsettled) by cause and currency in r, with each row's share of all
// failures. Money is never summed across currencies.
func (q *Querier) Causes(ctx context.Context, r Range) ([]CauseRow, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	rows, err := q.Conn.Query(qctx, "SELECT toString(cause) AS c, toString(any(cause_class)) AS cl, currency, count() AS n, sum(amount_minor) AS amt FROM "+q.table("transactions")+
		" FINAL WHERE txn_time >= toDateTime(?) AND txn_time < toDateTime(?) AND cause != 'none' GROUP BY c, currency ORDER BY n DESC, c, currency LIMIT ?",
		r.From.Unix(), r.To.Unix(), q.maxRows())
	if err != nil {
		return nil, fmt.Errorf("causes: %w", err)
	}
	defer rows.Close()
	var out []CauseRow
	var total uint64
	for rows.Next() {
		var c CauseRow
		if err := rows.Scan(&c.Cause, &c.Class, &c.Currency, &c.Transactions, &c.AmountMinor); err != nil {
			return nil, fmt.Errorf("causes: %w", err)
		}
		total += c.Transactions
		out = append(out, c)
	}
	for i := range out {
		out[i].Share = float64(out[i].Transactions) / float64(total)
	}
	return out, rows.Err()
}
