package scheduler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/analytics/timeouts"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

// rename gives generated transactions (and their older versions) ids of
// their own: every generation numbers them from 1.
func rename(txns []synth.Txn, prefix string) []synth.Txn {
	for i := range txns {
		txns[i].ID = prefix + txns[i].ID[1:]
		if txns[i].Old != nil {
			old := *txns[i].Old
			old.ID = txns[i].ID
			txns[i].Old = &old
		}
	}
	return txns
}

// world is one database with the daemon's jobs (default config) run by a
// runner whose clock the test sets.
type world struct {
	db    *chtest.DB
	r     *jobs.Runner
	clock time.Time
	jobs  []jobs.Job
}

func newWorld(t *testing.T, name string) *world {
	t.Helper()
	w := &world{db: chtest.Migrated(t)}
	w.r = &jobs.Runner{Env: jobs.Env{Conn: w.db.Conn, Session: w.db.Session, DB: w.db.Name, QueryTimeout: time.Minute, Log: chtest.Logger(t).With("world", name),
		Now: func() time.Time { return w.clock }}, Host: name}
	entries, err := DefaultConfig().Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		w.jobs = append(w.jobs, e.Job)
	}
	return w
}

// insert stores transactions (latest and older versions) assembled at at,
// and their facts when facts is set.
func (w *world) insert(t *testing.T, txns []synth.Txn, at time.Time, facts bool) {
	t.Helper()
	if err := synth.Insert(t.Context(), w.db.Conn, w.db.Name, synth.Rows(txns), at); err != nil {
		t.Fatal(err)
	}
	if facts {
		if err := synth.InsertFacts(t.Context(), w.db.Conn, w.db.Name, txns); err != nil {
			t.Fatal(err)
		}
	}
}

// tick runs one scheduled run of every job, in the daemon's order, at clock.
func (w *world) tick(t *testing.T, clock time.Time) {
	t.Helper()
	w.clock = clock
	for _, j := range w.jobs {
		if _, err := w.r.RunScheduled(t.Context(), j); err != nil {
			t.Fatalf("%s at %s: %v", j.Name(), clock, err)
		}
	}
}

// rows reads a query of two String columns (key, values) into a map.
func rows(t *testing.T, db *chtest.DB, q string, args ...any) map[string]string {
	t.Helper()
	rs, err := db.Conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]string{}
	for rs.Next() {
		var k, v string
		if err := rs.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[k]; dup {
			t.Fatalf("duplicate key %s in %s", k, q)
		}
		out[k] = v
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameRows compares two snapshots of one table, and that they hold something.
func sameRows(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		t.Errorf("%s: the clean run has no rows", what)
	}
	var bad []string
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			bad = append(bad, fmt.Sprintf("%s: got %q want %q", k, got[k], v))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			bad = append(bad, fmt.Sprintf("%s: got %q, not in the clean run", k, g))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		t.Errorf("%s: %d of %d rows differ from the clean run, e.g.\n%s", what, len(bad), len(want), strings.Join(bad[:min(6, len(bad))], "\n"))
	}
}

// The snapshots compared: every value column (versions too where they come
// from the data).
var (
	qRollups = "SELECT concat(toString(granularity), '|', dimension, '|', toString(bucket), '|', value, '|', toString(outcome), '|', toString(cause), '|', currency)," +
		" concat(toString(transactions), '|', toString(amount_minor), '|', toString(latency_sum_ms), '|', toString(latency_hist)) FROM rollups FINAL WHERE transactions > 0"
	qIncidents = "SELECT incident_id, concat(toString(status), '|', toString(cause), '|', dimension, '|', value, '|', toString(started), '|', toString(ended), '|', kind, '|'," +
		" toString(severity), '|', toString(score), '|', toString(peak_rate), '|', toString(failures), '|', toString(transactions), '|', summary, '|', toString(evaluated_to), '|', toString(version)) FROM incidents FINAL"
	qLatency = "SELECT concat(toString(bucket), '|', gateway_id), concat(toString(requests), '|', toString(timeouts), '|', toString(latency_hist)) FROM auth_latency FINAL WHERE requests > 0"
	qAdvice  = "SELECT concat(toString(day), '|', gateway_id), concat(toString(requests), '|', toString(observed_timeouts), '|', toString(p99_ms), '|', toString(would_timeout), '|'," +
		" toString(recommended_ms), '|', summary) FROM timeout_advice FINAL"
	qTxns  = "SELECT txn_id, concat(toString(outcome), '|', toString(cause), '|', toString(version), '|', toString(amount_minor), '|', toString(txn_time)) FROM " + chtest.Txns
	qAging = "SELECT concat(dimension, '|', value, '|', toString(cause), '|', age_bucket, '|', currency), concat(toString(transactions), '|', toString(amount_minor))" +
		" FROM unsettled_aging FINAL WHERE as_of = toDateTime(?) AND transactions > 0"
	// qTruth counts the final transactions per hour, cause and currency:
	// what the hour rows of the total must say.
	qTruth = "SELECT concat(toString(toStartOfHour(txn_time)), '|', toString(cause), '|', currency), concat(toString(count()), '|', toString(sum(amount_minor)))" +
		" FROM " + chtest.Txns + " GROUP BY toStartOfHour(txn_time), cause, currency"
	qHourAll = "SELECT concat(toString(bucket), '|', toString(cause), '|', currency), concat(toString(sum(transactions)), '|', toString(sum(amount_minor)))" +
		" FROM rollups FINAL WHERE granularity = 3600 AND dimension = 'all' GROUP BY bucket, cause, currency HAVING sum(transactions) > 0"
)

// The daemon's clock jumps forward 3 h, then steps back 2 h behind the true
// time, then a day behind, then is right again, while data (with late
// changes) keeps arriving stamped by the collectors' correct clocks. Every
// table the jobs write ends up as in a clean run over the same data whose
// clock was right all along: rollups (and equal to the transactions),
// incidents (an outage opens and closes one), timeout histograms and
// advice, the outcomes the sweep set, and the final aging snapshot; no run
// declared a sale unsettled before the data reached its deadline.
func TestClockJumpsGiveTheResultsOfACleanRun(t *testing.T) {
	tue := time.Date(2026, 9, 22, 0, 0, 0, 0, time.UTC) // a Tuesday
	clean, jumped := newWorld(t, "clean"), newWorld(t, "jumped")
	worlds := []*world{clean, jumped}
	outage := synth.Outage{Gateway: "gw-2", From: tue.Add(9*time.Hour + 32*time.Minute), To: tue.Add(10*time.Hour + 40*time.Minute), FailRate: 0.8}

	// Set-up, the same in both: three previous Tuesdays of traffic rolled
	// up (the incidents' baseline), and Sunday night's sales, pending, with
	// their facts: the sweep finds them overdue during the day.
	var history []synth.Txn
	for w := 3; w >= 1; w-- {
		shift := -time.Duration(w) * 7 * 24 * time.Hour
		week := synth.Generate(synth.Config{Seed: uint64(40 + w), From: tue.Add(6*time.Hour + shift), To: tue.Add(12*time.Hour + shift), PerHour: 800})
		history = append(history, rename(week, fmt.Sprintf("H%d", w))...)
	}
	sunday := rename(synth.Generate(synth.Config{Seed: 50, From: tue.Add(-26 * time.Hour), To: tue.Add(-24 * time.Hour), PerHour: 300, AsOf: tue.Add(-24 * time.Hour)}), "Y")
	pending := 0
	for _, x := range sunday {
		if x.Outcome == domain.OutcomePending {
			pending++
		}
	}
	if pending < 100 {
		t.Fatalf("only %d pending sales on Sunday night", pending)
	}
	for _, w := range worlds {
		w.insert(t, history, tue.Add(-6*24*time.Hour), false)
		w.insert(t, sunday, tue.Add(-24*time.Hour), true)
		for wk := 3; wk >= 1; wk-- {
			shift := -time.Duration(wk) * 7 * 24 * time.Hour
			if _, err := w.r.Backfill(t.Context(), &rollup.Job{}, tue.Add(6*time.Hour+shift), tue.Add(12*time.Hour+shift), nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.r.Backfill(t.Context(), &timeouts.Job{}, tue.Add(-2*24*time.Hour), tue, nil); err != nil {
			t.Fatal(err)
		}
	}

	// Tuesday: traffic in half-hour batches with the outage at gw-2, stored
	// by the collectors (correct clocks) 5 minutes after each batch ends.
	today := rename(synth.Generate(synth.Config{Seed: 60, From: tue.Add(6 * time.Hour), To: tue.Add(12 * time.Hour), PerHour: 800, AsOf: tue.Add(12 * time.Hour),
		Outages: []synth.Outage{outage}}), "T")
	batch := func(from, to time.Time) []synth.Txn {
		var out []synth.Txn
		for _, x := range today {
			if !x.Time.Before(from) && x.Time.Before(to) {
				out = append(out, x)
			}
		}
		return out
	}
	// Late changes: the pending sales of 06:00–07:00 settle; late
	// transactions of 09:00–10:00 arrive with their facts.
	var settled []synth.Txn
	for _, x := range batch(tue.Add(6*time.Hour), tue.Add(7*time.Hour)) {
		if x.Outcome == domain.OutcomePending {
			x.Outcome, x.Version, x.Old = domain.OutcomeSettled, x.Version+100, nil
			settled = append(settled, x)
		}
	}
	late := rename(synth.Generate(synth.Config{Seed: 61, From: tue.Add(9 * time.Hour), To: tue.Add(10 * time.Hour), PerHour: 200, AsOf: tue.Add(12 * time.Hour),
		SlowGateways: map[string]bool{"gw-3": true}}), "L")
	if len(settled) == 0 || len(late) == 0 {
		t.Fatalf("%d settled, %d late transactions", len(settled), len(late))
	}

	h := func(hh, mm int) time.Time {
		return tue.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	steps := []struct {
		name   string
		at     time.Time // the true time (the data's)
		offset time.Duration
		data   []synth.Txn
	}{
		{"clock right", h(7, 5), 0, batch(h(6, 0), h(7, 0))},
		{"clock right", h(10, 5), 0, batch(h(7, 0), h(10, 0))},
		{"clock 3 h ahead", h(10, 35), 3 * time.Hour, batch(h(10, 0), h(10, 30))},
		{"clock 2 h behind", h(11, 5), -2 * time.Hour, append(batch(h(10, 30), h(11, 0)), settled...)},
		{"clock a day behind", h(11, 35), -24 * time.Hour, append(batch(h(11, 0), h(11, 30)), late...)},
		{"clock right again", h(12, 5), 0, batch(h(11, 30), h(12, 0))},
		{"no new data", h(12, 10), 0, nil},
	}
	for _, s := range steps {
		for _, w := range worlds {
			if len(s.data) > 0 {
				w.insert(t, s.data, s.at, true)
			}
		}
		clean.tick(t, s.at)
		jumped.tick(t, s.at.Add(s.offset))
		// No run may declare a sale unsettled before its deadline by the data.
		if n := jumped.db.Count(t, "SELECT count() FROM "+chtest.Txns+" WHERE outcome = 'unsettled' AND txn_time > toDateTime(?)",
			s.at.Add(-domain.DefaultSettlementWindow).Unix()); n != 0 {
			t.Errorf("%s: %d sales unsettled before their settlement window passed", s.name, n)
		}
	}

	// The clean run did what the scenario is about.
	if n := clean.db.Count(t, "SELECT count() FROM "+chtest.Txns+" WHERE outcome = 'unsettled'"); n < uint64(pending)/2 {
		t.Errorf("the clean run left %d of %d Sunday sales unsettled", n, pending)
	}
	if n := clean.db.Count(t, "SELECT count() FROM incidents FINAL WHERE cause = 'gateway' AND status = 'closed'"); n == 0 {
		t.Error("the outage opened and closed no incident in the clean run")
	}
	for _, w := range worlds {
		sameRows(t, w.r.Host+": hour rollups vs the transactions", rows(t, w.db, qHourAll), rows(t, w.db, qTruth))
	}
	sameRows(t, "rollups", rows(t, jumped.db, qRollups), rows(t, clean.db, qRollups))
	sameRows(t, "incidents", rows(t, jumped.db, qIncidents), rows(t, clean.db, qIncidents))
	sameRows(t, "auth_latency", rows(t, jumped.db, qLatency), rows(t, clean.db, qLatency))
	sameRows(t, "timeout_advice", rows(t, jumped.db, qAdvice), rows(t, clean.db, qAdvice))
	sameRows(t, "transactions", rows(t, jumped.db, qTxns), rows(t, clean.db, qTxns))
	// The last cut-off is the data's time (12:05), not the clock's.
	last := h(12, 5)
	sameRows(t, "unsettled_aging at the last cut-off", rows(t, jumped.db, qAging, last.Unix()), rows(t, clean.db, qAging, last.Unix()))
	// No snapshot was taken past the data (the clock 3 h ahead).
	if n := jumped.db.Count(t, "SELECT count() FROM unsettled_aging WHERE as_of > toDateTime(?)", last.Unix()); n != 0 {
		t.Errorf("%d aging rows with a cut-off past the data", n)
	}
}
