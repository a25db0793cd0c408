package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// stepJob is a job whose window runs fn (which may step the clock).
type stepJob struct{ fn func() }

func (s *stepJob) Name() string { return "stepper" }
func (s *stepJob) Plan(_ context.Context, _ *jobs.Env, now, _ time.Time) (jobs.Plan, error) {
	return jobs.Plan{Windows: []jobs.Window{{From: now.Add(-time.Hour), To: now}}, Watermark: now}, nil
}
func (s *stepJob) Run(context.Context, *jobs.Env, jobs.Window) (int, error) { s.fn(); return 1, nil }
func (s *stepJob) Split(_, _ time.Time) []jobs.Window                       { return nil }

// The clock steps back 2 h while a window runs: its final row still
// replaces its running row (job_runs would otherwise show it running for
// ever, and its watermark would be lost), and the next run's watermark,
// though earlier, is the latest one.
func TestJobRunsSurviveAClockStepBack(t *testing.T) {
	db := chtest.Migrated(t)
	t0 := time.Date(2026, 9, 22, 10, 0, 0, 0, time.UTC)
	clock := t0
	r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, DB: db.Name, Log: chtest.Logger(t), Now: func() time.Time { return clock }}}
	job := &stepJob{fn: func() { clock = clock.Add(-2 * time.Hour) }}
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	runs, err := jobs.Runs(t.Context(), &r.Env, job.Name(), 10)
	if err != nil || len(runs) != 1 || runs[0].Status != jobs.StatusOK {
		t.Fatalf("after a step back during the window: %+v, %v", runs, err)
	}
	if wm, err := jobs.LastWatermark(t.Context(), &r.Env, job.Name()); err != nil || !wm.Equal(t0) {
		t.Errorf("watermark %s (%v), want %s", wm, err, t0)
	}

	job.fn = func() {}
	clock = t0.Add(-time.Hour) // still behind the first run
	if _, err := r.RunScheduled(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	if wm, err := jobs.LastWatermark(t.Context(), &r.Env, job.Name()); err != nil || !wm.Equal(clock) {
		t.Errorf("watermark %s (%v), want the latest run's %s", wm, err, clock)
	}
	if n := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE job = 'stepper' AND status = 'ok'"); n != 2 {
		t.Errorf("%d ok windows recorded, want 2", n)
	}
}

func TestVersionIsAboveTheNewestWhateverTheClock(t *testing.T) {
	at := time.Date(2026, 9, 22, 10, 0, 0, 0, time.UTC)
	ns := uint64(at.UnixNano())
	for _, tc := range []struct{ newest, want uint64 }{{0, ns}, {ns - 1, ns}, {ns, ns + 1}, {ns + 86400e9, ns + 86400e9 + 1}} {
		if got := jobs.Version(at, tc.newest); got != tc.want {
			t.Errorf("Version(%d, newest %d) = %d, want %d", ns, tc.newest, got, tc.want)
		}
	}
}
