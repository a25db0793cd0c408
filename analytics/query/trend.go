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
	gr, err := q.series(ctx, p, g, need, tq.Filters)
	if err != nil {
		return TrendResult{}, fmt.Errorf("trend: %w", err)
	}
	first := gr.index(r.From) // the range's first bucket; before it, the baseline weeks
	// Causes shown: the filter's, else every cause with failures in the range.
	causes := tq.Filters.Causes
	if len(causes) == 0 {
		for _, c := range domain.Causes {
			if fc := gr.fails[string(c)]; fc != nil && slices.ContainsFunc(fc[first:], func(n uint64) bool { return n > 0 }) {
				causes = append(causes, string(c))
			}
		}
	}
	res := TrendResult{Interval: g.String(), Meta: p.meta(), Points: gr.points(first, causes, weeks)}
	if len(res.Points) > q.maxRows() {
		res.Points, res.Meta.Truncated = res.Points[:q.maxRows()], true
	}
	return res, nil
}

// grid holds counts per bucket of a range, by index: maps keyed by bucket
// time cost most of a month's hourly trend's own CPU (a time.Time hashed per
// lookup, five lookups per point with the baseline).
type grid struct {
	from   time.Time
	step   time.Duration
	totals []uint64            // transactions per bucket
	fails  map[string][]uint64 // failures per cause and bucket
}

func newGrid(r Range, g model.Granularity) *grid {
	n := int(r.To.Sub(r.From) / g.Duration())
	return &grid{from: r.From, step: g.Duration(), totals: make([]uint64, n), fails: map[string][]uint64{}}
}

func (gr *grid) buckets() int           { return len(gr.totals) }
func (gr *grid) bucket(i int) time.Time { return gr.from.Add(time.Duration(i) * gr.step) }
func (gr *grid) index(t time.Time) int  { return int(t.Sub(gr.from) / gr.step) }

// points are the buckets from first on, per cause, each with the median
// failure rate of the same slot in up to weeks previous weeks that had
// traffic (the grid starts weeks before first).
func (gr *grid) points(first int, causes []string, weeks int) []TrendPoint {
	perWeek := int(anomaly.Week / gr.step)
	out := make([]TrendPoint, 0, (gr.buckets()-first)*len(causes))
	rates := make([]float64, 0, weeks)
	for i := first; i < gr.buckets(); i++ {
		t := gr.bucket(i)
		for _, c := range causes {
			fc := gr.fails[c] // nil: no failures of c at all
			pt := TrendPoint{Bucket: t, Cause: c, Failures: at(fc, i), Transactions: gr.totals[i]}
			pt.Rate = ratio(pt.Failures, pt.Transactions)
			rates = rates[:0]
			for k := 1; k <= weeks && i-k*perWeek >= 0; k++ {
				if n := gr.totals[i-k*perWeek]; n > 0 {
					rates = append(rates, ratio(at(fc, i-k*perWeek), n))
				}
			}
			pt.BaselineWeeks = len(rates)
			if len(rates) > 0 {
				pt.Baseline = anomaly.MedianInPlace(rates)
				pt.Change = pt.Rate - pt.Baseline
				if pt.Baseline > 0 {
					pt.Ratio = pt.Rate / pt.Baseline
				}
			}
			out = append(out, pt)
		}
	}
	return out
}

// at is counts[i], 0 for a cause without failures (nil counts).
func at(counts []uint64, i int) uint64 {
	if counts == nil {
		return 0
	}
	return counts[i]
}

// add counts n transactions of cause c (none: not a failure) in the bucket
// starting at t; a bucket not in the grid is an error, never dropped.
func (gr *grid) add(t time.Time, c string, n uint64) error {
	i := gr.index(t)
	if t.Before(gr.from) || i >= gr.buckets() || t.Sub(gr.from)%gr.step != 0 {
		return fmt.Errorf("bucket %s is not one of the %d buckets of %s from %s", t.Format(time.RFC3339), gr.buckets(), gr.step, gr.from.Format(time.RFC3339))
	}
	gr.totals[i] += n
	if c == string(domain.CauseNone) {
		return nil
	}
	fc := gr.fails[c]
	if fc == nil {
		fc = make([]uint64, gr.buckets())
		gr.fails[c] = fc
	}
	fc[i] += n
	return nil
}

// series reads failures per (bucket, cause) and transactions per bucket.
func (q *Querier) series(ctx context.Context, p plan, g model.Granularity, r Range, f Filters) (*grid, error) {
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
		return nil, err
	}
	defer rows.Close()
	gr := newGrid(r, g)
	for rows.Next() {
		var b time.Time
		var c string
		var n uint64
		if err := rows.Scan(&b, &c, &n); err != nil {
			return nil, err
		}
		if err := gr.add(b.UTC(), c, n); err != nil {
			return nil, err
		}
	}
	return gr, rows.Err()
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
