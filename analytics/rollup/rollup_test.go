package rollup_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var day0 = time.Date(2026, 9, 21, 0, 0, 0, 0, time.UTC)

func env(t *testing.T, db *chtest.DB) *jobs.Env {
	return &jobs.Env{Conn: db.Conn, Session: db.Session, DB: db.Name, QueryTimeout: time.Minute, Log: chtest.Logger(t)}
}

func load(t *testing.T, db *chtest.DB, cfg synth.Config) []synth.Txn {
	t.Helper()
	txns := synth.Generate(cfg)
	if err := synth.Insert(t.Context(), db.Conn, db.Name, synth.Rows(txns), time.Now()); err != nil {
		t.Fatal(err)
	}
	return txns
}

// cells reads rollup rows of one granularity and dimension, summed over
// outcomes, keyed like the ground truth.
func cells(t *testing.T, db *chtest.DB, g model.Granularity, dim string) map[synth.Key]synth.Cell {
	t.Helper()
	rows, err := db.Conn.Query(context.Background(), "SELECT toString(cause), value, currency, bucket, sum(transactions), sum(amount_minor) FROM rollups FINAL"+
		" WHERE granularity = ? AND dimension = ? GROUP BY cause, value, currency, bucket HAVING sum(transactions) > 0", uint32(g), dim)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[synth.Key]synth.Cell{}
	for rows.Next() {
		var k synth.Key
		var c synth.Cell
		if err := rows.Scan(&k.Cause, &k.Value, &k.Currency, &k.Bucket, &c.Transactions, &c.Amount); err != nil {
			t.Fatal(err)
		}
		k.Bucket = k.Bucket.UTC()
		out[k] = c
	}
	return out
}

func diff(t *testing.T, what string, got, want map[synth.Key]synth.Cell) {
	t.Helper()
	var bad []string
	for k, w := range want {
		if got[k] != w {
			bad = append(bad, fmt.Sprintf("%+v: got %+v want %+v", k, got[k], w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			bad = append(bad, fmt.Sprintf("%+v: got %+v, not in the truth", k, g))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		t.Errorf("%s: %d cells differ, e.g.\n%v", what, len(bad), bad[:min(8, len(bad))])
	}
	if len(want) == 0 {
		t.Errorf("%s: empty truth", what)
	}
}

// snapshot is every rollup row's values (not its version), to compare runs.
func snapshot(t *testing.T, db *chtest.DB) map[string]string {
	t.Helper()
	snap, err := synth.RollupSnapshot(context.Background(), db.Conn, db.Name)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestRollupsEqualGroundTruth(t *testing.T) {
	db := chtest.Migrated(t)
	cfg := synth.Config{Seed: 7, From: day0.Add(10 * time.Hour), To: day0.Add(16 * time.Hour), PerHour: 2000, USDShare: 0.1,
		Outages: []synth.Outage{{Gateway: "gw-2", From: day0.Add(12*time.Hour + 20*time.Minute), To: day0.Add(13 * time.Hour), FailRate: 0.7}}}
	txns := load(t, db, cfg)
	r := &jobs.Runner{Env: *env(t, db)}
	job := &rollup.Job{BackfillWindow: 4 * time.Hour}
	if _, err := r.Backfill(t.Context(), job, day0, day0.Add(24*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	from, to := day0, day0.Add(24*time.Hour)
	diff(t, "cause × gateway × hour", cells(t, db, model.Hour, "gateway"), synth.Truth(txns, "gateway", time.Hour, from, to))
	diff(t, "cause × 5 min", cells(t, db, model.FiveMinutes, model.All), synth.Truth(txns, "", 5*time.Minute, from, to))
	diff(t, "cause × terminal × hour", cells(t, db, model.Hour, "terminal"), synth.Truth(txns, "terminal", time.Hour, from, to))
	diff(t, "cause × region × day", cells(t, db, model.Day, "region"), synth.Truth(txns, "region", 24*time.Hour, from, to))
	for _, d := range model.Dimensions {
		diff(t, "cause × "+d.Name+" × day", cells(t, db, model.Day, d.Name), synth.Truth(txns, d.Name, 24*time.Hour, from, to))
	}
	// The outage shows: gateway failures at gw-2 from 12:00.
	if c := cells(t, db, model.Hour, "gateway")[synth.Key{Cause: string(domain.CauseGateway), Value: "gw-2", Currency: "CNY", Bucket: day0.Add(12 * time.Hour)}]; c.Transactions < 100 {
		t.Errorf("outage hour shows %d gateway failures", c.Transactions)
	}
	// Latency histograms count every transaction.
	if n := db.Count(t, "SELECT toUInt64(sum(arraySum(latency_hist))) FROM rollups FINAL WHERE granularity = 86400 AND dimension = 'all'"); n != uint64(len(txns)) {
		t.Errorf("histograms hold %d transactions, want %d", n, len(txns))
	}
	// … each in its bucket: gateway × hour histograms equal ones counted here.
	wantHist := map[string][]uint64{}
	for _, tx := range txns {
		k := tx.Gateway + " " + tx.Time.Truncate(time.Hour).Format(time.RFC3339)
		if wantHist[k] == nil {
			wantHist[k] = make([]uint64, model.HistBuckets)
		}
		wantHist[k][model.HistBucketOf(uint64(tx.LatencyNs/1e6))]++
	}
	rows, err := db.Conn.Query(t.Context(), "SELECT value, bucket, sumForEach(latency_hist) FROM rollups FINAL"+
		" WHERE granularity = 3600 AND dimension = 'gateway' AND transactions > 0 GROUP BY value, bucket")
	if err != nil {
		t.Fatal(err)
	}
	gotHist := map[string][]uint64{}
	for rows.Next() {
		var v string
		var b time.Time
		var h []uint64
		if err := rows.Scan(&v, &b, &h); err != nil {
			t.Fatal(err)
		}
		gotHist[v+" "+b.UTC().Format(time.RFC3339)] = h
	}
	rows.Close()
	if len(gotHist) != len(wantHist) {
		t.Errorf("%d gateway-hour histograms, want %d", len(gotHist), len(wantHist))
	}
	for k, w := range wantHist {
		if !slices.Equal(gotHist[k], w) {
			t.Errorf("histogram %s = %v, want %v", k, gotHist[k], w)
		}
	}

	// Running any window again changes nothing.
	before := snapshot(t, db)
	if _, err := r.Backfill(t.Context(), &rollup.Job{BackfillWindow: 24 * time.Hour}, day0.Add(11*time.Hour), day0.Add(13*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, db); !maps.Equal(before, after) {
		t.Errorf("re-running changed the rollups: %d rows before, %d after", len(before), len(after))
	}
}

// Late data: a settlement (new version) arrives for a pending sale; a key
// that loses its last transaction must drop to zero, not keep its old count.
func TestScheduledRunPicksUpLateData(t *testing.T) {
	db := chtest.Migrated(t)
	now := time.Now().UTC().Truncate(time.Second)
	cfg := synth.Config{Seed: 3, From: now.Add(-5 * time.Hour).Truncate(time.Hour), To: now.Add(-2 * time.Hour).Truncate(time.Hour), PerHour: 300, AsOf: now}
	// Assembled 3 h ago, the settlements 2 h ago, the moves now: each
	// scheduled run sees only what changed since the one before.
	txns := synth.Generate(cfg)
	if err := synth.Insert(t.Context(), db.Conn, db.Name, synth.Rows(txns), now.Add(-3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := &jobs.Runner{Env: *env(t, db)}
	job := &rollup.Job{}
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	from, to := cfg.From, cfg.To
	diff(t, "first run", cells(t, db, model.Hour, "gateway"), synth.Truth(txns, "gateway", time.Hour, from, to))

	// Every pending sale from the third hour on settles (the first two hours
	// are left alone for the moves below).
	var late []synth.Txn
	for i := range txns {
		if txns[i].Outcome == domain.OutcomePending && !txns[i].Time.Before(from.Add(2*time.Hour)) {
			txns[i].Outcome = domain.OutcomeSettled
			txns[i].Version += 100
			late = append(late, txns[i])
		}
	}
	if len(late) == 0 {
		t.Fatal("no pending transactions to settle")
	}
	if err := synth.Insert(t.Context(), db.Conn, db.Name, late, now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	diff(t, "after late settlements", cells(t, db, model.Hour, "gateway"), synth.Truth(txns, "gateway", time.Hour, from, to))
	if n := db.Count(t, "SELECT toUInt64(sum(transactions)) FROM rollups FINAL WHERE outcome = 'pending' AND granularity = 3600 AND bucket >= toDateTime(?)", from.Add(2*time.Hour).Unix()); n != 0 {
		t.Errorf("%d pending transactions left in the hour rollups", n)
	}

	// 30 declined sales of the first hour move to the next one (their root
	// span came late): the hour they left, where nothing else changed, must
	// lose them.
	var moved []synth.Txn
	for i := range txns {
		if len(moved) == 30 || txns[i].Outcome != domain.OutcomeDeclined || !txns[i].Time.Before(from.Add(time.Hour)) {
			continue
		}
		before := txns[i]
		before.Old = nil
		txns[i].Old = &before // its facts' hours include the one it leaves
		txns[i].Time = txns[i].Time.Add(time.Hour)
		txns[i].Version += 200
		moved = append(moved, txns[i])
	}
	if len(moved) < 5 {
		t.Fatalf("only %d declined sales in the first hour to move", len(moved))
	}
	if err := synth.Insert(t.Context(), db.Conn, db.Name, moved, now); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	diff(t, "after moves to the next hour", cells(t, db, model.Hour, "gateway"), synth.Truth(txns, "gateway", time.Hour, from, to))
	runs, err := jobs.Runs(t.Context(), env(t, db), rollup.Name, 10)
	if err != nil || len(runs) < 2 || runs[0].Status != jobs.StatusOK || runs[0].Watermark.IsZero() {
		t.Errorf("runs %+v, %v", runs, err)
	}
}

// Two schedulers running the same windows at the same time (idempotent
// writes, no lease) give the same rollups as one, equal to the truth.
func TestTwoSchedulersDoNotDoubleCount(t *testing.T) {
	db := chtest.Migrated(t)
	cfg := synth.Config{Seed: 11, From: day0.Add(6 * time.Hour), To: day0.Add(12 * time.Hour), PerHour: 1500}
	txns := load(t, db, cfg)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 2 {
		conn, err := chconn.Open(t.Context(), db.Settings) // each daemon has its own connection
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := env(t, db)
			e.Conn = conn
			e.Log = e.Log.With("daemon", i)
			r := &jobs.Runner{Env: *e, Host: fmt.Sprintf("daemon-%d", i)}
			for range 2 {
				if _, err := r.Backfill(context.Background(), &rollup.Job{BackfillWindow: 2 * time.Hour}, cfg.From, cfg.To, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	diff(t, "two daemons", cells(t, db, model.Hour, "gateway"), synth.Truth(txns, "gateway", time.Hour, cfg.From, cfg.To))
	diff(t, "two daemons, days", cells(t, db, model.Day, "merchant"), synth.Truth(txns, "merchant", 24*time.Hour, cfg.From, cfg.To))
	if n := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE status = 'ok'"); n != 2*2*3 {
		t.Errorf("%d ok window runs recorded, want 12", n)
	}
}

func TestPlanWindowsAndSplit(t *testing.T) {
	var hours []time.Time
	for i := range 5 {
		hours = append(hours, day0.Add(time.Duration(i*3)*time.Hour))
	}
	ws := rollup.PlanWindows(hours, 2)
	if len(ws) != 3 || len(ws[0].Parts) != 2 || !ws[0].From.Equal(day0) || !ws[0].To.Equal(day0.Add(4*time.Hour)) || len(ws[2].Parts) != 1 {
		t.Errorf("windows %v", ws)
	}
	j := &rollup.Job{BackfillWindow: 10 * time.Hour}
	sp := j.Split(day0.Add(30*time.Minute), day0.Add(25*time.Hour+10*time.Minute))
	if len(sp) != 3 || !sp[0].From.Equal(day0) || !sp[2].To.Equal(day0.Add(26*time.Hour)) {
		t.Errorf("split %v", sp)
	}
}

// Backfill windows of a day or more are whole days cut at midnight, so no
// two share a day (and may run at once); shorter windows are not cut there.
func TestSplitIntoWholeDays(t *testing.T) {
	from, to := day0.Add(6*time.Hour+30*time.Minute), day0.Add(3*24*time.Hour+4*time.Hour+10*time.Minute)
	for _, tc := range []struct {
		window     time.Duration
		want       []time.Duration // window starts, from day0
		concurrent bool
	}{
		{0, []time.Duration{6 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour}, true},
		{36 * time.Hour, []time.Duration{6 * time.Hour, 24 * time.Hour, 48 * time.Hour, 72 * time.Hour}, true},
		{48 * time.Hour, []time.Duration{6 * time.Hour, 48 * time.Hour}, true},
		{20 * time.Hour, []time.Duration{6 * time.Hour, 26 * time.Hour, 46 * time.Hour, 66 * time.Hour}, false},
	} {
		j := &rollup.Job{BackfillWindow: tc.window}
		ws := j.Split(from, to)
		var got []time.Duration
		for i, w := range ws {
			got = append(got, w.From.Sub(day0))
			if i > 0 && !w.From.Equal(ws[i-1].To) {
				t.Errorf("window %s: gap or overlap after %s", w, ws[i-1])
			}
		}
		if !slices.Equal(got, tc.want) || !ws[len(ws)-1].To.Equal(day0.Add(77*time.Hour)) {
			t.Errorf("BackfillWindow %s: windows %v", tc.window, ws)
		}
		if j.ConcurrentWindows() != tc.concurrent {
			t.Errorf("BackfillWindow %s: concurrent %v", tc.window, !tc.concurrent)
		}
	}
}

// Days backfilled several at once, from and to mid-day, give the ground
// truth in every granularity, the day rows of the partial days included.
func TestConcurrentBackfillEqualsGroundTruth(t *testing.T) {
	db := chtest.Migrated(t)
	from, to := day0.Add(6*time.Hour), day0.Add(3*24*time.Hour+5*time.Hour)
	txns := load(t, db, synth.Config{Seed: 31, From: from, To: to, PerHour: 150, USDShare: 0.2})
	r := &jobs.Runner{Env: *env(t, db), Parallel: 3}
	var mu sync.Mutex
	running, most := 0, 0
	job := &rollup.Job{BeforeHourRows: func() {
		// Counted between a window's 5-minute and hour rows: windows
		// overlapping there ran at once.
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
	}}
	if _, err := r.Backfill(t.Context(), job, from, to, nil); err != nil {
		t.Fatal(err)
	}
	if most < 2 {
		t.Errorf("at most %d windows ran at once with Parallel 3", most)
	}
	all := day0.Add(4 * 24 * time.Hour)
	diff(t, "cause × 5 min", cells(t, db, model.FiveMinutes, model.All), synth.Truth(txns, "", 5*time.Minute, day0, all))
	diff(t, "cause × terminal × hour", cells(t, db, model.Hour, "terminal"), synth.Truth(txns, "terminal", time.Hour, day0, all))
	diff(t, "cause × gateway × day", cells(t, db, model.Day, "gateway"), synth.Truth(txns, "gateway", 24*time.Hour, day0, all))
	diff(t, "cause × merchant × day", cells(t, db, model.Day, "merchant"), synth.Truth(txns, "merchant", 24*time.Hour, day0, all))
}

// The window staged in a session's temporary table (at once, or in groups
// of hours), read per dimension without one, and a session that refuses the
// temporary table (a user without DDL on 18.16) write the same rows.
func TestWindowTableOrNotTheSameRows(t *testing.T) {
	db := chtest.Migrated(t)
	load(t, db, synth.Config{Seed: 11, From: day0.Add(8 * time.Hour), To: day0.Add(11 * time.Hour), PerHour: 3000, USDShare: 0.2})
	// A quiet hour after them: staged with the hour before it, which holds
	// most of the rows and is halved by transaction id.
	load(t, db, synth.Config{Seed: 12, From: day0.Add(11 * time.Hour), To: day0.Add(12 * time.Hour), PerHour: 300, USDShare: 0.2})
	refused := 0
	sessions := map[string]func(context.Context) (driver.Conn, error){
		"staged":     db.Session,
		"no session": nil,
		"refused": func(ctx context.Context) (driver.Conn, error) {
			refused++
			conn, err := db.Session(ctx)
			if err == nil {
				err = conn.Exec(ctx, "SET allow_ddl = 0")
			}
			return conn, err
		},
	}
	var first map[string]string
	for _, name := range []string{"staged", "no session", "refused", "staged in groups of hours", "staged with a dominant hour", "staged"} {
		e := env(t, db)
		e.Session = sessions[name]
		job := &rollup.Job{}
		switch name {
		case "staged in groups of hours":
			// 3000 transactions per hour: every hour is staged on its own.
			e.Session, job.StageRows = db.Session, 2000
		case "staged with a dominant hour":
			// Groups [8h], [9h], [10h, 11h]: 10h holds most of the last.
			e.Session, job.StageRows = db.Session, 3500
		}
		r := &jobs.Runner{Env: *e}
		if _, err := r.Backfill(t.Context(), job, day0, day0.Add(24*time.Hour), nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		snap := snapshot(t, db)
		if first == nil {
			first = snap
			if len(snap) < 1000 {
				t.Fatalf("%d rollup rows", len(snap))
			}
			continue
		}
		if !maps.Equal(snap, first) {
			t.Errorf("%s: %d rows differ from the staged run's %d", name, len(snap), len(first))
		}
	}
	if refused == 0 {
		t.Error("the refusing session was never opened")
	}
}

// Scheduled runs leave a running day's day rows alone (the query layer reads
// day rows only for ended days) and derive an ended day's rows whenever its
// hour rows are newer than them, even from a run with nothing new to roll up.
func TestDayRowsWaitForTheDayToEnd(t *testing.T) {
	db := chtest.Migrated(t)
	var serverNow time.Time
	if err := db.Conn.QueryRow(t.Context(), "SELECT now()").Scan(&serverNow); err != nil {
		t.Fatal(err)
	}
	today := model.Day.Truncate(serverNow.UTC())
	// The first hour of today (whatever the time of day), and
	// two hours of an ended day.
	cur := synth.Config{Seed: 31, From: today, To: today.Add(time.Hour), PerHour: 600}
	past := synth.Config{Seed: 32, From: day0.Add(9 * time.Hour), To: day0.Add(11 * time.Hour), PerHour: 600}
	curTxns := load(t, db, cur)
	// The ended day's transactions were assembled days ago: the second run
	// below re-rolls today's hours only.
	pastTxns := synth.Generate(past)
	if err := synth.Insert(t.Context(), db.Conn, db.Name, synth.Rows(pastTxns), serverNow.Add(-72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := &jobs.Runner{Env: *env(t, db)}
	job := &rollup.Job{MaxLateness: 400 * 24 * time.Hour, InitialLookback: 400 * 24 * time.Hour}
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	dayRows := func(day time.Time) uint64 {
		return db.Count(t, "SELECT toUInt64(sum(transactions)) FROM rollups FINAL WHERE granularity = 86400 AND dimension = 'all' AND bucket = toDateTime(?)", day.Unix())
	}
	if n := db.Count(t, "SELECT toUInt64(sum(transactions)) FROM rollups FINAL WHERE granularity = 3600 AND dimension = 'all' AND bucket >= toDateTime(?)", today.Unix()); n != uint64(len(curTxns)) || n == 0 {
		t.Errorf("today's hour rows hold %d transactions, want %d", n, len(curTxns))
	}
	if n := dayRows(today); n != 0 {
		t.Errorf("today's day rows were derived while it runs (%d transactions)", n)
	}
	if n := dayRows(day0); n != uint64(len(pastTxns)) {
		t.Errorf("the ended day's rows hold %d transactions, want %d", n, len(pastTxns))
	}
	// Hour rows newer than the day rows (as a run killed between the two
	// would leave them): 5 more transactions in one hour of the ended day.
	db.Exec(t, "INSERT INTO rollups (granularity, dimension, bucket, value, outcome, cause, currency, transactions, amount_minor, latency_sum_ms, latency_hist, version, computed_at)"+
		" SELECT granularity, dimension, bucket, value, outcome, cause, currency, transactions + 5, amount_minor, latency_sum_ms, latency_hist, version + 1, now() + 1"+
		" FROM rollups FINAL WHERE granularity = 3600 AND dimension = 'all' AND bucket = toDateTime(?) AND outcome = 'settled' AND currency = 'CNY'", day0.Add(9*time.Hour).Unix())
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	if n := dayRows(day0); n != uint64(len(pastTxns))+5 {
		t.Errorf("after newer hour rows, the ended day's rows hold %d transactions, want %d", n, len(pastTxns)+5)
	}
	if n := dayRows(today); n != 0 {
		t.Errorf("today's day rows were derived while it runs (%d transactions)", n)
	}
}

// Step 1 over the window table hands the server each branch's rows sorted
// by the rollups table's key, so that the server writes them without sorting
// them again (sortedBlocks): every block it wrote for step 1 it found sorted.
// Without the window table, step 1 keeps the server's defaults: one block of
// all its rows, sorted by the server.
func TestStepOneWritesSortedBlocks(t *testing.T) {
	db := chtest.Migrated(t)
	load(t, db, synth.Config{Seed: 21, From: day0.Add(8 * time.Hour), To: day0.Add(10 * time.Hour), PerHour: 3000, USDShare: 0.2})
	for _, staged := range []bool{true, false} {
		e := env(t, db)
		if !staged {
			e.Session = nil
		}
		r := &jobs.Runner{Env: *e}
		if _, err := r.Backfill(t.Context(), &rollup.Job{}, day0.Add(8*time.Hour), day0.Add(10*time.Hour), nil); err != nil {
			t.Fatal(err)
		}
	}
	db.Exec(t, "SYSTEM FLUSH LOGS")
	// Step 1 is the only query that collects latency buckets; the database's
	// name keeps other tests' runs out.
	rows, err := db.Conn.Query(t.Context(), "SELECT position(query, 'rollup_window') > 0,"+
		" arrayElement(ProfileEvents.Values, indexOf(ProfileEvents.Names, 'MergeTreeDataWriterBlocks')),"+
		" arrayElement(ProfileEvents.Values, indexOf(ProfileEvents.Names, 'MergeTreeDataWriterBlocksAlreadySorted'))"+
		" FROM system.query_log WHERE type = 2 AND position(query, 'groupArray(lb) AS lbs') > 0 AND position(query, ?) > 0"+
		" AND position(query, 'system.query_log') = 0", "`"+db.Name+"`.`rollups`")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[bool]bool{}
	for rows.Next() {
		var staged bool
		var blocks, sorted uint64
		if err := rows.Scan(&staged, &blocks, &sorted); err != nil {
			t.Fatal(err)
		}
		seen[staged] = true
		// Staged: one block per branch at least, the total and ten dimensions.
		if staged && (blocks < uint64(len(model.Dimensions)+1) || sorted != blocks) {
			t.Errorf("staged: step 1 wrote %d blocks, %d of them already sorted; want every one of at least %d",
				blocks, sorted, len(model.Dimensions)+1)
		}
		if !staged && (blocks != 1 || sorted != 0) {
			t.Errorf("unstaged: step 1 wrote %d blocks, %d of them already sorted; want one, sorted by the server", blocks, sorted)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !seen[true] || !seen[false] {
		t.Fatalf("system.query_log holds step 1 of staged=%v and unstaged=%v: is log_queries on?", seen[true], seen[false])
	}
}
