package plugin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/settlewatch/settlewatch/analytics/query"
)

// bigStore answers a 30-day hourly trend of every cause and a breakdown by
// merchant (the plugin's own work is what is measured: parsing, frames,
// and the Arrow encoding Grafana receives).
type bigStore struct {
	fakeStore
	trend  *query.TrendResult
	causes *query.CausesResult
}

// Trend and CauseBreakdown build their answer once: the benchmark measures
// the plugin, not the fake.
func (s *bigStore) Trend(_ context.Context, tq query.TrendQuery) (query.TrendResult, error) {
	if s.trend != nil {
		return *s.trend, nil
	}
	res := query.TrendResult{Interval: "1h", Meta: query.Meta{Source: "rollup", Granularity: "1h"}}
	for h := range 30 * 24 {
		for _, c := range []string{"network", "timeout", "gateway", "system", "account", "authorization", "operator", "limit", "bank_policy", "card", "settlement", "unknown"} {
			res.Points = append(res.Points, query.TrendPoint{Bucket: t0.Add(time.Duration(h) * time.Hour), Cause: c, Failures: uint64(h % 7), Transactions: 400, Rate: float64(h%7) / 400})
		}
	}
	s.trend = &res
	return res, nil
}

func (s *bigStore) CauseBreakdown(_ context.Context, cq query.CausesQuery) (query.CausesResult, error) {
	if s.causes != nil {
		return *s.causes, nil
	}
	res := query.CausesResult{By: cq.By, Failures: 100000, Transactions: 1000000, Meta: query.Meta{Source: "rollup", Granularity: "1d"}}
	for m := range 1000 {
		for _, c := range []string{"network", "account", "card"} {
			res.Rows = append(res.Rows, query.CauseRow{Value: fmt.Sprintf("M-%04d", m), Cause: c, Class: "soft", Transactions: 33, AmountMinor: 123456, Currency: "CNY", Share: 0.00033, FailureRate: 0.01})
		}
	}
	s.causes = &res
	return res, nil
}

func BenchmarkFrames(b *testing.B) {
	d := newTestDS(&bigStore{})
	for name, q := range map[string]backend.DataQuery{
		"trend_30d_hourly_12_causes":      dq("A", TypeTrend, map[string]any{"interval": "1h"}),
		"breakdown_3000_rows_by_merchant": dq("A", TypeBreakdown, map[string]any{"by": "merchant"}),
	} {
		q.TimeRange = backend.TimeRange{From: t0, To: t0.Add(30 * 24 * time.Hour)}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
				if err != nil || resp.Responses["A"].Error != nil {
					b.Fatal(err, resp.Responses["A"].Error)
				}
				if _, err := backend.ToProto().QueryDataResponse(backend.DataFrameFormat_ARROW, resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
