package clickhouseexporter

import (
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/settlewatch/settlewatch/collector/otlpwire"
	"github.com/settlewatch/settlewatch/domain"
)

// Attribute keys of the contract (shared/contract/telemetry.md).
const (
	attrTxnID            = "pos.txn.id"
	attrTxnType          = "pos.txn.type"
	attrAmount           = "pos.amount.minor"
	attrCurrency         = "pos.currency"
	attrTerminalID       = "pos.terminal.id"
	attrTerminalModel    = "pos.terminal.model"
	attrMerchantID       = "pos.merchant.id"
	attrRegion           = "pos.merchant.region"
	attrGatewayID        = "pos.gateway.id"
	attrAcquirerID       = "pos.acquirer.id"
	attrIssuerID         = "pos.issuer.id"
	attrCardScheme       = "pos.card.scheme"
	attrCardFunding      = "pos.card.funding"
	attrEntryMode        = "pos.card.entry_mode"
	attrCardBIN          = "pos.card.bin"
	attrBatchNumber      = "pos.batch.number"
	attrResponseCode     = "pos.response.code"
	attrResponseSource   = "pos.response.source"
	attrErrorType        = "error.type"
	attrBatchTxnCount    = "pos.batch.txn_count"
	attrBatchAmount      = "pos.batch.amount.minor"
	attrBatchResult      = "pos.batch.result"
	attrSettlementStatus = "pos.settlement.status"
	attrSettlementDate   = "pos.settlement.date"
	attrServerAddress    = "server.address"
	// attrInvalid is set by the payment processor on a span whose payment
	// field it could not normalise (e.g. a float amount); its value names it.
	attrInvalid = "settlewatch.invalid"
)

// payment is what a resource or span says in the pos.* namespace. A span's
// own attribute overrides its resource's, as the contract says.
type payment struct {
	txnID, txnType, currency                string
	amount                                  int64
	amountState                             domain.AmountState
	dims                                    domain.Dimensions
	responseCode, responseSource, errorType string
	batchResult                             string
	batchTxnCount, batchAmount              int64
	settlementStatus, settlementDate        string
	serverAddress                           string
	invalidAmount                           bool
}

// set overlays one attribute on p: k as sent, v its value and cleaned
// v.AsString() as the converter stores it (valid UTF-8, PANs masked, at most
// max_value_bytes), so that every value is cleaned once for both the
// attribute arrays and the payment columns. finish must follow the last.
func (p *payment) set(k string, v otlpwire.Value, cleaned string) {
	if !strings.HasPrefix(k, "pos.") && k != attrErrorType && k != attrServerAddress && k != attrInvalid {
		return
	}
	trimmed := func() string { return strings.TrimSpace(cleaned) }
	lower := func() string { return strings.ToLower(trimmed()) }
	switch k {
	case attrTxnID:
		p.txnID = trimmed()
	case attrTxnType:
		p.txnType = lower()
	case attrAmount:
		p.amount, p.amountState = intValue(v)
	case attrCurrency:
		p.currency = strings.ToUpper(trimmed())
	case attrTerminalID:
		p.dims.TerminalID = trimmed()
	case attrTerminalModel:
		p.dims.TerminalModel = trimmed()
	case attrMerchantID:
		p.dims.MerchantID = trimmed()
	case attrRegion:
		p.dims.Region = trimmed()
	case attrGatewayID:
		p.dims.GatewayID = trimmed()
	case attrAcquirerID:
		p.dims.AcquirerID = trimmed()
	case attrIssuerID:
		p.dims.IssuerID = trimmed()
	case attrCardScheme:
		p.dims.CardScheme = lower()
	case attrCardFunding:
		p.dims.CardFunding = lower()
	case attrEntryMode:
		p.dims.EntryMode = lower()
	case attrCardBIN:
		p.dims.CardBIN = trimmed()
	case attrBatchNumber:
		p.dims.BatchNumber = trimmed()
	case attrResponseCode:
		p.responseCode = domain.NormalizeResponseCode(cleaned)
	case attrResponseSource:
		p.responseSource = lower()
	case attrErrorType:
		p.errorType = domain.NormalizeErrorType(cleaned)
	case attrBatchResult:
		p.batchResult = lower()
	case attrBatchTxnCount:
		p.batchTxnCount, _ = intValue(v)
	case attrBatchAmount:
		p.batchAmount, _ = intValue(v)
	case attrSettlementStatus:
		p.settlementStatus = lower()
	case attrSettlementDate:
		p.settlementDate = trimmed()
	case attrServerAddress:
		p.serverAddress = trimmed()
	case attrInvalid:
		p.invalidAmount = p.invalidAmount || strings.Contains(v.AsString(), attrAmount)
	}
}

// finish applies what needs every attribute seen: an amount the payment
// processor marked invalid is no amount, whatever its value.
func (p *payment) finish() {
	if p.invalidAmount {
		p.amount, p.amountState = 0, domain.AmountInvalid
	}
}

// intValue reads an integer amount or count. Money is integer minor units:
// an integral double or a decimal-integer string is accepted (some SDKs send
// numbers that way); anything else is invalid and never rounded.
func intValue(v otlpwire.Value) (int64, domain.AmountState) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), domain.AmountOK
	case pcommon.ValueTypeDouble:
		d := v.Double()
		if d == math.Trunc(d) && math.Abs(d) < 1<<53 {
			return int64(d), domain.AmountOK
		}
	case pcommon.ValueTypeStr:
		if n, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64); err == nil {
			return n, domain.AmountOK
		}
	}
	return 0, domain.AmountInvalid
}
