// Package incidents is the trends-and-incidents job. For each cause, in total
// and per value of the fine dimensions (gateway, region, acquirer, issuer,
// card scheme, funding, entry mode), it compares the failure rate of every
// 5-minute bucket of the recent window with a robust baseline: the median and
// MAD of the buckets of the same hour of the week in previous weeks
// (analytics/anomaly). Spikes and step changes open incidents; an incident
// closes when the rate has been back to normal for a few buckets. Symptoms
// are dropped: when a cause rises overall, only the slices where the excess
// failures concentrate (a gateway, an issuer) get their own incident next to
// the overall one.
//
// Each run re-evaluates the last Replay of buckets from the rollups, so late
// data is taken into account; an incident's id is a hash of its cause, slice
// and start, and its version the end of the evaluated window (derived from
// the data, see Plan; an evaluation of the same end with later data
// replaces it, being inserted last), so running a window again or from two
// daemons writes the same rows.
package incidents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/settlewatch/settlewatch/analytics/anomaly"
	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// Name of the job.
const Name = "incidents"

// DefaultDimensions are the slices evaluated besides the total.
var DefaultDimensions = []string{"gateway", "region", "acquirer", "issuer", "card_scheme", "funding", "entry_mode"}

// Job is the incidents job.
type Job struct {
	Detector anomaly.Config
	// Dimensions evaluated (fine dimensions only; nil: DefaultDimensions).
	Dimensions []string
	// BaselineWeeks of history (0: 4).
	BaselineWeeks int
	// Replay is how much of the recent past each scheduled run re-evaluates (0: 6h).
	Replay time.Duration
	// Settle: buckets younger than this are not evaluated yet (0: 10m).
	Settle time.Duration
	// MinShare of the overall excess a slice needs for its own incident (0: 0.5).
	MinShare float64
}

const g = model.FiveMinutes

// Name implements jobs.Job.
func (j *Job) Name() string { return Name }

// Validate checks the configuration.
func (j *Job) Validate() error {
	for _, d := range j.Dimensions {
		dd, err := model.LookupDimension(d)
		if err != nil {
			return fmt.Errorf("incidents: %w", err)
		}
		if !dd.Fine {
			return fmt.Errorf("incidents: dimension %s has no 5-minute rollups (use one of the fine dimensions)", dd.Name)
		}
	}
	return nil
}

func (j *Job) dims() []string {
	ds := j.Dimensions
	if ds == nil {
		ds = DefaultDimensions
	}
	out := []string{model.All}
	for _, d := range ds {
		dd, _ := model.LookupDimension(d)
		out = append(out, dd.Name)
	}
	return out
}

func (j *Job) weeks() int {
	if j.BaselineWeeks > 0 {
		return j.BaselineWeeks
	}
	return 4
}

// Plan evaluates [end − Settle − Replay, end − Settle) on 5-minute buckets,
// where end is the end of the newest 5-minute bucket of the rollups with
// enough transactions to be judged: the data's time, not the daemon's
// clock. An incident row's version is the end of its evaluation, so an end
// read from a clock that jumped ahead would outrank every later evaluation
// until the clock caught up, and one read after the clock stepped back
// would lose to the evaluations before it. With no such bucket in the 40
// days before the clock, end is the clock.
func (j *Job) Plan(ctx context.Context, env *jobs.Env, now, _ time.Time) (jobs.Plan, error) {
	settle, replay := j.Settle, j.Replay
	if settle <= 0 {
		settle = 10 * time.Minute
	}
	if replay <= 0 {
		replay = 6 * time.Hour
	}
	end := now
	newest, err := j.newestBucket(ctx, env, now.Add(-40*24*time.Hour))
	if err != nil {
		return jobs.Plan{}, err
	}
	if !newest.IsZero() {
		end = newest.Add(g.Duration())
	}
	to := g.Truncate(end.Add(-settle))
	return jobs.Plan{Windows: []jobs.Window{{From: g.Truncate(to.Add(-replay)), To: to}}, Watermark: to}, nil
}

// newestBucket is the newest 5-minute bucket since since with at least the
// detector's MinVolume transactions in total (zero when there is none): a
// stray transaction stamped by a terminal whose clock is ahead does not
// count.
func (j *Job) newestBucket(ctx context.Context, env *jobs.Env, since time.Time) (time.Time, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	rows, err := env.Conn.Query(qctx, "SELECT bucket AS b, sum(transactions) AS n FROM "+env.Table(chschema.Rollups.Name)+
		" FINAL WHERE granularity = ? AND dimension = ? AND bucket >= toDateTime(?) GROUP BY b HAVING n >= ? ORDER BY b DESC LIMIT 1",
		uint32(g), model.All, max(since.Unix(), 0), j.Detector.WithDefaults().MinVolume)
	if err != nil {
		return time.Time{}, fmt.Errorf("incidents: find the newest bucket: %w", err)
	}
	defer rows.Close()
	var b time.Time
	var n uint64
	if rows.Next() {
		if err := rows.Scan(&b, &n); err != nil {
			return time.Time{}, fmt.Errorf("incidents: find the newest bucket: %w", err)
		}
		b = b.UTC()
	}
	return b, rows.Err()
}

// Split cuts a backfill into days, evaluated in order (each continues the
// incidents the previous left open).
func (j *Job) Split(from, to time.Time) []jobs.Window {
	from, to = g.Truncate(from), g.Ceil(to)
	var out []jobs.Window
	for t := from; t.Before(to); t = t.Add(24 * time.Hour) {
		end := t.Add(24 * time.Hour)
		if end.After(to) {
			end = to
		}
		out = append(out, jobs.Window{From: t, To: end})
	}
	return out
}

type slice struct{ dim, value string }

type bucketData struct {
	total uint64
	fails map[string]uint64
}

// series holds bucket data per slice.
type series map[slice]map[int64]*bucketData

// stored is an incident already in the table.
type stored struct {
	anomaly.SliceEpisode
	id     string
	status string
}

// Run evaluates one window.
func (j *Job) Run(ctx context.Context, env *jobs.Env, w jobs.Window) (int, error) {
	if err := j.Validate(); err != nil {
		return 0, err
	}
	from, to := g.Truncate(w.From), g.Truncate(w.To)
	if !from.Before(to) {
		return 0, nil
	}
	det := j.Detector.WithDefaults()
	prev, err := j.readIncidents(ctx, env, from, to)
	if err != nil {
		return 0, err
	}
	// Continued incidents are re-evaluated from their start (at most a week back).
	readFrom := from
	cont := map[anomaly.Slice]*stored{}
	for i := range prev {
		p := &prev[i]
		if p.Start.Before(from) {
			if c := cont[p.Slice]; c == nil || p.Start.After(c.Start) {
				cont[p.Slice] = p
			}
			if p.Start.Before(readFrom) && !p.Start.Before(from.Add(-7*24*time.Hour)) {
				readFrom = p.Start
			}
		}
	}
	cur, err := j.read(ctx, env, [][2]time.Time{{readFrom, to}})
	if err != nil {
		return 0, err
	}
	var spans [][2]time.Time
	for k := 1; k <= j.weeks(); k++ {
		d := time.Duration(k) * anomaly.Week
		spans = append(spans, [2]time.Time{model.Hour.Truncate(readFrom).Add(-d), model.Hour.Ceil(to).Add(-d)})
	}
	base, err := j.read(ctx, env, spans)
	if err != nil {
		return 0, err
	}
	var found []anomaly.SliceEpisode
	for _, s := range sortedSlices(cur) {
		causes := map[string]bool{}
		for _, bd := range cur[s] {
			for c, n := range bd.fails {
				if n > 0 {
					causes[c] = true
				}
			}
		}
		for sl := range cont {
			if sl.Dimension == s.dim && sl.Value == s.value {
				causes[sl.Cause] = true
			}
		}
		for _, c := range domain.Causes {
			if !causes[string(c)] {
				continue
			}
			sl := anomaly.Slice{Cause: string(c), Dimension: s.dim, Value: s.value}
			var open *anomaly.Episode
			start := from
			if p := cont[sl]; p != nil {
				open = &anomaly.Episode{Start: p.Start, Kind: p.Kind}
				start = p.Start
			}
			pts := points(cur[s], base[s], string(c), start, to, j.weeks(), det)
			for _, e := range det.Detect(pts, open) {
				found = append(found, anomaly.SliceEpisode{Slice: sl, Episode: e})
			}
		}
	}
	share := j.MinShare
	if share <= 0 {
		share = 0.5
	}
	kept := anomaly.Attribute(found, model.All, share)
	version := uint64(to.UnixNano())
	rows := make([]incidentRow, 0, len(kept))
	ids := map[string]bool{}
	for _, e := range kept {
		r := toRow(e, to, version)
		ids[r.id] = true
		rows = append(rows, r)
	}
	// Stored open incidents that this evaluation no longer finds (late data
	// moved them, or they became symptoms) are closed.
	for _, p := range prev {
		if ids[p.id] || p.status != "open" {
			continue
		}
		e := p.SliceEpisode
		e.End = from
		if !e.Start.Before(from) {
			e.End = e.Start.Add(g.Duration())
		}
		rows = append(rows, toRow(e, to, version))
	}
	if len(rows) == 0 {
		return 0, nil
	}
	if err := write(ctx, env, rows); err != nil {
		return 0, err
	}
	return len(rows), nil
}

func sortedSlices(s series) []slice {
	out := make([]slice, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].dim != out[j].dim {
			return out[i].dim < out[j].dim
		}
		return out[i].value < out[j].value
	})
	return out
}

// points builds the series of one cause of one slice over [from, to).
func points(cur, base map[int64]*bucketData, cause string, from, to time.Time, weeks int, det anomaly.Config) []anomaly.Point {
	var out []anomaly.Point
	baselines := map[int64]anomaly.Baseline{}
	for t := from; t.Before(to); t = t.Add(g.Duration()) {
		bd := cur[t.Unix()]
		if bd == nil || bd.total == 0 {
			continue
		}
		h := model.Hour.Truncate(t).Unix()
		b, ok := baselines[h]
		if !ok {
			var samples []anomaly.Sample
			for _, hs := range anomaly.BaselineHours(t, weeks) {
				for m := hs; m.Before(hs.Add(time.Hour)); m = m.Add(g.Duration()) {
					if x := base[m.Unix()]; x != nil && x.total > 0 {
						samples = append(samples, anomaly.Sample{Failures: x.fails[cause], Total: x.total})
					}
				}
			}
			b = det.BaselineOf(samples)
			baselines[h] = b
		}
		out = append(out, anomaly.Point{Bucket: t, Sample: anomaly.Sample{Failures: bd.fails[cause], Total: bd.total}, Base: b})
	}
	return out
}

// read loads the 5-minute rollups of the job's dimensions over spans.
func (j *Job) read(ctx context.Context, env *jobs.Env, spans [][2]time.Time) (series, error) {
	var conds []string
	var args []any
	dims := j.dims()
	dimArgs := make([]any, len(dims))
	for i, d := range dims {
		dimArgs[i] = d
	}
	for _, s := range spans {
		conds = append(conds, "(bucket >= toDateTime(?) AND bucket < toDateTime(?))")
		args = append(args, s[0].Unix(), s[1].Unix())
	}
	q := "SELECT dimension, value, bucket, toString(cause) AS c, sum(transactions) AS n FROM " + env.Table(chschema.Rollups.Name) +
		" FINAL WHERE granularity = ? AND has(?, dimension) AND (" + strings.Join(conds, " OR ") + ")" +
		" GROUP BY dimension, value, bucket, c HAVING n > 0"
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	rows, err := env.Conn.Query(qctx, q, append([]any{uint32(g), dims}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("incidents: read rollups: %w", err)
	}
	defer rows.Close()
	out := series{}
	for rows.Next() {
		var s slice
		var b time.Time
		var c string
		var n uint64
		if err := rows.Scan(&s.dim, &s.value, &b, &c, &n); err != nil {
			return nil, fmt.Errorf("incidents: scan rollups: %w", err)
		}
		m := out[s]
		if m == nil {
			m = map[int64]*bucketData{}
			out[s] = m
		}
		bd := m[b.Unix()]
		if bd == nil {
			bd = &bucketData{fails: map[string]uint64{}}
			m[b.Unix()] = bd
		}
		bd.total += n
		if c != string(domain.CauseNone) {
			bd.fails[c] += n
		}
	}
	return out, rows.Err()
}

func (j *Job) readIncidents(ctx context.Context, env *jobs.Env, from, to time.Time) ([]stored, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	rows, err := env.Conn.Query(qctx, "SELECT incident_id, toString(status), toString(cause), dimension, value, started, ended, kind FROM "+
		env.Table(chschema.Incidents.Name)+" FINAL WHERE granularity = ? AND started < toDateTime(?) AND (status = 'open' OR ended > toDateTime(?))",
		uint32(g), to.Unix(), from.Unix())
	if err != nil {
		return nil, fmt.Errorf("incidents: read stored incidents: %w", err)
	}
	defer rows.Close()
	var out []stored
	dims := j.dims()
	for rows.Next() {
		var s stored
		var ended time.Time
		if err := rows.Scan(&s.id, &s.status, &s.Cause, &s.Dimension, &s.Value, &s.Start, &ended, &s.Kind); err != nil {
			return nil, fmt.Errorf("incidents: scan stored incidents: %w", err)
		}
		if !slices.Contains(dims, s.Dimension) {
			continue
		}
		s.Start = s.Start.UTC()
		if s.status != "open" {
			s.End = ended.UTC()
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

type incidentRow struct {
	id, cause, dim, value, status, kind, severity, summary string
	started, ended, evaluated                              time.Time
	score, baseline, observed, peak                        float64
	failures, total, version                               uint64
}

// ID names an incident.
func ID(cause, dim, value string, start time.Time) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%d", cause, dim, value, uint32(g), start.Unix())))
	return hex.EncodeToString(h[:8])
}

func toRow(e anomaly.SliceEpisode, evaluated time.Time, version uint64) incidentRow {
	r := incidentRow{
		id: ID(e.Cause, e.Dimension, e.Value, e.Start), cause: e.Cause, dim: e.Dimension, value: e.Value,
		status: "open", kind: e.Kind, severity: e.Severity(), started: e.Start.UTC(), ended: time.Unix(0, 0).UTC(),
		evaluated: evaluated.UTC(), score: e.PeakZ, baseline: e.Baseline, observed: e.Observed, peak: e.Peak,
		failures: e.Failures, total: e.Total, version: version,
	}
	if r.kind == "" {
		r.kind = anomaly.KindSpike
	}
	if !e.Open() {
		r.status, r.ended = "closed", e.End.UTC()
	}
	r.summary = Sentence(e)
	return r
}

// Sentence describes an incident for people.
func Sentence(e anomaly.SliceEpisode) string {
	where := "across all transactions"
	if e.Dimension != model.All {
		where = fmt.Sprintf("on %s %s", strings.ReplaceAll(e.Dimension, "_", " "), e.Value)
		if e.Value == "" {
			where = fmt.Sprintf("on transactions without a %s", strings.ReplaceAll(e.Dimension, "_", " "))
		}
	}
	s := fmt.Sprintf("%s failures %s rose to %.1f%% of transactions (usually %.1f%% at this hour of the week) from %s",
		capital(e.Cause), where, 100*e.Peak, 100*e.Baseline, e.Start.UTC().Format("Mon 2 Jan 2006 15:04 UTC"))
	kind := "a sudden spike"
	if e.Kind == anomaly.KindStep {
		kind = "a sustained step up"
	}
	s += fmt.Sprintf(": %s, %d of %d transactions failed (%.1f%%)", kind, e.Failures, e.Total, 100*e.Observed)
	if e.Open() {
		return s + "; still open."
	}
	return s + fmt.Sprintf("; back to normal at %s.", e.End.UTC().Format("15:04 UTC"))
}

func capital(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func write(ctx context.Context, env *jobs.Env, rows []incidentRow) error {
	var c struct {
		id, cause, dim, value, status, kind, sev, sum []string
		started, ended, eval                          []time.Time
		score, base, obs, peak                        []float64
		fails, total, ver                             []uint64
	}
	gran := make([]uint32, 0, len(rows))
	for _, r := range rows {
		c.id = append(c.id, r.id)
		c.cause = append(c.cause, r.cause)
		c.dim = append(c.dim, r.dim)
		c.value = append(c.value, r.value)
		gran = append(gran, uint32(g))
		c.started = append(c.started, r.started)
		c.ended = append(c.ended, r.ended)
		c.status = append(c.status, r.status)
		c.kind = append(c.kind, r.kind)
		c.sev = append(c.sev, r.severity)
		c.score = append(c.score, r.score)
		c.base = append(c.base, r.baseline)
		c.obs = append(c.obs, r.observed)
		c.peak = append(c.peak, r.peak)
		c.fails = append(c.fails, r.failures)
		c.total = append(c.total, r.total)
		c.sum = append(c.sum, r.summary)
		c.eval = append(c.eval, r.evaluated)
		c.ver = append(c.ver, r.version)
	}
	cols := chbatch.Columns{
		"incident_id": c.id, "cause": c.cause, "dimension": c.dim, "value": c.value, "granularity": gran,
		"started": c.started, "ended": c.ended, "status": c.status, "kind": c.kind, "severity": c.sev, "score": c.score,
		"baseline_rate": c.base, "observed_rate": c.obs, "peak_rate": c.peak, "failures": c.fails, "transactions": c.total,
		"summary": c.sum, "evaluated_to": c.eval, "version": c.ver,
	}
	if err := env.Insert(ctx, chschema.Incidents, cols, len(rows)); err != nil {
		return fmt.Errorf("incidents: write %d incidents: %w", len(rows), err)
	}
	return nil
}
