package jobs

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
)

// Run is one row of job_runs.
type Run struct {
	Job       string    `json:"job"`
	RunID     string    `json:"run_id"`
	Window    Window    `json:"-"`
	Watermark time.Time `json:"watermark"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished"`
	Status    string    `json:"status"`
	Rows      uint64    `json:"rows"`
	Error     string    `json:"error"`
	Trigger   string    `json:"trigger"`
	Host      string    `json:"host"`
}

// version orders the rows of one run: the final row replaces the running
// one even when both carry the same clock reading.
func (r Run) version() uint64 { return r.versionAfter(0) }

// versionAfter is the version of the row given the newest stored version of
// the job's rows: above it whatever the clock says, so a final row replaces
// its running row even if the clock stepped back in between, and the latest
// recorded run has the highest version (LastWatermark relies on it). The low
// bit tells a final row from a running one.
func (r Run) versionAfter(newest uint64) uint64 {
	t := r.Started
	final := uint64(0)
	if r.Status != StatusRunning {
		t, final = r.Finished, 1
	}
	return Version(t, newest>>1)<<1 | final
}

func (r *Runner) record(ctx context.Context, run Run) error {
	ts := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Unix(0, 0).UTC()
		}
		return t.UTC()
	}
	newest, err := r.newestVersion(ctx, chschema.JobRuns, "job = ?", run.Job)
	if err != nil {
		return fmt.Errorf("record %s run %s: %w", run.Job, run.RunID, err)
	}
	cols := chbatch.Columns{
		"job": []string{run.Job}, "run_id": []string{run.RunID},
		"window_from": []time.Time{ts(run.Window.From)}, "window_to": []time.Time{ts(run.Window.To)},
		"watermark": []time.Time{ts(run.Watermark)}, "started": []time.Time{ts(run.Started)},
		"finished": []time.Time{ts(run.Finished)}, "status": []string{run.Status},
		"rows": []uint64{run.Rows}, "error": []string{run.Error}, "trigger": []string{run.Trigger},
		"host": []string{run.Host}, "version": []uint64{run.versionAfter(newest)},
	}
	if err := r.Insert(ctx, chschema.JobRuns, cols, 1); err != nil {
		return fmt.Errorf("record %s run %s: %w", run.Job, run.RunID, err)
	}
	return nil
}

// LastWatermark is the watermark of the job's latest ok scheduled run (zero
// when there is none): the latest by version, which grows with every record
// of the job whatever the clock does, not the highest watermark, so a
// watermark recorded before the clock stepped back does not hide the later
// ones.
func LastWatermark(ctx context.Context, env *Env, job string) (time.Time, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	var n uint64
	var wm time.Time
	err := env.Conn.QueryRow(qctx, "SELECT count(), argMax(watermark, version) FROM "+env.Table(chschema.JobRuns.Name)+
		" FINAL WHERE job = ? AND status = 'ok' AND trigger = ? AND watermark > toDateTime(0)", job, TriggerSchedule).Scan(&n, &wm)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the watermark of %s: %w", job, err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return wm.UTC(), nil
}

// Runs lists the latest runs (newest first), optionally of one job.
func Runs(ctx context.Context, env *Env, job string, limit int) ([]Run, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	q := "SELECT job, run_id, window_from, window_to, watermark, started, finished, toString(status), rows, error, trigger, host FROM " +
		env.Table(chschema.JobRuns.Name) + " FINAL WHERE (? = '' OR job = ?) ORDER BY started DESC, run_id, window_from DESC LIMIT ?"
	rows, err := env.Conn.Query(qctx, q, job, job, limit)
	if err != nil {
		return nil, fmt.Errorf("list job runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		if err := rows.Scan(&r.Job, &r.RunID, &r.Window.From, &r.Window.To, &r.Watermark, &r.Started, &r.Finished,
			&r.Status, &r.Rows, &r.Error, &r.Trigger, &r.Host); err != nil {
			return nil, fmt.Errorf("list job runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Covered reports whether ok runs of job (any trigger) together cover
// [from, to).
func Covered(ctx context.Context, env *Env, job string, from, to time.Time) (bool, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	rows, err := env.Conn.Query(qctx, "SELECT window_from, window_to FROM "+env.Table(chschema.JobRuns.Name)+
		" FINAL WHERE job = ? AND status = 'ok' AND window_to > toDateTime(?) AND window_from < toDateTime(?) LIMIT 100000",
		job, from.Unix(), to.Unix())
	if err != nil {
		return false, fmt.Errorf("read the coverage of %s: %w", job, err)
	}
	defer rows.Close()
	var spans [][2]time.Time
	for rows.Next() {
		var a, b time.Time
		if err := rows.Scan(&a, &b); err != nil {
			return false, err
		}
		spans = append(spans, [2]time.Time{a, b})
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	return covers(spans, from, to), nil
}

// covers reports whether the union of spans covers [from, to).
func covers(spans [][2]time.Time, from, to time.Time) bool {
	sort.Slice(spans, func(i, j int) bool { return spans[i][0].Before(spans[j][0]) })
	at := from
	for _, s := range spans {
		if s[0].After(at) {
			return false
		}
		if s[1].After(at) {
			at = s[1]
		}
		if !at.Before(to) {
			return true
		}
	}
	return !at.Before(to)
}
