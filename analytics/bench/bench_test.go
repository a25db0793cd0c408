package bench

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// perHour is the background traffic of the 30-day data set
// (SETTLEWATCH_BENCH_PER_HOUR, default 5000: 3.6M transactions).
func perHour() int {
	if n, err := strconv.Atoi(os.Getenv("SETTLEWATCH_BENCH_PER_HOUR")); err == nil && n > 0 {
		return n
	}
	return 5000
}

var month0 = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

func insert(b *testing.B, db *chtest.DB, cfg synth.Config) int {
	b.Helper()
	start := time.Now()
	txns := synth.Generate(cfg)
	rows := synth.Rows(txns)
	if err := synth.Insert(context.Background(), db.Conn, db.Name, rows, time.Now()); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d rows (%d transactions) in %s", len(rows), len(txns), time.Since(start).Round(time.Millisecond))
	return len(txns)
}

func runner(db *chtest.DB) *jobs.Runner {
	return &jobs.Runner{Env: jobs.Env{Conn: db.Conn, DB: db.Name, QueryTimeout: 30 * time.Minute}}
}

// BenchmarkHourlyRollup1M: one hour holding 1M transactions, alone in its table.
func BenchmarkHourlyRollup1M(b *testing.B) {
	db := chtest.Migrated(b)
	hour := month0.Add(14 * time.Hour)
	insert(b, db, synth.Config{Seed: 1, From: hour, To: hour.Add(time.Hour), PerHour: 1_000_000, Terminals: 20000, Merchants: 3000, USDShare: 0.1})
	r := runner(db)
	b.ResetTimer()
	for range b.N {
		rows, err := r.Backfill(context.Background(), &rollup.Job{}, hour, hour.Add(time.Hour), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rows), "rollup_rows")
	}
}

// BenchmarkMonth: 30 days of traffic plus one hour of 1M transactions in
// the same month; the backfill, the hourly rollup of that hour amid the
// month, and causes over the 30 days from rollups and from raw rows.
func BenchmarkMonth(b *testing.B) {
	db := chtest.Migrated(b)
	from, to := month0, month0.Add(30*24*time.Hour)
	n := insert(b, db, synth.Config{Seed: 2, From: from, To: to, PerHour: perHour(), Terminals: 20000, Merchants: 3000, USDShare: 0.1,
		Outages: []synth.Outage{{Gateway: "gw-2", From: from.Add(200 * time.Hour), To: from.Add(202 * time.Hour), FailRate: 0.6}}})
	busy := month0.Add(20*24*time.Hour + 14*time.Hour)
	n += insert(b, db, synth.Config{Seed: 3, From: busy, To: busy.Add(time.Hour), PerHour: 1_000_000, Terminals: 20000, Merchants: 3000, USDShare: 0.1})
	b.Logf("%d transactions in the month", n)
	r := runner(db)
	q := &query.Querier{Conn: db.Conn, DB: db.Name, Timeout: 10 * time.Minute, MaxRows: 100000}
	ctx := context.Background()
	b.Run("backfill_30d", func(b *testing.B) {
		for range b.N {
			rows, err := r.Backfill(ctx, &rollup.Job{}, from, to, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(rows), "rollup_rows")
		}
	})
	b.Run("rollup_hour_1M_in_month", func(b *testing.B) {
		for range b.N {
			if _, err := r.Backfill(ctx, &rollup.Job{}, busy, busy.Add(time.Hour), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	all := query.Range{From: from, To: to}
	// The dashboard panels, each asked 15 times from rollups and from raw
	// rows, alternating so that both see the same machine.
	b.Run("panels_p95", func(b *testing.B) {
		panels := []struct {
			name string
			ask  func(src query.Source) error
		}{
			{"causes", func(src query.Source) error {
				_, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: all, Source: src})
				return err
			}},
			{"causes_by_gateway", func(src query.Source) error {
				_, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: all, By: "gateway", Source: src})
				return err
			}},
			{"trend_hourly", func(src query.Source) error {
				_, err := q.Trend(ctx, query.TrendQuery{Range: all, Interval: model.Hour, Source: src})
				return err
			}},
		}
		for range b.N {
			for _, p := range panels {
				took := map[query.Source][]time.Duration{}
				for i := range 30 {
					src := []query.Source{query.SourceRollup, query.SourceRaw}[i%2]
					s := time.Now()
					if err := p.ask(src); err != nil {
						b.Fatalf("%s from %s: %v", p.name, src, err)
					}
					took[src] = append(took[src], time.Since(s))
				}
				for src, d := range took {
					slices.Sort(d)
					b.ReportMetric(ms(d[len(d)*95/100]), p.name+"_"+string(src)+"_p95_ms")
				}
				rollup, raw := took[query.SourceRollup], took[query.SourceRaw]
				b.ReportMetric(float64(raw[len(raw)/2])/float64(rollup[len(rollup)/2]), p.name+"_raw/rollup_median")
			}
		}
	})
	for _, tc := range []struct {
		name string
		cq   query.CausesQuery
	}{
		{"causes_30d", query.CausesQuery{Range: all}},
		{"causes_30d_by_gateway", query.CausesQuery{Range: all, By: "gateway"}},
		{"causes_30d_by_terminal", query.CausesQuery{Range: all, By: "terminal"}},
	} {
		for _, src := range []query.Source{query.SourceRollup, query.SourceRaw} {
			b.Run(tc.name+"_"+string(src), func(b *testing.B) {
				cq := tc.cq
				cq.Source = src
				for range b.N {
					res, err := q.CauseBreakdown(ctx, cq)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(res.Failures), "failures")
				}
			})
		}
	}
}
