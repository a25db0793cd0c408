// Package sweep is the settlement sweep job. First it rebuilds, from all
// their facts, the transactions that got facts since the last run and have
// facts that arrived before the recent days (assembly.Reconcile: ingest
// classified them from their recent facts only). Then approved sales past the
// settlement window without a settlement become unsettled (the assembler's
// Sweep re-classifies them with the contract's cause rule: the failed batch
// close's error.type, else settlement), then a snapshot of unsettled money by
// cause, age bucket (<1d, 1-2d, 2-5d, >5d since the transaction) and
// currency is written to unsettled_aging, in total and per gateway, merchant
// and region. A snapshot is keyed by its as-of minute: running it again
// replaces it.
//
// The as-of is the daemon's clock, but never past the data: a sale is
// declared unsettled only once the data has reached its deadline (the newest
// assembled transaction is at least that recent). A clock that jumps ahead
// (NTP step, VM restore) would otherwise flag sales that still have time to
// settle, and so would a stalled ingest: when no spans arrive, a missing
// settlement span is no evidence that the settlement failed. The price: with
// no traffic at all, overdue sales wait for the next assembled transaction.
package sweep

import (
	"context"
	"fmt"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// Name of the job.
const Name = "sweep"

// Job is the sweep job.
type Job struct {
	Rules *domain.Rules // nil: the contract's rules
	// Window is the settlement window (0: 36h).
	Window time.Duration
	// Lookback bounds the age of transactions in the snapshot (0: 90 days).
	Lookback time.Duration
}

// Name implements jobs.Job.
func (j *Job) Name() string { return Name }

func (j *Job) window() time.Duration {
	if j.Window > 0 {
		return j.Window
	}
	return domain.DefaultSettlementWindow
}

// reconcileMargin is how far before the last run the next one looks for
// transactions with late facts: a fact's ingested_ns is taken before its
// insert commits.
const reconcileMargin = time.Hour

// Plan: one window ending at the cut-off: now or, when the data is behind
// the clock, the newest assembled_at (to the minute). The window starts
// where the reconciliation of late facts starts: the last run's cut-off
// less a margin, or the settlement window back on a first run.
func (j *Job) Plan(ctx context.Context, env *jobs.Env, now, last time.Time) (jobs.Plan, error) {
	asOf := now
	data, err := env.DataTime(ctx)
	if err != nil {
		return jobs.Plan{}, fmt.Errorf("sweep: %w", err)
	}
	if !data.IsZero() && data.Before(asOf) {
		if now.Sub(data) > 15*time.Minute {
			env.Logger().Warn("sweep cut-off held at the newest data: the clock is ahead of it (clock jump, or no data arriving)",
				"clock", now, "newest_data", data)
		}
		asOf = data
	}
	asOf = asOf.Truncate(time.Minute)
	from := asOf.Add(-j.window())
	if !last.IsZero() && last.Add(-reconcileMargin).After(from) {
		from = last.Add(-reconcileMargin)
	}
	return jobs.Plan{Windows: []jobs.Window{{From: from, To: asOf}}, Watermark: asOf}, nil
}

// Split: the sweep works on the current state only.
func (j *Job) Split(_, _ time.Time) []jobs.Window { return nil }

// Run sweeps as of w.To and writes the aging snapshot of w.To.
func (j *Job) Run(ctx context.Context, env *jobs.Env, w jobs.Window) (int, error) {
	asOf := w.To.UTC()
	rules := j.Rules
	if rules == nil {
		rules = domain.DefaultRules()
	}
	a := &assembly.Assembler{Conn: env.Conn, DB: env.DB, Rules: rules, Window: j.window(),
		Now: func() time.Time { return asOf }, QueryTimeout: env.QueryTimeout, Log: env.Log}
	late, err := a.Reconcile(ctx, w.From)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	if late.Transactions > 0 {
		env.Logger().Info("rebuilt transactions with facts older than the recent days", "since", w.From, "transactions", late.Transactions)
	}
	// A run within the window of the last one reads only the hours whose
	// windows passed since; a first run, or one after a longer pause, reads
	// every transaction (since zero).
	var since time.Time
	if w.From.After(asOf.Add(-j.window())) {
		since = w.From
	}
	res, err := a.Sweep(ctx, since)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	env.Logger().Info("swept pending sales past the settlement window", "as_of", asOf, "reassembled", res.Transactions,
		"unsettled", res.ByOutcome[domain.OutcomeUnsettled])
	n, err := j.snapshot(ctx, env, asOf)
	return late.Transactions + res.Transactions + n, err
}

type akey struct{ dim, value, cause, bucket, currency string }

type aval struct {
	n   uint64
	amt int64
}

func (j *Job) snapshot(ctx context.Context, env *jobs.Env, asOf time.Time) (int, error) {
	lookback := j.Lookback
	if lookback <= 0 {
		lookback = 90 * 24 * time.Hour
	}
	version, err := env.NextVersion(ctx, chschema.UnsettledAging, "as_of = toDateTime(?)", asOf.Unix())
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	q := "SELECT tupleElement(d, 1) AS dim, tupleElement(d, 2) AS val, toString(cause) AS c," +
		" multiIf(age < 86400, '" + model.AgeUnder1d + "', age < 172800, '" + model.Age1to2d + "', age < 432000, '" + model.Age2to5d + "', '" + model.AgeOver5d + "') AS ab," +
		" currency AS cur, count() AS n, sum(amount_minor) AS amt FROM (" +
		" SELECT toInt64(toUInt32(toDateTime(?))) - toInt64(toUInt32(txn_time)) AS age, cause, currency, amount_minor, gateway_id, merchant_id, region FROM " +
		// The time-ordered copy, FINAL over the window's hours only: a time
		// condition inside FINAL on transactions prunes parts by partition
		// first, so an older version could be read where a newer one moved.
		chschema.ByTimeSource(env.DB, "txn_hour >= toDateTime(?) AND txn_hour <= toDateTime(?)") +
		" WHERE outcome = 'unsettled' AND txn_time >= toDateTime(?) AND txn_time <= toDateTime(?))" +
		" ARRAY JOIN [('all', ''), ('gateway', gateway_id), ('merchant', merchant_id), ('region', region)] AS d" +
		" GROUP BY dim, val, c, ab, cur"
	qctx, cancel := env.Ctx(ctx)
	defer cancel()
	from := asOf.Add(-lookback)
	rows, err := env.Conn.Query(qctx, q, asOf.Unix(), from.Truncate(time.Hour).Unix(), asOf.Unix(), from.Unix(), asOf.Unix())
	if err != nil {
		return 0, fmt.Errorf("sweep: read unsettled: %w", err)
	}
	m := map[akey]aval{}
	for rows.Next() {
		var k akey
		var v aval
		if err := rows.Scan(&k.dim, &k.value, &k.cause, &k.bucket, &k.currency, &v.n, &v.amt); err != nil {
			rows.Close()
			return 0, fmt.Errorf("sweep: scan unsettled: %w", err)
		}
		m[k] = v
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, fmt.Errorf("sweep: read unsettled: %w", err)
	}
	// Keys of an earlier run of the same snapshot that are gone now get zeros.
	old, err := env.Conn.Query(qctx, "SELECT dimension, value, toString(cause), age_bucket, currency FROM "+env.Table(chschema.UnsettledAging.Name)+
		" FINAL WHERE as_of = toDateTime(?) AND transactions > 0", asOf.Unix())
	if err != nil {
		return 0, fmt.Errorf("sweep: read the previous snapshot: %w", err)
	}
	for old.Next() {
		var k akey
		if err := old.Scan(&k.dim, &k.value, &k.cause, &k.bucket, &k.currency); err != nil {
			old.Close()
			return 0, fmt.Errorf("sweep: read the previous snapshot: %w", err)
		}
		if _, ok := m[k]; !ok {
			m[k] = aval{}
		}
	}
	old.Close()
	if len(m) == 0 {
		return 0, nil
	}
	var c struct {
		asOf                       []time.Time
		dim, value, cause, ab, cur []string
		n, ver                     []uint64
		amt                        []int64
	}
	for k, v := range m {
		c.asOf = append(c.asOf, asOf)
		c.dim = append(c.dim, k.dim)
		c.value = append(c.value, k.value)
		c.cause = append(c.cause, k.cause)
		c.ab = append(c.ab, k.bucket)
		c.cur = append(c.cur, k.currency)
		c.n = append(c.n, v.n)
		c.amt = append(c.amt, v.amt)
		c.ver = append(c.ver, version)
	}
	cols := chbatch.Columns{"as_of": c.asOf, "dimension": c.dim, "value": c.value, "cause": c.cause, "age_bucket": c.ab,
		"currency": c.cur, "transactions": c.n, "amount_minor": c.amt, "version": c.ver}
	if err := env.Insert(ctx, chschema.UnsettledAging, cols, len(m)); err != nil {
		return 0, fmt.Errorf("sweep: write the snapshot: %w", err)
	}
	return len(m), nil
}
