package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
)

// trend answers time series: one per cause (By "" or "cause"), or one per
// value of a dimension, in one time-series-wide frame (trendFrame).
func (d *Datasource) trend(ctx context.Context, r *request, st Store) (data.Frames, error) {
	g, err := r.granularity()
	if err != nil {
		return nil, err
	}
	src, _ := query.ParseSource(r.Source)
	by := strings.ToLower(strings.TrimSpace(r.By))
	if by == "" || by == OfCause {
		metric := r.Metric
		if metric == "" {
			metric = MetricFailures
		}
		if !slices.Contains(causeMetrics, metric) {
			return nil, bad("trend per cause: metric %q: want one of %s", clip(metric), strings.Join(causeMetrics, ", "))
		}
		if r.Empty {
			f := emptySeries(metric)
			f.AppendNotices(emptyNotice())
			return data.Frames{f}, nil
		}
		res, err := st.Trend(ctx, query.TrendQuery{Range: r.Range, Interval: g, Filters: r.Filters, BaselineWeeks: r.BaselineWeeks, Source: src})
		if err != nil {
			return nil, err
		}
		return d.causeSeries(metric, res), nil
	}
	dim, err := dimension(by)
	if err != nil {
		return nil, err
	}
	metric := r.Metric
	if metric == "" {
		metric = MetricFailures
	}
	if !slices.Contains(valueMetrics, metric) {
		return nil, bad("trend per %s: metric %q: want one of %s", dim, clip(metric), strings.Join(valueMetrics, ", "))
	}
	if r.Empty {
		f := emptySeries(metric)
		f.AppendNotices(emptyNotice())
		return data.Frames{f}, nil
	}
	res, err := st.Series(ctx, query.SeriesQuery{Range: r.Range, Interval: g, By: dim, Filters: r.Filters, Source: src})
	if err != nil {
		return nil, err
	}
	return d.valueSeries(r, g, dim, metric, res)
}

// Frames of a trend are Grafana's time-series-wide: one frame, a time field,
// then one value field per series with its labels (cause=… or
// <dimension>=…), all over the same buckets. Time series panels draw it and
// alert rules evaluate each field as a series. One frame rather than one per
// series: Arrow encodes, and Grafana decodes, one time column and one record
// instead of one per series, most of the plugin's cost of a month's hourly
// trend (docs/benchmarks.md, "Plugin").

// causeSeries is one field per cause, in the order the causes first appear.
// Points come by bucket, then cause (query.Trend); a bucket missing a cause,
// as the row cap can leave the last one, is left out whole.
func (d *Datasource) causeSeries(metric string, res query.TrendResult) data.Frames {
	points := res.Points
	if !slices.IsSortedFunc(points, func(a, b query.TrendPoint) int { return a.Bucket.Compare(b.Bucket) }) {
		points = slices.Clone(points)
		query.SortPoints(points)
	}
	// Each point's bucket (row) and cause (field). The causes come in the
	// same order in every bucket, so the next point's cause is almost always
	// the one after the previous point's: the map is the slow path.
	var times []time.Time
	var causes []string
	col := map[string]int{}
	rows := make([]int32, len(points))
	fields := make([]int32, len(points))
	c := -1
	for i, p := range points {
		if n := len(times); n == 0 || !times[n-1].Equal(p.Bucket) {
			times = append(times, p.Bucket)
		}
		if c++; c >= len(causes) || causes[c] != p.Cause {
			k, ok := col[p.Cause]
			if !ok {
				k = len(causes)
				col[p.Cause] = k
				causes = append(causes, p.Cause)
			}
			c = k
		}
		rows[i], fields[i] = int32(len(times)-1), int32(c)
	}
	counts := isCountMetric(metric)
	ints := make([][]int64, len(causes))
	flts := make([][]float64, len(causes))
	for c := range causes {
		if counts {
			ints[c] = make([]int64, len(times))
		} else {
			flts[c] = make([]float64, len(times))
		}
	}
	have := make([]int, len(times)) // causes present per bucket
	for i, p := range points {
		b, c := rows[i], fields[i]
		have[b]++
		switch metric {
		case MetricFailures:
			ints[c][b] = int64(p.Failures)
		case MetricFailureRate:
			flts[c][b] = p.Rate
		case MetricBaseline:
			flts[c][b] = p.Baseline
		case MetricChange:
			flts[c][b] = p.Change
		}
	}
	keep := func(i int) bool { return have[i] == len(causes) }
	times = compact(times, keep)
	series := make([]*data.Field, len(causes))
	for c, name := range causes {
		var vals any
		if counts {
			vals = compact(ints[c], keep)
		} else {
			vals = compact(flts[c], keep)
		}
		series[c] = valueField(metric, data.Labels{"cause": name}, name, vals)
	}
	f := trendFrame(metric, times, series)
	describe(f, fmt.Sprintf("%s per cause every %s", metric, res.Interval), res.Meta, d.settings.MaxRows)
	return data.Frames{f}
}

// compact keeps the elements of s whose index keep accepts, in place.
func compact[T any](s []T, keep func(int) bool) []T {
	out := s[:0]
	for i, v := range s {
		if keep(i) {
			out = append(out, v)
		}
	}
	return out
}

// maxTrendCells bounds the values × buckets of a trend per value: the wide
// frame holds every cell, so a dimension of thousands of values over
// thousands of buckets is refused with advice rather than built.
const maxTrendCells = 2_000_000

// valueSeries is one field per value of the dimension, sorted, over every
// bucket of the range: counts are 0 where there were no transactions, and a
// rate or latency is null there (undefined, not 0). When the row cap cut
// the points, the buckets from the last point's on are unknown, not empty,
// and are left out.
func (d *Datasource) valueSeries(r *request, g model.Granularity, dim, metric string, res query.SeriesResult) (data.Frames, error) {
	from, to := g.Truncate(r.Range.From), g.Ceil(r.Range.To)
	if res.Meta.Truncated {
		to = from
		for _, p := range res.Points {
			if p.Bucket.After(to) {
				to = p.Bucket
			}
		}
	}
	var times []time.Time
	for t := from; t.Before(to); t = t.Add(g.Duration()) {
		times = append(times, t)
	}
	col := map[string]int{} // value → its series
	var names []string
	for _, p := range res.Points {
		if _, ok := col[p.Value]; !ok {
			col[p.Value] = len(names)
			names = append(names, p.Value)
		}
	}
	if cells := len(names) * len(times); cells > maxTrendCells {
		return nil, bad("trend per %s: %d values × %d buckets is more than %d points: filter the values, narrow the time range or use a coarser interval",
			dim, len(names), len(times), maxTrendCells)
	}
	counts := isCountMetric(metric)
	ints := make([][]int64, len(names))
	flts := make([][]*float64, len(names))
	for c := range names {
		if counts {
			ints[c] = make([]int64, len(times))
		} else {
			flts[c] = make([]*float64, len(times))
		}
	}
	for j := range res.Points {
		p := &res.Points[j] // the nullable values point into the points, not into a copy each
		i := int(p.Bucket.Sub(from) / g.Duration())
		if p.Bucket.Before(from) || i >= len(times) || !times[i].Equal(p.Bucket) {
			continue // not a bucket of the range (the query layer returns none)
		}
		c := col[p.Value]
		switch metric {
		case MetricFailures:
			ints[c][i] = int64(p.Failures)
		case MetricTransactions:
			ints[c][i] = int64(p.Transactions)
		case MetricFailureRate:
			flts[c][i] = &p.FailureRate
		case MetricP50:
			flts[c][i] = &p.P50Ms
		case MetricP90:
			flts[c][i] = &p.P90Ms
		case MetricP99:
			flts[c][i] = &p.P99Ms
		}
	}
	fields := make([]*data.Field, len(names))
	for v, value := range names {
		name := value
		if name == "" {
			name = "(not reported)"
		}
		var vals any
		if counts {
			vals = ints[v]
		} else {
			vals = flts[v]
		}
		fields[v] = valueField(metric, data.Labels{dim: value}, name, vals)
	}
	// Sorted by value, as the legend lists them.
	slices.SortStableFunc(fields, func(a, b *data.Field) int { return strings.Compare(a.Labels[dim], b.Labels[dim]) })
	f := trendFrame(metric, times, fields)
	describe(f, fmt.Sprintf("%s per %s every %s", metric, dim, res.Interval), res.Meta, d.settings.MaxRows)
	return data.Frames{f}, nil
}

// trendFrame is the wide frame of series over times; with no series, a
// frame with one empty value field, so that panels show "no data" with the
// right unit.
func trendFrame(metric string, times []time.Time, series []*data.Field) *data.Frame {
	if len(series) == 0 {
		times = []time.Time{}
		var vals any = []float64{}
		if isCountMetric(metric) {
			vals = []int64{}
		}
		series = []*data.Field{valueField(metric, nil, metric, vals)}
	}
	if times == nil {
		times = []time.Time{}
	}
	f := data.NewFrame(metric, append([]*data.Field{data.NewField("time", nil, times)}, series...)...)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1}}
	return f
}

// valueField is one series: its values (a slice of a type data.NewField
// takes), labels and display name.
func valueField(metric string, labels data.Labels, display string, vals any) *data.Field {
	f := data.NewField(metric, labels, vals)
	if isCountMetric(metric) {
		f.Config = countConfig(display)
	} else {
		f.Config = metricConfig(metric, display)
	}
	return f
}

func isCountMetric(m string) bool { return m == MetricFailures || m == MetricTransactions }

func metricConfig(metric, display string) *data.FieldConfig {
	switch metric {
	case MetricFailureRate, MetricBaseline:
		return &data.FieldConfig{DisplayNameFromDS: display, Unit: "percentunit"}
	case MetricChange:
		return &data.FieldConfig{DisplayNameFromDS: display, Unit: "percentunit", Description: "failure rate minus the median rate of the same hour of the week in previous weeks"}
	}
	return &data.FieldConfig{DisplayNameFromDS: display, Unit: "ms"}
}

func emptySeries(metric string) *data.Frame { return trendFrame(metric, nil, nil) }
