package query

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// CausesQuery asks for failures by cause in a range, optionally per value of
// one dimension (By) and narrowed by filters.
type CausesQuery struct {
	Range
	By      string // dimension name, "" for none
	Filters Filters
	Source  Source
}

// CauseRow is one line of the failure-cause breakdown. Value is the By
// dimension's value (the CLI names its JSON key after the dimension).
type CauseRow struct {
	Value        string  `json:"value,omitempty"`
	Cause        string  `json:"cause"`
	Class        string  `json:"class"`
	Transactions uint64  `json:"transactions"`
	AmountMinor  int64   `json:"amount_minor"`
	Currency     string  `json:"currency"`
	Share        float64 `json:"share"`
	FailureRate  float64 `json:"failure_rate"`
}

// CausesResult is the breakdown with how it was answered.
type CausesResult struct {
	By   string     `json:"by,omitempty"`
	Rows []CauseRow `json:"rows"`
	// Failures and Transactions are the totals behind Share and FailureRate.
	Failures     uint64 `json:"failures"`
	Transactions uint64 `json:"transactions"`
	Meta         Meta   `json:"meta"`
}

type cell struct {
	value, key, currency string
	n                    uint64
	amount               int64
}

// CauseBreakdown counts failed transactions (declined, failed,
// settlement_rejected, unsettled) by cause, currency and, with By, dimension
// value. Share is a row's part of all failures in the result; FailureRate is
// its part of all transactions of its dimension value (all currencies).
// Money is never summed across currencies.
func (q *Querier) CauseBreakdown(ctx context.Context, cq CausesQuery) (CausesResult, error) {
	if err := cq.Range.Validate(); err != nil {
		return CausesResult{}, err
	}
	if err := cq.Filters.Validate(); err != nil {
		return CausesResult{}, err
	}
	by := ""
	if cq.By != "" {
		d, err := model.LookupDimension(cq.By)
		if err != nil {
			return CausesResult{}, invalid("%v", err)
		}
		by = d.Name
	}
	p, err := q.choose(ctx, cq.Source, cq.Range, by, cq.Filters, 0, cq.Range)
	if err != nil {
		return CausesResult{}, err
	}
	cells, trunc, err := q.groupCells(ctx, p, cq.Range, by, cq.Filters, "cause")
	if err != nil {
		return CausesResult{}, fmt.Errorf("causes: %w", err)
	}
	res := CausesResult{By: by, Meta: p.meta()}
	res.Meta.Truncated = trunc
	totals := map[string]uint64{}
	for _, c := range cells {
		totals[c.value] += c.n
		res.Transactions += c.n
	}
	rules := domain.DefaultRules()
	for _, c := range cells {
		if c.key == string(domain.CauseNone) || (len(cq.Filters.Causes) > 0 && !slices.Contains(cq.Filters.Causes, c.key)) {
			continue
		}
		res.Failures += c.n
		res.Rows = append(res.Rows, CauseRow{Value: c.value, Cause: c.key, Class: string(rules.ClassOf(domain.Cause(c.key))),
			Transactions: c.n, AmountMinor: c.amount, Currency: c.currency, FailureRate: ratio(c.n, totals[c.value])})
	}
	for i := range res.Rows {
		res.Rows[i].Share = ratio(res.Rows[i].Transactions, res.Failures)
	}
	sort.SliceStable(res.Rows, func(i, j int) bool {
		a, b := res.Rows[i], res.Rows[j]
		if a.Value != b.Value {
			return a.Value < b.Value
		}
		if a.Transactions != b.Transactions {
			return a.Transactions > b.Transactions
		}
		if a.Cause != b.Cause {
			return a.Cause < b.Cause
		}
		return a.Currency < b.Currency
	})
	if len(res.Rows) > q.maxRows() {
		res.Rows, res.Meta.Truncated = res.Rows[:q.maxRows()], true
	}
	return res, nil
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// groupCells counts transactions and money by (by value, key column,
// currency) from the planned source. key is "cause" or "outcome".
func (q *Querier) groupCells(ctx context.Context, p plan, r Range, by string, f Filters, key string) ([]cell, bool, error) {
	var query string
	var w *where
	if p.rollup {
		valueExpr := "''"
		if by != "" {
			valueExpr = "value"
		}
		w = rollupWhere(p.g, p.dim, r, f, false)
		query = "SELECT " + valueExpr + " AS v, toString(" + key + ") AS k, currency AS cur, sum(transactions) AS n, sum(amount_minor) AS amt FROM " +
			q.table(chschema.Rollups.Name) + " FINAL WHERE " + w.sql() + " GROUP BY v, k, cur HAVING n > 0 ORDER BY n DESC, v, k, cur LIMIT ?"
	} else {
		valueExpr := "''"
		if by != "" {
			d, _ := model.LookupDimension(by)
			valueExpr = d.Column
		}
		w = rawWhere(q.DB, r, f, false)
		query = "SELECT " + valueExpr + " AS v, toString(" + key + ") AS k, currency AS cur, count() AS n, sum(amount_minor) AS amt FROM " +
			w.from() + " GROUP BY v, k, cur ORDER BY n DESC, v, k, cur LIMIT ?"
	}
	limit := q.maxRows() * 4 // rows of cause "none" are dropped later
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	rows, err := q.Conn.Query(qctx, query, append(w.args, limit+1)...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []cell
	for rows.Next() {
		var c cell
		if err := rows.Scan(&c.value, &c.key, &c.currency, &c.n, &c.amount); err != nil {
			return nil, false, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	trunc := truncated(len(out), limit)
	if trunc {
		out = out[:limit]
	}
	return out, trunc, nil
}

// OutcomesQuery asks for transactions by outcome.
type OutcomesQuery struct {
	Range
	By      string
	Filters Filters
	Source  Source
}

// OutcomeResult is the outcomes breakdown.
type OutcomeResult struct {
	By   string       `json:"by,omitempty"`
	Rows []OutcomeRow `json:"rows"`
	// Values of the By dimension, parallel to Rows.
	Values []string `json:"-"`
	Meta   Meta     `json:"meta"`
}

// OutcomeBreakdown counts transactions and money by outcome and currency
// (and By value).
func (q *Querier) OutcomeBreakdown(ctx context.Context, oq OutcomesQuery) (OutcomeResult, error) {
	if err := oq.Range.Validate(); err != nil {
		return OutcomeResult{}, err
	}
	if err := oq.Filters.Validate(); err != nil {
		return OutcomeResult{}, err
	}
	by := ""
	if oq.By != "" {
		d, err := model.LookupDimension(oq.By)
		if err != nil {
			return OutcomeResult{}, invalid("%v", err)
		}
		by = d.Name
	}
	p, err := q.choose(ctx, oq.Source, oq.Range, by, oq.Filters, 0, oq.Range)
	if err != nil {
		return OutcomeResult{}, err
	}
	f := oq.Filters
	cells, trunc, err := q.groupCells(ctx, p, oq.Range, by, f, "outcome")
	if err != nil {
		return OutcomeResult{}, fmt.Errorf("outcomes: %w", err)
	}
	res := OutcomeResult{By: by, Meta: p.meta()}
	res.Meta.Truncated = trunc
	sort.SliceStable(cells, func(i, j int) bool {
		a, b := cells[i], cells[j]
		if a.value != b.value {
			return a.value < b.value
		}
		if a.n != b.n {
			return a.n > b.n
		}
		if a.key != b.key {
			return a.key < b.key
		}
		return a.currency < b.currency
	})
	for _, c := range cells {
		if len(f.Causes) > 0 {
			break // handled below
		}
		res.Rows = append(res.Rows, OutcomeRow{Outcome: c.key, Transactions: c.n, AmountMinor: c.amount, Currency: c.currency})
		res.Values = append(res.Values, c.value)
	}
	if len(f.Causes) > 0 {
		// A cause filter narrows the population: re-ask with it applied.
		w := rawWhere(q.DB, oq.Range, f, true)
		if p.rollup {
			w = rollupWhere(p.g, p.dim, oq.Range, f, true)
		}
		res.Rows, res.Values, err = q.outcomesWithCauses(ctx, p, by, w)
		if err != nil {
			return OutcomeResult{}, fmt.Errorf("outcomes: %w", err)
		}
	}
	if len(res.Rows) > q.maxRows() {
		res.Rows, res.Values, res.Meta.Truncated = res.Rows[:q.maxRows()], res.Values[:q.maxRows()], true
	}
	return res, nil
}

func (q *Querier) outcomesWithCauses(ctx context.Context, p plan, by string, w *where) ([]OutcomeRow, []string, error) {
	var query string
	if p.rollup {
		v := "''"
		if by != "" {
			v = "value"
		}
		query = "SELECT " + v + " AS v, toString(outcome) AS k, currency AS cur, sum(transactions) AS n, sum(amount_minor) AS amt FROM " +
			q.table(chschema.Rollups.Name) + " FINAL WHERE " + w.sql() + " GROUP BY v, k, cur HAVING n > 0 ORDER BY v, n DESC, k, cur LIMIT ?"
	} else {
		v := "''"
		if by != "" {
			d, _ := model.LookupDimension(by)
			v = d.Column
		}
		query = "SELECT " + v + " AS v, toString(outcome) AS k, currency AS cur, count() AS n, sum(amount_minor) AS amt FROM " +
			w.from() + " GROUP BY v, k, cur ORDER BY v, n DESC, k, cur LIMIT ?"
	}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	rows, err := q.Conn.Query(qctx, query, append(w.args, q.maxRows()+1)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []OutcomeRow
	var vals []string
	for rows.Next() {
		var o OutcomeRow
		var v string
		if err := rows.Scan(&v, &o.Outcome, &o.Currency, &o.Transactions, &o.AmountMinor); err != nil {
			return nil, nil, err
		}
		out = append(out, o)
		vals = append(vals, v)
	}
	return out, vals, rows.Err()
}
