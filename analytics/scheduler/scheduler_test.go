package scheduler

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestExampleConfigIsTheDefault(t *testing.T) {
	got, err := LoadConfig("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("config.example.yaml differs from the defaults:\n%+v\n%+v", got, want)
	}
	entries, err := got.Build()
	if err != nil || len(entries) != 4 {
		t.Fatalf("build: %v, %d entries", err, len(entries))
	}
	for i, name := range []string{"rollup", "sweep", "incidents", "timeouts"} {
		if entries[i].Job.Name() != name || !entries[i].Enabled || entries[i].Schedule == "" {
			t.Errorf("entry %d: %s %q %v", i, entries[i].Job.Name(), entries[i].Schedule, entries[i].Enabled)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	if c, err := ParseConfig([]byte(""), "empty"); err != nil || c.Jobs.Rollup.Schedule != DefaultRollupSchedule {
		t.Errorf("empty config: %v", err)
	}
	c, err := ParseConfig([]byte("jobs:\n  sweep:\n    enabled: false\n    schedule: '@every 1m'\n"), "x")
	if err != nil || c.Jobs.Sweep.On() || c.Jobs.Sweep.Schedule != "@every 1m" || !c.Jobs.Rollup.On() {
		t.Errorf("partial config: %+v, %v", c.Jobs.Sweep, err)
	}
	for in, want := range map[string]string{
		"jobs:\n  rollup:\n    shedule: '* * * * *'\n":      "shedule",
		"jobs:\n  rollup:\n    schedule: 'every minute'\n":  "jobs.rollup.schedule",
		"jobs:\n  incidents:\n    dimensions: [terminal]\n": "no 5-minute rollups",
		"jobs:\n  incidents:\n    dimensions: [colour]\n":   "unknown dimension",
		"jobs:\n  timeouts:\n    candidates_ms: [7000]\n":   "histogram bounds",
		"settlement_window: 36 hours\n":                     "duration",
		"jobs:\n  timeouts:\n    target_rate: 2\n":          "target_rate",
		"jobs:\n  rollup:\n    stage_rows: 5\n":             "jobs.rollup.stage_rows",
	} {
		if _, err := ParseConfig([]byte(in), "bad.yaml"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error about %q", in, err, want)
		}
	}
}

// fakeJob runs fn for each window.
type fakeJob struct {
	name string
	fn   func(ctx context.Context) (int, error)
}

func (f *fakeJob) Name() string { return f.name }
func (f *fakeJob) Plan(_ context.Context, _ *jobs.Env, now, _ time.Time) (jobs.Plan, error) {
	return jobs.Plan{Windows: []jobs.Window{{From: now.Add(-time.Hour), To: now}}, Watermark: now}, nil
}
func (f *fakeJob) Run(ctx context.Context, _ *jobs.Env, _ jobs.Window) (int, error) { return f.fn(ctx) }
func (f *fakeJob) Split(_, _ time.Time) []jobs.Window                               { return nil }

func newScheduler(t *testing.T, entries ...Entry) (*Scheduler, *chtest.DB) {
	db := chtest.Migrated(t)
	s := &Scheduler{Runner: &jobs.Runner{Env: jobs.Env{Conn: db.Conn, Session: db.Session, DB: db.Name, Log: chtest.Logger(t)}}, Entries: entries, Log: chtest.Logger(t)}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, db
}

func status(t *testing.T, db *chtest.DB, job string) string {
	t.Helper()
	rows, err := db.Conn.Query(context.Background(), "SELECT toString(status), error FROM job_runs FINAL WHERE job = ? ORDER BY started", job)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s, e string
		_ = rows.Scan(&s, &e)
		out = append(out, s+":"+e)
	}
	return strings.Join(out, ",")
}

func TestPanicIsRecoveredAndRecorded(t *testing.T) {
	boom := &fakeJob{name: "boom", fn: func(context.Context) (int, error) { panic("kaboom") }}
	ok := &fakeJob{name: "fine", fn: func(context.Context) (int, error) { return 7, nil }}
	s, db := newScheduler(t, Entry{Job: boom, Schedule: "@every 1h", Enabled: true}, Entry{Job: ok, Schedule: "@every 1h", Enabled: true})
	s.RunNow() // the panic must not stop the next job
	s.Stop(time.Second)
	if got := status(t, db, "boom"); got != "panic:panic: kaboom" {
		t.Errorf("boom runs: %q", got)
	}
	if got := status(t, db, "fine"); got != "ok:" {
		t.Errorf("fine runs: %q", got)
	}
	if n := value(s.Metrics.windows.WithLabelValues("boom", "panic")); n != 1 {
		t.Errorf("panic windows metric %v", n)
	}
	if n := value(s.Metrics.rows.WithLabelValues("fine")); n != 7 {
		t.Errorf("rows metric %v", n)
	}
	if n := value(s.Metrics.runs.WithLabelValues("boom", "error")); n != 1 {
		t.Errorf("runs metric %v", n)
	}
}

func TestOverlappingRunIsSkipped(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	slow := &fakeJob{name: "slow", fn: func(context.Context) (int, error) {
		started <- struct{}{}
		<-release
		return 1, nil
	}}
	s, db := newScheduler(t, Entry{Job: slow, Schedule: "@every 1h", Enabled: true})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.RunNow() }()
	<-started
	s.RunNow() // returns at once: the first run holds the job
	if n := value(s.Metrics.skipped.WithLabelValues("slow")); n != 1 {
		t.Errorf("skipped metric %v", n)
	}
	close(release)
	wg.Wait()
	s.Stop(time.Second)
	if got := status(t, db, "slow"); got != "ok:" {
		t.Errorf("runs: %q", got)
	}
}

// Stop waits for a running job; past the grace period it cancels it, and the
// window is recorded as canceled.
func TestGracefulStop(t *testing.T) {
	started := make(chan struct{}, 1)
	stubborn := &fakeJob{name: "stubborn", fn: func(ctx context.Context) (int, error) {
		started <- struct{}{}
		<-ctx.Done()
		return 0, ctx.Err()
	}}
	s, db := newScheduler(t, Entry{Job: stubborn, Schedule: "@every 1h", Enabled: true})
	go s.RunNow()
	<-started
	if clean := s.Stop(200 * time.Millisecond); clean {
		t.Error("Stop reported a clean stop with a job still running")
	}
	if got := status(t, db, "stubborn"); got != "canceled:"+context.Canceled.Error() {
		t.Errorf("runs: %q", got)
	}
	quick := &fakeJob{name: "quick", fn: func(context.Context) (int, error) { return 0, errors.New("nope") }}
	s2, db2 := newScheduler(t, Entry{Job: quick, Schedule: "@every 1h", Enabled: true})
	s2.RunNow()
	if clean := s2.Stop(time.Minute); !clean {
		t.Error("Stop with nothing running was not clean")
	}
	if got := status(t, db2, "quick"); got != "error:nope" {
		t.Errorf("runs: %q", got)
	}
}

// value reads a counter or gauge.
func value(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		return -1
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// robfig/cron plans on the wall clock and sleeps on the monotonic one, so
// after the wall clock steps back it would sleep out the step. A step (read
// here through an injected wall clock) restarts the schedules from the new
// wall time; a drift under the tolerance, or a step after Stop, does not.
func TestClockStepRestartsTheSchedules(t *testing.T) {
	wall := time.Now()
	idle := &fakeJob{name: "idle", fn: func(context.Context) (int, error) { return 0, nil }}
	s := &Scheduler{Runner: &jobs.Runner{}, Entries: []Entry{{Job: idle, Schedule: "*/5 * * * *", Enabled: true}},
		Log: chtest.Logger(t), ClockCheck: time.Hour}
	s.wall = func() time.Time { return wall }
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := s.cron
	wall = wall.Add(20 * time.Second)
	if step := s.checkClock(); step != 0 || s.cron != first {
		t.Errorf("a 20 s drift restarted the schedules (step %s)", step)
	}
	wall = wall.Add(-2 * time.Hour)
	if step := s.checkClock(); step > -2*time.Hour+time.Minute || step < -2*time.Hour-time.Minute || s.cron == first {
		t.Fatalf("a 2 h step back: step %s, restarted %v", step, s.cron != first)
	}
	if n := value(s.Metrics.clockSteps); n != 1 {
		t.Errorf("clock steps metric %v", n)
	}
	entries := s.cron.Entries()
	if len(entries) != 1 || entries[0].Next.IsZero() || time.Until(entries[0].Next) > 5*time.Minute+time.Second {
		t.Errorf("the restarted schedule: %+v", entries)
	}
	second := s.cron
	if !s.Stop(time.Second) {
		t.Error("stop was not clean")
	}
	wall = wall.Add(3 * time.Hour)
	if s.checkClock(); s.cron != second {
		t.Error("a step after Stop restarted the schedules")
	}
}
