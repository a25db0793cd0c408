package e2e

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

// The cost of the plugin path: QueryData over gRPC to the launched plugin
// binary (query parsing, the query layer, frames, Arrow encoding, and the
// host's decoding) against the same question asked of the query layer
// directly, for a breakdown and an hourly trend over 30 days, from the
// rollups and from the raw transactions; and the plugin's handler called in
// this process (inproc-ms), which tells its own cost from the process
// boundary's. docs/benchmarks.md ("Plugin") has the figures.
//
//	go test -run '^$' -bench Plugin30Days -benchtime 20x ./grafana-plugin/pkg/e2e/
func BenchmarkPlugin30Days(b *testing.B) {
	db := chtest.Migrated(b)
	ctx := context.Background()
	from := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -32)
	to := from.AddDate(0, 0, 30)
	cfg := synth.Config{Seed: 30, From: from, To: to, PerHour: 400, USDShare: 0.1}
	txns := synth.Generate(cfg)
	if err := synth.Insert(ctx, db.Conn, db.Name, synth.Rows(txns), time.Now()); err != nil {
		b.Fatal(err)
	}
	runner := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, Session: db.Session, DB: db.Name, QueryTimeout: 5 * time.Minute}}
	if _, err := runner.Backfill(ctx, &rollup.Job{}, from, to, nil); err != nil {
		b.Fatal(err)
	}
	// Merge the parts now, so that background merges do not make the
	// sub-benchmarks that run first slower than those that run later.
	for _, table := range []string{"transactions_by_time", "rollups"} {
		db.Exec(b, "OPTIMIZE TABLE "+table+" FINAL")
	}
	g := launch(b, settingsFor(b, db), "")
	direct := &query.Querier{Conn: db.Conn, DB: db.Name, Timeout: 60 * time.Second}
	// The plugin's handler in this process, with its own connection and
	// settings, without gRPC: what the plugin adds apart from the process
	// boundary.
	raw, err := json.Marshal(settingsFor(b, db))
	if err != nil {
		b.Fatal(err)
	}
	inst, err := plugin.NewDatasource(ctx, backend.DataSourceInstanceSettings{ID: 7, UID: "settlewatch-inproc", Name: "settlewatch", JSONData: raw})
	if err != nil {
		b.Fatal(err)
	}
	ds := inst.(*plugin.Datasource)
	b.Cleanup(ds.Dispose)
	rng := query.Range{From: from, To: to}
	b.Logf("%d transactions over 30 days", len(txns))

	for _, src := range []query.Source{query.SourceRollup, query.SourceRaw} {
		// The same question both ways; the answers must agree before timing them.
		res, err := direct.CauseBreakdown(ctx, query.CausesQuery{Range: rng, Source: src})
		if err != nil {
			b.Fatal(err)
		}
		resp := g.query(b, q{RefID: "A", Type: "breakdown", Model: map[string]any{"source": string(src)}, From: from, To: to})
		if dr := resp.Responses["A"]; dr.Error != nil || dr.Frames[0].Meta.Custom.(map[string]any)["failures"] != float64(res.Failures) {
			b.Fatalf("%s: plugin and query layer disagree: %v %v vs %d", src, dr.Error, dr.Frames[0].Meta.Custom, res.Failures)
		}
		questions := []struct {
			typ    string
			model  map[string]any
			direct func() error
		}{
			{"breakdown", map[string]any{"source": string(src)}, func() error {
				_, err := direct.CauseBreakdown(ctx, query.CausesQuery{Range: rng, Source: src})
				return err
			}},
			{"trend", map[string]any{"source": string(src), "interval": "1h"}, func() error {
				_, err := direct.Trend(ctx, query.TrendQuery{Range: rng, Interval: model.Hour, Source: src})
				return err
			}},
		}
		for _, qs := range questions {
			// The three paths in the same loop, each first in turn, so that
			// all see the same machine (the 2 cores are shared): the medians
			// and the gRPC path's ratio to the direct one are reported.
			x := q{RefID: "A", Type: qs.typ, Model: qs.model, From: from, To: to}
			grpc := func() error { return viaGRPC(ctx, g, x) }
			inproc := inProcess(ctx, ds, x)
			b.Run(qs.typ+"/"+string(src), func(b *testing.B) {
				var dd, gd, pd []time.Duration
				timed := func(f func() error, into *[]time.Duration) {
					t0 := time.Now()
					if err := f(); err != nil {
						b.Fatal(err)
					}
					*into = append(*into, time.Since(t0))
				}
				paths := []func(){func() { timed(qs.direct, &dd) }, func() { timed(grpc, &gd) }, func() { timed(inproc, &pd) }}
				i := 0
				for b.Loop() {
					for k := range paths {
						paths[(i+k)%len(paths)]()
					}
					i++
				}
				md, mg, mp := median(dd), median(gd), median(pd)
				b.ReportMetric(float64(md.Microseconds())/1000, "direct-ms")
				b.ReportMetric(float64(mg.Microseconds())/1000, "grpc-ms")
				b.ReportMetric(float64(mp.Microseconds())/1000, "inproc-ms")
				b.ReportMetric(float64(mg)/float64(md), "grpc/direct")
			})
		}
	}
}

// inProcess asks ds, the plugin's handler in this process, x as Grafana
// would, and returns its error, if any.
func inProcess(ctx context.Context, ds *plugin.Datasource, x q) func() error {
	req := &backend.QueryDataRequest{Queries: []backend.DataQuery{x.dataQuery()}}
	return func() error {
		resp, err := ds.QueryData(ctx, req)
		if err != nil {
			return err
		}
		return resp.Responses[x.RefID].Error
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// viaGRPC asks the plugin one query and returns its error, if any.
func viaGRPC(ctx context.Context, g *grafana, x q) error {
	resp, err := g.queryErr(ctx, nil, x)
	if err != nil {
		return err
	}
	return resp.Responses[x.RefID].Error
}

// The plugin's fixed price of a request: QueryData over gRPC for a trend
// whose filters exclude each other, which the plugin answers with an empty
// frame without asking ClickHouse (request conversion both ways, the SDK's
// middleware, parsing, one frame encoded and decoded). The sub-benchmarks
// leave the plugin idle before each request, untimed, for as long as a
// panel's ClickHouse query keeps it waiting: on a virtual machine whose idle
// cores sleep, the price grows with the idle time, which is most of the
// process boundary a panel pays. docs/benchmarks.md ("Plugin") has the
// figures.
//
//	go test -run '^$' -bench PluginRoundTrip ./grafana-plugin/pkg/e2e/
func BenchmarkPluginRoundTrip(b *testing.B) {
	db := chtest.Migrated(b)
	g := launch(b, settingsFor(b, db), "")
	ctx := context.Background()
	to := time.Now().UTC()
	x := q{RefID: "A", Type: "trend", From: to.Add(-time.Hour), To: to, Model: map[string]any{
		"filters":      map[string]any{"gateway": []string{"gw-1"}},
		"adhocFilters": []map[string]any{{"key": "gateway", "operator": "=", "value": "gw-2"}},
	}}
	resp := g.query(b, x)
	if dr := resp.Responses["A"]; dr.Error != nil || len(dr.Frames) != 1 || dr.Frames[0].Rows() != 0 || len(dr.Frames[0].Meta.Notices) != 1 {
		b.Fatalf("want one empty frame with the notice that the filters exclude each other: %+v", dr)
	}
	for _, idle := range []time.Duration{0, 6 * time.Millisecond, 20 * time.Millisecond} {
		b.Run("idle="+idle.String(), func(b *testing.B) {
			for b.Loop() {
				if idle > 0 {
					b.StopTimer()
					time.Sleep(idle)
					b.StartTimer()
				}
				if err := viaGRPC(ctx, g, x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
