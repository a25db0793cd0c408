package query

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chschema"
)

// SeriesQuery asks for volume, failure rate and latency quantiles per
// interval, optionally per value of one dimension.
type SeriesQuery struct {
	Range
	Interval model.Granularity // 5m, 1h or 1d (0: 1h)
	By       string
	Filters  Filters
	Source   Source
}

// SeriesPoint is one bucket (of one dimension value).
type SeriesPoint struct {
	Bucket       time.Time `json:"bucket"`
	Value        string    `json:"value,omitempty"`
	Transactions uint64    `json:"transactions"`
	Failures     uint64    `json:"failures"`
	FailureRate  float64   `json:"failure_rate"`
	// Latency quantiles of the transactions (the terminal's pos.transaction
	// span), estimated from the latency histogram.
	P50Ms float64 `json:"p50_ms"`
	P90Ms float64 `json:"p90_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// SeriesResult is the series with how it was answered.
type SeriesResult struct {
	Interval string        `json:"interval"`
	By       string        `json:"by,omitempty"`
	Points   []SeriesPoint `json:"points"`
	Meta     Meta          `json:"meta"`
}

// Series reads counts and latency histograms per bucket from the rollups or
// the raw transactions (the same histogram either way, so the quantiles agree).
func (q *Querier) Series(ctx context.Context, sq SeriesQuery) (SeriesResult, error) {
	if err := sq.Range.Validate(); err != nil {
		return SeriesResult{}, err
	}
	if err := sq.Filters.Validate(); err != nil {
		return SeriesResult{}, err
	}
	g := sq.Interval
	if g == 0 {
		g = model.Hour
	}
	by := ""
	if sq.By != "" {
		d, err := model.LookupDimension(sq.By)
		if err != nil {
			return SeriesResult{}, invalid("%v", err)
		}
		by = d.Name
	}
	r := Range{From: g.Truncate(sq.From), To: g.Ceil(sq.To)}
	if n := r.To.Sub(r.From) / g.Duration(); n > MaxTrendBuckets {
		return SeriesResult{}, invalid("%d buckets of %s: at most %d; use a coarser interval", n, g, MaxTrendBuckets)
	}
	p, err := q.choose(ctx, sq.Source, r, by, sq.Filters, g, r)
	if err != nil {
		return SeriesResult{}, err
	}
	var query string
	var w *where
	// Failures: every cause, or the causes of the filter (the population
	// stays every transaction, so the rate is that cause's share).
	failCond, failArgs := "cause != 'none'", []any{}
	if len(sq.Filters.Causes) > 0 {
		failCond, failArgs = "cause IN ?", []any{set(sq.Filters.Causes)}
	}
	if p.rollup {
		v := "''"
		if by != "" {
			v = "value"
		}
		w = rollupWhere(g, p.dim, r, sq.Filters, false)
		query = "SELECT bucket AS b, " + v + " AS v, sum(transactions) AS n, sumIf(transactions, " + failCond + ") AS f, sumForEach(latency_hist) AS h FROM " +
			q.table(chschema.Rollups.Name) + " FINAL WHERE " + w.sql() + " GROUP BY b, v HAVING n > 0 ORDER BY b, v LIMIT ?"
	} else {
		v := "''"
		if by != "" {
			d, _ := model.LookupDimension(by)
			v = d.Column
		}
		w = rawWhere(q.DB, r, sq.Filters, false)
		query = "SELECT b, v, count() AS n, countIf(" + failCond + ") AS f, sumForEach(lh) AS h FROM (SELECT " + bucketExpr(g) + " AS b, " + v + " AS v, cause, " +
			model.HistSQL("intDiv(latency_ns, 1000000)") + " AS lh FROM " + w.from() +
			") GROUP BY b, v ORDER BY b, v LIMIT ?"
	}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	args := append(append(failArgs, w.args...), q.maxRows()+1)
	rows, err := q.Conn.Query(qctx, query, args...)
	if err != nil {
		return SeriesResult{}, fmt.Errorf("series: %w", err)
	}
	defer rows.Close()
	res := SeriesResult{Interval: g.String(), By: by, Meta: p.meta()}
	for rows.Next() {
		var pt SeriesPoint
		var h []uint64
		if err := rows.Scan(&pt.Bucket, &pt.Value, &pt.Transactions, &pt.Failures, &h); err != nil {
			return SeriesResult{}, fmt.Errorf("series: %w", err)
		}
		pt.Bucket = pt.Bucket.UTC()
		pt.FailureRate = ratio(pt.Failures, pt.Transactions)
		pt.P50Ms, pt.P90Ms, pt.P99Ms = model.Quantile(h, .5), model.Quantile(h, .9), model.Quantile(h, .99)
		res.Points = append(res.Points, pt)
	}
	if err := rows.Err(); err != nil {
		return SeriesResult{}, fmt.Errorf("series: %w", err)
	}
	if len(res.Points) > q.maxRows() {
		res.Points, res.Meta.Truncated = res.Points[:q.maxRows()], true
	}
	sort.SliceStable(res.Points, func(i, j int) bool {
		if !res.Points[i].Bucket.Equal(res.Points[j].Bucket) {
			return res.Points[i].Bucket.Before(res.Points[j].Bucket)
		}
		return res.Points[i].Value < res.Points[j].Value
	})
	return res, nil
}
