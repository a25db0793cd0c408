package query_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/analytics/timeouts"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var day0 = time.Date(2026, 9, 21, 0, 0, 0, 0, time.UTC)

type fixture struct {
	db   *chtest.DB
	q    *query.Querier
	txns []synth.Txn
	cfg  synth.Config
	r    *jobs.Runner
}

func setup(t *testing.T) *fixture {
	t.Helper()
	db := chtest.Migrated(t)
	cfg := synth.Config{Seed: 42, From: day0, To: day0.Add(48 * time.Hour), AsOf: day0.Add(96 * time.Hour), PerHour: 400, USDShare: 0.15,
		SlowGateways: map[string]bool{"gw-3": true},
		Outages:      []synth.Outage{{Gateway: "gw-1", From: day0.Add(30 * time.Hour), To: day0.Add(31 * time.Hour), FailRate: 0.6}}}
	txns := synth.Generate(cfg)
	if err := synth.Insert(t.Context(), db.Conn, db.Name, synth.Rows(txns), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := synth.InsertFacts(t.Context(), db.Conn, db.Name, txns); err != nil {
		t.Fatal(err)
	}
	r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, Session: db.Session, DB: db.Name, QueryTimeout: time.Minute, Log: chtest.Logger(t)}}
	return &fixture{db: db, q: &query.Querier{Conn: db.Conn, DB: db.Name, Timeout: time.Minute}, txns: txns, cfg: cfg, r: r}
}

func (f *fixture) backfill(t *testing.T) {
	t.Helper()
	if _, err := f.r.Backfill(t.Context(), &rollup.Job{}, f.cfg.From, f.cfg.To, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.r.Backfill(t.Context(), &timeouts.Job{}, f.cfg.From, f.cfg.To, nil); err != nil {
		t.Fatal(err)
	}
}

func causes(t *testing.T, q *query.Querier, cq query.CausesQuery, wantSource string) query.CausesResult {
	t.Helper()
	res, err := q.CauseBreakdown(context.Background(), cq)
	if err != nil {
		t.Fatalf("%+v: %v", cq, err)
	}
	if res.Meta.Source != wantSource {
		t.Errorf("%+v answered from %s, want %s", cq, res.Meta.Source, wantSource)
	}
	return res
}

// truthCauses is the breakdown computed from the generated transactions.
func truthCauses(txns []synth.Txn, r query.Range, by string, keep func(*synth.Txn) bool) map[string]query.CauseRow {
	out := map[string]query.CauseRow{}
	for i := range txns {
		t := &txns[i]
		if t.Time.Before(r.From) || !t.Time.Before(r.To) || t.Cause == domain.CauseNone || (keep != nil && !keep(t)) {
			continue
		}
		k := t.Dim(by) + "/" + string(t.Cause) + "/" + t.Currency
		c := out[k]
		c.Value, c.Cause, c.Currency = t.Dim(by), string(t.Cause), t.Currency
		c.Transactions++
		c.AmountMinor += t.Amount
		out[k] = c
	}
	return out
}

func sameCauses(t *testing.T, what string, got []query.CauseRow, want map[string]query.CauseRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for _, g := range got {
		w := want[g.Value+"/"+g.Cause+"/"+g.Currency]
		if g.Transactions != w.Transactions || g.AmountMinor != w.AmountMinor {
			t.Errorf("%s: %s/%s/%s: %d txns %d minor, want %d, %d", what, g.Value, g.Cause, g.Currency, g.Transactions, g.AmountMinor, w.Transactions, w.AmountMinor)
		}
	}
}

func key(rows []query.CauseRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s|%s|%s|%d|%d|%.9f|%.9f", r.Value, r.Cause, r.Currency, r.Transactions, r.AmountMinor, r.Share, r.FailureRate))
	}
	sort.Strings(out)
	return out
}

func TestRollupsAndRawAgree(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	all := query.Range{From: day0, To: day0.Add(48 * time.Hour)}
	// Before any rollup ran, auto reads raw tables even for long ranges.
	causes(t, f.q, query.CausesQuery{Range: all}, "raw")
	f.backfill(t)

	hours := query.Range{From: day0.Add(10 * time.Hour), To: day0.Add(20 * time.Hour)}
	merchants := query.Filters{Dims: map[string][]string{"merchant": {"M-0001", "M-0007"}}}
	for _, tc := range []struct {
		name string
		cq   query.CausesQuery
		gran string
		keep func(*synth.Txn) bool
	}{
		{"two days", query.CausesQuery{Range: all}, "1d", nil},
		{"by gateway, hours", query.CausesQuery{Range: hours, By: "gateway"}, "1h", nil},
		{"by terminal", query.CausesQuery{Range: all, By: "terminal"}, "1d", nil},
		{"by merchant, filtered", query.CausesQuery{Range: all, By: "merchant", Filters: merchants}, "1d",
			func(t *synth.Txn) bool { return t.Merchant == "M-0001" || t.Merchant == "M-0007" }},
		{"USD only, 5m edges", query.CausesQuery{Range: query.Range{From: day0.Add(65 * time.Minute), To: day0.Add(9*time.Hour + 5*time.Minute)}, Filters: query.Filters{Currency: "USD"}}, "5m",
			func(t *synth.Txn) bool { return t.Currency == "USD" }},
		{"gateway cause only, by region", query.CausesQuery{Range: all, By: "region", Filters: query.Filters{Causes: []string{"gateway"}}}, "1d",
			func(t *synth.Txn) bool { return t.Cause == domain.CauseGateway }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.cq
			raw.Source = query.SourceRaw
			fromRaw := causes(t, f.q, raw, "raw")
			fromRollup := causes(t, f.q, tc.cq, "rollup") // auto picks the rollups now
			if fromRollup.Meta.Granularity != tc.gran {
				t.Errorf("granularity %s, want %s", fromRollup.Meta.Granularity, tc.gran)
			}
			if a, b := key(fromRaw.Rows), key(fromRollup.Rows); !slices.Equal(a, b) {
				t.Errorf("raw and rollups differ:\nraw    %v\nrollup %v", a[:min(5, len(a))], b[:min(5, len(b))])
			}
			by := tc.cq.By
			sameCauses(t, "truth", fromRollup.Rows, truthCauses(f.txns, tc.cq.Range, by, tc.keep))
			var share float64
			for _, r := range fromRollup.Rows {
				share += r.Share
			}
			if len(fromRollup.Rows) > 0 && (share < 0.999 || share > 1.001) {
				t.Errorf("shares add up to %v", share)
			}
		})
	}

	// Outcomes and trends agree too.
	o1, err := f.q.OutcomeBreakdown(ctx, query.OutcomesQuery{Range: all, By: "gateway", Source: query.SourceRaw})
	if err != nil {
		t.Fatal(err)
	}
	o2, err := f.q.OutcomeBreakdown(ctx, query.OutcomesQuery{Range: all, By: "gateway"})
	if err != nil || o2.Meta.Source != "rollup" {
		t.Fatalf("outcomes from %s: %v", o2.Meta.Source, err)
	}
	if fmt.Sprint(o1.Rows, o1.Values) != fmt.Sprint(o2.Rows, o2.Values) || len(o1.Rows) == 0 {
		t.Errorf("outcomes differ:\n%v\n%v", o1.Rows, o2.Rows)
	}
	tr1, err := f.q.Trend(ctx, query.TrendQuery{Range: all, Interval: model.Hour, Source: query.SourceRaw})
	if err != nil {
		t.Fatal(err)
	}
	tr2, err := f.q.Trend(ctx, query.TrendQuery{Range: all, Interval: model.Hour, Source: query.SourceRollup})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tr1.Points) != fmt.Sprint(tr2.Points) || len(tr1.Points) != 48*len(domain.Causes)-48*countMissing(tr1.Points) {
		t.Errorf("trends differ or have holes: %d vs %d points", len(tr1.Points), len(tr2.Points))
	}
	// Series (volume, failure rate, latency quantiles) agree too, per gateway.
	s1, err := f.q.Series(ctx, query.SeriesQuery{Range: all, Interval: model.Hour, By: "gateway", Source: query.SourceRaw})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := f.q.Series(ctx, query.SeriesQuery{Range: all, Interval: model.Hour, By: "gateway"})
	if err != nil || s2.Meta.Source != "rollup" {
		t.Fatalf("series from %s: %v", s2.Meta.Source, err)
	}
	if fmt.Sprint(s1.Points) != fmt.Sprint(s2.Points) || len(s1.Points) != 48*4 {
		t.Errorf("series differ or have holes: %d vs %d points", len(s1.Points), len(s2.Points))
	}
	for _, p := range s2.Points {
		if p.P50Ms < 500 || p.P50Ms > 3000 || p.P99Ms < p.P90Ms || p.P90Ms < p.P50Ms {
			t.Errorf("latency quantiles %+v", p)
			break
		}
	}
	// The outage hour shows in the trend of its cause.
	for _, p := range tr2.Points {
		if p.Cause == "gateway" && p.Bucket.Equal(day0.Add(30*time.Hour)) && p.Rate < 0.1 {
			t.Errorf("outage hour: gateway failure rate %v", p.Rate)
		}
	}
}

func countMissing(ps []query.TrendPoint) int {
	seen := map[string]bool{}
	for _, p := range ps {
		seen[p.Cause] = true
	}
	return len(domain.Causes) - len(seen)
}

func TestTimeoutAdvice(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	all := query.Range{From: day0, To: day0.Add(48 * time.Hour)}
	raw, err := f.q.Timeouts(ctx, query.TimeoutsQuery{Range: all, Source: query.SourceRaw})
	if err != nil {
		t.Fatal(err)
	}
	f.backfill(t)
	rolled, err := f.q.Timeouts(ctx, query.TimeoutsQuery{Range: all})
	if err != nil || rolled.Meta.Source != "rollup" {
		t.Fatalf("timeouts from %s: %v", rolled.Meta.Source, err)
	}
	if fmt.Sprint(raw.Gateways) != fmt.Sprint(rolled.Gateways) || len(raw.Gateways) != 4 {
		t.Fatalf("raw and auth_latency differ:\n%+v\n%+v", raw.Gateways, rolled.Gateways)
	}
	for _, a := range rolled.Gateways {
		var n, over10, observed uint64
		for i := range f.txns {
			x := &f.txns[i]
			if x.Gateway != a.Gateway {
				continue
			}
			n++
			if x.HostLatencyNs >= 10e9 {
				over10++
			}
			if x.HostTimeout {
				observed++
			}
		}
		if a.Requests != n || a.ObservedTimeouts != observed {
			t.Errorf("%s: %d requests %d observed timeouts, want %d, %d", a.Gateway, a.Requests, a.ObservedTimeouts, n, observed)
		}
		for _, c := range a.Candidates {
			if c.TimeoutMs == 10000 && c.WouldTimeout != over10 {
				t.Errorf("%s: 10 s would time out %d, want %d", a.Gateway, c.WouldTimeout, over10)
			}
		}
		t.Log(a.Summary)
	}
	// Running the job again changes nothing.
	if _, err := f.r.Backfill(t.Context(), &timeouts.Job{}, f.cfg.From.Add(5*time.Hour), f.cfg.To, nil); err != nil {
		t.Fatal(err)
	}
	again, err := f.q.Timeouts(ctx, query.TimeoutsQuery{Range: all, Source: query.SourceRollup})
	if err != nil || fmt.Sprint(again.Gateways) != fmt.Sprint(rolled.Gateways) {
		t.Errorf("re-running the timeouts job changed the advice: %v", err)
	}
	if n := f.db.Count(t, "SELECT count() FROM timeout_advice FINAL"); n != 2*4 {
		t.Errorf("%d advice rows, want one per day and gateway (8)", n)
	}
	// The slow gateway needs a longer timeout than a healthy one, or cannot meet the target.
	slow, fast := rolled.Gateways[2], rolled.Gateways[0]
	if slow.Gateway != "gw-3" || (slow.RecommendedMs != 0 && slow.RecommendedMs <= fast.RecommendedMs) {
		t.Errorf("advice: %s %d ms, %s %d ms", slow.Gateway, slow.RecommendedMs, fast.Gateway, fast.RecommendedMs)
	}
}

func TestUnsettledListAndAging(t *testing.T) {
	f := setup(t)
	res, err := f.q.Unsettled(context.Background(), query.UnsettledQuery{AsOf: f.cfg.AsOf})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]synth.Txn{}
	for _, x := range f.txns {
		if x.Outcome == domain.OutcomeUnsettled {
			want[x.ID] = x
		}
	}
	if len(res.Rows) != len(want) || len(want) == 0 {
		t.Fatalf("%d unsettled listed, want %d", len(res.Rows), len(want))
	}
	var n uint64
	for _, a := range res.Aging {
		n += a.Transactions
	}
	if n != uint64(len(want)) {
		t.Errorf("aging counts %d, want %d", n, len(want))
	}
	bad := 0
	for i, u := range res.Rows {
		w := want[u.TxnID]
		if bad > 5 {
			break
		}
		age := f.cfg.AsOf.Sub(w.Time)
		if u.Cause != string(w.Cause) || u.AmountMinor != w.Amount || u.AgeBucket != model.AgeBucket(age) ||
			u.AgeHours != math.Round(age.Hours()*100)/100 {
			t.Errorf("row %+v, want %+v (age %s)", u, w, age)
			bad++
		}
		if i > 0 && u.TxnTime.Before(res.Rows[i-1].TxnTime) {
			t.Error("not oldest first")
		}
	}
}

func TestBadQuestionsAreRefusedBeforeSQL(t *testing.T) {
	db := chtest.Migrated(t)
	q := &query.Querier{Conn: db.Conn, DB: db.Name}
	ctx := context.Background()
	r := query.Range{From: day0, To: day0.Add(time.Hour)}
	for name, run := range map[string]func() error{
		"unknown dimension": func() error { _, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: r, By: "colour"}); return err },
		"from after to": func() error {
			_, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: query.Range{From: r.To, To: r.From}})
			return err
		},
		"injection in a filter": func() error {
			_, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: r, Filters: query.Filters{Dims: map[string][]string{"gateway": {"x' OR 1=1 --"}}}})
			return err
		},
		"injected dimension": func() error {
			_, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: r, Filters: query.Filters{Dims: map[string][]string{"gateway_id) OR (1": {"x"}}}})
			return err
		},
		"unknown cause": func() error {
			_, err := q.Trend(ctx, query.TrendQuery{Range: r, Filters: query.Filters{Causes: []string{"bad luck"}}})
			return err
		},
		"malformed txn id": func() error { _, err := q.Txn(ctx, "T1'; DROP TABLE transactions"); return err },
		"rollup on unaligned range": func() error {
			_, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: query.Range{From: day0.Add(time.Minute), To: day0.Add(time.Hour)}, Source: query.SourceRollup})
			return err
		},
		"candidate not a bound": func() error {
			_, err := q.Timeouts(ctx, query.TimeoutsQuery{Range: r, CandidatesMs: []uint64{7000}})
			return err
		},
		"bad currency": func() error {
			_, err := q.OutcomeBreakdown(ctx, query.OutcomesQuery{Range: r, Filters: query.Filters{Currency: "usd;"}})
			return err
		},
	} {
		if err := run(); !errors.Is(err, query.ErrInvalid) {
			t.Errorf("%s: got %v, want an ErrInvalid", name, err)
		}
	}
	if _, err := q.Txn(ctx, "NO-SUCH-TXN"); !errors.Is(err, query.ErrNotFound) {
		t.Errorf("missing txn: %v", err)
	}
}

// A transaction whose time moved across a month boundary between versions
// (first assembled from its settlement alone) keeps a stale row in the old
// month's partition, which its newer version's tombstone hides: the lookup
// finds the newest version among its facts' hours, and raw questions over the
// old month do not count it.
func TestMovedTransactionCountsOnceAtItsNewestTime(t *testing.T) {
	db := chtest.Migrated(t)
	ctx := t.Context()
	db.Exec(t, "INSERT INTO "+db.Name+".payment_facts_by_arrival (txn_id, trace_id, span_id, name, start_time)"+
		" SELECT 'MOVED-1', toFixedString('TRACE-MOVED-0001', 16), toFixedString('SETTLE01', 8), 'pos.settlement', toDateTime('2026-03-31 23:50:00', 'UTC') UNION ALL"+
		" SELECT 'MOVED-1', toFixedString('TRACE-MOVED-0002', 16), toFixedString('ROOT0001', 8), 'pos.transaction', toDateTime('2026-04-01 00:10:00', 'UTC')")
	db.Exec(t, "INSERT INTO "+db.Name+".transaction_versions (txn_id, version, txn_time, outcome, cause, amount_minor, currency, fact_hours)"+
		" SELECT 'MOVED-1', 1, toDateTime('2026-03-31 23:50:00', 'UTC'), 'declined', 'account', 900, 'CNY', [toDateTime('2026-03-31 23:00:00', 'UTC')] UNION ALL"+
		" SELECT 'MOVED-1', 2, toDateTime('2026-04-01 00:10:00', 'UTC'), 'declined', 'card', 900, 'CNY',"+
		" [toDateTime('2026-03-31 23:00:00', 'UTC'), toDateTime('2026-04-01 00:00:00', 'UTC')]")
	q := &query.Querier{Conn: db.Conn, DB: db.Name, Timeout: time.Minute}
	story, err := q.Txn(ctx, "MOVED-1")
	if err != nil {
		t.Fatal(err)
	}
	if story.Cause != "card" || !story.TxnTime.Equal(time.Date(2026, 4, 1, 0, 10, 0, 0, time.UTC)) {
		t.Errorf("lookup gave cause %s at %s, want the newest version (card at 2026-04-01 00:10)", story.Cause, story.TxnTime)
	}
	causes := func(from, to time.Time) map[string]uint64 {
		res, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: query.Range{From: from, To: to}, Source: query.SourceRaw})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]uint64{}
		for _, r := range res.Rows {
			out[r.Cause] += r.Transactions
		}
		return out
	}
	march := causes(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	april := causes(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC))
	if len(march) != 0 || april["card"] != 1 || len(april) != 1 {
		t.Errorf("raw causes: March 31 %v (want none), April 1 %v (want card: 1)", march, april)
	}
}

// A span stored twice (a retried request, not yet merged away) shows once
// in the transaction's story.
func TestTxnShowsARetriedSpanOnce(t *testing.T) {
	db := chtest.Migrated(t)
	ctx := t.Context()
	at := "toDateTime('2026-05-04 10:00:00', 'UTC')"
	trace := "toFixedString('TRACE-DUP-000001', 16)"
	fill := func(tb chschema.Table, exprs map[string]string) {
		if err := synth.FillServerSide(ctx, db.Conn, db.Name, tb, 1, exprs); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // two inserts: two parts, nothing merged yet
		fill(chschema.Spans, map[string]string{"trace_id": trace, "span_id": "toFixedString('SPAN0001', 8)", "start_time": at,
			"name": "'pos.transaction'", "txn_id": "'DUP-1'"})
	}
	fill(chschema.PaymentFacts, map[string]string{"txn_id": "'DUP-1'", "trace_id": trace, "span_id": "toFixedString('SPAN0001', 8)",
		"start_time": at, "name": "'pos.transaction'"})
	fill(chschema.Transactions, map[string]string{"txn_id": "'DUP-1'", "version": "toUInt64(1)", "txn_time": at, "trace_id": trace,
		"outcome": "'approved'", "fact_hours": "[toStartOfHour(" + at + ")]"})
	if n := db.Count(t, "SELECT count() FROM spans"); n != 2 {
		t.Fatalf("%d span rows stored, want the 2 copies", n)
	}
	story, err := (&query.Querier{Conn: db.Conn, DB: db.Name, Timeout: time.Minute}).Txn(ctx, "DUP-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(story.Spans) != 1 || story.Spans[0].Name != "pos.transaction" {
		t.Errorf("story has %d spans, want the one span once: %+v", len(story.Spans), story.Spans)
	}
}
