package clickhouseexporter

import (
	"strings"
	"time"

	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/collector/otlpwire"
	"github.com/settlewatch/settlewatch/domain"
)

// spanRow is one raw span before it is appended column-wise.
type spanRow struct {
	// The ids as OTLP carries them: the columns copy their bytes, so no
	// string is made per span (a zero parent is none).
	traceID                     [16]byte
	spanID, parentID            [8]byte
	start                       time.Time
	startNs, durNs              uint64
	service, name, kind, status string
	statusMsg, txnID, scope     string
	resKeys, resVals            []string
}

// spanCols are the columns of chschema.Spans. Strings are held in
// chbatch.Strings: a batch's columns are most of what the collector keeps
// live, and as slices of strings every value was a pointer for the garbage
// collector to scan (docs/benchmarks.md, "Columns without pointers",
// twelfth stop). A resource's attributes stay shared slices: one per
// resource, not per span.
type spanCols struct {
	n                                    int
	traceID, spanID, parentID            *chbatch.Strings
	start                                []time.Time
	startNs, durNs, ingested             []uint64
	service, name, kind, status          *chbatch.Strings
	statusMsg, txnID, scope              *chbatch.Strings
	attrKeys, attrVals                   *chbatch.StringArrays
	resKeys, resVals                     [][]string
	evTime                               [][]uint64
	evName, evAttrs, linkTrace, linkSpan [][]string
	ingestNs                             uint64
}

// newSpanCols sizes every column for n rows up front: growing thirty slices
// row by row was most of the conversion's cost.
func newSpanCols(n int, ingestNs uint64) *spanCols {
	return &spanCols{
		traceID: strs(n, 16), spanID: strs(n, 8), parentID: strs(n, 8),
		start: mk[time.Time](n), startNs: mk[uint64](n), durNs: mk[uint64](n), ingested: mk[uint64](n),
		service: strs(n, 16), name: strs(n, 16), kind: strs(n, 8), status: strs(n, 5),
		statusMsg: strs(n, 0), txnID: strs(n, 20), scope: strs(n, 0),
		attrKeys: chbatch.NewStringArrays(n, 4*n, 64*n), attrVals: chbatch.NewStringArrays(n, 4*n, 40*n),
		resKeys: mk[[]string](n), resVals: mk[[]string](n),
		evTime: mk[[]uint64](n), evName: mk[[]string](n), evAttrs: mk[[]string](n),
		linkTrace: mk[[]string](n), linkSpan: mk[[]string](n),
		ingestNs: ingestNs,
	}
}

func mk[T any](n int) []T { return make([]T, 0, n) }

// strs is a String column with room for n values of about size bytes.
func strs(n, size int) *chbatch.Strings { return chbatch.NewStrings(n, n*size) }

// newFactCols sizes the fact columns for at most n rows.
func newFactCols(n int, ingestNs uint64, sp *spanCols) *factCols {
	// Bytes sized for what every fact carries; the payment dimensions are
	// mostly on a transaction's root span alone, so they grow as needed.
	return &factCols{
		txnID: strs(n, 20), spanRow: mk[int32](n),
		traceID: sp.traceID, spanID: sp.spanID, parentID: sp.parentID,
		name: sp.name, service: sp.service, kind: sp.kind, start: mk[time.Time](n),
		startNs: mk[uint64](n), durNs: mk[uint64](n), ingested: mk[uint64](n), status: strs(n, 5),
		errorType: strs(n, 0), responseCode: strs(n, 0), responseSource: strs(n, 0),
		txnType: strs(n, 0), currency: strs(n, 0), amount: mk[int64](n), amountOK: mk[uint8](n),
		terminalID: strs(n, 0), terminalModel: strs(n, 0), merchantID: strs(n, 0), region: strs(n, 0),
		gatewayID: strs(n, 0), acquirerID: strs(n, 0), issuerID: strs(n, 0),
		cardScheme: strs(n, 0), cardFunding: strs(n, 0), entryMode: strs(n, 0), cardBIN: strs(n, 0),
		batchNum: strs(n, 0), settlementStatus: strs(n, 0), settlementDate: strs(n, 0),
		serverAddress: strs(n, 0), ingestNs: ingestNs,
	}
}

func (c *spanCols) add(r spanRow, conv *converter, s *otlpwire.Span) {
	c.n++
	c.traceID.AppendBytes(r.traceID[:])
	c.spanID.AppendBytes(r.spanID[:])
	if r.parentID == [8]byte{} {
		c.parentID.Append("")
	} else {
		c.parentID.AppendBytes(r.parentID[:])
	}
	c.start = append(c.start, r.start)
	c.startNs = append(c.startNs, r.startNs)
	c.durNs = append(c.durNs, r.durNs)
	c.service.Append(r.service)
	c.name.Append(r.name)
	c.kind.Append(r.kind)
	c.status.Append(r.status)
	c.statusMsg.Append(r.statusMsg)
	c.txnID.Append(r.txnID)
	c.scope.Append(r.scope)
	c.attrKeys.EndRow()
	c.attrVals.EndRow()
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
	n     int
	txnID *chbatch.Strings
	// A fact repeats its span's ids, name, service and kind: it holds its
	// span's row in spanRow, and these are the spans' own columns.
	spanRow                                               []int32
	traceID, spanID, parentID, name, service, kind        *chbatch.Strings
	start                                                 []time.Time
	startNs, durNs, ingested                              []uint64
	status, errorType, responseCode, responseSource       *chbatch.Strings
	txnType, currency                                     *chbatch.Strings
	amount                                                []int64
	amountOK                                              []uint8
	terminalID, terminalModel, merchantID, region         *chbatch.Strings
	gatewayID, acquirerID, issuerID                       *chbatch.Strings
	cardScheme, cardFunding, entryMode, cardBIN, batchNum *chbatch.Strings
	settlementStatus, settlementDate, serverAddress       *chbatch.Strings
	ingestNs                                              uint64
}

// add adds the fact of the span in row spanRow of the spans' columns.
func (c *factCols) add(p *payment, spanRow int, start time.Time, startNs, durNs uint64, status domain.SpanStatus) {
	c.n++
	c.txnID.Append(p.txnID)
	c.spanRow = append(c.spanRow, int32(spanRow))
	c.start = append(c.start, start)
	c.startNs = append(c.startNs, startNs)
	c.durNs = append(c.durNs, durNs)
	c.status.Append(status.String())
	c.errorType.Append(p.errorType)
	c.responseCode.Append(p.responseCode)
	c.responseSource.Append(p.responseSource)
	c.txnType.Append(p.txnType)
	c.amount = append(c.amount, p.amount)
	c.amountOK = append(c.amountOK, uint8(p.amountState))
	c.currency.Append(p.currency)
	d := &p.dims
	c.terminalID.Append(d.TerminalID)
	c.terminalModel.Append(d.TerminalModel)
	c.merchantID.Append(d.MerchantID)
	c.region.Append(d.Region)
	c.gatewayID.Append(d.GatewayID)
	c.acquirerID.Append(d.AcquirerID)
	c.issuerID.Append(d.IssuerID)
	c.cardScheme.Append(d.CardScheme)
	c.cardFunding.Append(d.CardFunding)
	c.entryMode.Append(d.EntryMode)
	c.cardBIN.Append(d.CardBIN)
	c.batchNum.Append(d.BatchNumber)
	c.settlementStatus.Append(p.settlementStatus)
	c.settlementDate.Append(p.settlementDate)
	c.serverAddress.Append(p.serverAddress)
	c.ingested = append(c.ingested, c.ingestNs)
}

func (c *factCols) columns() chbatch.Columns {
	return chbatch.Columns{
		"txn_id": c.txnID, "trace_id": chbatch.Pick(c.traceID, c.spanRow), "span_id": chbatch.Pick(c.spanID, c.spanRow),
		"parent_span_id": chbatch.Pick(c.parentID, c.spanRow), "name": chbatch.Pick(c.name, c.spanRow),
		"service_name": chbatch.Pick(c.service, c.spanRow), "kind": chbatch.Pick(c.kind, c.spanRow), "start_time": c.start,
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
func (c *factCols) TxnID(i int) string      { return c.txnID.At(i) }
func (c *factCols) IngestedNs(i int) uint64 { return c.ingested[i] }

func (c *factCols) Fact(i int) domain.Fact {
	r := int(c.spanRow[i])
	f := domain.Fact{
		TxnID: c.txnID.At(i), TraceID: c.traceID.At(r), SpanID: c.spanID.At(r), ParentSpanID: c.parentID.At(r),
		Name: c.name.At(r), Service: c.service.At(r), ErrorType: c.errorType.At(i), ResponseCode: c.responseCode.At(i),
		ResponseSource: c.responseSource.At(i), TxnType: c.txnType.At(i), AmountMinor: c.amount[i], Currency: c.currency.At(i),
		Dims: domain.Dimensions{
			TerminalID: c.terminalID.At(i), TerminalModel: c.terminalModel.At(i), MerchantID: c.merchantID.At(i),
			Region: c.region.At(i), GatewayID: c.gatewayID.At(i), AcquirerID: c.acquirerID.At(i), IssuerID: c.issuerID.At(i),
			CardScheme: c.cardScheme.At(i), CardFunding: c.cardFunding.At(i), EntryMode: c.entryMode.At(i),
			CardBIN: c.cardBIN.At(i), BatchNumber: c.batchNum.At(i),
		},
		SettlementStatus: c.settlementStatus.At(i), SettlementDate: c.settlementDate.At(i),
	}
	return assembly.StoredFact(f, c.status.At(i), c.amountOK[i], c.startNs[i], c.durNs[i])
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

// add copies p's strings: they may view the request's bytes, which go once
// it is converted (convert). Batch closes are a few per batch.
func (c *batchCols) add(p *payment, traceID, spanID string, start time.Time, startNs uint64, status domain.SpanStatus) {
	c.n++
	c.terminalID = append(c.terminalID, strings.Clone(p.dims.TerminalID))
	c.merchantID = append(c.merchantID, strings.Clone(p.dims.MerchantID))
	c.batchNum = append(c.batchNum, strings.Clone(p.dims.BatchNumber))
	c.traceID = append(c.traceID, traceID)
	c.spanID = append(c.spanID, spanID)
	c.closeTime = append(c.closeTime, start)
	c.closeNs = append(c.closeNs, startNs)
	c.status = append(c.status, status.String())
	c.result = append(c.result, strings.Clone(p.batchResult))
	c.errorType = append(c.errorType, strings.Clone(p.errorType))
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
