// Package domain holds the telemetry contract as data and pure functions: the
// failure-cause taxonomy, transaction outcomes, ISO 8583 response codes and the
// error.type vocabulary, and Classify, which turns a transaction's facts into
// its outcome and cause. Nothing here does I/O, so the same rules run at ingest
// and again over history.
package domain

// Cause is one failure cause of the contract's taxonomy.
type Cause string

// The causes, in the contract's order. CauseNone is for transactions that did
// not fail (approved, pending, settled).
const (
	CauseNone          Cause = "none"
	CauseNetwork       Cause = "network"
	CauseTimeout       Cause = "timeout"
	CauseGateway       Cause = "gateway"
	CauseSystem        Cause = "system"
	CauseAccount       Cause = "account"
	CauseAuthorization Cause = "authorization"
	CauseOperator      Cause = "operator"
	CauseLimit         Cause = "limit"
	CauseBankPolicy    Cause = "bank_policy"
	CauseCard          Cause = "card"
	CauseSettlement    Cause = "settlement"
	CauseUnknown       Cause = "unknown"
)

// Causes lists every failure cause (not CauseNone) in the contract's order; it
// is the allow-list for anything that names a cause.
var Causes = []Cause{
	CauseNetwork, CauseTimeout, CauseGateway, CauseSystem, CauseAccount,
	CauseAuthorization, CauseOperator, CauseLimit, CauseBankPolicy, CauseCard,
	CauseSettlement, CauseUnknown,
}

// Valid reports whether c is a cause of the taxonomy (CauseNone included).
func (c Cause) Valid() bool {
	if c == CauseNone {
		return true
	}
	for _, k := range Causes {
		if k == c {
			return true
		}
	}
	return false
}

// Class says whether a failure is worth retrying as-is.
type Class string

// Soft failures are retryable; hard ones are not retried as-is.
const (
	ClassNone Class = "none"
	ClassSoft Class = "soft"
	ClassHard Class = "hard"
)

// Outcome is exactly one of the contract's seven transaction outcomes.
type Outcome string

// The outcomes of a transaction.
const (
	OutcomeApproved           Outcome = "approved"
	OutcomeDeclined           Outcome = "declined"
	OutcomeFailed             Outcome = "failed"
	OutcomePending            Outcome = "pending"
	OutcomeSettled            Outcome = "settled"
	OutcomeSettlementRejected Outcome = "settlement_rejected"
	OutcomeUnsettled          Outcome = "unsettled"
)

// Outcomes lists every outcome; the allow-list for anything that names one.
var Outcomes = []Outcome{
	OutcomeApproved, OutcomeDeclined, OutcomeFailed, OutcomePending,
	OutcomeSettled, OutcomeSettlementRejected, OutcomeUnsettled,
}

// HasCause reports whether transactions with this outcome carry a failure cause.
func (o Outcome) HasCause() bool {
	switch o {
	case OutcomeDeclined, OutcomeFailed, OutcomeSettlementRejected, OutcomeUnsettled:
		return true
	}
	return false
}

// Span names of the contract that classification looks at.
const (
	SpanTransaction = "pos.transaction"
	SpanBatchClose  = "pos.batch.close"
	SpanSettlement  = "settlement.transaction"
)

// Transaction types that settle; only these become settled/unsettled.
const (
	TxnTypeSale       = "sale"
	TxnTypeCompletion = "completion"
)

// Settlement statuses and batch results of the contract.
const (
	SettlementSettled  = "settled"
	SettlementRejected = "rejected"
	BatchBalanced      = "balanced"
	BatchOutOfBalance  = "out_of_balance"
	BatchFailed        = "failed"
)
