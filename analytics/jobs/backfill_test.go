package jobs_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/chtest"
)

// dayJob backfills one window per day. Until two windows have run at once,
// each waits (up to half a second) for another to join it, so the most seen
// at once is what Backfill allowed, not what the scheduler happened to do.
type dayJob struct {
	concurrent bool
	alone      bool      // windows do not wait for a partner
	fail       time.Time // the window starting then fails

	mu      sync.Mutex
	cond    *sync.Cond
	running int
	most    int
	ran     map[time.Time]int
}

func newDayJob(concurrent bool) *dayJob {
	j := &dayJob{concurrent: concurrent, ran: map[time.Time]int{}}
	j.cond = sync.NewCond(&j.mu)
	return j
}

func (j *dayJob) Name() string { return "days" }
func (j *dayJob) Plan(context.Context, *jobs.Env, time.Time, time.Time) (jobs.Plan, error) {
	return jobs.Plan{}, nil
}
func (j *dayJob) ConcurrentWindows() bool { return j.concurrent }
func (j *dayJob) Split(from, to time.Time) []jobs.Window {
	var out []jobs.Window
	for t := from; t.Before(to); t = t.Add(24 * time.Hour) {
		out = append(out, jobs.Window{From: t, To: t.Add(24 * time.Hour)})
	}
	return out
}

func (j *dayJob) Run(ctx context.Context, _ *jobs.Env, w jobs.Window) (int, error) {
	j.mu.Lock()
	j.running++
	j.most = max(j.most, j.running)
	j.ran[w.From]++
	j.cond.Broadcast()
	// Wait for a second window to start, or half a second. The timer says
	// when the time is up: comparing the clock with a start taken after the
	// timer was made could find it not quite up when the timer fired, and
	// then wait with no one left to wake it (a CI run hung there).
	timedOut := false
	deadline := time.AfterFunc(500*time.Millisecond, func() { j.mu.Lock(); timedOut = true; j.cond.Broadcast(); j.mu.Unlock() })
	for !j.alone && j.most < 2 && !timedOut {
		j.cond.Wait()
	}
	deadline.Stop()
	j.running--
	j.mu.Unlock()
	if w.From.Equal(j.fail) {
		return 0, errors.New("window refused")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return 10, nil
}

func TestBackfillRunsIndependentWindowsAtOnce(t *testing.T) {
	db := chtest.Migrated(t)
	day0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		concurrent bool
		parallel   int
		most       int
	}{
		{"independent windows, two at once", true, 2, 2},
		{"independent windows, one at a time", true, 1, 1},
		{"dependent windows stay one at a time", false, 4, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, DB: db.Name, Log: chtest.Logger(t)}, Parallel: tc.parallel}
			job := newDayJob(tc.concurrent)
			last := 0
			rows, err := r.Backfill(t.Context(), job, day0, day0.AddDate(0, 0, 6), func(done, total int, _ jobs.Window, _ int) {
				if done != last+1 || total != 6 {
					t.Errorf("progress %d/%d after %d", done, total, last)
				}
				last = done
			})
			if err != nil || rows != 60 || last != 6 {
				t.Fatalf("rows %d, progress %d, err %v; want 60 rows over 6 windows", rows, last, err)
			}
			if job.most != tc.most {
				t.Errorf("%d windows ran at once, want %d", job.most, tc.most)
			}
			for d := range 6 {
				if n := job.ran[day0.AddDate(0, 0, d)]; n != 1 {
					t.Errorf("day %d ran %d times", d, n)
				}
			}
		})
	}
}

// A failing window stops the backfill: no window starts after it, its
// error is the one returned, and job_runs records it. One at a time the
// count is exact; a window handed out as the failure lands is skipped, not
// started (repeated, since which of the two ready channels the hand-out
// takes is random).
func TestBackfillStopsAtTheFirstFailedWindow(t *testing.T) {
	db := chtest.Migrated(t)
	day0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	backfill := func(parallel int) int {
		t.Helper()
		r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, DB: db.Name, Log: chtest.Logger(t)}, Parallel: parallel}
		job := newDayJob(true)
		job.alone = true
		job.fail = day0.AddDate(0, 0, 1)
		_, err := r.Backfill(t.Context(), job, day0, day0.AddDate(0, 0, 10), nil)
		if err == nil || !strings.Contains(err.Error(), "window refused") {
			t.Fatalf("parallel %d: error %v, want the failed window's", parallel, err)
		}
		started := 0
		for _, n := range job.ran {
			started += n
		}
		return started
	}
	const runs = 10
	for range runs {
		if started := backfill(1); started != 2 {
			t.Fatalf("one at a time: %d of 10 windows started, want 2 (the failed one second)", started)
		}
	}
	if n := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE job = 'days' AND status = 'error'"); n != runs {
		t.Errorf("%d failed windows recorded, want %d (one per backfill)", n, runs)
	}
	if n := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE job = 'days' AND status = 'canceled'"); n != 0 {
		t.Errorf("%d windows recorded as canceled: they started after the failure", n)
	}
	// Two at once: the window beside the failed one may be canceled in
	// flight, but the failure is still the error returned.
	if started := backfill(2); started == 10 {
		t.Errorf("two at once: all 10 windows started despite a failure at the second")
	}
}
