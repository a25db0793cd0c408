// Package timeouts is the timeout-advice job. Per hour and gateway it stores
// the histogram of terminal-observed authorization latency (the durations of
// pos.host.request spans, the gateway taken from the transaction's
// pos.transaction span) and the timeouts terminals reported, in
// auth_latency; then, per day and gateway, over the trailing days, how many
// authorizations each candidate terminal timeout would have timed out and the
// shortest candidate that keeps timeouts under the target rate, in
// timeout_advice. Both are keyed by their bucket: running a window again
// replaces them.
package timeouts

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/settlewatch/settlewatch/analytics/advice"
	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
)

// Name of the job (query.TimeoutsJob reads its coverage).
const Name = query.TimeoutsJob

// Job is the timeout-advice job.
type Job struct {
	// Lookback: each scheduled run recomputes the hours since now − Lookback (0: 3h).
	Lookback time.Duration
	// AdviceDays is the trailing period of a day's advice (0: 7).
	AdviceDays   int
	CandidatesMs []uint64
	TargetRate   float64
}

// Name implements jobs.Job.
func (j *Job) Name() string { return Name }

// Plan recomputes the last Lookback of hours, the current one included.
// When the clock and the data's time (jobs.Env.DataTime, taken within two
// days of the clock) disagree, the window spans both, from Lookback before
// the earlier to the hour of the later: after a clock jump either way, the
// hours still receiving facts are recomputed.
func (j *Job) Plan(ctx context.Context, env *jobs.Env, now, _ time.Time) (jobs.Plan, error) {
	lb := j.Lookback
	if lb <= 0 {
		lb = 3 * time.Hour
	}
	early, late := now, now
	data, err := env.DataTime(ctx)
	if err != nil {
		return jobs.Plan{}, fmt.Errorf("timeouts: %w", err)
	}
	if !data.IsZero() {
		data = maxTime(now.Add(-48*time.Hour), minTime(data, now.Add(48*time.Hour)))
		early, late = minTime(now, data), maxTime(now, data)
	}
	return jobs.Plan{Windows: []jobs.Window{{From: model.Hour.Truncate(early.Add(-lb)), To: model.Hour.Truncate(late).Add(time.Hour)}}, Watermark: now}, nil
}

// Split cuts a backfill into days.
func (j *Job) Split(from, to time.Time) []jobs.Window {
	from, to = model.Hour.Truncate(from), model.Hour.Ceil(to)
	var out []jobs.Window
	for t := from; t.Before(to); t = t.Add(24 * time.Hour) {
		out = append(out, jobs.Window{From: t, To: minTime(t.Add(24*time.Hour), to)})
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

type hkey struct {
	hour    int64
	gateway string
}

type hval struct {
	n, tmo uint64
	hist   []uint64
}

// Run recomputes the hours of w, then the advice of the days they touch.
func (j *Job) Run(ctx context.Context, env *jobs.Env, w jobs.Window) (int, error) {
	from, to := model.Hour.Truncate(w.From), model.Hour.Ceil(w.To)
	version, err := env.NextVersion(ctx, chschema.AuthLatency, "bucket >= toDateTime(?) AND bucket < toDateTime(?)", from.Unix(), to.Unix())
	if err != nil {
		return 0, fmt.Errorf("timeouts: %w", err)
	}
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	rows, err := env.Conn.Query(qctx, query.AuthLatencySQL(env.DB, "toStartOfHour(st)"), query.AuthLatencyArgs(from, to)...)
	if err != nil {
		return 0, fmt.Errorf("timeouts: read authorizations: %w", err)
	}
	m := map[hkey]hval{}
	for rows.Next() {
		var b time.Time
		var k hkey
		var v hval
		if err := rows.Scan(&b, &k.gateway, &v.n, &v.tmo, &v.hist); err != nil {
			rows.Close()
			return 0, fmt.Errorf("timeouts: scan: %w", err)
		}
		k.hour = b.Unix()
		m[k] = v
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, fmt.Errorf("timeouts: read authorizations: %w", err)
	}
	old, err := env.Conn.Query(qctx, "SELECT bucket, gateway_id FROM "+env.Table(chschema.AuthLatency.Name)+
		" FINAL WHERE bucket >= toDateTime(?) AND bucket < toDateTime(?) AND requests > 0", from.Unix(), to.Unix())
	if err != nil {
		return 0, fmt.Errorf("timeouts: read previous hours: %w", err)
	}
	for old.Next() {
		var b time.Time
		var k hkey
		if err := old.Scan(&b, &k.gateway); err != nil {
			old.Close()
			return 0, err
		}
		k.hour = b.Unix()
		if _, ok := m[k]; !ok {
			m[k] = hval{hist: make([]uint64, model.HistBuckets)}
		}
	}
	old.Close()
	written := 0
	if len(m) > 0 {
		var c struct {
			b       []time.Time
			gw      []string
			n, t, v []uint64
			h       [][]uint64
		}
		for k, v := range m {
			c.b = append(c.b, time.Unix(k.hour, 0).UTC())
			c.gw = append(c.gw, k.gateway)
			c.n = append(c.n, v.n)
			c.t = append(c.t, v.tmo)
			c.h = append(c.h, model.AddHist(make([]uint64, model.HistBuckets), v.hist))
			c.v = append(c.v, version)
		}
		cols := chbatch.Columns{"bucket": c.b, "gateway_id": c.gw, "requests": c.n, "timeouts": c.t, "latency_hist": c.h, "version": c.v}
		if err := env.Insert(ctx, chschema.AuthLatency, cols, len(m)); err != nil {
			return 0, fmt.Errorf("timeouts: write hours: %w", err)
		}
		written += len(m)
	}
	for d := model.Day.Truncate(from); d.Before(to); d = d.Add(24 * time.Hour) {
		n, err := j.advise(ctx, env, d)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// advise writes the advice of day d over the AdviceDays ending with it.
func (j *Job) advise(ctx context.Context, env *jobs.Env, d time.Time) (int, error) {
	days := j.AdviceDays
	if days <= 0 {
		days = 7
	}
	version, err := env.NextVersion(ctx, chschema.TimeoutAdvice, "day = toDateTime(?)", d.Unix())
	if err != nil {
		return 0, fmt.Errorf("timeouts: %w", err)
	}
	end := d.Add(24 * time.Hour)
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	rows, err := env.Conn.Query(qctx, "SELECT gateway_id AS g, sum(timeouts), sumForEach(latency_hist) FROM "+env.Table(chschema.AuthLatency.Name)+
		" FINAL WHERE bucket >= toDateTime(?) AND bucket < toDateTime(?) GROUP BY g ORDER BY g", end.Add(-time.Duration(days)*24*time.Hour).Unix(), end.Unix())
	if err != nil {
		return 0, fmt.Errorf("timeouts: read hours for advice: %w", err)
	}
	defer rows.Close()
	var advs []advice.Advice
	for rows.Next() {
		var gw string
		var tmo uint64
		var h []uint64
		if err := rows.Scan(&gw, &tmo, &h); err != nil {
			return 0, err
		}
		a, err := advice.Advise(gw, h, tmo, j.CandidatesMs, j.TargetRate)
		if err != nil {
			return 0, err
		}
		advs = append(advs, a)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(advs) == 0 {
		return 0, nil
	}
	var c struct {
		day                 []time.Time
		gw, sum             []string
		req, tmo, rec, ver  []uint64
		p50, p90, p99, p999 []float64
		cand, would         [][]uint64
	}
	for _, a := range advs {
		c.day = append(c.day, d)
		c.gw = append(c.gw, a.Gateway)
		c.req = append(c.req, a.Requests)
		c.tmo = append(c.tmo, a.ObservedTimeouts)
		c.p50, c.p90, c.p99, c.p999 = append(c.p50, a.P50Ms), append(c.p90, a.P90Ms), append(c.p99, a.P99Ms), append(c.p999, a.P999Ms)
		var cm, wt []uint64
		for _, x := range a.Candidates {
			cm = append(cm, x.TimeoutMs)
			wt = append(wt, x.WouldTimeout)
		}
		c.cand = append(c.cand, slices.Clip(cm))
		c.would = append(c.would, wt)
		c.rec = append(c.rec, a.RecommendedMs)
		c.sum = append(c.sum, a.Summary)
		c.ver = append(c.ver, version)
	}
	cols := chbatch.Columns{"day": c.day, "gateway_id": c.gw, "requests": c.req, "observed_timeouts": c.tmo, "p50_ms": c.p50,
		"p90_ms": c.p90, "p99_ms": c.p99, "p999_ms": c.p999, "candidates_ms": c.cand, "would_timeout": c.would,
		"recommended_ms": c.rec, "summary": c.sum, "version": c.ver}
	if err := env.Insert(ctx, chschema.TimeoutAdvice, cols, len(advs)); err != nil {
		return 0, fmt.Errorf("timeouts: write advice: %w", err)
	}
	return len(advs), nil
}
