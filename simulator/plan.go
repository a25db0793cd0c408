package simulator

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Service is the process (OpenTelemetry resource) that emits a span.
type Service uint8

// The three emitting services of the contract.
const (
	ServiceTerminal   Service = iota // service.name pos-terminal
	ServiceGateway                   // service.name payment-gateway
	ServiceSettlement                // service.name settlement-service
)

// ServiceName returns the service.name of a service.
func (s Service) ServiceName() string {
	switch s {
	case ServiceTerminal:
		return "pos-terminal"
	case ServiceGateway:
		return "payment-gateway"
	case ServiceSettlement:
		return "settlement-service"
	}
	return "unknown"
}

// Span names of the contract.
const (
	SpanTransaction    = "pos.transaction"
	SpanCardRead       = "pos.card.read"
	SpanPINEntry       = "pos.pin.entry"
	SpanHostRequest    = "pos.host.request"
	SpanReversal       = "pos.reversal"
	SpanAuthorize      = "gateway.authorize"
	SpanIssuerRequest  = "gateway.issuer.request"
	SpanBatchClose     = "pos.batch.close"
	SpanSettlementTxn  = "settlement.transaction"
	AttrTxnID          = "pos.txn.id"
	AttrResponseCode   = "pos.response.code"
	AttrResponseSource = "pos.response.source"
	AttrErrorType      = "error.type"
)

// SpanPlan is one span to emit. Response code, response source and error.type
// are kept apart from Attrs (the emitter adds them as attributes) because the
// ground-truth oracle reads them.
type SpanPlan struct {
	Name    string
	Service Service
	Kind    trace.SpanKind
	Parent  int // index of the parent in the same plan; -1 for the root
	SpanID  trace.SpanID
	Start   time.Time
	End     time.Time
	Attrs   []attribute.KeyValue
	Code    string // pos.response.code, "" when none
	Source  string // pos.response.source, "" when none
	ErrType string // error.type, "" when none
	Error   bool   // span status ERROR
	Message string // status description when Error
}

// Outcome of a transaction (the contract's vocabulary).
type Outcome string

// The outcomes.
const (
	OutcomeApproved           Outcome = "approved"
	OutcomeDeclined           Outcome = "declined"
	OutcomeFailed             Outcome = "failed"
	OutcomePending            Outcome = "pending"
	OutcomeSettled            Outcome = "settled"
	OutcomeSettlementRejected Outcome = "settlement_rejected"
	OutcomeUnsettled          Outcome = "unsettled"
)

// Cause of a failure (the contract's vocabulary); CauseNone for outcomes without one.
type Cause string

// The causes.
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

// Txn is the plan of one transaction attempt: one trace of terminal and
// gateway spans. Spans[0] is the pos.transaction root; a span's parent always
// comes before it.
type Txn struct {
	ID          string // pos.txn.id
	Type        string // sale, refund, void, preauth, completion
	Time        time.Time
	Terminal    *Terminal
	Gateway     *Gateway
	Acquirer    *Acquirer
	Issuer      *Issuer
	Scheme      string
	Funding     string
	EntryMode   string
	BIN         string // "" for wallets
	AmountMinor int64
	Currency    string
	BatchNumber string
	PINAsked    bool
	TraceID     trace.TraceID
	Spans       []SpanPlan

	// What the generator meant to produce; the oracle's reading of Spans must agree.
	IntendedOutcome Outcome // approved, declined or failed
	IntendedCause   Cause
	Scenario        string // name of the scenario that shaped it, "" for baseline traffic

	seq uint64
}

// Root returns the pos.transaction span.
func (t *Txn) Root() *SpanPlan { return &t.Spans[0] }

// End returns the latest end of the transaction's spans.
func (t *Txn) End() time.Time {
	e := t.Time
	for i := range t.Spans {
		if t.Spans[i].End.After(e) {
			e = t.Spans[i].End
		}
	}
	return e
}

// Settles reports whether an approved transaction of this type is expected to settle.
func settlesType(typ string) bool { return typ == "sale" || typ == "completion" }

// BatchClose is a terminal's end-of-day batch close: its own trace with one
// pos.batch.close span.
type BatchClose struct {
	Terminal     *Terminal
	BatchNumber  string
	BusinessDate string // local YYYY-MM-DD of the close
	Start, End   time.Time
	TxnCount     int64 // approved financial transactions in the batch
	AmountMinor  int64 // their net amount (sales and completions minus refunds)
	Currency     string
	Result       string // balanced, out_of_balance, failed
	ErrType      string // error.type when failed
	Message      string
	TraceID      trace.TraceID
	SpanID       trace.SpanID
	Scenario     string
}

// Failed reports whether the close failed technically (status ERROR).
func (b *BatchClose) Failed() bool { return b.Result == "failed" }

// SettlementFile is the settlement of one terminal batch by the acquirer's
// settlement service: one settlement.transaction span per transaction, in one
// trace per transaction or one trace per file.
type SettlementFile struct {
	Time        time.Time
	Date        string // pos.settlement.date
	Terminal    *Terminal
	Acquirer    *Acquirer
	BatchNumber string
	PerFile     bool // all items in one trace (the first item's span is the parent of the rest)
	Items       []SettlementItem
}

// SettlementItem is one settlement.transaction span.
type SettlementItem struct {
	TxnID       string
	TxnType     string
	AmountMinor int64
	Currency    string
	Status      string // settled or rejected
	Code        string // pos.response.code: 00, 95, 77 or ""
	ErrType     string // error.type when the rejection is technical
	Start, End  time.Time
	TraceID     trace.TraceID
	SpanID      trace.SpanID
	ParentID    trace.SpanID // zero unless the file shares one trace
	Scenario    string
}

// EventKind says what an Event carries.
type EventKind uint8

// The event kinds.
const (
	EventTxn EventKind = iota
	EventBatchClose
	EventSettlement
)

func (k EventKind) String() string {
	switch k {
	case EventTxn:
		return "txn"
	case EventBatchClose:
		return "batch_close"
	case EventSettlement:
		return "settlement"
	}
	return "unknown"
}

// Event is one thing to emit, in time order.
type Event struct {
	Kind  EventKind
	At    time.Time // when it starts
	Txn   *Txn
	Close *BatchClose
	File  *SettlementFile
}

// End is when the event's last span ends.
func (e Event) End() time.Time {
	switch e.Kind {
	case EventTxn:
		return e.Txn.End()
	case EventBatchClose:
		return e.Close.End
	case EventSettlement:
		end := e.At
		for _, it := range e.File.Items {
			if it.End.After(end) {
				end = it.End
			}
		}
		return end
	}
	return e.At
}

// Spans returns how many spans the event emits.
func (e Event) Spans() int {
	switch e.Kind {
	case EventTxn:
		return len(e.Txn.Spans)
	case EventBatchClose:
		return 1
	case EventSettlement:
		return len(e.File.Items)
	}
	return 0
}
