package query

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/settlewatch/settlewatch/analytics/advice"
	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chschema"
)

// TimeoutsQuery asks, per gateway, how many authorizations each candidate
// terminal timeout would have timed out in a range.
type TimeoutsQuery struct {
	Range
	Gateways     []string
	CandidatesMs []uint64 // histogram bounds (default advice.DefaultCandidatesMs)
	TargetRate   float64  // default advice.DefaultTargetRate
	Source       Source
}

// TimeoutsResult is the advice per gateway.
type TimeoutsResult struct {
	Gateways []advice.Advice `json:"gateways"`
	Meta     Meta            `json:"meta"`
}

// TimeoutsJob is the job whose coverage makes auth_latency usable.
const TimeoutsJob = "timeouts"

// AuthLatencySQL reads the terminal-observed authorization latency
// (pos.host.request spans, deduplicated by span) of [from, to) per gateway
// (taken from the transaction's pos.transaction span): gateway, requests,
// timeouts reported by terminals, histogram; bucketExpr groups by time too
// (e.g. toStartOfHour(st); "" for none). Args: AuthLatencyArgs (the gateway
// lookup spans an hour more on each side).
func AuthLatencySQL(db, bucket string) string {
	t := "`" + db + "`.`" + chschema.PaymentFacts.Name + "`"
	sel, group := "", "g"
	if bucket != "" {
		sel, group = bucket+" AS b, ", "b, g"
	}
	return "SELECT " + sel + "gateway_id AS g, count() AS n, countIf(et = 'timeout') AS tmo, sumForEach(lh) AS h FROM (" +
		" SELECT txn_id, min(start_time) AS st, any(duration_ns) AS dur, any(error_type) AS et, intDiv(dur, 1000000) AS ms, " + model.HistSQL("ms") + " AS lh" +
		" FROM " + t + " WHERE ingested_ns >= ? AND name = 'pos.host.request' AND txn_id != '' AND start_time >= toDateTime(?) AND start_time < toDateTime(?)" +
		" GROUP BY txn_id, trace_id, span_id" +
		") ANY LEFT JOIN (" +
		" SELECT txn_id, any(gateway_id) AS gateway_id FROM " + t +
		" WHERE ingested_ns >= ? AND name = 'pos.transaction' AND txn_id != '' AND start_time >= toDateTime(?) - 3600 AND start_time < toDateTime(?) + 3600 GROUP BY txn_id" +
		") USING txn_id GROUP BY " + group
}

// AuthLatencyArgs are AuthLatencySQL's arguments for [from, to). The facts
// are read from those that arrived since the gateway lookup's start, an hour
// before from (chschema.ArrivedSince), so the older days' parts are not read.
func AuthLatencyArgs(from, to time.Time) []any {
	arrived := chschema.ArrivedSince(from.Add(-time.Hour))
	return []any{arrived, from.Unix(), to.Unix(), arrived, from.Unix(), to.Unix()}
}

// Timeouts computes the advice from the hourly auth_latency histograms when
// the timeouts job covers the (hour-aligned) range, else from the raw spans.
func (q *Querier) Timeouts(ctx context.Context, tq TimeoutsQuery) (TimeoutsResult, error) {
	if err := tq.Range.Validate(); err != nil {
		return TimeoutsResult{}, err
	}
	if err := advice.ValidateCandidates(tq.CandidatesMs); err != nil {
		return TimeoutsResult{}, invalid("%v", err)
	}
	if tq.TargetRate < 0 || tq.TargetRate >= 1 {
		return TimeoutsResult{}, invalid("target rate %v: want a fraction between 0 and 1", tq.TargetRate)
	}
	for _, g := range tq.Gateways {
		if err := model.ValidateValue(g); err != nil {
			return TimeoutsResult{}, invalid("gateway: %v", err)
		}
	}
	useRollup := false
	aligned := model.Hour.Aligned(tq.From) && model.Hour.Aligned(tq.To)
	switch tq.Source {
	case SourceRollup:
		if !aligned {
			return TimeoutsResult{}, invalid("cannot answer from auth_latency: the range is not aligned to whole hours")
		}
		useRollup = true
	case SourceRaw:
	default:
		min := q.MinRollupRange
		if min <= 0 {
			min = 6 * time.Hour
		}
		if aligned && tq.To.Sub(tq.From) >= min {
			ok, err := jobs.Covered(ctx, q.env(), TimeoutsJob, tq.From, tq.To)
			if err != nil {
				return TimeoutsResult{}, err
			}
			useRollup = ok
		}
	}
	type acc struct {
		hist []uint64
		tmo  uint64
	}
	byGw := map[string]*acc{}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	var query string
	var args []any
	meta := Meta{Source: string(SourceRaw)}
	if useRollup {
		meta = Meta{Source: string(SourceRollup), Granularity: model.Hour.String()}
		w := &where{}
		w.add("bucket >= toDateTime(?) AND bucket < toDateTime(?)", tq.From.Unix(), tq.To.Unix())
		if len(tq.Gateways) > 0 {
			w.add("gateway_id IN ?", set(tq.Gateways))
		}
		query = "SELECT gateway_id AS g, sum(requests), sum(timeouts), sumForEach(latency_hist) FROM " + q.table(chschema.AuthLatency.Name) +
			" FINAL WHERE " + w.sql() + " GROUP BY g ORDER BY g LIMIT ?"
		args = append(w.args, q.maxRows())
	} else {
		query = AuthLatencySQL(q.DB, "")
		args = AuthLatencyArgs(tq.From, tq.To)
		if len(tq.Gateways) > 0 {
			query += " HAVING g IN ?"
			args = append(args, set(tq.Gateways))
		}
		query += " ORDER BY g LIMIT ?"
		args = append(args, q.maxRows())
	}
	rows, err := q.Conn.Query(qctx, query, args...)
	if err != nil {
		return TimeoutsResult{}, fmt.Errorf("timeouts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var n, tmo uint64
		var h []uint64
		if err := rows.Scan(&g, &n, &tmo, &h); err != nil {
			return TimeoutsResult{}, fmt.Errorf("timeouts: %w", err)
		}
		a := byGw[g]
		if a == nil {
			a = &acc{}
			byGw[g] = a
		}
		a.hist = model.AddHist(a.hist, h)
		a.tmo += tmo
	}
	if err := rows.Err(); err != nil {
		return TimeoutsResult{}, fmt.Errorf("timeouts: %w", err)
	}
	res := TimeoutsResult{Meta: meta, Gateways: []advice.Advice{}}
	names := make([]string, 0, len(byGw))
	for g := range byGw {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		a, err := advice.Advise(g, byGw[g].hist, byGw[g].tmo, tq.CandidatesMs, tq.TargetRate)
		if err != nil {
			return TimeoutsResult{}, invalid("%v", err)
		}
		res.Gateways = append(res.Gateways, a)
	}
	return res, nil
}
