package rollup_test

import (
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

// settlePending settles every pending sale (a newer version) and returns them.
func settlePending(txns []synth.Txn) []synth.Txn {
	var late []synth.Txn
	for i := range txns {
		if txns[i].Outcome == domain.OutcomePending {
			txns[i].Outcome = domain.OutcomeSettled
			txns[i].Version += 100
			txns[i].Old = nil
			late = append(late, txns[i])
		}
	}
	return late
}

// Rows written by a daemon whose clock was a day ahead (or by this one
// before its clock stepped back a day) carry versions a day ahead. A re-run
// after late data must still replace them, and zero the keys that lost
// their transactions, not lose to them.
func TestRerunReplacesRowsWrittenUnderAClockAhead(t *testing.T) {
	db := chtest.Migrated(t)
	cfg := synth.Config{Seed: 21, From: day0.Add(10 * time.Hour), To: day0.Add(14 * time.Hour), PerHour: 800, AsOf: day0.Add(15 * time.Hour)}
	clock := day0.Add(15 * time.Hour)
	txns := synth.Generate(cfg)
	if err := synth.Insert(t.Context(), db.Conn, db.Name, synth.Rows(txns), clock); err != nil {
		t.Fatal(err)
	}
	e := env(t, db)
	e.Now = func() time.Time { return clock }
	r := &jobs.Runner{Env: *e}
	job := &rollup.Job{}
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	diff(t, "first run", cells(t, db, model.Hour, "gateway"), synth.Truth(txns, "gateway", time.Hour, cfg.From, cfg.To))
	// Every stored rollup row now carries a version a day ahead of the
	// server's clock, as if written by a daemon whose clock was.
	if err := db.Conn.Exec(t.Context(), "INSERT INTO rollups (granularity, dimension, bucket, value, outcome, cause, currency, transactions, amount_minor,"+
		" latency_sum_ms, latency_hist, version, computed_at) SELECT granularity, dimension, bucket, value, outcome, cause, currency, transactions, amount_minor,"+
		" latency_sum_ms, latency_hist, toUInt64(toUInt32(now()) + 86400) * 1000000000, computed_at FROM rollups FINAL"); err != nil {
		t.Fatal(err)
	}

	late := settlePending(txns)
	if len(late) < 50 {
		t.Fatalf("only %d pending sales to settle", len(late))
	}
	// And new rules move the account declines of 12:00–13:00 to another
	// cause: their old keys must drop to zero.
	moved := 0
	for i := range txns {
		if txns[i].Cause == domain.CauseAccount && txns[i].Time.Hour() == 12 {
			txns[i].Cause, txns[i].Version, txns[i].Old = domain.CauseLimit, txns[i].Version+1<<32, nil
			late = append(late, txns[i])
			moved++
		}
	}
	if moved < 10 {
		t.Fatalf("only %d declines to reclassify", moved)
	}
	clock = clock.Add(5 * time.Minute)
	if err := synth.Insert(t.Context(), db.Conn, db.Name, late, clock); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	diff(t, "hour × gateway after late data", cells(t, db, model.Hour, "gateway"), synth.Truth(txns, "gateway", time.Hour, cfg.From, cfg.To))
	diff(t, "5 min after late data", cells(t, db, model.FiveMinutes, model.All), synth.Truth(txns, "", 5*time.Minute, cfg.From, cfg.To))
	diff(t, "day × merchant after late data", cells(t, db, model.Day, "merchant"), synth.Truth(txns, "merchant", 24*time.Hour, cfg.From, cfg.To))
	if n := db.Count(t, "SELECT toUInt64(sum(transactions)) FROM rollups FINAL WHERE outcome = 'pending'"); n != 0 {
		t.Errorf("%d pending transactions left in the rollups", n)
	}
}

// A daemon whose clock is behind (here two months: a VM restored from an
// old snapshot) still derives the day rows of a day that has ended: whether
// a day is still running, and whether its rows are fresh, is judged on the
// server's clock, the one that stamps computed_at, not by comparing the two.
func TestEndedDayRowsFollowLateDataWhenTheClockIsBehind(t *testing.T) {
	db := chtest.Migrated(t)
	cfg := synth.Config{Seed: 22, From: day0.Add(10 * time.Hour), To: day0.Add(14 * time.Hour), PerHour: 800, AsOf: day0.Add(15 * time.Hour)}
	clock := day0.Add(15 * time.Hour) // the day is running by this clock
	txns := synth.Generate(cfg)
	if err := synth.Insert(t.Context(), db.Conn, db.Name, synth.Rows(txns), clock); err != nil {
		t.Fatal(err)
	}
	e := env(t, db)
	e.Now = func() time.Time { return clock }
	r := &jobs.Runner{Env: *e}
	job := &rollup.Job{} // default DayRefresh: day rows once the day has ended
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	late := settlePending(txns)
	clock = clock.Add(5 * time.Minute)
	if err := synth.Insert(t.Context(), db.Conn, db.Name, late, clock); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	diff(t, "day × region after late data", cells(t, db, model.Day, "region"), synth.Truth(txns, "region", 24*time.Hour, cfg.From, cfg.To))
	if n := db.Count(t, "SELECT toUInt64(sum(transactions)) FROM rollups FINAL WHERE outcome = 'pending' AND granularity = 86400"); n != 0 {
		t.Errorf("%d pending transactions left in the day rollups", n)
	}
}
