package simulator

import (
	"testing"
	"time"
)

type sp struct {
	name, code, err string
	parent          int
	failed          bool
}

func spans(list ...sp) []SpanPlan {
	out := make([]SpanPlan, len(list))
	for i, s := range list {
		out[i] = SpanPlan{Name: s.name, Parent: s.parent, Code: s.code, ErrType: s.err, Error: s.failed || s.err != ""}
	}
	return out
}

func rootSpan(code, err string, failed bool) sp {
	return sp{name: SpanTransaction, code: code, err: err, parent: -1, failed: failed}
}

func TestOracleAuthorization(t *testing.T) {
	for _, c := range []string{"00", "08", "10", "11", "85", "Y1", "Y3"} {
		r, _ := ClassifyAuth(spans(rootSpan(c, "", false)))
		if r.Outcome != OutcomeApproved || r.Cause != CauseNone {
			t.Errorf("%s: %v", c, r)
		}
	}
	for code, cause := range map[string]Cause{"51": CauseAccount, "9G": CauseAccount, "05": CauseBankPolicy, "5C": CauseBankPolicy,
		"55": CauseAuthorization, "54": CauseCard, "61": CauseLimit, "65": CauseLimit, "13": CauseOperator, "91": CauseGateway,
		"90": CauseGateway, "96": CauseSystem, "A0": CauseSystem, "68": CauseTimeout, "95": CauseSettlement, "N7": CauseUnknown, "87": CauseUnknown} {
		// A decline keeps the code's cause even with a failed span underneath.
		r, _ := ClassifyAuth(spans(rootSpan(code, "", false), sp{name: SpanHostRequest}, sp{name: SpanAuthorize, parent: 1},
			sp{name: SpanIssuerRequest, parent: 2, err: "timeout"}))
		if r.Outcome != OutcomeDeclined || r.Cause != cause || r.Code != code {
			t.Errorf("%s: %+v, want declined/%s", code, r, cause)
		}
	}
	for et, cause := range map[string]Cause{"timeout": CauseTimeout, "connection_refused": CauseNetwork, "upload_failed": CauseNetwork,
		"gateway_unavailable": CauseGateway, "app_crash": CauseSystem, "pin_invalid": CauseAuthorization, "operator_cancelled": CauseOperator,
		"limit_exceeded": CauseLimit, "batch_rejected": CauseSettlement, "printer_jam": CauseUnknown} {
		// The root's own error.type wins over deeper ones.
		r, _ := ClassifyAuth(spans(rootSpan("", et, true), sp{name: SpanHostRequest, err: "dns_failure"}))
		if r.Outcome != OutcomeFailed || r.Cause != cause || r.ErrorType != et {
			t.Errorf("%s: %+v, want failed/%s", et, r, cause)
		}
	}
}

func TestOracleDeepestFailedDescendant(t *testing.T) {
	// root(no error.type) > host(timeout) > authorize(gateway_error) > issuer(internal_error): the issuer is deepest.
	r, _ := ClassifyAuth(spans(rootSpan("", "", true),
		sp{name: SpanHostRequest, err: "timeout"},
		sp{name: SpanAuthorize, parent: 1, err: "gateway_error"},
		sp{name: SpanIssuerRequest, parent: 2, err: "internal_error"},
		sp{name: SpanReversal, err: "connection_refused"}))
	if r.Cause != CauseSystem || r.ErrorType != "internal_error" || r.Ambiguous {
		t.Errorf("%+v, want system from the issuer request", r)
	}
	// Failed spans without error.type do not count; a deeper healthy span does not either.
	r, _ = ClassifyAuth(spans(rootSpan("", "", true),
		sp{name: SpanHostRequest, err: "timeout"},
		sp{name: SpanAuthorize, parent: 1, failed: true},
		sp{name: SpanIssuerRequest, parent: 2, code: "00"}))
	if r.Cause != CauseTimeout {
		t.Errorf("%+v, want timeout from the host request", r)
	}
	// Nothing at all: unknown.
	r, _ = ClassifyAuth(spans(rootSpan("", "", true), sp{name: SpanCardRead}))
	if r.Outcome != OutcomeFailed || r.Cause != CauseUnknown {
		t.Errorf("%+v, want failed/unknown", r)
	}
	// Two deepest failures that disagree are flagged.
	r, _ = ClassifyAuth(spans(rootSpan("", "", true), sp{name: SpanHostRequest, err: "timeout"}, sp{name: SpanReversal, err: "connection_refused"}))
	if !r.Ambiguous {
		t.Errorf("%+v, want ambiguous", r)
	}
	if _, err := ClassifyAuth(spans(sp{name: SpanHostRequest, parent: -1})); err == nil {
		t.Error("no root should be an error")
	}
}

func TestOracleSettlement(t *testing.T) {
	t0 := day0.Add(10 * time.Hour)
	w := 36 * time.Hour
	approved := AuthResult{Outcome: OutcomeApproved, Cause: CauseNone, Code: "00"}
	type tc struct {
		name    string
		auth    AuthResult
		typ     string
		settle  *SettlementFact
		failed  bool
		failErr string
		asOf    time.Time
		outcome Outcome
		cause   Cause
	}
	for _, c := range []tc{
		{"settled", approved, "sale", &SettlementFact{Status: "settled"}, false, "", t0.Add(time.Hour), OutcomeSettled, CauseNone},
		{"completion settled", approved, "completion", &SettlementFact{Status: "settled"}, false, "", t0.Add(time.Hour), OutcomeSettled, CauseNone},
		{"rejected 95", approved, "sale", &SettlementFact{Status: "rejected", Code: "95"}, false, "", t0, OutcomeSettlementRejected, CauseSettlement},
		{"rejected 77", approved, "sale", &SettlementFact{Status: "rejected", Code: "77"}, false, "", t0, OutcomeSettlementRejected, CauseSettlement},
		{"rejected code first", approved, "sale", &SettlementFact{Status: "rejected", Code: "51", ErrorType: "batch_rejected"}, false, "", t0, OutcomeSettlementRejected, CauseAccount},
		{"rejected by error.type", approved, "sale", &SettlementFact{Status: "rejected", ErrorType: "batch_out_of_balance"}, false, "", t0, OutcomeSettlementRejected, CauseSettlement},
		{"rejected unknown error.type", approved, "sale", &SettlementFact{Status: "rejected", ErrorType: "cosmic_ray"}, false, "", t0, OutcomeSettlementRejected, CauseUnknown},
		{"rejected bare", approved, "sale", &SettlementFact{Status: "rejected"}, false, "", t0, OutcomeSettlementRejected, CauseSettlement},
		{"settled even after the window", approved, "sale", &SettlementFact{Status: "settled"}, false, "", t0.Add(48 * time.Hour), OutcomeSettled, CauseNone},
		{"pending just before the window", approved, "sale", nil, false, "", t0.Add(w - time.Nanosecond), OutcomePending, CauseNone},
		{"unsettled exactly at the window", approved, "sale", nil, false, "", t0.Add(w), OutcomeUnsettled, CauseSettlement},
		{"unsettled after a failed upload", approved, "sale", nil, true, "upload_failed", t0.Add(w), OutcomeUnsettled, CauseNetwork},
		{"unsettled after a sync failure", approved, "sale", nil, true, "sync_failure", t0.Add(w + time.Hour), OutcomeUnsettled, CauseSystem},
		{"unsettled, failed close without error.type", approved, "sale", nil, true, "", t0.Add(w), OutcomeUnsettled, CauseSettlement},
		{"pending despite a failed close", approved, "sale", nil, true, "upload_failed", t0.Add(time.Hour), OutcomePending, CauseNone},
		{"refund stays approved", approved, "refund", nil, false, "", t0.Add(w * 2), OutcomeApproved, CauseNone},
		{"preauth stays approved", approved, "preauth", &SettlementFact{Status: "settled"}, false, "", t0.Add(w * 2), OutcomeApproved, CauseNone},
		{"declined never unsettled", AuthResult{Outcome: OutcomeDeclined, Cause: CauseAccount, Code: "51"}, "sale", nil, true, "upload_failed", t0.Add(w * 2), OutcomeDeclined, CauseAccount},
		{"failed never unsettled", AuthResult{Outcome: OutcomeFailed, Cause: CauseTimeout, ErrorType: "timeout"}, "sale", nil, false, "", t0.Add(w * 2), OutcomeFailed, CauseTimeout},
	} {
		o, cause, _ := FinalOutcome(c.auth, c.typ, t0, c.settle, c.failed, c.failErr, w, c.asOf)
		if o != c.outcome || cause != c.cause {
			t.Errorf("%s: %s/%s, want %s/%s", c.name, o, cause, c.outcome, c.cause)
		}
	}
}

// The oracle's tables are the contract's: spot-check both columns fully.
func TestOracleTablesComplete(t *testing.T) {
	n := 0
	for range codeCauses {
		n++
	}
	if n != 2+5+14+7+5+3+2+10+9+2 {
		t.Errorf("%d response codes in the table", n)
	}
	m := 0
	for range errorTypeCauses {
		m++
	}
	if m != 6+1+3+5+3+4+1+3 {
		t.Errorf("%d error types in the table", m)
	}
	// Every error.type and code the generator emits is in the contract's table,
	// except the deliberately unknown decline codes.
	for et := range genErrorCause {
		if CauseOfErrorType(et) != genErrorCause[et] {
			t.Errorf("error.type %s: generator %s, contract %s", et, genErrorCause[et], CauseOfErrorType(et))
		}
	}
	for g, dg := range declineGroups {
		for _, c := range dg.codes {
			if CauseOfCode(c.code) != dg.cause {
				t.Errorf("group %s code %s: generator %s, contract %s", g, c.code, dg.cause, CauseOfCode(c.code))
			}
		}
	}
}
