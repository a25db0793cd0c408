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
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
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
	return insertInto(b, db, db.Name, cfg)
}

func insertInto(b *testing.B, db *chtest.DB, name string, cfg synth.Config) int {
	b.Helper()
	start := time.Now()
	txns := synth.Generate(cfg)
	rows := synth.Rows(txns)
	if err := synth.Insert(context.Background(), db.Conn, name, rows, time.Now()); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d rows (%d transactions) in %s", len(rows), len(txns), time.Since(start).Round(time.Millisecond))
	return len(txns)
}

// keptDB returns the database named by the environment variable env, kept
// after the run: migrated, and filled by generate when it lacks table; the
// next runs reuse its rows (drop it by hand). Without env, db's own.
func keptDB(b *testing.B, db *chtest.DB, env, table string, generate func(name string)) string {
	b.Helper()
	keep := os.Getenv(env)
	if keep == "" {
		generate(db.Name)
		return db.Name
	}
	kept := db.Count(b, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", keep, table) > 0
	ctx := context.Background()
	v, err := chconn.ServerVersion(ctx, db.Conn)
	if err != nil {
		b.Fatal(err)
	}
	// A set kept from an older schema is migrated, as users' databases are.
	applied, err := chschema.Migrate(ctx, db.Conn, keep, chschema.DialectFor(v, ""), nil)
	if err != nil {
		b.Fatal(err)
	}
	if kept && len(applied) > 0 {
		b.Logf("database %s: migrations %v applied", keep, applied)
	}
	if !kept {
		generate(keep)
	}
	return keep
}

// BenchmarkHourlyRollup1M: one hour holding 1M transactions, alone in its table.
func BenchmarkHourlyRollup1M(b *testing.B) {
	db := chtest.Migrated(b)
	hour := month0.Add(14 * time.Hour)
	// SETTLEWATCH_BENCH_ROLLUP_DB keeps the set for profiling the job's
	// queries by hand.
	name := keptDB(b, db, "SETTLEWATCH_BENCH_ROLLUP_DB", "transactions_by_time", func(name string) {
		insertInto(b, db, name, synth.Config{Seed: 1, From: hour, To: hour.Add(time.Hour), PerHour: 1_000_000, Terminals: 20000, Merchants: 3000, USDShare: 0.1})
	})
	r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, Session: db.Session, DB: name, QueryTimeout: 30 * time.Minute}}
	b.ResetTimer()
	for range b.N {
		rows, err := r.Backfill(context.Background(), &rollup.Job{}, hour, hour.Add(time.Hour), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rows), "rollup_rows")
	}
}

// BenchmarkScheduledHour1M: the daemon's case, a scheduled run over an hour
// of 1M transactions of the running day (the first hour of today on the
// server's clock): 5-minute and hour rows; the day rows wait for the day
// to end. The run starts right after the hour was inserted, in ten blocks,
// while ClickHouse is still merging them: the worst case.
func BenchmarkScheduledHour1M(b *testing.B) { scheduledHour(b, false) }

// BenchmarkScheduledHour1MSettled: the same run once ClickHouse has no merge
// left to do in the database, close to the daemon's usual run: an hour's
// transactions arrive through the hour and the daemon rolls up changed hours
// every 5 minutes, so by the run that covers the whole hour most of its rows
// sit in merged parts. The parts of the hour's time-ordered rows are
// reported (parts).
func BenchmarkScheduledHour1MSettled(b *testing.B) { scheduledHour(b, true) }

func scheduledHour(b *testing.B, settled bool) {
	db := chtest.Migrated(b)
	var now time.Time
	if err := db.Conn.QueryRow(context.Background(), "SELECT now()").Scan(&now); err != nil {
		b.Fatal(err)
	}
	hour := now.UTC().Truncate(24 * time.Hour)
	insert(b, db, synth.Config{Seed: 1, From: hour, To: hour.Add(time.Hour), PerHour: 1_000_000, Terminals: 20000, Merchants: 3000, USDShare: 0.1})
	var parts uint64
	if settled {
		waitMerges(b, db)
		parts = db.Count(b, "SELECT count() FROM system.parts WHERE active AND database = ? AND table = ?", db.Name, chschema.TransactionsByTime.Name)
	}
	r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, Session: db.Session, DB: db.Name, QueryTimeout: 30 * time.Minute}}
	b.ResetTimer()
	for range b.N {
		rows, err := r.RunScheduled(context.Background(), &rollup.Job{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rows), "rollup_rows")
	}
	b.StopTimer()
	if settled {
		b.ReportMetric(float64(parts), "parts")
	}
	if n := db.Count(b, "SELECT count() FROM rollups WHERE granularity = 86400"); n != 0 {
		b.Errorf("%d day rows for the running day", n)
	}
}

// waitMerges waits until the server has run no merge in db's tables for a
// second (it decides by itself which parts to merge; nothing is forced).
func waitMerges(b *testing.B, db *chtest.DB) {
	b.Helper()
	waited, err := chschema.WaitMerges(b.Context(), db.Conn, chschema.Merges{Database: db.Name}, time.Second, 10*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("merges done in %s", waited.Round(100*time.Millisecond))
}

// BenchmarkMonth: 30 days of traffic plus one hour of 1M transactions in
// the same month; the backfill, the hourly rollup of that hour amid the
// month, and causes over the 30 days from rollups and from raw rows.
//
// With SETTLEWATCH_BENCH_MONTH_DB, the month is instead
// SETTLEWATCH_BENCH_MONTH_TXNS (default 100M) transactions generated by the
// server into that database, kept after the run (generateMonth), without
// the 1M hour.
func BenchmarkMonth(b *testing.B) {
	db := chtest.Migrated(b)
	from, to := month0, month0.Add(30*24*time.Hour)
	var busy time.Time
	name := keptDB(b, db, "SETTLEWATCH_BENCH_MONTH_DB", "transactions_by_time", func(name string) {
		if name != db.Name {
			generateMonth(b, db, name, monthTxns())
			return
		}
		n := insert(b, db, synth.Config{Seed: 2, From: from, To: to, PerHour: perHour(), Terminals: 20000, Merchants: 3000, USDShare: 0.1,
			Outages: []synth.Outage{{Gateway: "gw-2", From: from.Add(200 * time.Hour), To: from.Add(202 * time.Hour), FailRate: 0.6}}})
		busy = month0.Add(20*24*time.Hour + 14*time.Hour)
		n += insert(b, db, synth.Config{Seed: 3, From: busy, To: busy.Add(time.Hour), PerHour: 1_000_000, Terminals: 20000, Merchants: 3000, USDShare: 0.1})
		b.Logf("%d transactions in the month", n)
	})
	b.Logf("database %s: %d transaction rows at their own hours", name, db.Count(b, "SELECT countIf(deleted = 0) FROM `"+name+"`.transactions_by_time"))
	r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, Session: db.Session, DB: name, QueryTimeout: 30 * time.Minute}, Parallel: backfillParallel()}
	q := &query.Querier{Conn: db.Conn, DB: name, Timeout: 10 * time.Minute, MaxRows: 100000}
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
	if !busy.IsZero() {
		b.Run("rollup_hour_1M_in_month", func(b *testing.B) {
			for range b.N {
				if _, err := r.Backfill(ctx, &rollup.Job{}, busy, busy.Add(time.Hour), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	all := query.Range{From: from, To: to}
	// The dashboard panels, each asked panelReps times from rollups and
	// from raw rows, alternating so that both see the same machine.
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
				for i := range 2 * panelReps() {
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
		// Both sources give the same answer.
		var failures [2]uint64
		for i, src := range []query.Source{query.SourceRollup, query.SourceRaw} {
			res, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: all, By: "gateway", Source: src})
			if err != nil {
				b.Fatal(err)
			}
			failures[i] = res.Failures
		}
		if failures[0] != failures[1] || failures[0] == 0 {
			b.Errorf("failures over 30 days: %d from rollups, %d from raw rows", failures[0], failures[1])
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
