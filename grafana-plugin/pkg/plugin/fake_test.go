package plugin

import (
	"context"
	"sync"
	"time"

	"github.com/settlewatch/settlewatch/analytics/query"
)

var (
	t0  = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// fakeStore answers with fixed results (the frames are what is under test)
// and records every call, so tests can show that bad input never reached
// the query layer.
type fakeStore struct {
	mu    sync.Mutex
	calls []string
	last  any
	panic bool
}

func (s *fakeStore) record(name string, q any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, name)
	s.last = q
	if s.panic {
		panic("boom")
	}
}

func (s *fakeStore) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func (s *fakeStore) CauseBreakdown(_ context.Context, cq query.CausesQuery) (query.CausesResult, error) {
	s.record("CauseBreakdown", cq)
	res := query.CausesResult{By: cq.By, Failures: 60, Transactions: 1000, Meta: query.Meta{Source: "rollup", Granularity: "1h"}}
	if cq.By == "" {
		res.Rows = []query.CauseRow{
			{Cause: "account", Class: "soft", Transactions: 30, AmountMinor: 1234500, Currency: "CNY", Share: 0.5, FailureRate: 0.03},
			{Cause: "timeout", Class: "soft", Transactions: 18, AmountMinor: 99900, Currency: "CNY", Share: 0.3, FailureRate: 0.018},
			{Cause: "timeout", Class: "soft", Transactions: 2, AmountMinor: 5000, Currency: "HKD", Share: 2.0 / 60, FailureRate: 0.002},
			{Cause: "card", Class: "hard", Transactions: 10, AmountMinor: 45600, Currency: "CNY", Share: 10.0 / 60, FailureRate: 0.01},
		}
		return res, nil
	}
	res.Rows = []query.CauseRow{
		{Value: "gw-1", Cause: "account", Class: "soft", Transactions: 20, AmountMinor: 800000, Currency: "CNY", Share: 20.0 / 60, FailureRate: 0.04},
		{Value: "gw-1", Cause: "timeout", Class: "soft", Transactions: 5, AmountMinor: 20000, Currency: "CNY", Share: 5.0 / 60, FailureRate: 0.01},
		{Value: "gw-2", Cause: "timeout", Class: "soft", Transactions: 15, AmountMinor: 84900, Currency: "CNY", Share: 0.25, FailureRate: 0.03},
		{Value: "gw-2", Cause: "account", Class: "soft", Transactions: 10, AmountMinor: 434500, Currency: "CNY", Share: 10.0 / 60, FailureRate: 0.02},
		{Value: "gw-2", Cause: "card", Class: "hard", Transactions: 10, AmountMinor: 45600, Currency: "HKD", Share: 10.0 / 60, FailureRate: 0.02},
	}
	return res, nil
}

func (s *fakeStore) OutcomeBreakdown(_ context.Context, oq query.OutcomesQuery) (query.OutcomeResult, error) {
	s.record("OutcomeBreakdown", oq)
	res := query.OutcomeResult{By: oq.By, Meta: query.Meta{Source: "raw"}}
	res.Rows = []query.OutcomeRow{
		{Outcome: "settled", Transactions: 900, AmountMinor: 45000000, Currency: "CNY"},
		{Outcome: "declined", Transactions: 50, AmountMinor: 1300000, Currency: "CNY"},
		{Outcome: "unsettled", Transactions: 10, AmountMinor: 99000, Currency: "CNY"},
		{Outcome: "settled", Transactions: 40, AmountMinor: 2000000, Currency: "HKD"},
	}
	res.Values = []string{"gw-1", "gw-1", "gw-2", "gw-2"}
	if oq.By == "" {
		res.Values = []string{"", "", "", ""}
	}
	return res, nil
}

func (s *fakeStore) Trend(_ context.Context, tq query.TrendQuery) (query.TrendResult, error) {
	s.record("Trend", tq)
	res := query.TrendResult{Interval: tq.Interval.String(), Meta: query.Meta{Source: "rollup", Granularity: tq.Interval.String()}}
	for h := range 3 {
		b := t0.Add(time.Duration(h) * time.Hour)
		res.Points = append(res.Points,
			query.TrendPoint{Bucket: b, Cause: "network", Failures: uint64(h), Transactions: 100, Rate: float64(h) / 100, Baseline: 0.01, BaselineWeeks: 4, Change: float64(h)/100 - 0.01, Ratio: float64(h)},
			query.TrendPoint{Bucket: b, Cause: "timeout", Failures: uint64(2 * h), Transactions: 100, Rate: float64(2*h) / 100, Baseline: 0.02, BaselineWeeks: 4, Change: float64(2*h)/100 - 0.02})
	}
	return res, nil
}

func (s *fakeStore) Series(_ context.Context, sq query.SeriesQuery) (query.SeriesResult, error) {
	s.record("Series", sq)
	res := query.SeriesResult{Interval: sq.Interval.String(), By: sq.By, Meta: query.Meta{Source: "raw"}}
	// gw-2 has no traffic in the second hour: a count is 0 there, a rate is undefined.
	res.Points = []query.SeriesPoint{
		{Bucket: t0, Value: "gw-1", Transactions: 100, Failures: 3, FailureRate: 0.03, P50Ms: 900, P90Ms: 2100, P99Ms: 5000},
		{Bucket: t0, Value: "gw-2", Transactions: 50, Failures: 5, FailureRate: 0.1, P50Ms: 1100, P90Ms: 2500, P99Ms: 9000},
		{Bucket: t0.Add(time.Hour), Value: "gw-1", Transactions: 120, Failures: 2, FailureRate: 2.0 / 120, P50Ms: 950, P90Ms: 2000, P99Ms: 4000},
		{Bucket: t0.Add(2 * time.Hour), Value: "gw-1", Transactions: 80, Failures: 0, FailureRate: 0, P50Ms: 800, P90Ms: 1900, P99Ms: 3500},
		{Bucket: t0.Add(2 * time.Hour), Value: "gw-2", Transactions: 40, Failures: 1, FailureRate: 0.025, P50Ms: 1000, P90Ms: 2200, P99Ms: 6000},
	}
	return res, nil
}

func (s *fakeStore) Txn(_ context.Context, id string) (query.TxnStory, error) {
	s.record("Txn", id)
	if id == "NO-SUCH" {
		return query.TxnStory{}, query.ErrNotFound
	}
	start := t0.Add(14 * time.Hour)
	span := func(off, dur int, trace, id, parent, svc, name, kind, status, code, et string) query.SpanRow {
		return query.SpanRow{Start: start.Add(time.Duration(off) * time.Millisecond), OffsetMs: float64(off), DurationMs: float64(dur), Service: svc, Name: name,
			Kind: kind, Status: status, ResponseCode: code, ErrorType: et, TraceID: trace, SpanID: id, ParentSpanID: parent}
	}
	tr, other, batch := "0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736", "5c1f0a6a3c4b4e59a1a2b3c4d5e6f708"
	return query.TxnStory{
		TxnID: id, Outcome: "unsettled", Cause: "network", CauseClass: "soft", CauseSource: "batch_close", CauseCode: "upload_failed",
		ResponseCode: "00", ResponseSource: "issuer", AmountMinor: 12345, Currency: "CNY", TxnType: "sale", TxnTime: start,
		Gateway: "gw-2", Merchant: "898765432101234", Terminal: "42788908", BatchNumber: "000123", DataIssues: []string{},
		Spans: []query.SpanRow{
			span(0, 2300, tr, "b7ad6b7169203331", "", "pos-terminal", "pos.transaction", "internal", "unset", "00", ""),
			span(5, 800, tr, "00f067aa0ba902b7", "b7ad6b7169203331", "pos-terminal", "pos.card.read", "internal", "unset", "", ""),
			span(900, 1300, tr, "53995c3f42cd8ad8", "b7ad6b7169203331", "pos-terminal", "pos.host.request", "client", "unset", "", ""),
			span(950, 1200, tr, "1e2d3c4b5a697887", "53995c3f42cd8ad8", "payment-gateway", "gateway.authorize", "server", "unset", "00", ""),
			span(1000, 1100, tr, "9a8b7c6d5e4f3a2b", "1e2d3c4b5a697887", "payment-gateway", "gateway.issuer.request", "client", "unset", "00", ""),
			span(8*3600*1000, 900, batch, "aa11bb22cc33dd44", "", "pos-terminal", "pos.batch.close", "internal", "error", "", "upload_failed"),
			span(20*3600*1000, 15, other, "0102030405060708", "f0e0d0c0b0a09080", "settlement-service", "settlement.transaction", "internal", "unset", "00", ""),
		},
	}, nil
}

func (s *fakeStore) Incidents(_ context.Context, iq query.IncidentsQuery) ([]query.Incident, query.Meta, error) {
	s.record("Incidents", iq)
	list := []query.Incident{
		{ID: "inc-2", Status: "open", Cause: "network", Dimension: "region", Value: "wuhan", Started: t0.Add(16 * time.Hour), Kind: "step", Severity: "medium",
			Score: 7.5, Baseline: 0.002, Observed: 0.21, Peak: 0.25, Failures: 80, Transactions: 320, Summary: "Network failures in region wuhan rose to 25%", EvaluatedTo: t0.Add(18 * time.Hour)},
		{ID: "inc-1", Status: "closed", Cause: "gateway", Dimension: "gateway", Value: "gw-2", Started: t0.Add(14 * time.Hour), Ended: t0.Add(14*time.Hour + 30*time.Minute),
			Kind: "spike", Severity: "high", Score: 12, Baseline: 0.001, Observed: 0.35, Peak: 0.41, Failures: 120, Transactions: 290, Summary: "Gateway failures on gateway gw-2 rose to 41%",
			EvaluatedTo: t0.Add(15 * time.Hour)},
	}
	if iq.OpenOnly {
		list = list[:1]
	}
	return list, query.Meta{Source: "incidents"}, nil
}

func (s *fakeStore) Unsettled(_ context.Context, uq query.UnsettledQuery) (query.UnsettledResult, error) {
	s.record("Unsettled", uq)
	res := query.UnsettledResult{AsOf: uq.AsOf, Meta: query.Meta{Source: "raw"}}
	res.Rows = []query.UnsettledRow{
		{TxnID: "42788908D261120T00014701415", Cause: "network", AmountMinor: 12345, Currency: "CNY", AgeHours: 50.25, AgeBucket: "2-5d", TxnTime: t0.Add(14 * time.Hour),
			Gateway: "gw-2", Merchant: "898765432101234", Terminal: "42788908", BatchNumber: "000123"},
		{TxnID: "11112222D261120T00020000000", Cause: "settlement", AmountMinor: 500, Currency: "HKD", AgeHours: 49.5, AgeBucket: "2-5d", TxnTime: t0.Add(14*time.Hour + 45*time.Minute),
			Gateway: "gw-1", Merchant: "898700000000001", Terminal: "11112222", BatchNumber: "000045"},
	}
	if uq.Limit > 0 && len(res.Rows) > uq.Limit {
		res.Rows, res.Meta.Truncated = res.Rows[:uq.Limit], true
	}
	res.Aging = []query.AgingRow{
		{AgeBucket: "1-2d", Cause: "settlement", Currency: "CNY", Transactions: 3, AmountMinor: 30000},
		{AgeBucket: "2-5d", Cause: "network", Currency: "CNY", Transactions: 7, AmountMinor: 77700},
		{AgeBucket: "2-5d", Cause: "network", Currency: "HKD", Transactions: 1, AmountMinor: 500},
		{AgeBucket: "<1d", Cause: "settlement", Currency: "CNY", Transactions: 2, AmountMinor: 2000},
	}
	return res, nil
}

func (s *fakeStore) Transactions(_ context.Context, tq query.TransactionsQuery) (query.TransactionsResult, error) {
	s.record("Transactions", tq)
	return query.TransactionsResult{Meta: query.Meta{Source: "raw"}, Rows: []query.TxnListRow{
		{TxnID: "T2", TraceID: "0af7651916cd43dd8448eb211c80319c", TxnTime: t0.Add(2 * time.Hour), Outcome: "declined", Cause: "account", Class: "soft",
			ResponseCode: "51", AmountMinor: 12500, Currency: "CNY", Gateway: "gw-1", Merchant: "M-1", Terminal: "T-1", BatchNumber: "000001"},
		{TxnID: "T1", TxnTime: t0.Add(time.Hour), Outcome: "failed", Cause: "network", Class: "soft", ErrorType: "connection_refused",
			AmountMinor: 990, Currency: "HKD", Gateway: "gw-2", Merchant: "M-2", Terminal: "T-2", BatchNumber: "000002"},
	}}, nil
}

func (s *fakeStore) TxnByTrace(_ context.Context, traceID string) (string, error) {
	s.record("TxnByTrace", traceID)
	return "T-TRACE", nil
}
