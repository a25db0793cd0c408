package domain

import (
	"math/rand"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// txn builds the spans of one attempt: root, host request, gateway authorize,
// issuer request; each option edits them.
func txn(opts ...func(map[string]*Fact)) []Fact {
	base := t0.UnixNano()
	dims := Dimensions{TerminalID: "T1", MerchantID: "M1", GatewayID: "gw-1", BatchNumber: "000042"}
	spans := map[string]*Fact{
		"root":   {TxnID: "X1", TraceID: "tr1", SpanID: "s1", Name: SpanTransaction, Service: "pos-terminal", StartNs: base, DurationNs: 1e9, TxnType: "sale", AmountMinor: 1250, Amount: AmountOK, Currency: "CNY", Dims: dims},
		"host":   {TxnID: "X1", TraceID: "tr1", SpanID: "s2", ParentSpanID: "s1", Name: "pos.host.request", Service: "pos-terminal", StartNs: base + 1e8, DurationNs: 8e8},
		"auth":   {TxnID: "X1", TraceID: "tr1", SpanID: "s3", ParentSpanID: "s2", Name: "gateway.authorize", Service: "payment-gateway", StartNs: base + 2e8, DurationNs: 6e8},
		"issuer": {TxnID: "X1", TraceID: "tr1", SpanID: "s4", ParentSpanID: "s3", Name: "gateway.issuer.request", Service: "payment-gateway", StartNs: base + 3e8, DurationNs: 4e8, Dims: Dimensions{AcquirerID: "acq-1", IssuerID: "iss-9"}},
	}
	for _, o := range opts {
		o(spans)
	}
	out := []Fact{}
	for _, k := range []string{"root", "host", "auth", "issuer", "settle"} {
		if f, ok := spans[k]; ok && f != nil {
			out = append(out, *f)
		}
	}
	return out
}

func code(c string) func(map[string]*Fact) {
	return func(s map[string]*Fact) { s["root"].ResponseCode = c }
}

func settlement(status, rc, et string) func(map[string]*Fact) {
	return func(s map[string]*Fact) {
		s["settle"] = &Fact{TxnID: "X1", TraceID: "tr-settle", SpanID: "s9", Name: SpanSettlement, Service: "settlement-service",
			StartNs: t0.Add(20 * time.Hour).UnixNano(), SettlementStatus: status, ResponseCode: rc, ErrorType: et, AmountMinor: 1250, Amount: AmountOK}
	}
}

func failAt(key, et string) func(map[string]*Fact) {
	return func(s map[string]*Fact) { s[key].Status = StatusError; s[key].ErrorType = et }
}

func drop(key string) func(map[string]*Fact) { return func(s map[string]*Fact) { delete(s, key) } }

func TestClassifyContractCases(t *testing.T) {
	r := DefaultRules()
	soon := t0.Add(time.Hour)
	late := t0.Add(48 * time.Hour)
	failedClose := []BatchClose{{TerminalID: "T1", BatchNumber: "000042", SpanID: "b1", CloseNs: t0.Add(12 * time.Hour).UnixNano(), Status: StatusError, Result: BatchFailed, ErrorType: "upload_failed"}}
	cases := []struct {
		name    string
		facts   []Fact
		batches []BatchClose
		asOf    time.Time
		outcome Outcome
		cause   Cause
		source  string
	}{
		{"approved refund", txn(code("00"), func(s map[string]*Fact) { s["root"].TxnType = "refund" }), nil, late, OutcomeApproved, CauseNone, ""},
		{"approved 08 void", txn(code("08"), func(s map[string]*Fact) { s["root"].TxnType = "void" }), nil, late, OutcomeApproved, CauseNone, ""},
		{"pending sale", txn(code("00")), nil, soon, OutcomePending, CauseNone, ""},
		{"settled sale", txn(code("00"), settlement("settled", "00", "")), nil, late, OutcomeSettled, CauseNone, ""},
		{"settled completion Y1", txn(code("Y1"), func(s map[string]*Fact) { s["root"].TxnType = "completion" }, settlement("settled", "", "")), nil, late, OutcomeSettled, CauseNone, ""},
		{"settlement rejected 95", txn(code("00"), settlement("rejected", "95", "")), nil, soon, OutcomeSettlementRejected, CauseSettlement, "settlement_response_code"},
		{"settlement rejected 51", txn(code("00"), settlement("rejected", "51", "")), nil, soon, OutcomeSettlementRejected, CauseAccount, "settlement_response_code"},
		{"settlement rejected by error.type", txn(code("00"), settlement("rejected", "", "batch_out_of_balance")), nil, soon, OutcomeSettlementRejected, CauseSettlement, "settlement_error_type"},
		{"settlement rejected bare", txn(code("00"), settlement("rejected", "", "")), nil, soon, OutcomeSettlementRejected, CauseSettlement, "default"},
		{"unsettled, no batch", txn(code("00")), nil, late, OutcomeUnsettled, CauseSettlement, "default"},
		{"unsettled, failed batch close", txn(code("00")), failedClose, late, OutcomeUnsettled, CauseNetwork, "batch_close_error_type"},
		{"unsettled, other terminal's close", txn(code("00"), func(s map[string]*Fact) { s["root"].Dims.TerminalID = "T2" }), failedClose, late, OutcomeUnsettled, CauseSettlement, "default"},
		{"declined 51 account", txn(code("51")), nil, late, OutcomeDeclined, CauseAccount, "response_code"},
		{"declined 5C bank policy", txn(code("5C")), nil, late, OutcomeDeclined, CauseBankPolicy, "response_code"},
		{"declined unknown code", txn(code("N7")), nil, late, OutcomeDeclined, CauseUnknown, "response_code"},
		{"decline with gateway error underneath", txn(code("91"), failAt("issuer", "timeout")), nil, late, OutcomeDeclined, CauseGateway, "response_code"},
		{"declined never unsettled", txn(code("05")), failedClose, late, OutcomeDeclined, CauseBankPolicy, "response_code"},
		{"failed, root error.type", txn(failAt("root", "connection_refused"), drop("auth"), drop("issuer")), nil, late, OutcomeFailed, CauseNetwork, "error_type"},
		{"failed, deepest descendant", txn(failAt("host", "timeout"), failAt("issuer", "database_error"), func(s map[string]*Fact) { s["root"].Status = StatusError }), nil, late, OutcomeFailed, CauseSystem, "descendant_error_type"},
		{"failed, shallow only", txn(failAt("host", "tls_failure"), drop("auth"), drop("issuer")), nil, late, OutcomeFailed, CauseNetwork, "descendant_error_type"},
		{"failed, nothing says why", txn(drop("auth"), drop("issuer")), nil, late, OutcomeFailed, CauseUnknown, "default"},
		{"failed, unknown error.type", txn(failAt("root", "cosmic_ray")), nil, late, OutcomeFailed, CauseUnknown, "error_type"},
		{"failed never unsettled", txn(failAt("root", "timeout")), failedClose, late, OutcomeFailed, CauseTimeout, "error_type"},
		{"gateway spans only, root not arrived", txn(drop("root"), drop("host"), failAt("auth", "gateway_error")), nil, late, OutcomeFailed, CauseUnknown, "default"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.Classify(Input{Facts: c.facts, Batches: c.batches, AsOf: c.asOf})
			if got.Outcome != c.outcome || got.Cause != c.cause || got.CauseSource != c.source {
				t.Fatalf("got %s/%s (%s), want %s/%s (%s)", got.Outcome, got.Cause, got.CauseSource, c.outcome, c.cause, c.source)
			}
			if got.Cause != CauseNone && got.Class != r.ClassOf(got.Cause) {
				t.Errorf("class %s for %s", got.Class, got.Cause)
			}
			if got.TxnID != "X1" {
				t.Errorf("txn id %q", got.TxnID)
			}
		})
	}
}

func TestClassifyCarriesFacts(t *testing.T) {
	got := DefaultRules().Classify(Input{Facts: txn(code("00"), settlement("settled", "00", "")), AsOf: t0})
	if got.AmountMinor != 1250 || got.Currency != "CNY" || got.LatencyNs != 1e9 || got.SpanCount != 5 {
		t.Errorf("amount %d %s latency %d spans %d", got.AmountMinor, got.Currency, got.LatencyNs, got.SpanCount)
	}
	if got.Dims.IssuerID != "iss-9" || got.Dims.AcquirerID != "acq-1" || got.Dims.TerminalID != "T1" {
		t.Errorf("dimensions not merged from child spans: %+v", got.Dims)
	}
	if got.SettlementStatus != "settled" || got.SettledNs == 0 || got.TraceID != "tr1" || got.TxnNs != t0.UnixNano() {
		t.Errorf("settlement %q at %d trace %q", got.SettlementStatus, got.SettledNs, got.TraceID)
	}
}

func TestSettlementWindowBoundary(t *testing.T) {
	r := DefaultRules()
	w := 36 * time.Hour
	before := r.Classify(Input{Facts: txn(code("00")), AsOf: t0.Add(w - time.Nanosecond), Window: w})
	at := r.Classify(Input{Facts: txn(code("00")), AsOf: t0.Add(w), Window: w})
	if before.Outcome != OutcomePending || before.WindowPassed {
		t.Errorf("1ns before the window: %s", before.Outcome)
	}
	if at.Outcome != OutcomeUnsettled || !at.WindowPassed {
		t.Errorf("at the window: %s", at.Outcome)
	}
	custom := r.Classify(Input{Facts: txn(code("00")), AsOf: t0.Add(2 * time.Hour), Window: time.Hour})
	if custom.Outcome != OutcomeUnsettled {
		t.Errorf("custom window: %s", custom.Outcome)
	}
}

func TestDepthThroughLinks(t *testing.T) {
	// A failed db span under the issuer request, joined through a span that is
	// not a fact (no payment data): the link table supplies the chain.
	facts := txn(failAt("host", "timeout"), func(s map[string]*Fact) {
		s["db"] = nil
	})
	facts = append(facts, Fact{TxnID: "", TraceID: "tr1", SpanID: "s6", ParentSpanID: "s5", Name: "db.query", Status: StatusError, ErrorType: "database_error", StartNs: t0.UnixNano() + 4e8})
	r := DefaultRules()
	without := r.Classify(Input{Facts: facts, AsOf: t0})
	if without.Cause != CauseNetwork && without.Cause != CauseTimeout {
		t.Fatalf("without links: %s", without.Cause)
	}
	with := r.Classify(Input{Facts: facts, Links: []SpanLink{{SpanID: "s5", ParentSpanID: "s4"}}, AsOf: t0})
	if with.Cause != CauseSystem {
		t.Errorf("with links: %s, want system from the deeper db span", with.Cause)
	}
}

func TestArrivalOrderAndDuplicatesDoNotMatter(t *testing.T) {
	r := DefaultRules()
	facts := txn(code("91"), failAt("issuer", "timeout"), settlement("rejected", "95", ""))
	want := r.Classify(Input{Facts: facts, AsOf: t0})
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		shuffled := append(append([]Fact{}, facts...), facts[rng.Intn(len(facts))])
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		got := r.Classify(Input{Facts: shuffled, AsOf: t0})
		if got.Outcome != want.Outcome || got.Cause != want.Cause || got.SpanCount != want.SpanCount || got.CauseCode != want.CauseCode {
			t.Fatalf("order %d: %+v, want %+v", i, got, want)
		}
	}
}

// Facts SortFacts ordered (in place, duplicates dropped) classify as the
// same facts in any order, and Classify reads them without copying them or
// writing to them.
func TestSortedFactsClassifyInPlace(t *testing.T) {
	r := DefaultRules()
	facts := txn(code("91"), failAt("issuer", "timeout"), settlement("rejected", "95", ""))
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 50; i++ {
		shuffled := append(append([]Fact{}, facts...), facts[rng.Intn(len(facts))])
		rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		want := r.Classify(Input{Facts: shuffled, AsOf: t0})
		sorted := SortFacts(append([]Fact{}, shuffled...))
		if len(sorted) != len(facts) || !inOrder(sorted) {
			t.Fatalf("order %d: %d facts after sorting, in order %v; want %d in order", i, len(sorted), inOrder(sorted), len(facts))
		}
		kept := append([]Fact{}, sorted...)
		got := r.Classify(Input{Facts: sorted, AsOf: t0})
		if got.Outcome != want.Outcome || got.Cause != want.Cause || got.SpanCount != want.SpanCount || got.CauseCode != want.CauseCode || got.TxnNs != want.TxnNs {
			t.Fatalf("order %d: sorted %+v, shuffled %+v", i, got, want)
		}
		if !reflect.DeepEqual(sorted, kept) {
			t.Fatalf("order %d: Classify changed its sorted input", i)
		}
	}
	in := Input{Facts: SortFacts(append([]Fact{}, facts...)), AsOf: t0}
	sortedAllocs := testing.AllocsPerRun(20, func() { r.Classify(in) })
	in.Facts[0], in.Facts[1] = in.Facts[1], in.Facts[0]
	unsortedAllocs := testing.AllocsPerRun(20, func() { r.Classify(in) })
	if sortedAllocs >= unsortedAllocs {
		t.Errorf("%v allocations for sorted facts, %v for unsorted: want fewer (no copy)", sortedAllocs, unsortedAllocs)
	}
}

func TestTraceRootStandsInForUnnamedRoot(t *testing.T) {
	r := DefaultRules()
	facts := txn(code("51"), func(s map[string]*Fact) { s["root"].Name = "checkout" })
	got := r.Classify(Input{Facts: facts, AsOf: t0})
	if got.Outcome != OutcomeDeclined || got.Cause != CauseAccount || len(got.Issues) != 1 || got.Issues[0] != IssueRootNotNamed {
		t.Errorf("unnamed root: %s/%s %v", got.Outcome, got.Cause, got.Issues)
	}
	// A settlement span alone never stands in.
	only := r.Classify(Input{Facts: txn(drop("root"), drop("host"), drop("auth"), drop("issuer"), settlement("settled", "00", "")), AsOf: t0})
	if only.Outcome != OutcomeFailed || only.Issues[0] != IssueNoRootSpan {
		t.Errorf("settlement only: %s %v", only.Outcome, only.Issues)
	}
}

func TestDataIssues(t *testing.T) {
	r := DefaultRules()
	bad := r.Classify(Input{Facts: txn(code("00"), func(s map[string]*Fact) { s["root"].Amount = AmountInvalid; s["root"].AmountMinor = 0 }), AsOf: t0})
	if len(bad.Issues) != 1 || bad.Issues[0] != IssueAmountNotInteger {
		t.Errorf("issues %v", bad.Issues)
	}
	healed := r.Classify(Input{Facts: txn(code("00"), func(s map[string]*Fact) { s["root"].Amount = AmountMissing }, settlement("settled", "", "")), AsOf: t0})
	if len(healed.Issues) != 0 || healed.AmountMinor != 1250 {
		t.Errorf("amount from settlement: %d %v", healed.AmountMinor, healed.Issues)
	}
	twoRoots := append(txn(code("00")), Fact{TxnID: "X1", TraceID: "tr1", SpanID: "s0", Name: SpanTransaction, StartNs: t0.UnixNano() - 1})
	if got := r.Classify(Input{Facts: twoRoots, AsOf: t0}); got.Outcome != OutcomePending || got.Issues[0] != IssueManyRootSpans {
		t.Errorf("two roots: %s %v", got.Outcome, got.Issues)
	}
}

// sortStable orders as sort.SliceStable does, equal facts kept in the order
// given, for the short lists it sorts itself and the long ones it hands on.
func TestSortStableMatchesTheLibrary(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 2, 5, 16, 17, 40} {
		for range 50 {
			facts := make([]Fact, n)
			for i := range facts {
				// Few distinct keys, so that ties are common; Name tells the
				// copies of a key apart.
				facts[i] = Fact{StartNs: int64(rng.Intn(3)), SpanID: string(rune('a' + rng.Intn(2))), TraceID: "t", Name: strconv.Itoa(i)}
			}
			want := make([]Fact, n)
			copy(want, facts)
			sort.SliceStable(want, func(i, j int) bool { return factBefore(&want[i], &want[j]) })
			sortStable(facts)
			if !reflect.DeepEqual(facts, want) {
				t.Fatalf("%d facts: got %v, want %v", n, facts, want)
			}
		}
	}
}

// SortFacts drops every re-sent copy of a span, wherever the copies fall,
// and keeps one of each span in order.
func TestSortFactsDropsCopies(t *testing.T) {
	f := func(ns int64, span string) Fact { return Fact{StartNs: ns, SpanID: span, TraceID: "t"} }
	in := []Fact{f(3, "c"), f(1, "a"), f(1, "a"), f(2, "b"), f(3, "c"), f(4, "d"), f(1, "a"), f(4, "d")}
	got := SortFacts(in)
	var spans []string
	for _, x := range got {
		spans = append(spans, x.SpanID)
	}
	if strings.Join(spans, "") != "abcd" {
		t.Errorf("kept %v, want a b c d once each", spans)
	}
	if len(SortFacts(nil)) != 0 || len(SortFacts([]Fact{f(1, "a")})) != 1 {
		t.Error("an empty or single list changed")
	}
}
