package plugin

import (
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

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
