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

// clocked is a database holding four hours of sales of day0, assembled at
// 15:00 by the daemon's clock, and a runner whose clock is that one.
type clocked struct {
	db    *chtest.DB
	cfg   synth.Config
	txns  []synth.Txn
	clock time.Time
	r     *jobs.Runner
}

func newClocked(t *testing.T, seed uint64) *clocked {
	c := &clocked{db: chtest.Migrated(t), clock: day0.Add(15 * time.Hour),
		cfg: synth.Config{Seed: seed, From: day0.Add(10 * time.Hour), To: day0.Add(14 * time.Hour), PerHour: 800, AsOf: day0.Add(15 * time.Hour)}}
	c.txns = synth.Generate(c.cfg)
	c.insert(t, synth.Rows(c.txns))
	e := env(t, c.db)
	e.Now = func() time.Time { return c.clock }
	c.r = &jobs.Runner{Env: *e}
	return c
}

func (c *clocked) insert(t *testing.T, rows []synth.Txn) {
	t.Helper()
	if err := synth.Insert(t.Context(), c.db.Conn, c.db.Name, rows, c.clock); err != nil {
		t.Fatal(err)
	}
}

func (c *clocked) run(t *testing.T, job *rollup.Job) {
	t.Helper()
	if _, err := c.r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
}

// Rows written by a daemon whose clock was a day ahead (or by this one
// before its clock stepped back a day) carry versions a day ahead. A re-run
// after late data must still replace them, and zero the keys that lost
// their transactions, not lose to them.
func TestRerunReplacesRowsWrittenUnderAClockAhead(t *testing.T) {
	c := newClocked(t, 21)
	db, cfg, txns := c.db, c.cfg, c.txns
	job := &rollup.Job{}
	c.run(t, job)
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
	c.clock = c.clock.Add(5 * time.Minute)
	c.insert(t, late)
	c.run(t, job)
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
	c := newClocked(t, 22) // the day is running by the daemon's clock
	job := &rollup.Job{}   // default DayRefresh: day rows once the day has ended
	c.run(t, job)
	late := settlePending(c.txns)
	c.clock = c.clock.Add(5 * time.Minute)
	c.insert(t, late)
	c.run(t, job)
	db, cfg, txns := c.db, c.cfg, c.txns
	diff(t, "day × region after late data", cells(t, db, model.Day, "region"), synth.Truth(txns, "region", 24*time.Hour, cfg.From, cfg.To))
	if n := db.Count(t, "SELECT toUInt64(sum(transactions)) FROM rollups FINAL WHERE outcome = 'pending' AND granularity = 86400"); n != 0 {
		t.Errorf("%d pending transactions left in the day rollups", n)
	}
}
