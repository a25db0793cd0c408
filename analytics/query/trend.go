package query

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/settlewatch/settlewatch/analytics/anomaly"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// TrendQuery asks for failures per interval and cause, each compared with
// the same slot of the week in previous weeks.
type TrendQuery struct {
	Range
	Interval model.Granularity // 5m, 1h or 1d (0: 1h)
	Filters  Filters           // Causes narrow the causes shown
	// BaselineWeeks back to compare with (0: 4).
	BaselineWeeks int
	Source        Source
}

// TrendPoint is one bucket of one cause.
type TrendPoint struct {
	Bucket       time.Time `json:"bucket"`
	Cause        string    `json:"cause"`
	Failures     uint64    `json:"failures"`
	Transactions uint64    `json:"transactions"`
	Rate         float64   `json:"rate"`
	// Baseline is the median rate of the same slot in the previous weeks that
	// had traffic; BaselineWeeks how many did (0: no baseline).
	Baseline      float64 `json:"baseline"`
	BaselineWeeks int     `json:"baseline_weeks"`
	// Change is Rate − Baseline (rate points); Ratio is Rate / Baseline (0
	// when the baseline is 0).
	Change float64 `json:"change"`
	Ratio  float64 `json:"ratio"`
}

// TrendResult is the trend with how it was answered.
type TrendResult struct {
	Interval string       `json:"interval"`
	Points   []TrendPoint `json:"points"`
	Meta     Meta         `json:"meta"`
}

// MaxTrendBuckets bounds the buckets of one trend.
const MaxTrendBuckets = 20000

// Trend computes failures per bucket and cause over the range.
func (q *Querier) Trend(ctx context.Context, tq TrendQuery) (TrendResult, error) {
	if err := tq.Range.Validate(); err != nil {
		return TrendResult{}, err
	}
	if err := tq.Filters.Validate(); err != nil {
		return TrendResult{}, err
	}
	g := tq.Interval
	if g == 0 {
		g = model.Hour
	}
	if !slices.Contains(model.Granularities, g) {
		return TrendResult{}, invalid("interval %s: want 5m, 1h or 1d", g)
	}
	weeks := tq.BaselineWeeks
	if weeks <= 0 {
		weeks = 4
	}
	if weeks > 12 {
		return TrendResult{}, invalid("baseline of %d weeks: at most 12", weeks)
	}
	r := Range{From: g.Truncate(tq.From), To: g.Ceil(tq.To)}
	if n := r.To.Sub(r.From) / g.Duration(); n > MaxTrendBuckets {
		return TrendResult{}, invalid("%d buckets of %s: at most %d; use a coarser interval", n, g, MaxTrendBuckets)
	}
	need := Range{From: r.From.Add(-time.Duration(weeks) * anomaly.Week), To: r.To}
	p, err := q.choose(ctx, tq.Source, r, "", tq.Filters, g, need)
	if err != nil {
		return TrendResult{}, err
	}
	fails, totals, err := q.series(ctx, p, g, need, tq.Filters)
	if err != nil {
		return TrendResult{}, fmt.Errorf("trend: %w", err)
	}
	// Causes shown: the filter's, else every cause with failures in the range.
	causes := tq.Filters.Causes
	if len(causes) == 0 {
		seen := map[string]bool{}
		for k, n := range fails {
			if n > 0 && !k.t.Before(r.From) {
				seen[k.cause] = true
			}
		}
		for _, c := range domain.Causes {
			if seen[string(c)] {
				causes = append(causes, string(c))
			}
		}
	}
	res := TrendResult{Interval: g.String(), Meta: p.meta()}
	for t := r.From; t.Before(r.To); t = t.Add(g.Duration()) {
		for _, c := range causes {
			pt := TrendPoint{Bucket: t, Cause: c, Failures: fails[sk{t, c}], Transactions: totals[t]}
			pt.Rate = ratio(pt.Failures, pt.Transactions)
			var rates []float64
			for k := 1; k <= weeks; k++ {
				bt := t.Add(-time.Duration(k) * anomaly.Week)
				if n := totals[bt]; n > 0 {
					rates = append(rates, ratio(fails[sk{bt, c}], n))
				}
			}
			pt.BaselineWeeks = len(rates)
			if len(rates) > 0 {
				pt.Baseline = anomaly.Median(rates)
				pt.Change = pt.Rate - pt.Baseline
				if pt.Baseline > 0 {
					pt.Ratio = pt.Rate / pt.Baseline
				}
			}
			res.Points = append(res.Points, pt)
		}
	}
	if len(res.Points) > q.maxRows() {
		res.Points, res.Meta.Truncated = res.Points[:q.maxRows()], true
	}
	return res, nil
}

type sk struct {
	t     time.Time
	cause string
}

// series reads failures per (bucket, cause) and transactions per bucket.
func (q *Querier) series(ctx context.Context, p plan, g model.Granularity, r Range, f Filters) (map[sk]uint64, map[time.Time]uint64, error) {
	var query string
	var w *where
	if p.rollup {
		w = rollupWhere(g, p.dim, r, f, false)
		query = "SELECT bucket AS b, toString(cause) AS c, sum(transactions) AS n FROM " + q.table(chschema.Rollups.Name) +
			" FINAL WHERE " + w.sql() + " GROUP BY b, c HAVING n > 0 ORDER BY b, c LIMIT ?"
	} else {
		w = rawWhere(q.DB, r, f, false)
		query = "SELECT " + bucketExpr(g) + " AS b, toString(cause) AS c, count() AS n FROM " +
			w.from() + " GROUP BY b, c ORDER BY b, c LIMIT ?"
	}
	limit := (MaxTrendBuckets + 13*MaxTrendBuckets) * 2
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	rows, err := q.Conn.Query(qctx, query, append(w.args, limit)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	fails, totals := map[sk]uint64{}, map[time.Time]uint64{}
	for rows.Next() {
		var b time.Time
		var c string
		var n uint64
		if err := rows.Scan(&b, &c, &n); err != nil {
			return nil, nil, err
		}
		b = b.UTC()
		totals[b] += n
		if c != string(domain.CauseNone) {
			fails[sk{b, c}] += n
		}
	}
	return fails, totals, rows.Err()
}

// SortPoints orders points by bucket then cause (the order Trend returns).
func SortPoints(ps []TrendPoint) {
	sort.SliceStable(ps, func(i, j int) bool {
		if !ps[i].Bucket.Equal(ps[j].Bucket) {
			return ps[i].Bucket.Before(ps[j].Bucket)
		}
		return ps[i].Cause < ps[j].Cause
	})
}
