package plugin

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// FuzzParseQuery feeds arbitrary query JSON, query types and intervals to the
// plugin's parser: it must never panic, and whatever it accepts must be a
// known query type with a valid range and only allow-listed filters.
func FuzzParseQuery(f *testing.F) {
	f.Add([]byte(`{"queryType":"breakdown","by":"gateway","filters":{"merchant":["M-1","$__all"]}}`), "", int64(60))
	f.Add([]byte(`{"queryType":"trend","metric":"failure_rate","interval":"5m","adhocFilters":[{"key":"region","operator":"=","value":"wuhan"}]}`), "trend", int64(0))
	f.Add([]byte(`{"queryType":"trace","traceId":"0af7651916cd43dd8448eb211c80319c"}`), "", int64(1))
	f.Add([]byte(`{"filters":{"gateway":["x' OR 1=1 --"]},"limit":-1}`), "transactions", int64(-5))
	f.Add([]byte(`[1,2,3]`), "kpis", int64(1<<40))
	f.Fuzz(func(t *testing.T, raw []byte, qt string, intervalSec int64) {
		from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		dq := backend.DataQuery{RefID: "A", QueryType: qt, JSON: json.RawMessage(raw), Interval: time.Duration(intervalSec) * time.Second,
			MaxDataPoints: 1000, TimeRange: backend.TimeRange{From: from, To: from.Add(24 * time.Hour)}}
		r, err := parseQuery(dq)
		if err != nil {
			if r != nil {
				t.Fatal("an error with a request")
			}
			return
		}
		known := false
		for _, k := range QueryTypes {
			known = known || k == r.QueryType
		}
		if !known {
			t.Fatalf("accepted unknown query type %q", r.QueryType)
		}
		if err := r.Filters.Validate(); err != nil {
			t.Fatalf("accepted filters the query layer refuses: %v", err)
		}
	})
}
