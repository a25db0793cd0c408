package simulator

import (
	"fmt"
	"time"
)

// This file is the ground-truth oracle: the contract's outcome and cause rules
// (shared/contract/telemetry.md, "Outcome of a transaction" and "Failure
// cause"), written here independently of the rest of the project so that a
// test can compare what the pipeline stored with what the contract says.

var approvalCodes = map[string]bool{"00": true, "08": true, "10": true, "11": true, "85": true, "Y1": true, "Y3": true}

// codeCauses is the contract's ISO 8583 field 39 column.
var codeCauses = map[string]Cause{}

// errorTypeCauses is the contract's error.type column.
var errorTypeCauses = map[string]Cause{}

func init() {
	for cause, codes := range map[Cause][]string{
		CauseTimeout:       {"68", "98"},
		CauseGateway:       {"09", "15", "90", "91", "92"},
		CauseSystem:        {"03", "06", "19", "22", "25", "28", "30", "63", "88", "94", "96", "97", "99", "A0"},
		CauseAccount:       {"39", "46", "51", "52", "53", "78", "9G"},
		CauseAuthorization: {"38", "55", "70", "75", "86"},
		CauseOperator:      {"13", "45", "64"},
		CauseLimit:         {"61", "65"},
		CauseBankPolicy:    {"01", "02", "05", "12", "40", "57", "58", "62", "93", "5C"},
		CauseCard:          {"04", "07", "14", "33", "34", "41", "43", "54", "59"},
		CauseSettlement:    {"77", "95"},
	} {
		for _, c := range codes {
			codeCauses[c] = cause
		}
	}
	for cause, types := range map[Cause][]string{
		CauseNetwork:       {"connection_refused", "connection_reset", "dns_failure", "tls_failure", "network_unreachable", "upload_failed"},
		CauseTimeout:       {"timeout"},
		CauseGateway:       {"gateway_unavailable", "gateway_error", "routing_failure"},
		CauseSystem:        {"internal_error", "database_error", "sync_failure", "app_crash", "hardware_fault"},
		CauseAuthorization: {"pin_invalid", "pin_cancelled", "signature_missing"},
		CauseOperator:      {"invalid_amount", "wrong_payment_method", "card_read_error", "operator_cancelled"},
		CauseLimit:         {"limit_exceeded"},
		CauseSettlement:    {"batch_rejected", "batch_out_of_balance", "settlement_rejected"},
	} {
		for _, t := range types {
			errorTypeCauses[t] = cause
		}
	}
}

// IsApprovalCode reports whether a response code approves the transaction.
func IsApprovalCode(code string) bool { return approvalCodes[code] }

// CauseOfCode is the contract's cause of a response code (unknown when unlisted).
func CauseOfCode(code string) Cause {
	if c, ok := codeCauses[code]; ok {
		return c
	}
	return CauseUnknown
}

// CauseOfErrorType is the contract's cause of an error.type (unknown when unlisted).
func CauseOfErrorType(et string) Cause {
	if c, ok := errorTypeCauses[et]; ok {
		return c
	}
	return CauseUnknown
}

// AuthResult is the oracle's reading of a transaction's trace.
type AuthResult struct {
	Outcome   Outcome // approved, declined or failed
	Cause     Cause   // none for approved
	Code      string  // pos.response.code on pos.transaction
	ErrorType string  // the error.type the cause came from (failed only)
	RootError string  // error.type on pos.transaction
	Ambiguous bool    // several deepest failed spans disagree (the generator never does this)
}

// ClassifyAuth applies the contract to the spans of one transaction attempt:
// approved / declined from pos.transaction's response code; failed when it has
// none, with the cause of its error.type, else of the deepest failed
// descendant's (depth in parent links from the root, across services), else unknown.
func ClassifyAuth(spans []SpanPlan) (AuthResult, error) {
	root := -1
	for i := range spans {
		if spans[i].Name == SpanTransaction && spans[i].Parent < 0 {
			root = i
			break
		}
	}
	if root < 0 {
		return AuthResult{}, fmt.Errorf("no %s root span", SpanTransaction)
	}
	rs := spans[root]
	res := AuthResult{Code: rs.Code, RootError: rs.ErrType}
	if rs.Code != "" {
		if IsApprovalCode(rs.Code) {
			res.Outcome, res.Cause = OutcomeApproved, CauseNone
		} else {
			res.Outcome, res.Cause = OutcomeDeclined, CauseOfCode(rs.Code)
		}
		return res, nil
	}
	res.Outcome = OutcomeFailed
	if rs.ErrType != "" {
		res.Cause, res.ErrorType = CauseOfErrorType(rs.ErrType), rs.ErrType
		return res, nil
	}
	// depth of every span below the root
	depth := make([]int, len(spans))
	for i := range depth {
		depth[i] = -1
	}
	depth[root] = 0
	for changed := true; changed; {
		changed = false
		for i := range spans {
			if depth[i] >= 0 || spans[i].Parent < 0 || spans[i].Parent >= len(spans) {
				continue
			}
			if pd := depth[spans[i].Parent]; pd >= 0 {
				depth[i] = pd + 1
				changed = true
			}
		}
	}
	best := 0
	for i := range spans {
		if i == root || depth[i] <= 0 || !spans[i].Error || spans[i].ErrType == "" {
			continue
		}
		c := CauseOfErrorType(spans[i].ErrType)
		switch {
		case depth[i] > best:
			best, res.Cause, res.ErrorType, res.Ambiguous = depth[i], c, spans[i].ErrType, false
		case depth[i] == best && c != res.Cause:
			res.Ambiguous = true
		}
	}
	if best == 0 {
		res.Cause = CauseUnknown
	}
	return res, nil
}

// SettlementFact is what the oracle needs of a settlement.transaction span.
type SettlementFact struct {
	Status    string // settled or rejected
	Code      string
	ErrorType string
}

// FinalOutcome applies the settlement rules on top of the authorization result:
// approved sales and completions are settled or settlement_rejected when a
// settlement span arrived; otherwise unsettled once txnTime+window <= asOf
// (cause from the failed batch close's error.type when there is one, else
// settlement), pending before. Declined and failed transactions never settle.
// batchFailErr is the error.type of the failed pos.batch.close of the
// transaction's terminal and batch, batchFailed whether there is one.
func FinalOutcome(auth AuthResult, txnType string, txnTime time.Time, settle *SettlementFact,
	batchFailed bool, batchFailErr string, window time.Duration, asOf time.Time) (Outcome, Cause, string) {
	if auth.Outcome != OutcomeApproved {
		return auth.Outcome, auth.Cause, auth.ErrorType
	}
	if !settlesType(txnType) {
		return OutcomeApproved, CauseNone, ""
	}
	if settle != nil {
		if settle.Status == "settled" {
			return OutcomeSettled, CauseNone, ""
		}
		switch {
		case settle.Code != "":
			return OutcomeSettlementRejected, CauseOfCode(settle.Code), ""
		case settle.ErrorType != "":
			return OutcomeSettlementRejected, CauseOfErrorType(settle.ErrorType), settle.ErrorType
		}
		return OutcomeSettlementRejected, CauseSettlement, ""
	}
	if !txnTime.Add(window).After(asOf) {
		if batchFailed && batchFailErr != "" {
			return OutcomeUnsettled, CauseOfErrorType(batchFailErr), batchFailErr
		}
		return OutcomeUnsettled, CauseSettlement, ""
	}
	return OutcomePending, CauseNone, ""
}
