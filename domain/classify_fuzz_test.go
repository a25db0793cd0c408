package domain

import (
	"testing"
	"time"
)

// FuzzClassify feeds arbitrary facts to Classify and checks the contract's
// invariants: exactly one known outcome, a cause iff the outcome has one, and
// the result independent of arrival order.
func FuzzClassify(f *testing.F) {
	f.Add("00", "", "sale", "", "", "settled", uint8(0), uint8(0), int64(0))
	f.Add("", "timeout", "sale", "database_error", "91", "", uint8(2), uint8(2), int64(1e15))
	f.Add("5c", "", "completion", "", "", "rejected", uint8(1), uint8(0), int64(-1))
	f.Add("\xff\xfe", "\x00", "", "x", "ZZZ", "weird", uint8(9), uint8(7), int64(1<<62))
	r := DefaultRules()
	f.Fuzz(func(t *testing.T, rc, et, typ, childET, childRC, settle string, rootStatus, childStatus uint8, shift int64) {
		start := t0.UnixNano() + shift%(1<<50)
		facts := []Fact{
			{TxnID: "F", TraceID: "t", SpanID: "a", Name: SpanTransaction, StartNs: start, ResponseCode: rc, ErrorType: et, TxnType: typ, Status: SpanStatus(rootStatus)},
			{TxnID: "F", TraceID: "t", SpanID: "b", ParentSpanID: "a", Name: "pos.host.request", StartNs: start + 1, ErrorType: childET, ResponseCode: childRC, Status: SpanStatus(childStatus)},
			{TxnID: "F", TraceID: "t", SpanID: "c", ParentSpanID: "b", Name: "gateway.authorize", StartNs: start + 2, ErrorType: et},
			{TxnID: "F", TraceID: "u", SpanID: "d", Name: SpanSettlement, StartNs: start + 3, SettlementStatus: settle, ResponseCode: childRC},
			// a cycle must not hang the depth walk
			{TxnID: "F", TraceID: "t", SpanID: "e", ParentSpanID: "e", StartNs: start, ErrorType: childET},
		}
		in := Input{Facts: facts, AsOf: t0.Add(time.Duration(shift % int64(100*time.Hour)))}
		got := r.Classify(in)
		known := false
		for _, o := range Outcomes {
			known = known || o == got.Outcome
		}
		if !known {
			t.Fatalf("outcome %q", got.Outcome)
		}
		if got.Outcome.HasCause() != (got.Cause != CauseNone) || !got.Cause.Valid() {
			t.Fatalf("outcome %s with cause %q", got.Outcome, got.Cause)
		}
		rev := make([]Fact, len(facts))
		for i := range facts {
			rev[len(facts)-1-i] = facts[i]
		}
		in.Facts = rev
		again := r.Classify(in)
		if again.Outcome != got.Outcome || again.Cause != got.Cause || again.CauseCode != got.CauseCode {
			t.Fatalf("order changed the result: %s/%s vs %s/%s", got.Outcome, got.Cause, again.Outcome, again.Cause)
		}
	})
}
