package incidents_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/incidents"
	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// A Tuesday morning, and the same hours of the three Tuesdays before.
var (
	day    = time.Date(2026, 9, 22, 0, 0, 0, 0, time.UTC)
	from   = day.Add(8 * time.Hour)
	to     = day.Add(14 * time.Hour)
	outage = synth.Outage{Gateway: "gw-2", From: day.Add(11*time.Hour + 7*time.Minute), To: day.Add(12 * time.Hour), FailRate: 0.8}
)

// history loads four Tuesdays of traffic (the last with the given outages),
// rolls them up and runs the incidents job over the last one.
func history(t *testing.T, outages []synth.Outage) (*chtest.DB, *jobs.Runner) {
	t.Helper()
	db := chtest.Migrated(t)
	r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, Session: db.Session, DB: db.Name, QueryTimeout: time.Minute, Log: chtest.Logger(t)}}
	for w := 3; w >= 0; w-- {
		shift := -time.Duration(w) * 7 * 24 * time.Hour
		cfg := synth.Config{Seed: uint64(100 + w), From: from.Add(shift), To: to.Add(shift), PerHour: 3000}
		if w == 0 {
			cfg.Outages = outages
		}
		txns := synth.Generate(cfg)
		if err := synth.Insert(t.Context(), db.Conn, db.Name, synth.Rows(txns), time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Backfill(t.Context(), &rollup.Job{BackfillWindow: 6 * time.Hour}, cfg.From, cfg.To, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Backfill(t.Context(), &incidents.Job{}, from, to, nil); err != nil {
		t.Fatal(err)
	}
	return db, r
}

func list(t *testing.T, db *chtest.DB) []query.Incident {
	t.Helper()
	q := &query.Querier{Conn: db.Conn, DB: db.Name}
	incs, _, err := q.Incidents(context.Background(), query.IncidentsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return incs
}

func TestGatewayOutageIsDetected(t *testing.T) {
	db, r := history(t, []synth.Outage{outage})
	incs := list(t, db)
	var got *query.Incident
	for i := range incs {
		in := &incs[i]
		t.Logf("%s %s %s=%s %s..%s %s", in.Status, in.Cause, in.Dimension, in.Value, in.Started.Format("15:04"), in.Ended.Format("15:04"), in.Summary)
		if in.Cause == "gateway" && in.Dimension == "gateway" && in.Value == "gw-2" {
			got = in
		}
		// Only the outage's cause, overall or at its gateway: no symptoms elsewhere.
		if in.Cause != "gateway" || (in.Dimension != "all" && in.Dimension != "gateway") || (in.Dimension == "gateway" && in.Value != "gw-2") {
			t.Errorf("unexpected incident %s %s=%s: %s", in.Cause, in.Dimension, in.Value, in.Summary)
		}
	}
	if got == nil {
		t.Fatalf("no incident for cause gateway at gateway gw-2 among %d", len(incs))
	}
	if d := got.Started.Sub(outage.From); d < -5*time.Minute || d > 5*time.Minute {
		t.Errorf("incident starts %s, outage %s: more than one 5-minute interval apart", got.Started, outage.From)
	}
	if got.Status != "closed" || got.Ended.Before(outage.To) || got.Ended.After(outage.To.Add(5*time.Minute)) {
		t.Errorf("incident %s ended %s; the outage ended %s", got.Status, got.Ended, outage.To)
	}
	if got.Severity != "critical" || got.Peak < 0.5 || got.Baseline > 0.05 || got.Failures < 300 {
		t.Errorf("incident stats %+v", got)
	}

	// Running the job again, over the same or an overlapping window, changes nothing.
	before := snapshot(t, db)
	if _, err := r.Backfill(t.Context(), &incidents.Job{}, from, to, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Backfill(t.Context(), &incidents.Job{}, from.Add(3*time.Hour), to, nil); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, db); !maps.Equal(before, after) {
		t.Errorf("re-running changed incidents:\nbefore %v\nafter  %v", before, after)
	}
}

func TestQuietBaselineOpensNothing(t *testing.T) {
	db, _ := history(t, nil)
	if incs := list(t, db); len(incs) != 0 {
		for _, in := range incs {
			t.Errorf("incident on quiet traffic: %s", in.Summary)
		}
	}
	if n := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE job = 'incidents' AND status = 'ok'"); n != 1 {
		t.Errorf("incidents job recorded %d ok windows, want 1", n)
	}
}

func snapshot(t *testing.T, db *chtest.DB) map[string]string {
	out := map[string]string{}
	for _, in := range list(t, db) {
		out[in.ID] = fmt.Sprint(in.Status, in.Cause, in.Dimension, in.Value, in.Started.Unix(), in.Ended.Unix(), in.Failures, in.Transactions, in.Summary)
	}
	return out
}
