// Package jobs runs analytics jobs over time windows and records every run in
// the job_runs table: one row when a window starts (status running) replaced
// by one when it ends (ok, error, panic or canceled), with the rows written
// and the error. A job's work over a window is idempotent: running a window
// again replaces what it wrote, so a run killed midway is repaired by running
// it again, and two daemons running the same window write the same values.
//
// Scheduled runs ask the job which windows to process (Plan) from the last
// ok scheduled run's watermark; Backfill runs a range window by window.
package jobs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
)

// Env is what a job needs to reach ClickHouse.
type Env struct {
	Conn driver.Conn
	DB   string
	// Session, if set, opens a connection of its own: one session, whose
	// temporary tables live until it is closed (the rollup job stages a
	// window in one). Nil: jobs do without.
	Session func(context.Context) (driver.Conn, error)
	// QueryTimeout bounds each query (paired with max_execution_time).
	QueryTimeout time.Duration
	Log          *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// NowUTC is the env's clock.
func (e *Env) NowUTC() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

// Ctx gives a query context with the deadline and max_execution_time, and
// any extra settings of the query.
func (e *Env) Ctx(ctx context.Context, extra ...chconn.Setting) (context.Context, context.CancelFunc) {
	t := e.QueryTimeout
	if t <= 0 {
		t = 5 * time.Minute
	}
	return chconn.WithQuerySettings(ctx, t, extra...)
}

// Table is the quoted name of one of our tables.
func (e *Env) Table(name string) string { return "`" + e.DB + "`.`" + name + "`" }

// Logger never returns nil.
func (e *Env) Logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Insert sends columns to a table of ours, in chunks handled by the caller.
func (e *Env) Insert(ctx context.Context, t chschema.Table, cols chbatch.Columns, rows int) error {
	qctx, cancel := e.Ctx(ctx)
	defer cancel()
	return chbatch.Insert(qctx, e.Conn, e.DB, t, cols, rows)
}

// Window is a half-open range of time a job processes. Parts, when not nil,
// are the only buckets inside it that need work (e.g. the hours with late
// data); an empty non-nil Parts means nothing changed.
type Window struct {
	From, To time.Time
	Parts    []time.Time
}

func (w Window) String() string {
	s := w.From.UTC().Format("2006-01-02T15:04") + "/" + w.To.UTC().Format("2006-01-02T15:04")
	if len(w.Parts) > 0 {
		s += fmt.Sprintf(" (%d parts)", len(w.Parts))
	}
	return s
}

// Plan is what a scheduled run will do.
type Plan struct {
	Windows []Window
	// Watermark is recorded with the run once every window is ok; the next
	// scheduled run plans from it.
	Watermark time.Time
}

// Job is one analytics job.
type Job interface {
	Name() string
	// Plan lists the windows a scheduled run at now processes, given the
	// watermark of the last ok scheduled run (zero when there is none).
	Plan(ctx context.Context, env *Env, now, watermark time.Time) (Plan, error)
	// Run processes one window idempotently and returns the rows it wrote.
	Run(ctx context.Context, env *Env, w Window) (int, error)
	// Split cuts [from, to) into backfill windows; nil when the job cannot
	// backfill.
	Split(from, to time.Time) []Window
}

// Concurrent is implemented by a job whose backfill windows are
// independent (none reads what another writes, e.g. rows of a day two
// windows share), so that Backfill may run several at once.
type Concurrent interface {
	ConcurrentWindows() bool
}

// Status of a run.
const (
	StatusRunning  = "running"
	StatusOK       = "ok"
	StatusError    = "error"
	StatusPanic    = "panic"
	StatusCanceled = "canceled"
)

// Triggers of a run.
const (
	TriggerSchedule = "schedule"
	TriggerBackfill = "backfill"
)

// Observer is told about runs (the daemon's metrics).
type Observer interface {
	WindowDone(job, status string, elapsed time.Duration, rows int)
}

// Runner runs jobs and records them.
type Runner struct {
	Env
	// Host names this process in job_runs (default hostname/pid).
	Host     string
	Observer Observer
	// Parallel is how many backfill windows run at once, each on its own
	// session, for a job whose windows are independent (Concurrent); 0 or 1
	// runs them one after another. The server then holds as many staged
	// windows in memory.
	Parallel int
	// pause, if set, is called after each window with the count so far (tests).
	AfterWindow func(job string, n int)
}

func (r *Runner) host() string {
	if r.Host != "" {
		return r.Host
	}
	h, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", h, os.Getpid())
}

// RunScheduled plans and runs one scheduled run of job.
func (r *Runner) RunScheduled(ctx context.Context, job Job) (rows int, err error) {
	log := r.Logger().With("job", job.Name(), "trigger", TriggerSchedule)
	wm, err := LastWatermark(ctx, &r.Env, job.Name())
	if err != nil {
		return 0, err
	}
	now := r.NowUTC()
	plan, err := safePlan(ctx, job, &r.Env, now, wm)
	if err != nil {
		log.Error("plan failed", "error", err)
		return 0, err
	}
	if len(plan.Windows) == 0 {
		log.Debug("nothing to do", "watermark", wm)
	}
	runID := newRunID(job.Name(), now)
	for i, w := range plan.Windows {
		mark := time.Time{}
		if i == len(plan.Windows)-1 {
			mark = plan.Watermark // only the last window moves the watermark
		}
		n, err := r.runWindow(ctx, job, runID, TriggerSchedule, w, mark, log)
		rows += n
		if err != nil {
			return rows, err
		}
	}
	if len(plan.Windows) == 0 && !plan.Watermark.IsZero() {
		// Record the empty run so the watermark advances.
		_, err := r.runWindow(ctx, job, runID, TriggerSchedule, Window{From: plan.Watermark, To: plan.Watermark}, plan.Watermark, log)
		return 0, err
	}
	return rows, nil
}

// Backfill runs job over [from, to) window by window, Parallel at once when
// the job's windows are independent; progress is told after each window
// that ends ok (one call at a time, done counting up). The first window to
// fail cancels the others and is the error returned.
func (r *Runner) Backfill(ctx context.Context, job Job, from, to time.Time, progress func(done, total int, w Window, rows int)) (int, error) {
	if !from.Before(to) {
		return 0, fmt.Errorf("backfill %s: from %s is not before to %s", job.Name(), from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	windows := job.Split(from.UTC(), to.UTC())
	if windows == nil {
		return 0, fmt.Errorf("job %s has no backfill (it works on the current state only)", job.Name())
	}
	workers := 1
	if c, ok := job.(Concurrent); ok && c.ConcurrentWindows() {
		workers = min(max(r.Parallel, 1), len(windows))
	}
	log := r.Logger().With("job", job.Name(), "trigger", TriggerBackfill)
	if workers > 1 {
		log.Info("backfill", "windows", len(windows), "at_once", workers)
	}
	runID := newRunID(job.Name(), r.NowUTC())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan Window)
	var (
		mu          sync.Mutex
		total, done int
		first       error
		wg          sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for w := range next {
				if ctx.Err() != nil {
					continue // a window failed: start no more
				}
				n, err := r.runWindow(ctx, job, runID, TriggerBackfill, w, time.Time{}, log)
				mu.Lock()
				total += n
				switch {
				case err != nil && first == nil:
					first = err
					cancel()
				case err == nil:
					done++
					if progress != nil {
						progress(done, len(windows), w, n)
					}
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, w := range windows {
		select {
		case next <- w:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err() // canceled by the caller between windows
	}
	return total, first
}

// runWindow runs one window with panic recovery and records it.
func (r *Runner) runWindow(ctx context.Context, job Job, runID, trigger string, w Window, watermark time.Time, log *slog.Logger) (rows int, err error) {
	started := r.NowUTC()
	rec := Run{Job: job.Name(), RunID: runID, Window: w, Started: started, Status: StatusRunning, Trigger: trigger, Host: r.host()}
	if err := r.record(ctx, rec); err != nil {
		return 0, err
	}
	log = log.With("run_id", runID, "window", w.String())
	log.Info("window started")
	clock := time.Now()
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = &PanicError{Value: p, Stack: string(debug.Stack())}
			}
		}()
		rows, err = job.Run(ctx, &r.Env, w)
	}()
	rec.Rows = uint64(max(rows, 0))
	rec.Finished = r.NowUTC()
	rec.Status = StatusOK
	var pe *PanicError
	switch {
	case errors.As(err, &pe):
		rec.Status = StatusPanic
	case err != nil && ctx.Err() != nil:
		rec.Status = StatusCanceled
	case err != nil:
		rec.Status = StatusError
	default:
		rec.Watermark = watermark
	}
	if err != nil {
		rec.Error = err.Error()
	}
	elapsed := time.Since(clock)
	// Record even when ctx is done (graceful shutdown), with a fresh deadline.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if rerr := r.record(rctx, rec); rerr != nil {
		log.Error("could not record the run", "error", rerr)
		if err == nil {
			err = rerr
		}
	}
	if r.Observer != nil {
		r.Observer.WindowDone(job.Name(), rec.Status, elapsed, rows)
	}
	if err != nil {
		log.Error("window failed", "status", rec.Status, "rows", rows, "elapsed", elapsed.Round(time.Millisecond), "error", err)
		if pe != nil {
			log.Error("panic stack", "stack", firstLines(pe.Stack, 12))
		}
		return rows, fmt.Errorf("job %s window %s: %w", job.Name(), w, err)
	}
	log.Info("window done", "status", rec.Status, "rows", rows, "elapsed", elapsed.Round(time.Millisecond))
	if r.AfterWindow != nil {
		r.AfterWindow(job.Name(), rows)
	}
	return rows, nil
}

// PanicError is a recovered panic of a job.
type PanicError struct {
	Value any
	Stack string
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

func safePlan(ctx context.Context, job Job, env *Env, now, wm time.Time) (p Plan, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: string(debug.Stack())}
		}
	}()
	return job.Plan(ctx, env, now, wm)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func newRunID(job string, now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%x", job, now.UTC().Format("20060102T150405"), b)
}
