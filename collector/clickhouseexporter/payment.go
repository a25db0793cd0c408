package clickhouseexporter

import (
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

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

// read overlays the attributes of m onto p. clean sanitises every string.
func (p *payment) read(m pcommon.Map, clean func(string) string) {
	m.Range(func(k string, v pcommon.Value) bool {
		if !strings.HasPrefix(k, "pos.") && k != attrErrorType && k != attrServerAddress && k != attrInvalid {
			return true
		}
		switch k {
		case attrTxnID:
			p.txnID = clean(strings.TrimSpace(v.AsString()))
		case attrTxnType:
			p.txnType = lowerClean(v, clean)
		case attrAmount:
			p.amount, p.amountState = intValue(v)
		case attrCurrency:
			p.currency = strings.ToUpper(clean(strings.TrimSpace(v.AsString())))
		case attrTerminalID:
			p.dims.TerminalID = trimClean(v, clean)
		case attrTerminalModel:
			p.dims.TerminalModel = trimClean(v, clean)
		case attrMerchantID:
			p.dims.MerchantID = trimClean(v, clean)
		case attrRegion:
			p.dims.Region = trimClean(v, clean)
		case attrGatewayID:
			p.dims.GatewayID = trimClean(v, clean)
		case attrAcquirerID:
			p.dims.AcquirerID = trimClean(v, clean)
		case attrIssuerID:
			p.dims.IssuerID = trimClean(v, clean)
		case attrCardScheme:
			p.dims.CardScheme = lowerClean(v, clean)
		case attrCardFunding:
			p.dims.CardFunding = lowerClean(v, clean)
		case attrEntryMode:
			p.dims.EntryMode = lowerClean(v, clean)
		case attrCardBIN:
			p.dims.CardBIN = trimClean(v, clean)
		case attrBatchNumber:
			p.dims.BatchNumber = trimClean(v, clean)
		case attrResponseCode:
			p.responseCode = domain.NormalizeResponseCode(clean(v.AsString()))
		case attrResponseSource:
			p.responseSource = lowerClean(v, clean)
		case attrErrorType:
			p.errorType = domain.NormalizeErrorType(clean(v.AsString()))
		case attrBatchResult:
			p.batchResult = lowerClean(v, clean)
		case attrBatchTxnCount:
			p.batchTxnCount, _ = intValue(v)
		case attrBatchAmount:
			p.batchAmount, _ = intValue(v)
		case attrSettlementStatus:
			p.settlementStatus = lowerClean(v, clean)
		case attrSettlementDate:
			p.settlementDate = trimClean(v, clean)
		case attrServerAddress:
			p.serverAddress = trimClean(v, clean)
		case attrInvalid:
			p.invalidAmount = p.invalidAmount || strings.Contains(v.AsString(), attrAmount)
		}
		return true
	})
	if p.invalidAmount {
		p.amount, p.amountState = 0, domain.AmountInvalid
	}
}

func trimClean(v pcommon.Value, clean func(string) string) string {
	return clean(strings.TrimSpace(v.AsString()))
}

func lowerClean(v pcommon.Value, clean func(string) string) string {
	return strings.ToLower(trimClean(v, clean))
}

// intValue reads an integer amount or count. Money is integer minor units:
// an integral double or a decimal-integer string is accepted (some SDKs send
// numbers that way); anything else is invalid and never rounded.
func intValue(v pcommon.Value) (int64, domain.AmountState) {
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
