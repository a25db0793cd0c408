// Package rollup is the rollup job: transactions counted by time bucket,
// dimension value, outcome, cause and currency, with money (integer minor
// units) and a latency histogram, every 5 minutes (total and the fine
// dimensions), hour and day (every dimension).
//
// A window is a set of whole hours. For them the job reads the transactions
// with FINAL (one row per pos.txn.id, latest version), writes the 5 minute
// and hour rows, then re-derives from the hour rows the day rows of the
// ended days it touched (a scheduled run: also of every ended day whose hour
// rows are newer than its day rows; a running day's wait until it ends). Every write replaces: rows are keyed by (granularity,
// dimension, bucket, value, outcome, cause, currency) in a ReplacingMergeTree
// with a version taken just before the read and above every version stored
// for those buckets (jobs.Version: a clock that stepped back cannot make a
// re-run lose to the rows it replaces), and a key that had rows before but
// has none now is written with zeros. Running a window again therefore
// changes nothing, and two daemons running it at once write the same values.
//
// Late data: a scheduled run rolls up the hours of every transaction
// assembled since the last ok run's watermark (minus Lag, for clock skew and
// insert latency; the watermark is the newest assembled_at seen, see
// Plan), so a settlement arriving a day later, or the sweep turning a sale
// unsettled, updates the hour it belongs to.
package rollup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
)

// Name of the job.
const Name = "rollup"

// Job is the rollup job.
type Job struct {
	// Lag is subtracted from the watermark (default 10m).
	Lag time.Duration
	// InitialLookback is how far back the first scheduled run looks for
	// changed transactions (default 48h).
	InitialLookback time.Duration
	// MaxLateness bounds how old a transaction's hour may be for a scheduled
	// run to roll it up again (default 40 days; older hours need a backfill).
	MaxLateness time.Duration
	// MaxHoursPerWindow caps the hours one read covers (default 24).
	MaxHoursPerWindow int
	// BackfillWindow is the width of a backfill window (default 24h).
	BackfillWindow time.Duration
	// DayRefresh: while a day is running, scheduled runs re-derive its day
	// rows at most this often; 0 (the default) waits until the day has
	// ended: the query layer reads day rows only for days that have ended,
	// and re-deriving a running day reads all its hour rows so far.
	// Scheduled runs derive every ended day whose hours changed since its
	// day rows were derived (staleDays); backfills always derive the days
	// of their windows.
	DayRefresh time.Duration
	// StageRows caps the transactions held at once in the session's
	// temporary table, in the server's memory (default 5M, about 1–1.5 GB);
	// a window holding more is staged in groups of whole hours.
	StageRows int
	// warnStage logs a refused temporary table once.
	warnStage sync.Once
	// legacy caches whether the server predates 20.x (sortsBranches).
	legacyMu sync.Mutex
	legacy   *bool
	// BeforeHourRows, if set, is called between writing the 5-minute rows
	// and the hour rows of a window (tests kill a daemon there).
	BeforeHourRows func()
}

// Name implements jobs.Job.
func (j *Job) Name() string { return Name }

func (j *Job) lag() time.Duration { return orDur(j.Lag, 10*time.Minute) }

func orDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func orInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// Plan finds the hours with transactions assembled since the watermark.
//
// The watermark is a data time, not the daemon's clock: the newest
// assembled_at the plan saw, capped by the clock. A clock that jumps ahead
// therefore cannot move it past rows not rolled up yet. A clock more than
// Lag behind the last watermark (it stepped back) makes the run look back
// InitialLookback, as a first run does: rows the sweep re-assembled since
// then carry its cut-off, which follows the clock, so they may sit before
// the watermark.
func (j *Job) Plan(ctx context.Context, env *jobs.Env, now, watermark time.Time) (jobs.Plan, error) {
	since := now.Add(-orDur(j.InitialLookback, 48*time.Hour))
	switch {
	case watermark.IsZero():
	case watermark.After(now.Add(j.lag())):
		env.Logger().Warn("rollup: the clock is behind the last watermark (it stepped back): looking back as a first run does",
			"clock", now, "watermark", watermark, "since", since)
	default:
		since = minTime(watermark, now).Add(-j.lag())
	}
	oldest := now.Add(-orDur(j.MaxLateness, 40*24*time.Hour))
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	// From the time-ordered copy, tombstones included: a transaction that
	// moved to another hour changed both hours' counts.
	rows, err := env.Conn.Query(qctx, "SELECT txn_hour AS h, max(assembled_at) FROM "+env.Table(chschema.TransactionsByTime.Name)+
		" WHERE assembled_at >= toDateTime(?) AND txn_hour >= toDateTime(?) GROUP BY h ORDER BY h LIMIT 100000",
		since.Unix(), oldest.Unix())
	if err != nil {
		return jobs.Plan{}, fmt.Errorf("rollup: find changed hours: %w", err)
	}
	defer rows.Close()
	var all []time.Time
	var newest time.Time
	for rows.Next() {
		var h, at time.Time
		if err := rows.Scan(&h, &at); err != nil {
			return jobs.Plan{}, fmt.Errorf("rollup: find changed hours: %w", err)
		}
		all = append(all, h.UTC())
		if at.After(newest) {
			newest = at.UTC()
		}
	}
	if err := rows.Err(); err != nil {
		return jobs.Plan{}, fmt.Errorf("rollup: find changed hours: %w", err)
	}
	// Hours more than a day ahead of both the clock and the data (a
	// terminal's clock far off) are not rolled up.
	limit := maxTime(now, newest).Add(24 * time.Hour)
	var hours []time.Time
	for _, h := range all {
		if h.Before(limit) {
			hours = append(hours, h)
		}
	}
	// Coverage: the first window also spans from the previous watermark's
	// hour so that the recorded windows chain without gaps.
	start := model.Hour.Truncate(since)
	end := model.Hour.Truncate(now).Add(time.Hour)
	windows := PlanWindows(hours, orInt(j.MaxHoursPerWindow, 24))
	if len(windows) == 0 {
		// Nothing changed: an empty window, recorded so that the coverage
		// and the watermark move on.
		windows = []jobs.Window{{From: start, To: end, Parts: []time.Time{}}}
	}
	if windows[0].From.After(start) {
		windows[0].From = start
	}
	if last := &windows[len(windows)-1]; last.To.Before(end) {
		last.To = end
	}
	return jobs.Plan{Windows: windows, Watermark: minTime(now, maxTime(newest, watermark))}, nil
}

// PlanWindows groups sorted hours into windows of at most max hours each;
// each window lists its hours as Parts.
func PlanWindows(hours []time.Time, max int) []jobs.Window {
	var out []jobs.Window
	for len(hours) > 0 {
		n := min(max, len(hours))
		part := slices.Clone(hours[:n])
		out = append(out, jobs.Window{From: part[0], To: part[n-1].Add(time.Hour), Parts: part})
		hours = hours[n:]
	}
	return out
}

// Split cuts [from, to) into whole-hour windows of BackfillWindow. Windows
// of a day or more are whole days (BackfillWindow rounded down to days),
// cut at midnight UTC, the first and last possibly shorter: no two windows
// share a day, so each derives the day rows of its own days alone and
// several may run at once (ConcurrentWindows).
func (j *Job) Split(from, to time.Time) []jobs.Window {
	from, to = model.Hour.Truncate(from), model.Hour.Ceil(to)
	step := j.backfillStep()
	var out []jobs.Window
	for t := from; t.Before(to); {
		end := t.Add(step)
		if step >= 24*time.Hour {
			end = model.Day.Truncate(t).Add(step)
		}
		end = minTime(end, to)
		out = append(out, jobs.Window{From: t, To: end})
		t = end
	}
	return out
}

func (j *Job) backfillStep() time.Duration {
	step := orDur(j.BackfillWindow, 24*time.Hour).Truncate(time.Hour)
	if step >= 24*time.Hour {
		return step.Truncate(24 * time.Hour)
	}
	return max(step, time.Hour)
}

// ConcurrentWindows implements jobs.Concurrent: backfill windows of whole
// days touch disjoint hours and days, so running them at once writes what
// running them in turn writes. Shorter windows share days (each derives the
// day's rows again) and run in turn.
func (j *Job) ConcurrentWindows() bool { return j.backfillStep() >= 24*time.Hour }

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

// Run rolls up one window, entirely on the server: every step is an
// INSERT … SELECT into the rollups table's explicit column list
// (chschema.Rollups.InsertSQL), so no row travels through this process.
//
//  1. transactions FINAL → 5-minute rows (total, fine dimensions) and hour
//     rows (coarse dimensions), version v (readTransactions);
//  2. 5-minute keys of the window not rewritten by step 1 (latest version
//     below v: their transactions moved away) → zeros;
//  3. hour rows of the total and fine dimensions ← their 5-minute rows;
//  4. hour keys not rewritten → zeros;
//  5. per day to derive (deriveDays): day rows ← hour rows, then day keys
//     not rewritten → zeros.
func (j *Job) Run(ctx context.Context, env *jobs.Env, w jobs.Window) (int, error) {
	if w.Parts != nil && len(w.Parts) == 0 {
		// Planned, and nothing changed: only days that ended since.
		return j.deriveDays(ctx, env, nil, true)
	}
	hours := w.Parts
	if len(hours) == 0 {
		for t := model.Hour.Truncate(w.From); t.Before(w.To); t = t.Add(time.Hour) {
			hours = append(hours, t)
		}
	}
	if len(hours) == 0 {
		return 0, nil
	}
	from, to := hours[0], hours[len(hours)-1].Add(time.Hour)
	hourSet := hourGroupSet(hours)
	// Above every row this window replaces, whatever the clock says.
	v, prior, err := env.NextVersionOver(ctx, chschema.Rollups, "granularity IN (300, 3600) AND bucket >= toDateTime(?) AND bucket < toDateTime(?)"+
		" AND toUInt32(toStartOfHour(bucket)) IN ?", from.Unix(), to.Unix(), hourSet)
	if err != nil {
		return 0, fmt.Errorf("rollup: %w", err)
	}
	insert := chschema.Rollups.InsertSQL(env.DB)
	rollups := env.Table(chschema.Rollups.Name)

	// 1. From the transactions.
	if err := j.readTransactions(ctx, env, v, hours); err != nil {
		return 0, err
	}
	// 2. Vanished 5-minute and coarse hour keys. A window never rolled up
	// before (a backfill, a new hour) has none: steps 2 and 4 read the
	// rollups with FINAL, 10-20 % of a first run (docs/benchmarks.md).
	vanished := prior > 0
	if vanished {
		if err := tombstone(ctx, env, "granularity = 300 OR (granularity = 3600 AND dimension IN "+coarseSQL()+")",
			from, to, hourSet, v); err != nil {
			return 0, err
		}
	}
	if j.BeforeHourRows != nil {
		j.BeforeHourRows()
	}
	// 3. Hour rows of the total and the fine dimensions from their 5-minute rows.
	hourly := "SELECT 3600, dimension, toStartOfHour(bucket) AS hb, value, outcome, cause, currency, sum(transactions) AS n," +
		" sum(amount_minor), sum(latency_sum_ms), sumForEach(latency_hist), toUInt64(?), now() FROM " + rollups +
		" FINAL WHERE granularity = 300 AND bucket >= toDateTime(?) AND bucket < toDateTime(?) AND toUInt32(toStartOfHour(bucket)) IN ?" +
		" GROUP BY dimension, hb, value, outcome, cause, currency HAVING n > 0"
	if err := exec(ctx, env, "derive hours", insert+" "+hourly, v, from.Unix(), to.Unix(), hourSet); err != nil {
		return 0, err
	}
	// 4. Vanished hour keys of the total and the fine dimensions.
	if vanished {
		if err := tombstone(ctx, env, "granularity = 3600", from, to, hourSet, v); err != nil {
			return 0, err
		}
	}
	written, err := count(ctx, env, "bucket >= toDateTime(?) AND bucket < toDateTime(?) AND granularity IN (300, 3600)", v, from.Unix(), to.Unix())
	if err != nil {
		return 0, err
	}
	// 5. Days.
	n, err := j.deriveDays(ctx, env, hours, len(w.Parts) > 0)
	return written + n, err
}

// deriveDays derives the day rows of the days of hours and, in a scheduled
// run, of every ended day whose hours changed since (staleDays).
func (j *Job) deriveDays(ctx context.Context, env *jobs.Env, hours []time.Time, scheduled bool) (int, error) {
	days := map[int64]bool{}
	for _, h := range hours {
		days[model.Day.Truncate(h).Unix()] = true
	}
	var serverNow time.Time
	if scheduled {
		// Whether a day is running is judged on the server's clock, the
		// one that stamps computed_at (a daemon clock that stepped back
		// cannot keep an ended day's rows from being derived).
		var stale []time.Time
		var err error
		serverNow, stale, err = staleDays(ctx, env, j.lag(), orDur(j.MaxLateness, 40*24*time.Hour))
		if err != nil {
			return 0, err
		}
		for _, d := range stale {
			days[d.Unix()] = true
		}
	}
	written := 0
	dayList := slices.Sorted(maps.Keys(days))
	for _, d := range dayList {
		day := time.Unix(d, 0).UTC()
		if scheduled && day.Add(24*time.Hour+j.lag()).After(serverNow) {
			// A running day: the query layer reads day rows only for ended
			// days, so by default they wait until the day ends (staleDays);
			// DayRefresh derives them during the day at most that often.
			// computed_at has whole seconds, so a period under a second
			// means "every run" (a freshness check would skip rows derived
			// earlier in the same second, before this window's hours existed).
			if j.DayRefresh <= 0 {
				continue
			}
			if j.DayRefresh >= time.Second {
				fresh, err := dayFresh(ctx, env, day, j.DayRefresh)
				if err != nil {
					return written, err
				}
				if fresh {
					continue
				}
			}
		}
		n, err := rollDay(ctx, env, day)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// staleDays returns the server's clock and the days that have ended (plus
// lag) within maxLateness whose day rows are missing or not newer than their
// newest hour row: the days whose hours were rolled up since their day rows
// were derived. A day whose hour and day rows carry the same second counts
// as stale, so it is derived once more rather than missed.
func staleDays(ctx context.Context, env *jobs.Env, lag, maxLateness time.Duration) (time.Time, []time.Time, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	rollups := env.Table(chschema.Rollups.Name)
	rows, err := env.Conn.Query(qctx, "SELECT now(), d FROM (SELECT toStartOfDay(bucket) AS d, max(computed_at) AS hc FROM "+rollups+
		" WHERE granularity = 3600 AND dimension = 'all' AND bucket >= now() - ? GROUP BY d)"+
		" ANY LEFT JOIN (SELECT bucket AS d, max(computed_at) AS dc FROM "+rollups+
		" WHERE granularity = 86400 AND dimension = 'all' AND bucket >= now() - ? GROUP BY d) USING d"+
		" WHERE d + ? <= now() AND hc >= dc ORDER BY d",
		int64(maxLateness/time.Second), int64(maxLateness/time.Second), int64((24*time.Hour+lag)/time.Second))
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("rollup: find ended days to derive: %w", err)
	}
	defer rows.Close()
	var now time.Time
	var out []time.Time
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&now, &d); err != nil {
			return time.Time{}, nil, fmt.Errorf("rollup: find ended days to derive: %w", err)
		}
		out = append(out, d.UTC())
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, nil, fmt.Errorf("rollup: find ended days to derive: %w", err)
	}
	if now.IsZero() {
		// No stale day: the clock alone.
		if err := env.Conn.QueryRow(qctx, "SELECT now()").Scan(&now); err != nil {
			return time.Time{}, nil, fmt.Errorf("rollup: read the server's clock: %w", err)
		}
	}
	return now.UTC(), out, nil
}

func hourGroupSet(hours []time.Time) clickhouse.GroupSet {
	hs := make([]any, len(hours))
	for i, h := range hours {
		hs[i] = h.Unix()
	}
	return clickhouse.GroupSet{Value: hs}
}

func exec(ctx context.Context, env *jobs.Env, what, q string, args ...any) error {
	return execOn(ctx, env, env.Conn, what, q, args...)
}

func execOn(ctx context.Context, env *jobs.Env, conn driver.Conn, what, q string, args ...any) error {
	return execWith(ctx, env, conn, nil, what, q, args...)
}

// sortsBranches reports whether step 1 hands the server sorted blocks
// (sortedBlocks), read once per Job: on servers before 20.x, where it was
// measured. Newer servers build and sort insert blocks in their own pipeline,
// where unsquashed blocks could make many small parts, so they keep their
// defaults and the branches stay unsorted.
func (j *Job) sortsBranches(ctx context.Context, env *jobs.Env) (bool, error) {
	j.legacyMu.Lock()
	defer j.legacyMu.Unlock()
	if j.legacy == nil {
		qctx, cancel := env.Ctx(ctx)
		defer cancel()
		v, err := chconn.ServerVersion(qctx, env.Conn)
		if err != nil {
			return false, fmt.Errorf("rollup: %w", err)
		}
		// The same boundary as the schema's dialects.
		legacy := !chschema.DialectFor(v, "").Modern
		j.legacy = &legacy
	}
	return *j.legacy, nil
}

func stepOneSettings(sorted bool) []chconn.Setting {
	if sorted {
		return sortedBlocks
	}
	return nil
}

// sortedBlocks are the settings of step 1 over the window table
// (dimensionsSQL with sorted): each branch's rows arrive sorted by the
// table's key, in blocks of up to a million rows, and are written as they
// come instead of being gathered into one block first, which the server
// would then sort again, on one thread, before writing it (a third of step 1
// for an hour of 1M transactions, docs/benchmarks.md, "Hourly rollup of 1M
// transactions"). A block the server finds sorted is written without that
// sort; a step writes a part per branch (11 for an hour), which the server
// merges in the background.
var sortedBlocks = []chconn.Setting{
	chconn.IntSetting("min_insert_block_size_rows", 0),
	chconn.IntSetting("min_insert_block_size_bytes", 0),
	chconn.IntSetting("max_block_size", 1<<20),
}

func execWith(ctx context.Context, env *jobs.Env, conn driver.Conn, settings []chconn.Setting, what, q string, args ...any) error {
	qctx, cancel := env.Ctx(ctx, settings...)
	defer cancel()
	start := time.Now()
	if err := conn.Exec(qctx, q, args...); err != nil {
		return fmt.Errorf("rollup: %s: %w", what, err)
	}
	env.Logger().Debug("rollup step", "step", what, "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

// zeroHist is an all-zero histogram literal.
func zeroHist() string {
	z := make([]string, model.HistBuckets)
	for i := range z {
		z[i] = "toUInt64(0)"
	}
	return "[" + strings.Join(z, ", ") + "]"
}

// tombstone writes zeros, with version v, for the keys matching cond in the
// hours whose latest row is older than v: a run with version v rewrote
// every key it still has, so those keys lost their transactions.
func tombstone(ctx context.Context, env *jobs.Env, cond string, from, to time.Time, hourSet clickhouse.GroupSet, v uint64) error {
	q := chschema.Rollups.InsertSQL(env.DB) + " SELECT granularity, dimension, bucket, value, outcome, cause, currency, toUInt64(0), toInt64(0), toUInt64(0), " +
		zeroHist() + ", toUInt64(?), now() FROM " + env.Table(chschema.Rollups.Name) +
		" FINAL WHERE (" + cond + ") AND bucket >= toDateTime(?) AND bucket < toDateTime(?) AND toUInt32(toStartOfHour(bucket)) IN ?" +
		" AND transactions > 0 AND version < ?"
	return exec(ctx, env, "zero vanished keys", q, v, from.Unix(), to.Unix(), hourSet, v)
}

func count(ctx context.Context, env *jobs.Env, cond string, v uint64, args ...any) (int, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	var n uint64
	if err := env.Conn.QueryRow(qctx, "SELECT count() FROM "+env.Table(chschema.Rollups.Name)+" WHERE version = ? AND "+cond,
		append([]any{v}, args...)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("rollup: count written rows: %w", err)
	}
	return int(n), nil
}

// dayFresh reports whether the day rows of a running day were derived less
// than refresh ago, by the server's clock (the one that stamps computed_at).
func dayFresh(ctx context.Context, env *jobs.Env, day time.Time, refresh time.Duration) (bool, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	var n uint64
	if err := env.Conn.QueryRow(qctx, "SELECT count() FROM "+env.Table(chschema.Rollups.Name)+
		" WHERE granularity = 86400 AND dimension = 'all' AND bucket = toDateTime(?) AND computed_at >= now() - ?",
		day.Unix(), int64(refresh/time.Second)).Scan(&n); err != nil {
		return false, fmt.Errorf("rollup: check the day rows of %s: %w", day.Format(time.DateOnly), err)
	}
	return n > 0, nil
}

// rollDay derives the day rows of day from its hour rows.
func rollDay(ctx context.Context, env *jobs.Env, day time.Time) (int, error) {
	v, prior, err := env.NextVersionOver(ctx, chschema.Rollups, "granularity = 86400 AND bucket = toDateTime(?)", day.Unix())
	if err != nil {
		return 0, fmt.Errorf("rollup: day %s: %w", day.Format(time.DateOnly), err)
	}
	end := day.Add(24 * time.Hour)
	q := chschema.Rollups.InsertSQL(env.DB) + " SELECT 86400, dimension, toDateTime(?) AS db, value, outcome, cause, currency, sum(transactions) AS n," +
		" sum(amount_minor), sum(latency_sum_ms), sumForEach(latency_hist), toUInt64(?), now() FROM " + env.Table(chschema.Rollups.Name) +
		" FINAL WHERE granularity = 3600 AND bucket >= toDateTime(?) AND bucket < toDateTime(?)" +
		" GROUP BY dimension, value, outcome, cause, currency HAVING n > 0"
	if err := exec(ctx, env, "derive day "+day.Format(time.DateOnly), q, day.Unix(), v, day.Unix(), end.Unix()); err != nil {
		return 0, err
	}
	z := chschema.Rollups.InsertSQL(env.DB) + " SELECT granularity, dimension, bucket, value, outcome, cause, currency, toUInt64(0), toInt64(0), toUInt64(0), " +
		zeroHist() + ", toUInt64(?), now() FROM " + env.Table(chschema.Rollups.Name) +
		" FINAL WHERE granularity = 86400 AND bucket = toDateTime(?) AND transactions > 0 AND version < ?"
	if prior > 0 { // the day's rows derived before, some of whose keys may be gone
		if err := exec(ctx, env, "zero vanished day keys", z, v, day.Unix(), v); err != nil {
			return 0, err
		}
	}
	return count(ctx, env, "granularity = 86400 AND bucket = toDateTime(?)", v, day.Unix())
}

// windowTable is the session's temporary table holding a window's live
// transactions (readTransactions).
const windowTable = "rollup_window"

// readTransactions writes the 5-minute and coarse hour rows of hours with
// version v: one GROUP BY per dimension over their transactions
// (dimensionsSQL), in one INSERT.
//
// With a session (env.Session), the transactions are read once with FINAL
// into a temporary table and every dimension groups that table (readStaged);
// without one, or when the server refuses temporary tables (the user may
// run no DDL), each dimension reads the hours with FINAL itself, which
// costs about twice as much (docs/benchmarks.md). Both write the same rows.
func (j *Job) readTransactions(ctx context.Context, env *jobs.Env, v uint64, hours []time.Time) error {
	if env.Session != nil {
		done, err := j.readStaged(ctx, env, v, hours)
		if done || err != nil {
			return err
		}
	}
	// Every branch reads the hours itself, with the server's defaults: with
	// sortedBlocks' max_block_size each branch's FINAL would read blocks of
	// 1M rows of every column it needs.
	insert := chschema.Rollups.InsertSQL(env.DB)
	return exec(ctx, env, "read transactions", insert+" "+dimensionsSQL(windowSQL(env), false), branchArgs(v, hoursArgs(hours)...)...)
}

// windowSQL is a subquery of the live transactions of some hours (arguments:
// hoursArgs) with the columns of sourceColumns and lb, the latency bucket.
func windowSQL(env *jobs.Env) string { return windowWhereSQL(env, hoursCond) }

// windowWhereSQL is windowSQL over the rows matching cond, a condition on
// the sort key (txn_hour, txn_id) only.
func windowWhereSQL(env *jobs.Env, cond string) string {
	return "(SELECT " + sourceColumns() + ", " + model.HistIndexSQL("lat_ms") + " AS lb FROM " +
		// The time-ordered copy, FINAL filtered by its key only and
		// tombstones dropped after collapsing: an older version of a
		// transaction that sat in another hour (e.g. assembled from its
		// settlement span alone) is hidden there by its newer version's
		// tombstone (chschema.TransactionsByTime).
		chschema.ByTimeSource(env.DB, cond) + ")"
}

const hoursCond = "txn_hour >= toDateTime(?) AND txn_hour < toDateTime(?) AND toUInt32(txn_hour) IN ?"

// hoursArgs are the arguments of hoursCond for sorted hours.
func hoursArgs(hours []time.Time) []any {
	return []any{hours[0].Unix(), hours[len(hours)-1].Add(time.Hour).Unix(), hourGroupSet(hours)}
}

func (j *Job) stageRows() uint64 { return uint64(orInt(j.StageRows, 5_000_000)) }

// readStaged stages the hours' transactions in a temporary table of one
// session, at most StageRows at a time (groups of whole hours: the table
// lives in the server's memory), and groups each stage into the rollups.
// It reports false, with no error, when the server refused the temporary
// table for want of privileges: the caller then reads without it (logged
// once per Job).
func (j *Job) readStaged(ctx context.Context, env *jobs.Env, v uint64, hours []time.Time) (bool, error) {
	groups, perHour, err := j.stageGroups(ctx, env, hours)
	if err != nil {
		return false, err
	}
	sorted, err := j.sortsBranches(ctx, env)
	if err != nil {
		return false, err
	}
	sess, err := env.Session(ctx)
	if err != nil {
		return false, fmt.Errorf("rollup: open a session for the window table: %w", err)
	}
	defer sess.Close()
	insert := chschema.Rollups.InsertSQL(env.DB)
	for i, g := range groups {
		if i > 0 {
			if err := execOn(ctx, env, sess, "drop the window table", "DROP TEMPORARY TABLE IF EXISTS "+windowTable); err != nil {
				return false, err
			}
		}
		src, args, err := stageSQL(ctx, env, g, perHour)
		if err != nil {
			return false, err
		}
		err = execOn(ctx, env, sess, "stage the window", "CREATE TEMPORARY TABLE "+windowTable+" ENGINE = Memory AS "+src, args...)
		var ex *clickhouse.Exception
		if err != nil && i == 0 && errors.As(err, &ex) && (ex.Code == codeDDLProhibited || ex.Code == codeAccessDenied || ex.Code == codeReadonly) {
			j.warnStage.Do(func() {
				env.Logger().Warn("rollup: the server refused a temporary table (grant CREATE TEMPORARY TABLE, see deploy/README.md): every dimension reads the window itself, about twice as slow",
					"code", ex.Code, "error", ex.Message)
			})
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if err := execWith(ctx, env, sess, stepOneSettings(sorted), "read transactions", insert+" "+dimensionsSQL(windowTable, sorted), branchArgs(v)...); err != nil {
			return false, err
		}
	}
	return true, nil
}

// stageSQL selects the window of sorted hours for staging, as two halves
// side by side (UNION ALL), so that 18.16 runs the single-threaded FINAL
// merge and the copy into memory of each on its own core: two runs of hours
// of about half the rows each, or, when one hour holds more than half of
// them (a one-hour window; the scheduled window of a full hour and the
// running one), that hour halved by transaction id at its estimated median
// (medianID), the other hours going with its lower half. A halving
// condition is on the sort key (txn_hour, txn_id), so every version and
// tombstone of a key lands in the same half and FINAL stays correct. A day
// stages in 1.8-1.9 s instead of 2.8-3.2 s (docs/benchmarks.md).
func stageSQL(ctx context.Context, env *jobs.Env, hours []time.Time, perHour map[int64]uint64) (string, []any, error) {
	union := func(a, b string) string {
		return "SELECT * FROM (SELECT * FROM " + a + " UNION ALL SELECT * FROM " + b + ")"
	}
	a, b, big := halve(hours, perHour)
	if big < 0 {
		return union(windowSQL(env), windowSQL(env)), append(hoursArgs(a), hoursArgs(b)...), nil
	}
	h := hours[big]
	split, ok, err := medianID(ctx, env, []time.Time{h})
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "SELECT * FROM " + windowSQL(env), hoursArgs(hours), nil
	}
	lower := windowWhereSQL(env, hoursCond+" AND (txn_hour != toDateTime(?) OR txn_id < ?)")
	upper := windowWhereSQL(env, "txn_hour = toDateTime(?) AND txn_id >= ?")
	return union(lower, upper), append(hoursArgs(hours), h.Unix(), split, h.Unix(), split), nil
}

// halve splits sorted hours into two runs holding about half the rows each
// (perHour: rows by hour, Unix seconds), or reports the index of the hour
// that holds more than half of them (big >= 0; a lone hour always does).
func halve(hours []time.Time, perHour map[int64]uint64) (a, b []time.Time, big int) {
	var total uint64
	for i, h := range hours {
		n := perHour[h.Unix()]
		total += n
		if n > perHour[hours[big].Unix()] {
			big = i
		}
	}
	if len(hours) < 2 || 2*perHour[hours[big].Unix()] > total {
		return nil, nil, big
	}
	// The first run grows while it stays within half the rows, then takes
	// the next hour too if that leaves the runs closer to even.
	k, acc := 1, perHour[hours[0].Unix()]
	for k < len(hours)-1 && 2*(acc+perHour[hours[k].Unix()]) <= total {
		acc += perHour[hours[k].Unix()]
		k++
	}
	if next := acc + perHour[hours[k].Unix()]; k < len(hours)-1 && 2*next-total < total-2*acc {
		k++
	}
	return hours[:k], hours[k:], -1
}

// medianID estimates the median transaction id of hours from a sample of
// about one id in idSample, chosen by hash so that it does not depend on
// how the ids look (sequential, hex, prefixed) or on how the parts lie. It
// reports false when the sample has fewer than two distinct ids (a small
// window, not worth halving).
func medianID(ctx context.Context, env *jobs.Env, hours []time.Time) (string, bool, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	rows, err := env.Conn.Query(qctx, "SELECT txn_id FROM "+env.Table(chschema.TransactionsByTime.Name)+
		" WHERE "+hoursCond+" AND cityHash64(txn_id) % ? = 0", append(hoursArgs(hours), uint64(idSample))...)
	if err != nil {
		return "", false, fmt.Errorf("rollup: sample the window's ids: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", false, fmt.Errorf("rollup: sample the window's ids: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("rollup: sample the window's ids: %w", err)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) < 2 {
		return "", false, nil
	}
	return ids[len(ids)/2], true, nil
}

// idSample: one id in this many is sampled for medianID (about 4 000 of an
// hour of 1M transactions).
const idSample = 256

// stageGroups splits sorted hours into runs of consecutive ones holding at
// most stageRows rows of transactions_by_time each (every version counted,
// so an overestimate); an hour holding more is a group of its own. It also
// returns those counts by hour (Unix seconds).
func (j *Job) stageGroups(ctx context.Context, env *jobs.Env, hours []time.Time) ([][]time.Time, map[int64]uint64, error) {
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	rows, err := env.Conn.Query(qctx, "SELECT toUInt32(txn_hour), count() FROM "+env.Table(chschema.TransactionsByTime.Name)+
		" WHERE "+hoursCond+" GROUP BY txn_hour", hoursArgs(hours)...)
	if err != nil {
		return nil, nil, fmt.Errorf("rollup: count the window's rows: %w", err)
	}
	defer rows.Close()
	perHour := map[int64]uint64{}
	for rows.Next() {
		var h uint32
		var n uint64
		if err := rows.Scan(&h, &n); err != nil {
			return nil, nil, fmt.Errorf("rollup: count the window's rows: %w", err)
		}
		perHour[int64(h)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("rollup: count the window's rows: %w", err)
	}
	limit := j.stageRows()
	var groups [][]time.Time
	var cur []time.Time
	var n uint64
	for _, h := range hours {
		c := perHour[h.Unix()]
		if len(cur) > 0 && n+c > limit {
			groups = append(groups, cur)
			cur, n = nil, 0
		}
		cur = append(cur, h)
		n += c
	}
	return append(groups, cur), perHour, nil
}

// branchArgs are the arguments of dimensionsSQL: the version, then the
// source's own once per branch.
func branchArgs(v uint64, src ...any) []any {
	out := []any{v}
	for range len(model.Dimensions) + 1 {
		out = append(out, src...)
	}
	return out
}

// ClickHouse error codes of a refused temporary table.
const (
	codeReadonly      = 164
	codeDDLProhibited = 392
	codeAccessDenied  = 497
)

// dimensionsSQL is the SELECT of step 1 over src, a table or subquery with
// the columns of sourceColumns and lb (the latency bucket): one branch per
// dimension, each a GROUP BY that collects its transactions' latency buckets
// (one byte each) and counts them into the histogram once per group.
// Separate GROUP BYs cost less than one over an ARRAY JOIN of the
// dimensions: each hash table stays small (docs/benchmarks.md). With sorted,
// each branch sorts its rows by the rollups table's key (granularity and
// dimension are constant in it), on the thread that runs it, for
// sortedBlocks.
func dimensionsSQL(src string, sorted bool) string {
	order := ""
	if sorted {
		order = " ORDER BY b, val, outcome, cause, currency"
	}
	branch := func(dim, val string, fine bool) string {
		g, b := "3600", "toStartOfHour(txn_time)"
		if fine {
			g, b = "300", "toStartOfFiveMinute(txn_time)"
		}
		return "SELECT toUInt32(" + g + ") AS g, '" + dim + "' AS dim, b, val, outcome, cause, currency, tn, ta, tl, " + model.HistFromBucketsSQL("lbs") + " AS th" +
			" FROM (SELECT " + b + " AS b, " + val + " AS val, outcome, cause, currency, count() AS tn, sum(amount_minor) AS ta, sum(lat_ms) AS tl, groupArray(lb) AS lbs" +
			" FROM " + src + " GROUP BY b, val, outcome, cause, currency" + order + ")"
	}
	parts := []string{branch(model.All, "toString('')", true)}
	for _, d := range model.Dimensions {
		parts = append(parts, branch(d.Name, d.Column, d.Fine))
	}
	// The version and now() once, outside the branches: 18.16 refuses a
	// UNION ALL whose branches evaluated now() in different seconds.
	return "SELECT g, dim, b, val, outcome, cause, currency, tn, ta, tl, th, toUInt64(?), now() FROM (" + strings.Join(parts, " UNION ALL ") + ")"
}

// coarseSQL is the SQL list of the dimensions rolled up per hour only.
func coarseSQL() string {
	var names []string
	for _, d := range model.Dimensions {
		if !d.Fine {
			names = append(names, "'"+d.Name+"'")
		}
	}
	return "(" + strings.Join(names, ", ") + ")"
}

func sourceColumns() string {
	cols := []string{"txn_time", "outcome", "cause", "currency", "amount_minor", "intDiv(latency_ns, 1000000) AS lat_ms"}
	for _, d := range model.Dimensions {
		cols = append(cols, d.Column)
	}
	return strings.Join(cols, ", ")
}

// Describe is a one-line summary for logs and docs.
func Describe() string {
	var fine, coarse []string
	for _, d := range model.Dimensions {
		if d.Fine {
			fine = append(fine, d.Name)
		} else {
			coarse = append(coarse, d.Name)
		}
	}
	return "5m: all, " + strings.Join(fine, ", ") + "; 1h and 1d: also " + strings.Join(coarse, ", ") +
		"; latency histogram of " + strconv.Itoa(model.HistBuckets) + " buckets"
}
