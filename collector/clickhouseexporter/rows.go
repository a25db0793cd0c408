package clickhouseexporter

import (
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/domain"
)

// spanRow is one raw span before it is appended column-wise.
type spanRow struct {
	traceID, spanID, parentID   string
	start                       time.Time
	startNs, durNs              uint64
	service, name, kind, status string
	statusMsg, txnID, scope     string
	attrKeys, attrVals          []string
	resKeys, resVals            []string
}

// spanCols are the columns of chschema.Spans.
type spanCols struct {
	n                                    int
	traceID, spanID, parentID            []string
	start                                []time.Time
	startNs, durNs, ingested             []uint64
	service, name, kind, status          []string
	statusMsg, txnID, scope              []string
	attrKeys, attrVals, resKeys, resVals [][]string
	evTime                               [][]uint64
	evName, evAttrs, linkTrace, linkSpan [][]string
	ingestNs                             uint64
}

// newSpanCols sizes every column for n rows up front: growing thirty slices
// row by row was most of the conversion's cost.
func newSpanCols(n int, ingestNs uint64) *spanCols {
	return &spanCols{
		traceID: mk[string](n), spanID: mk[string](n), parentID: mk[string](n),
		start: mk[time.Time](n), startNs: mk[uint64](n), durNs: mk[uint64](n), ingested: mk[uint64](n),
		service: mk[string](n), name: mk[string](n), kind: mk[string](n), status: mk[string](n),
		statusMsg: mk[string](n), txnID: mk[string](n), scope: mk[string](n),
		attrKeys: mk[[]string](n), attrVals: mk[[]string](n), resKeys: mk[[]string](n), resVals: mk[[]string](n),
		evTime: mk[[]uint64](n), evName: mk[[]string](n), evAttrs: mk[[]string](n),
		linkTrace: mk[[]string](n), linkSpan: mk[[]string](n),
		ingestNs: ingestNs,
	}
}

func mk[T any](n int) []T { return make([]T, 0, n) }

// newFactCols sizes the fact columns for at most n rows.
func newFactCols(n int, ingestNs uint64) *factCols {
	return &factCols{
		txnID: mk[string](n), traceID: mk[string](n), spanID: mk[string](n), parentID: mk[string](n),
		name: mk[string](n), service: mk[string](n), kind: mk[string](n), start: mk[time.Time](n),
		startNs: mk[uint64](n), durNs: mk[uint64](n), ingested: mk[uint64](n), status: mk[string](n),
		errorType: mk[string](n), responseCode: mk[string](n), responseSource: mk[string](n),
		txnType: mk[string](n), currency: mk[string](n), amount: mk[int64](n), amountOK: mk[uint8](n),
		terminalID: mk[string](n), terminalModel: mk[string](n), merchantID: mk[string](n), region: mk[string](n),
		gatewayID: mk[string](n), acquirerID: mk[string](n), issuerID: mk[string](n),
		cardScheme: mk[string](n), cardFunding: mk[string](n), entryMode: mk[string](n), cardBIN: mk[string](n),
		batchNum: mk[string](n), settlementStatus: mk[string](n), settlementDate: mk[string](n),
		serverAddress: mk[string](n), ingestNs: ingestNs,
	}
}

func (c *spanCols) add(r spanRow, conv *converter, s ptrace.Span) {
	c.n++
	c.traceID = append(c.traceID, r.traceID)
	c.spanID = append(c.spanID, r.spanID)
	c.parentID = append(c.parentID, r.parentID)
	c.start = append(c.start, r.start)
	c.startNs = append(c.startNs, r.startNs)
	c.durNs = append(c.durNs, r.durNs)
	c.service = append(c.service, r.service)
	c.name = append(c.name, r.name)
	c.kind = append(c.kind, r.kind)
	c.status = append(c.status, r.status)
	c.statusMsg = append(c.statusMsg, r.statusMsg)
	c.txnID = append(c.txnID, r.txnID)
	c.scope = append(c.scope, r.scope)
	c.attrKeys = append(c.attrKeys, r.attrKeys)
	c.attrVals = append(c.attrVals, r.attrVals)
	c.resKeys = append(c.resKeys, r.resKeys)
	c.resVals = append(c.resVals, r.resVals)
	evT, evN, evA, lT, lS := conv.eventsAndLinks(s)
	c.evTime = append(c.evTime, evT)
	c.evName = append(c.evName, evN)
	c.evAttrs = append(c.evAttrs, evA)
	c.linkTrace = append(c.linkTrace, lT)
	c.linkSpan = append(c.linkSpan, lS)
	c.ingested = append(c.ingested, c.ingestNs)
}

func (c *spanCols) columns() chbatch.Columns {
	return chbatch.Columns{
		"trace_id": c.traceID, "span_id": c.spanID, "parent_span_id": c.parentID,
		"start_time": c.start, "start_ns": c.startNs, "duration_ns": c.durNs,
		"service_name": c.service, "name": c.name, "kind": c.kind, "status_code": c.status,
		"status_message": c.statusMsg, "txn_id": c.txnID, "scope_name": c.scope,
		"attributes.key": c.attrKeys, "attributes.value": c.attrVals,
		"resource.key": c.resKeys, "resource.value": c.resVals,
		"events.time_ns": c.evTime, "events.name": c.evName, "events.attributes": c.evAttrs,
		"links.trace_id": c.linkTrace, "links.span_id": c.linkSpan,
		"ingested_ns": c.ingested,
	}
}

// factCols are the columns of chschema.PaymentFacts.
type factCols struct {
	n                                                     int
	txnID, traceID, spanID, parentID, name, service, kind []string
	start                                                 []time.Time
	startNs, durNs, ingested                              []uint64
	status, errorType, responseCode, responseSource       []string
	txnType, currency                                     []string
	amount                                                []int64
	amountOK                                              []uint8
	terminalID, terminalModel, merchantID, region         []string
	gatewayID, acquirerID, issuerID                       []string
	cardScheme, cardFunding, entryMode, cardBIN, batchNum []string
	settlementStatus, settlementDate, serverAddress       []string
	ingestNs                                              uint64
}

func (c *factCols) add(p payment, traceID, spanID, parentID, name, service, kind string, start time.Time, startNs, durNs uint64, status domain.SpanStatus) {
	c.n++
	c.txnID = append(c.txnID, p.txnID)
	c.traceID = append(c.traceID, traceID)
	c.spanID = append(c.spanID, spanID)
	c.parentID = append(c.parentID, parentID)
	c.name = append(c.name, name)
	c.service = append(c.service, service)
	c.kind = append(c.kind, kind)
	c.start = append(c.start, start)
	c.startNs = append(c.startNs, startNs)
	c.durNs = append(c.durNs, durNs)
	c.status = append(c.status, status.String())
	c.errorType = append(c.errorType, p.errorType)
	c.responseCode = append(c.responseCode, p.responseCode)
	c.responseSource = append(c.responseSource, p.responseSource)
	c.txnType = append(c.txnType, p.txnType)
	c.amount = append(c.amount, p.amount)
	c.amountOK = append(c.amountOK, uint8(p.amountState))
	c.currency = append(c.currency, p.currency)
	d := p.dims
	c.terminalID = append(c.terminalID, d.TerminalID)
	c.terminalModel = append(c.terminalModel, d.TerminalModel)
	c.merchantID = append(c.merchantID, d.MerchantID)
	c.region = append(c.region, d.Region)
	c.gatewayID = append(c.gatewayID, d.GatewayID)
	c.acquirerID = append(c.acquirerID, d.AcquirerID)
	c.issuerID = append(c.issuerID, d.IssuerID)
	c.cardScheme = append(c.cardScheme, d.CardScheme)
	c.cardFunding = append(c.cardFunding, d.CardFunding)
	c.entryMode = append(c.entryMode, d.EntryMode)
	c.cardBIN = append(c.cardBIN, d.CardBIN)
	c.batchNum = append(c.batchNum, d.BatchNumber)
	c.settlementStatus = append(c.settlementStatus, p.settlementStatus)
	c.settlementDate = append(c.settlementDate, p.settlementDate)
	c.serverAddress = append(c.serverAddress, p.serverAddress)
	c.ingested = append(c.ingested, c.ingestNs)
}

func (c *factCols) columns() chbatch.Columns {
	return chbatch.Columns{
		"txn_id": c.txnID, "trace_id": c.traceID, "span_id": c.spanID, "parent_span_id": c.parentID,
		"name": c.name, "service_name": c.service, "kind": c.kind, "start_time": c.start,
		"start_ns": c.startNs, "duration_ns": c.durNs, "status_code": c.status,
		"error_type": c.errorType, "response_code": c.responseCode, "response_source": c.responseSource,
		"txn_type": c.txnType, "amount_minor": c.amount, "amount_ok": c.amountOK, "currency": c.currency,
		"terminal_id": c.terminalID, "terminal_model": c.terminalModel, "merchant_id": c.merchantID,
		"region": c.region, "gateway_id": c.gatewayID, "acquirer_id": c.acquirerID, "issuer_id": c.issuerID,
		"card_scheme": c.cardScheme, "card_funding": c.cardFunding, "entry_mode": c.entryMode,
		"card_bin": c.cardBIN, "batch_number": c.batchNum, "settlement_status": c.settlementStatus,
		"settlement_date": c.settlementDate, "server_address": c.serverAddress, "ingested_ns": c.ingested,
	}
}

// factCols are assembly's stored facts (assembly.Stored) once inserted:
// assembly reads each fact from the columns when it needs it, instead of
// the batch's facts being copied whole into another form first.

func (c *factCols) Len() int                { return c.n }
func (c *factCols) TxnID(i int) string      { return c.txnID[i] }
func (c *factCols) IngestedNs(i int) uint64 { return c.ingested[i] }

func (c *factCols) Fact(i int) domain.Fact {
	f := domain.Fact{
		TxnID: c.txnID[i], TraceID: c.traceID[i], SpanID: c.spanID[i], ParentSpanID: c.parentID[i],
		Name: c.name[i], Service: c.service[i], ErrorType: c.errorType[i], ResponseCode: c.responseCode[i],
		ResponseSource: c.responseSource[i], TxnType: c.txnType[i], AmountMinor: c.amount[i], Currency: c.currency[i],
		Dims: domain.Dimensions{
			TerminalID: c.terminalID[i], TerminalModel: c.terminalModel[i], MerchantID: c.merchantID[i],
			Region: c.region[i], GatewayID: c.gatewayID[i], AcquirerID: c.acquirerID[i], IssuerID: c.issuerID[i],
			CardScheme: c.cardScheme[i], CardFunding: c.cardFunding[i], EntryMode: c.entryMode[i],
			CardBIN: c.cardBIN[i], BatchNumber: c.batchNum[i],
		},
		SettlementStatus: c.settlementStatus[i], SettlementDate: c.settlementDate[i],
	}
	return assembly.StoredFact(f, c.status[i], c.amountOK[i], c.startNs[i], c.durNs[i])
}

// batchCols are the columns of chschema.BatchCloses.
type batchCols struct {
	n                                int
	terminalID, merchantID, batchNum []string
	traceID, spanID                  []string
	closeTime                        []time.Time
	closeNs, ingested                []uint64
	status, result, errorType        []string
	txnCount, amount                 []int64
	ingestNs                         uint64
}

func (c *batchCols) add(p payment, traceID, spanID string, start time.Time, startNs uint64, status domain.SpanStatus) {
	c.n++
	c.terminalID = append(c.terminalID, p.dims.TerminalID)
	c.merchantID = append(c.merchantID, p.dims.MerchantID)
	c.batchNum = append(c.batchNum, p.dims.BatchNumber)
	c.traceID = append(c.traceID, traceID)
	c.spanID = append(c.spanID, spanID)
	c.closeTime = append(c.closeTime, start)
	c.closeNs = append(c.closeNs, startNs)
	c.status = append(c.status, status.String())
	c.result = append(c.result, p.batchResult)
	c.errorType = append(c.errorType, p.errorType)
	c.txnCount = append(c.txnCount, p.batchTxnCount)
	c.amount = append(c.amount, p.batchAmount)
	c.ingested = append(c.ingested, c.ingestNs)
}

func (c *batchCols) columns() chbatch.Columns {
	return chbatch.Columns{
		"terminal_id": c.terminalID, "merchant_id": c.merchantID, "batch_number": c.batchNum,
		"trace_id": c.traceID, "span_id": c.spanID, "close_time": c.closeTime, "close_ns": c.closeNs,
		"status_code": c.status, "batch_result": c.result, "error_type": c.errorType,
		"txn_count": c.txnCount, "amount_minor": c.amount, "ingested_ns": c.ingested,
	}
}

// traceCols are the columns of chschema.TxnTraces.
type traceCols struct {
	n              int
	txnID, traceID []string
	start          []time.Time
	ingested       []uint64
	ingestNs       uint64
}

func (c *traceCols) add(txnID, traceID string, start time.Time) {
	c.n++
	c.txnID = append(c.txnID, txnID)
	c.traceID = append(c.traceID, traceID)
	c.start = append(c.start, start)
	c.ingested = append(c.ingested, c.ingestNs)
}

func (c *traceCols) columns() chbatch.Columns {
	return chbatch.Columns{"txn_id": c.txnID, "trace_id": c.traceID, "start_time": c.start, "ingested_ns": c.ingested}
}
