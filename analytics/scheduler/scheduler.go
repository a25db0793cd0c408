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
	}
	m.Registry.MustRegister(m.windows, m.runs, m.skipped, m.rows, m.duration, m.lastSuccess, m.running,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WindowDone implements jobs.Observer.
func (m *Metrics) WindowDone(job, status string, elapsed time.Duration, rows int) {
	m.windows.WithLabelValues(job, status).Inc()
	m.duration.WithLabelValues(job).Observe(elapsed.Seconds())
	m.rows.WithLabelValues(job).Add(float64(max(rows, 0)))
}

// Scheduler runs jobs on their schedules.
type Scheduler struct {
	Runner  *jobs.Runner
	Entries []Entry
	Log     *slog.Logger
	Metrics *Metrics

	cron   *cron.Cron
	ctx    context.Context
	cancel context.CancelFunc
	locks  sync.Map // job name → *sync.Mutex
	wg     sync.WaitGroup
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
	s.cron = cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cronLogger{log: s.Log}))
	for _, e := range s.Entries {
		if !e.Enabled {
			s.Log.Info("job disabled", "job", e.Job.Name())
			continue
		}
		e := e
		cl := cronLogger{log: s.Log, job: e.Job.Name(), skipped: s.Metrics.skipped}
		wrapped := cron.NewChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)).Then(cron.FuncJob(func() { s.runOnce(e.Job) }))
		id, err := s.cron.AddJob(e.Schedule, wrapped)
		if err != nil {
			return fmt.Errorf("schedule %s %q: %w", e.Job.Name(), e.Schedule, err)
		}
		s.Log.Info("job scheduled", "job", e.Job.Name(), "schedule", e.Schedule, "next", s.cron.Entry(id).Next)
	}
	s.cron.Start()
	return nil
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
	cctx := s.cron.Stop() // no new runs; done when running cron jobs return
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
