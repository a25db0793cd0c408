package domain

// SpanStatus is the OTel span status code.
type SpanStatus uint8

// Span status codes, as OTLP numbers them.
const (
	StatusUnset SpanStatus = 0
	StatusOK    SpanStatus = 1
	StatusError SpanStatus = 2
)

// String is the status as the spans table stores it: unset, ok or error.
func (s SpanStatus) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusError:
		return "error"
	}
	return "unset"
}

// Dimensions are the contract's slicing attributes of a transaction.
type Dimensions struct {
	TerminalID    string
	TerminalModel string
	MerchantID    string
	Region        string
	GatewayID     string
	AcquirerID    string
	IssuerID      string
	CardScheme    string
	CardFunding   string
	EntryMode     string
	CardBIN       string
	BatchNumber   string
}

// fill copies every dimension that d lacks from o.
func (d *Dimensions) fill(o Dimensions) {
	fillStr(&d.TerminalID, o.TerminalID)
	fillStr(&d.TerminalModel, o.TerminalModel)
	fillStr(&d.MerchantID, o.MerchantID)
	fillStr(&d.Region, o.Region)
	fillStr(&d.GatewayID, o.GatewayID)
	fillStr(&d.AcquirerID, o.AcquirerID)
	fillStr(&d.IssuerID, o.IssuerID)
	fillStr(&d.CardScheme, o.CardScheme)
	fillStr(&d.CardFunding, o.CardFunding)
	fillStr(&d.EntryMode, o.EntryMode)
	fillStr(&d.CardBIN, o.CardBIN)
	fillStr(&d.BatchNumber, o.BatchNumber)
}

func fillStr(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// Fact is what one span says about a transaction: the payment attributes
// (span attributes already merged over resource attributes) plus the span's
// place in its trace. IDs are raw bytes held in strings.
type Fact struct {
	TxnID        string
	TraceID      string
	SpanID       string
	ParentSpanID string
	Name         string
	Service      string
	StartNs      int64
	DurationNs   int64
	Status       SpanStatus
	ErrorType    string
	ResponseCode string
	// ResponseSource says who answered: issuer, stand_in, switch, gateway, terminal.
	ResponseSource   string
	TxnType          string
	AmountMinor      int64
	Amount           AmountState
	Currency         string
	Dims             Dimensions
	SettlementStatus string
	SettlementDate   string
}

// AmountState says whether pos.amount.minor arrived as an integer.
type AmountState uint8

// Amount states; the numbers are stored in payment_facts.amount_ok.
const (
	AmountMissing AmountState = 0
	AmountOK      AmountState = 1
	// AmountInvalid: the attribute was there but not an integer (a float or
	// text); the value is not trusted.
	AmountInvalid AmountState = 2
)

// failed reports whether the span failed technically.
func (f *Fact) failed() bool { return f.Status == StatusError || f.ErrorType != "" }

// BatchClose is one pos.batch.close span: the terminal's end-of-day upload.
type BatchClose struct {
	TerminalID  string
	BatchNumber string
	SpanID      string
	CloseNs     int64
	Status      SpanStatus
	Result      string
	ErrorType   string
}

// failed reports whether this close did not get the batch accepted.
func (b *BatchClose) failed() bool {
	return b.Status == StatusError || b.Result == BatchFailed || b.Result == BatchOutOfBalance
}

// SpanLink is a parent link of a span that is not itself a fact; it lets depth
// be counted through spans that carried no payment data.
type SpanLink struct {
	SpanID       string
	ParentSpanID string
}
