package plugin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
)

// The wide frame of a cause trend: one field per cause in the order the
// causes come, values in the row of their bucket whatever order the points
// come in, and a bucket the row cap cut short left out whole.
func TestCauseSeriesWideFrame(t *testing.T) {
	b := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	res := query.TrendResult{Interval: "1h", Meta: query.Meta{Source: "rollup", Truncated: true}, Points: []query.TrendPoint{
		{Bucket: b(1), Cause: "network", Failures: 3},
		{Bucket: b(0), Cause: "network", Failures: 1},
		{Bucket: b(0), Cause: "timeout", Failures: 2},
		{Bucket: b(1), Cause: "timeout", Failures: 4},
		{Bucket: b(2), Cause: "network", Failures: 9}, // its timeout point was cut
	}}
	d := newTestDS(&fakeStore{})
	frames := d.causeSeries(MetricFailures, res)
	if len(frames) != 1 {
		t.Fatalf("%d frames, want one wide frame", len(frames))
	}
	f := frames[0]
	if f.Meta.Type != data.FrameTypeTimeSeriesWide || len(f.Fields) != 3 || f.Rows() != 2 {
		t.Fatalf("type %s, %d fields by %d rows; want timeseries-wide, time and two causes by 2 buckets", f.Meta.Type, len(f.Fields), f.Rows())
	}
	want := map[string][]int64{"network": {1, 3}, "timeout": {2, 4}}
	for k, cause := range []string{"network", "timeout"} {
		fl := f.Fields[k+1]
		if fl.Labels["cause"] != cause || fl.Config.DisplayNameFromDS != cause {
			t.Errorf("field %d: labels %v, display %q; want cause %s", k+1, fl.Labels, fl.Config.DisplayNameFromDS, cause)
		}
		for i := range f.Rows() {
			if at := f.Fields[0].At(i).(time.Time); !at.Equal(b(i)) {
				t.Errorf("row %d: time %s, want %s", i, at, b(i))
			}
			if v := fl.At(i).(int64); v != want[cause][i] {
				t.Errorf("%s at %s: %d, want %d", cause, b(i), v, want[cause][i])
			}
		}
	}
	if len(f.Meta.Notices) != 1 {
		t.Errorf("notices %v, want the row cap's", f.Meta.Notices)
	}
}

// A trend with nothing to show is still a wide frame, with the metric's
// field, so that panels say "no data" in the right unit.
func TestCauseSeriesEmpty(t *testing.T) {
	d := newTestDS(&fakeStore{})
	f := d.causeSeries(MetricFailureRate, query.TrendResult{Interval: "1h"})[0]
	if f.Meta.Type != data.FrameTypeTimeSeriesWide || len(f.Fields) != 2 || f.Rows() != 0 || f.Fields[1].Config.Unit != "percentunit" {
		t.Fatalf("type %s, %d fields, %d rows, unit %q", f.Meta.Type, len(f.Fields), f.Rows(), f.Fields[1].Config.Unit)
	}
}

// A value trend cut by the row cap shows the buckets before the last
// point's: the rest is unknown, not zero.
func TestValueSeriesCutByTheRowCap(t *testing.T) {
	b := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	res := query.SeriesResult{Interval: "1h", By: "gateway", Meta: query.Meta{Source: "raw", Truncated: true}, Points: []query.SeriesPoint{
		{Bucket: b(0), Value: "gw-1", Transactions: 10},
		{Bucket: b(0), Value: "gw-2", Transactions: 20},
		{Bucket: b(1), Value: "gw-2", Transactions: 30},
		{Bucket: b(2), Value: "gw-1", Transactions: 40}, // gw-2 of this hour was cut
	}}
	r := &request{Range: query.Range{From: b(0), To: b(24)}}
	d := newTestDS(&fakeStore{})
	frames, err := d.valueSeries(r, model.Hour, "gateway", MetricTransactions, res)
	if err != nil {
		t.Fatal(err)
	}
	f := frames[0]
	if f.Rows() != 2 || len(f.Fields) != 3 {
		t.Fatalf("%d fields by %d rows, want time and two gateways by the 2 hours before the cut", len(f.Fields), f.Rows())
	}
	want := map[string][]int64{"gw-1": {10, 0}, "gw-2": {20, 30}}
	for _, fl := range f.Fields[1:] {
		gw := fl.Labels["gateway"]
		for i := range f.Rows() {
			if v := fl.At(i).(int64); v != want[gw][i] {
				t.Errorf("%s at %s: %d, want %d", gw, b(i), v, want[gw][i])
			}
		}
	}
}

// Thousands of values over thousands of buckets are refused with advice,
// not built into a frame of every cell.
func TestValueSeriesTooManyCells(t *testing.T) {
	var res query.SeriesResult
	for v := range 300 {
		res.Points = append(res.Points, query.SeriesPoint{Bucket: t0, Value: fmt.Sprintf("T-%04d", v), Transactions: 1})
	}
	r := &request{Range: query.Range{From: t0, To: t0.Add(30 * 24 * time.Hour)}}
	d := newTestDS(&fakeStore{})
	_, err := d.valueSeries(r, model.FiveMinutes, "terminal", MetricTransactions, res)
	if err == nil || !isBadRequest(err) || !strings.Contains(err.Error(), "300 values × 8640 buckets") {
		t.Fatalf("error %v, want a bad request naming the 300 values and 8640 buckets", err)
	}
	if _, err := d.valueSeries(r, model.Day, "terminal", MetricTransactions, res); err != nil {
		t.Errorf("daily: %v", err)
	}
}
