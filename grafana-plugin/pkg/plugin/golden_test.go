package plugin

import (
	"context"
	"encoding/json"
	"flag"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden/*.jsonc from the current frames")

func newTestDS(st Store) *Datasource {
	d := NewWithStore(Settings{MaxRows: 1000}, st, "sw-uid")
	d.Now = func() time.Time { return now }
	return d
}

func dq(ref, typ string, model map[string]any) backend.DataQuery {
	raw, _ := json.Marshal(model)
	return backend.DataQuery{RefID: ref, QueryType: typ, JSON: raw, TimeRange: backend.TimeRange{From: t0, To: t0.Add(24 * time.Hour)},
		Interval: time.Minute, MaxDataPoints: 1000}
}

// The frames of every query type, pinned as the SDK's golden JSON (the
// wire form Grafana receives). Run with -update-golden after an intended
// change and review the diff.
func TestGoldenFrames(t *testing.T) {
	for _, c := range []struct {
		name  string
		typ   string
		model map[string]any
	}{
		{"breakdown_cause", TypeBreakdown, map[string]any{}},
		{"breakdown_cause_by_gateway", TypeBreakdown, map[string]any{"by": "gateway", "filters": map[string]any{"region": []string{"wuhan"}}}},
		{"breakdown_outcome_by_gateway", TypeBreakdown, map[string]any{"of": "outcome", "by": "gateway"}},
		{"trend_cause_failures", TypeTrend, map[string]any{"interval": "1h"}},
		{"trend_cause_failure_rate", TypeTrend, map[string]any{"interval": "1h", "metric": "failure_rate"}},
		{"trend_gateway_transactions", TypeTrend, map[string]any{"by": "gateway", "metric": "transactions", "interval": "1h"}},
		{"trend_gateway_failure_rate", TypeTrend, map[string]any{"by": "gateway", "metric": "failure_rate", "interval": "1h"}},
		{"transactions_unsettled", TypeTransactions, map[string]any{"status": "unsettled"}},
		{"transactions_failures", TypeTransactions, map[string]any{}},
		{"trace", TypeTrace, map[string]any{"txnId": "42788908D261120T00014701415"}},
		{"incidents", TypeIncidents, map[string]any{}},
		{"unsettled_aging", TypeUnsettledAging, map[string]any{}},
		{"kpis", TypeKPIs, map[string]any{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newTestDS(&fakeStore{})
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dq("A", c.typ, c.model)}})
			if err != nil {
				t.Fatal(err)
			}
			dr := resp.Responses["A"]
			if dr.Error != nil {
				t.Fatalf("%v", dr.Error)
			}
			experimental.CheckGoldenJSONResponse(t, "testdata/golden", c.name, &dr, *updateGolden)
		})
	}
}
