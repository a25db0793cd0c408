package plugin

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
)

// trend answers time series: one per cause (By "" or "cause"), or one per
// value of a dimension. Frames are the data plane's time-series-multi: one
// frame per series, a time field and one number field with labels, which
// time-series panels draw and alert rules evaluate per series.
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
	return d.valueSeries(r, g, dim, metric, res), nil
}

type seriesAcc struct {
	times []time.Time
	ints  []int64
	flts  []float64
}

func (d *Datasource) causeSeries(metric string, res query.TrendResult) data.Frames {
	order := []string{}
	acc := map[string]*seriesAcc{}
	for _, p := range res.Points {
		a, ok := acc[p.Cause]
		if !ok {
			a = &seriesAcc{}
			acc[p.Cause] = a
			order = append(order, p.Cause)
		}
		a.times = append(a.times, p.Bucket)
		switch metric {
		case MetricFailures:
			a.ints = append(a.ints, int64(p.Failures))
		case MetricFailureRate:
			a.flts = append(a.flts, p.Rate)
		case MetricBaseline:
			a.flts = append(a.flts, p.Baseline)
		case MetricChange:
			a.flts = append(a.flts, p.Change)
		}
	}
	var frames data.Frames
	for _, c := range order {
		frames = append(frames, seriesFrame(metric, data.Labels{"cause": c}, c, acc[c]))
	}
	if len(frames) == 0 {
		frames = data.Frames{emptySeries(metric)}
	}
	what := fmt.Sprintf("%s per cause every %s", metric, res.Interval)
	for _, f := range frames {
		describe(f, what, res.Meta, d.settings.MaxRows)
	}
	return frames
}

func (d *Datasource) valueSeries(r *request, g model.Granularity, dim, metric string, res query.SeriesResult) data.Frames {
	counts := metric == MetricFailures || metric == MetricTransactions
	byValue := map[string]map[time.Time]query.SeriesPoint{}
	for _, p := range res.Points {
		m, ok := byValue[p.Value]
		if !ok {
			m = map[time.Time]query.SeriesPoint{}
			byValue[p.Value] = m
		}
		m[p.Bucket] = p
	}
	values := make([]string, 0, len(byValue))
	for v := range byValue {
		values = append(values, v)
	}
	sort.Strings(values)
	from, to := g.Truncate(r.Range.From), g.Ceil(r.Range.To)
	var frames data.Frames
	for _, v := range values {
		a := &seriesAcc{}
		for t := from; t.Before(to); t = t.Add(g.Duration()) {
			p, ok := byValue[v][t]
			if !ok && !counts {
				continue // no transactions: a rate or latency is undefined, not 0
			}
			a.times = append(a.times, t)
			switch metric {
			case MetricFailures:
				a.ints = append(a.ints, int64(p.Failures))
			case MetricTransactions:
				a.ints = append(a.ints, int64(p.Transactions))
			case MetricFailureRate:
				a.flts = append(a.flts, p.FailureRate)
			case MetricP50:
				a.flts = append(a.flts, p.P50Ms)
			case MetricP90:
				a.flts = append(a.flts, p.P90Ms)
			case MetricP99:
				a.flts = append(a.flts, p.P99Ms)
			}
		}
		name := v
		if name == "" {
			name = "(not reported)"
		}
		frames = append(frames, seriesFrame(metric, data.Labels{dim: v}, name, a))
	}
	if len(frames) == 0 {
		frames = data.Frames{emptySeries(metric)}
	}
	what := fmt.Sprintf("%s per %s every %s", metric, dim, res.Interval)
	for _, f := range frames {
		describe(f, what, res.Meta, d.settings.MaxRows)
	}
	return frames
}

func seriesFrame(metric string, labels data.Labels, display string, a *seriesAcc) *data.Frame {
	tf := data.NewField("time", nil, a.times)
	var vf *data.Field
	if isCountMetric(metric) {
		if a.ints == nil {
			a.ints = []int64{}
		}
		vf = data.NewField(metric, labels, a.ints)
		vf.Config = countConfig(display)
	} else {
		if a.flts == nil {
			a.flts = []float64{}
		}
		vf = data.NewField(metric, labels, a.flts)
		vf.Config = metricConfig(metric, display)
	}
	if a.times == nil {
		tf = data.NewField("time", nil, []time.Time{})
	}
	f := data.NewFrame(display, tf, vf)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
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

func emptySeries(metric string) *data.Frame {
	return seriesFrame(metric, nil, metric, &seriesAcc{})
}
