// Package scheduler runs the analytics jobs on cron schedules (robfig/cron,
// UTC): a run that is still going when its next time comes is skipped
// (SkipIfStillRunning), a panic is recovered and recorded, every window is
// logged and recorded in job_runs, the daemon's own metrics are kept in a
// Prometheus registry, and Stop waits for running jobs up to a grace period
// before cancelling them.
//
// Two daemons against the same ClickHouse: there is no lease (a ClickHouse
// table cannot lock); every job's writes are idempotent (ReplacingMergeTree
// keyed by the window's buckets, zeros for keys that vanished, versions that
// grow with the data read), so running a window twice, or concurrently, gives
// the same rows as running it once.
//
// Clock steps: robfig/cron computes each entry's next time on the wall clock
// and sleeps on the monotonic one. After the wall clock steps back by J (an
// NTP step, a VM restored from a snapshot) it wakes at the planned moment,
// finds the next time still J ahead and sleeps again: no job would run for
// J. So the scheduler compares the wall clock with the monotonic one every
// ClockCheck and, when they drift apart by more than ClockStepTolerance,
// restarts cron, which plans every entry from the new wall time. The jobs
// themselves take their windows and versions from the data and from what
// is stored (see analytics/jobs), so a step either way changes no result.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/robfig/cron/v3"

	"github.com/settlewatch/settlewatch/analytics/jobs"
)

// Metrics of the daemon.
type Metrics struct {
	Registry    *prometheus.Registry
	windows     *prometheus.CounterVec
	runs        *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	rows        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	running     *prometheus.GaugeVec
	clockSteps  prometheus.Counter
}

// NewMetrics registers the daemon's metrics (and the Go runtime's) in a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		windows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "settlewatch_analytics_windows_total",
			Help: "Job windows processed, by job and final status (ok, error, panic, canceled)."}, []string{"job", "status"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "settlewatch_analytics_runs_total",
			Help: "Scheduled runs, by job and result (ok, error)."}, []string{"job", "result"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "settlewatch_analytics_runs_skipped_total",
			Help: "Scheduled runs skipped because the previous run of the job was still going."}, []string{"job"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "settlewatch_analytics_rows_written_total",
			Help: "Rows written by job windows."}, []string{"job"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "settlewatch_analytics_window_duration_seconds",
			Help: "Time to process one job window.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "settlewatch_analytics_last_success_timestamp_seconds",
			Help: "Unix time of the job's last scheduled run that ended ok."}, []string{"job"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "settlewatch_analytics_running",
			Help: "1 while a run of the job is going."}, []string{"job"}),
		clockSteps: prometheus.NewCounter(prometheus.CounterOpts{Name: "settlewatch_analytics_clock_steps_total",
			Help: "Steps of the wall clock (NTP step, VM restore) after which the schedules were restarted."}),
	}
	m.Registry.MustRegister(m.windows, m.runs, m.skipped, m.rows, m.duration, m.lastSuccess, m.running, m.clockSteps,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WindowDone implements jobs.Observer.
func (m *Metrics) WindowDone(job, status string, elapsed time.Duration, rows int) {
	m.windows.WithLabelValues(job, status).Inc()
	m.duration.WithLabelValues(job).Observe(elapsed.Seconds())
	m.rows.WithLabelValues(job).Add(float64(max(rows, 0)))
}

// Clock step detection defaults.
const (
	DefaultClockCheck         = 30 * time.Second
	DefaultClockStepTolerance = time.Minute
)

// Scheduler runs jobs on their schedules.
type Scheduler struct {
	Runner  *jobs.Runner
	Entries []Entry
	Log     *slog.Logger
	Metrics *Metrics
	// ClockCheck is how often the wall clock is compared with the monotonic
	// one (0: DefaultClockCheck); ClockStepTolerance the drift that counts
	// as a step (0: DefaultClockStepTolerance).
	ClockCheck, ClockStepTolerance time.Duration

	mu      sync.Mutex // guards cron, stopped and the clock readings
	cron    *cron.Cron
	stopped bool
	ctx     context.Context
	cancel  context.CancelFunc
	locks   sync.Map // job name → *sync.Mutex
	wg      sync.WaitGroup

	// wall reads the wall clock (tests step it); lastWall and lastMono are
	// the readings of the previous clock check.
	wall     func() time.Time
	lastWall time.Time
	lastMono time.Time
}

// cronLogger adapts slog for cron and counts skipped runs.
type cronLogger struct {
	log     *slog.Logger
	job     string
	skipped *prometheus.CounterVec
}

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" && l.skipped != nil {
		l.skipped.WithLabelValues(l.job).Inc()
		l.log.Warn("run skipped: the previous run is still going", "job", l.job)
		return
	}
	l.log.Debug("cron: "+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "job", l.job, "error", err)...)
}

// Start schedules every enabled job. ctx is the parent of every run's context.
func (s *Scheduler) Start(ctx context.Context) error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Metrics == nil {
		s.Metrics = NewMetrics()
	}
	s.Runner.Observer = s.Metrics
	s.ctx, s.cancel = context.WithCancel(ctx)
	c, err := s.newCron(true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cron = c
	s.mu.Unlock()
	c.Start()
	s.checkClock() // first readings
	go s.watchClock()
	return nil
}

// newCron schedules every enabled job on a new cron (not started).
func (s *Scheduler) newCron(logIt bool) (*cron.Cron, error) {
	c := cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cronLogger{log: s.Log}))
	for _, e := range s.Entries {
		if !e.Enabled {
			if logIt {
				s.Log.Info("job disabled", "job", e.Job.Name())
			}
			continue
		}
		e := e
		cl := cronLogger{log: s.Log, job: e.Job.Name(), skipped: s.Metrics.skipped}
		wrapped := cron.NewChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)).Then(cron.FuncJob(func() { s.runOnce(e.Job) }))
		id, err := c.AddJob(e.Schedule, wrapped)
		if err != nil {
			return nil, fmt.Errorf("schedule %s %q: %w", e.Job.Name(), e.Schedule, err)
		}
		if logIt {
			s.Log.Info("job scheduled", "job", e.Job.Name(), "schedule", e.Schedule, "next", c.Entry(id).Next)
		}
	}
	return c, nil
}

func (s *Scheduler) watchClock() {
	every := s.ClockCheck
	if every <= 0 {
		every = DefaultClockCheck
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.checkClock()
		}
	}
}

// checkClock compares the wall time elapsed since the previous check with
// the monotonic time elapsed and restarts cron when they differ by more
// than the tolerance. It reports the step it acted on (0: none).
func (s *Scheduler) checkClock() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	wall := time.Now().Round(0) // Round(0) drops the monotonic reading
	if s.wall != nil {
		wall = s.wall().Round(0)
	}
	mono := time.Now()
	prevWall, prevMono := s.lastWall, s.lastMono
	s.lastWall, s.lastMono = wall, mono
	if prevMono.IsZero() {
		return 0
	}
	step := wall.Sub(prevWall) - mono.Sub(prevMono)
	tol := s.ClockStepTolerance
	if tol <= 0 {
		tol = DefaultClockStepTolerance
	}
	if step > -tol && step < tol {
		return 0
	}
	s.Metrics.clockSteps.Inc()
	s.Log.Warn("the wall clock stepped; restarting the schedules from the new time", "step", step.Round(time.Second), "now", wall.UTC())
	if s.stopped {
		return step
	}
	c, err := s.newCron(false)
	if err != nil { // the schedules parsed at Start
		s.Log.Error("could not restart the schedules", "error", err)
		return step
	}
	// Jobs the old cron started go on; runOnce's per-job lock keeps the new
	// cron from overlapping them, and Stop waits for them (wg).
	s.cron.Stop()
	s.cron = c
	c.Start()
	return step
}

// RunNow runs every enabled job once, in order, outside the schedule (at
// start-up, so a restarted daemon catches up without waiting). It does not
// overlap a scheduled run of the same job: both go through the same lock.
func (s *Scheduler) RunNow() {
	for _, e := range s.Entries {
		if e.Enabled {
			s.runOnce(e.Job)
		}
	}
}

func (s *Scheduler) runOnce(job jobs.Job) {
	mu, _ := s.locks.LoadOrStore(job.Name(), &sync.Mutex{})
	if !mu.(*sync.Mutex).TryLock() {
		s.Metrics.skipped.WithLabelValues(job.Name()).Inc()
		s.Log.Warn("run skipped: the previous run is still going", "job", job.Name())
		return
	}
	defer mu.(*sync.Mutex).Unlock()
	s.wg.Add(1)
	defer s.wg.Done()
	if s.ctx.Err() != nil {
		return
	}
	s.Metrics.running.WithLabelValues(job.Name()).Set(1)
	defer s.Metrics.running.WithLabelValues(job.Name()).Set(0)
	start := time.Now()
	rows, err := s.Runner.RunScheduled(s.ctx, job)
	if err != nil {
		s.Metrics.runs.WithLabelValues(job.Name(), "error").Inc()
		s.Log.Error("scheduled run failed", "job", job.Name(), "rows", rows, "elapsed", time.Since(start).Round(time.Millisecond), "error", err)
		return
	}
	s.Metrics.runs.WithLabelValues(job.Name(), "ok").Inc()
	s.Metrics.lastSuccess.WithLabelValues(job.Name()).SetToCurrentTime()
	s.Log.Info("scheduled run done", "job", job.Name(), "rows", rows, "elapsed", time.Since(start).Round(time.Millisecond))
}

// Stop stops scheduling, waits up to grace for running jobs, then cancels
// them and waits for them to record their end. It reports whether the jobs
// finished within the grace period.
func (s *Scheduler) Stop(grace time.Duration) bool {
	s.mu.Lock()
	s.stopped = true
	cctx := s.cron.Stop() // no new runs; done when running cron jobs return
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		<-cctx.Done()
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return true
	case <-time.After(grace):
		s.Log.Warn("jobs still running after the grace period; cancelling them", "grace", grace)
		s.cancel()
		<-done
		return false
	}
}
