package clickhouseexporter

import (
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/domain"
)

// The column sets below hold one table's rows, one slice per column and
// nothing else: merging, splitting and the queue's encoding walk their
// fields (colset.go, encoding.go). ingested_ns is not among them: a batch's
// rows get one stamp when it is first stored (rowsRequest.tables).

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
	TraceID, SpanID, ParentID            []string
	Start                                []time.Time
	StartNs, DurNs                       []uint64
	Service, Name, Kind, Status          []string
	StatusMsg, TxnID, Scope              []string
	AttrKeys, AttrVals, ResKeys, ResVals [][]string
	EvTime                               [][]uint64
	EvName, EvAttrs, LinkTrace, LinkSpan [][]string
}

// newSpanCols sizes every column for n rows up front: growing thirty slices
// row by row was most of the conversion's cost.
func newSpanCols(n int) *spanCols {
	c := &spanCols{}
	reserve(c, n)
	return c
}

func (c *spanCols) add(r spanRow, conv *converter, s ptrace.Span) {
	c.TraceID = append(c.TraceID, r.traceID)
	c.SpanID = append(c.SpanID, r.spanID)
	c.ParentID = append(c.ParentID, r.parentID)
	c.Start = append(c.Start, r.start)
	c.StartNs = append(c.StartNs, r.startNs)
	c.DurNs = append(c.DurNs, r.durNs)
	c.Service = append(c.Service, r.service)
	c.Name = append(c.Name, r.name)
	c.Kind = append(c.Kind, r.kind)
	c.Status = append(c.Status, r.status)
	c.StatusMsg = append(c.StatusMsg, r.statusMsg)
	c.TxnID = append(c.TxnID, r.txnID)
	c.Scope = append(c.Scope, r.scope)
	c.AttrKeys = append(c.AttrKeys, r.attrKeys)
	c.AttrVals = append(c.AttrVals, r.attrVals)
	c.ResKeys = append(c.ResKeys, r.resKeys)
	c.ResVals = append(c.ResVals, r.resVals)
	evT, evN, evA, lT, lS := conv.eventsAndLinks(s)
	c.EvTime = append(c.EvTime, evT)
	c.EvName = append(c.EvName, evN)
	c.EvAttrs = append(c.EvAttrs, evA)
	c.LinkTrace = append(c.LinkTrace, lT)
	c.LinkSpan = append(c.LinkSpan, lS)
}

func (c *spanCols) columns(stamp uint64) chbatch.Columns {
	return chbatch.Columns{
		"trace_id": c.TraceID, "span_id": c.SpanID, "parent_span_id": c.ParentID,
		"start_time": c.Start, "start_ns": c.StartNs, "duration_ns": c.DurNs,
		"service_name": c.Service, "name": c.Name, "kind": c.Kind, "status_code": c.Status,
		"status_message": c.StatusMsg, "txn_id": c.TxnID, "scope_name": c.Scope,
		"attributes.key": c.AttrKeys, "attributes.value": c.AttrVals,
		"resource.key": c.ResKeys, "resource.value": c.ResVals,
		"events.time_ns": c.EvTime, "events.name": c.EvName, "events.attributes": c.EvAttrs,
		"links.trace_id": c.LinkTrace, "links.span_id": c.LinkSpan,
		"ingested_ns": stamped(len(c.TraceID), stamp),
	}
}

// stamped is the ingested_ns column of n rows.
func stamped(n int, stamp uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = stamp
	}
	return out
}

// factCols are the columns of chschema.PaymentFacts, and for each row the
// span it came from (SpanRow, an index into the request's spans, not
// stored): a request is split by spans, and its facts with them.
type factCols struct {
	SpanRow                                               []uint32
	TxnID, TraceID, SpanID, ParentID, Name, Service, Kind []string
	Start                                                 []time.Time
	StartNs, DurNs                                        []uint64
	Status, ErrorType, ResponseCode, ResponseSource       []string
	TxnType, Currency                                     []string
	Amount                                                []int64
	AmountOK                                              []uint8
	TerminalID, TerminalModel, MerchantID, Region         []string
	GatewayID, AcquirerID, IssuerID                       []string
	CardScheme, CardFunding, EntryMode, CardBIN, BatchNum []string
	SettlementStatus, SettlementDate, ServerAddress       []string
}

// newFactCols sizes the fact columns for at most n rows.
func newFactCols(n int) *factCols {
	c := &factCols{}
	reserve(c, n)
	return c
}

func (c *factCols) add(span int, p payment, traceID, spanID, parentID, name, service, kind string, start time.Time, startNs, durNs uint64, status domain.SpanStatus) {
	c.SpanRow = append(c.SpanRow, uint32(span))
	c.TxnID = append(c.TxnID, p.txnID)
	c.TraceID = append(c.TraceID, traceID)
	c.SpanID = append(c.SpanID, spanID)
	c.ParentID = append(c.ParentID, parentID)
	c.Name = append(c.Name, name)
	c.Service = append(c.Service, service)
	c.Kind = append(c.Kind, kind)
	c.Start = append(c.Start, start)
	c.StartNs = append(c.StartNs, startNs)
	c.DurNs = append(c.DurNs, durNs)
	c.Status = append(c.Status, status.String())
	c.ErrorType = append(c.ErrorType, p.errorType)
	c.ResponseCode = append(c.ResponseCode, p.responseCode)
	c.ResponseSource = append(c.ResponseSource, p.responseSource)
	c.TxnType = append(c.TxnType, p.txnType)
	c.Amount = append(c.Amount, p.amount)
	c.AmountOK = append(c.AmountOK, uint8(p.amountState))
	c.Currency = append(c.Currency, p.currency)
	d := p.dims
	c.TerminalID = append(c.TerminalID, d.TerminalID)
	c.TerminalModel = append(c.TerminalModel, d.TerminalModel)
	c.MerchantID = append(c.MerchantID, d.MerchantID)
	c.Region = append(c.Region, d.Region)
	c.GatewayID = append(c.GatewayID, d.GatewayID)
	c.AcquirerID = append(c.AcquirerID, d.AcquirerID)
	c.IssuerID = append(c.IssuerID, d.IssuerID)
	c.CardScheme = append(c.CardScheme, d.CardScheme)
	c.CardFunding = append(c.CardFunding, d.CardFunding)
	c.EntryMode = append(c.EntryMode, d.EntryMode)
	c.CardBIN = append(c.CardBIN, d.CardBIN)
	c.BatchNum = append(c.BatchNum, d.BatchNumber)
	c.SettlementStatus = append(c.SettlementStatus, p.settlementStatus)
	c.SettlementDate = append(c.SettlementDate, p.settlementDate)
	c.ServerAddress = append(c.ServerAddress, p.serverAddress)
}

func (c *factCols) columns(stamp uint64) chbatch.Columns {
	return chbatch.Columns{
		"txn_id": c.TxnID, "trace_id": c.TraceID, "span_id": c.SpanID, "parent_span_id": c.ParentID,
		"name": c.Name, "service_name": c.Service, "kind": c.Kind, "start_time": c.Start,
		"start_ns": c.StartNs, "duration_ns": c.DurNs, "status_code": c.Status,
		"error_type": c.ErrorType, "response_code": c.ResponseCode, "response_source": c.ResponseSource,
		"txn_type": c.TxnType, "amount_minor": c.Amount, "amount_ok": c.AmountOK, "currency": c.Currency,
		"terminal_id": c.TerminalID, "terminal_model": c.TerminalModel, "merchant_id": c.MerchantID,
		"region": c.Region, "gateway_id": c.GatewayID, "acquirer_id": c.AcquirerID, "issuer_id": c.IssuerID,
		"card_scheme": c.CardScheme, "card_funding": c.CardFunding, "entry_mode": c.EntryMode,
		"card_bin": c.CardBIN, "batch_number": c.BatchNum, "settlement_status": c.SettlementStatus,
		"settlement_date": c.SettlementDate, "server_address": c.ServerAddress,
		"ingested_ns": stamped(len(c.TxnID), stamp),
	}
}

// known are the facts that carry a transaction id, as assembly reads them
// back (assembly.Keys.Stored): once they are stored, assembly need not read
// them again.
func (c *factCols) known(stamp uint64) []assembly.Known {
	out := make([]assembly.Known, 0, len(c.TxnID))
	for i := range c.TxnID {
		if c.TxnID[i] == "" {
			continue
		}
		f := domain.Fact{
			TxnID: c.TxnID[i], TraceID: c.TraceID[i], SpanID: c.SpanID[i], ParentSpanID: c.ParentID[i],
			Name: c.Name[i], Service: c.Service[i], ErrorType: c.ErrorType[i], ResponseCode: c.ResponseCode[i],
			ResponseSource: c.ResponseSource[i], TxnType: c.TxnType[i], AmountMinor: c.Amount[i], Currency: c.Currency[i],
			Dims: domain.Dimensions{
				TerminalID: c.TerminalID[i], TerminalModel: c.TerminalModel[i], MerchantID: c.MerchantID[i],
				Region: c.Region[i], GatewayID: c.GatewayID[i], AcquirerID: c.AcquirerID[i], IssuerID: c.IssuerID[i],
				CardScheme: c.CardScheme[i], CardFunding: c.CardFunding[i], EntryMode: c.EntryMode[i],
				CardBIN: c.CardBIN[i], BatchNumber: c.BatchNum[i],
			},
			SettlementStatus: c.SettlementStatus[i], SettlementDate: c.SettlementDate[i],
		}
		out = append(out, assembly.Known{Fact: assembly.StoredFact(f, c.Status[i], c.AmountOK[i], c.StartNs[i], c.DurNs[i]), IngestedNs: stamp})
	}
	return out
}

// txnTraces are the rows of chschema.TxnTraces and the keys assembly must
// revisit, both from the facts and batch closes of a batch: each
// (transaction, trace) pair once, each transaction once, and the traces of
// failed spans without a transaction once.
func txnTraces(fc *factCols, bc *batchCols) (*traceCols, assembly.Keys) {
	tc := &traceCols{}
	var keys assembly.Keys
	seenPair := map[[2]string]bool{}
	seenTxn := map[string]bool{}
	seenTrace := map[string]bool{}
	for i, id := range fc.TxnID {
		trace := fc.TraceID[i]
		if id == "" {
			if !seenTrace[trace] {
				seenTrace[trace] = true
				keys.TraceIDs = append(keys.TraceIDs, trace)
			}
			continue
		}
		if !seenTxn[id] {
			seenTxn[id] = true
			keys.TxnIDs = append(keys.TxnIDs, id)
		}
		if pair := [2]string{id, trace}; !seenPair[pair] {
			seenPair[pair] = true
			tc.TxnID = append(tc.TxnID, id)
			tc.TraceID = append(tc.TraceID, trace)
			tc.Start = append(tc.Start, fc.Start[i])
		}
	}
	for i := range bc.TerminalID {
		keys.Batches = append(keys.Batches, assembly.BatchKey{TerminalID: bc.TerminalID[i], BatchNumber: bc.BatchNum[i], CloseNs: bc.CloseNs[i]})
	}
	return tc, keys
}

// batchCols are the columns of chschema.BatchCloses, and each row's span
// (as factCols.SpanRow).
type batchCols struct {
	SpanRow                          []uint32
	TerminalID, MerchantID, BatchNum []string
	TraceID, SpanID                  []string
	CloseTime                        []time.Time
	CloseNs                          []uint64
	Status, Result, ErrorType        []string
	TxnCount, Amount                 []int64
}

func (c *batchCols) add(span int, p payment, traceID, spanID string, start time.Time, startNs uint64, status domain.SpanStatus) {
	c.SpanRow = append(c.SpanRow, uint32(span))
	c.TerminalID = append(c.TerminalID, p.dims.TerminalID)
	c.MerchantID = append(c.MerchantID, p.dims.MerchantID)
	c.BatchNum = append(c.BatchNum, p.dims.BatchNumber)
	c.TraceID = append(c.TraceID, traceID)
	c.SpanID = append(c.SpanID, spanID)
	c.CloseTime = append(c.CloseTime, start)
	c.CloseNs = append(c.CloseNs, startNs)
	c.Status = append(c.Status, status.String())
	c.Result = append(c.Result, p.batchResult)
	c.ErrorType = append(c.ErrorType, p.errorType)
	c.TxnCount = append(c.TxnCount, p.batchTxnCount)
	c.Amount = append(c.Amount, p.batchAmount)
}

func (c *batchCols) columns(stamp uint64) chbatch.Columns {
	return chbatch.Columns{
		"terminal_id": c.TerminalID, "merchant_id": c.MerchantID, "batch_number": c.BatchNum,
		"trace_id": c.TraceID, "span_id": c.SpanID, "close_time": c.CloseTime, "close_ns": c.CloseNs,
		"status_code": c.Status, "batch_result": c.Result, "error_type": c.ErrorType,
		"txn_count": c.TxnCount, "amount_minor": c.Amount, "ingested_ns": stamped(len(c.TerminalID), stamp),
	}
}

// traceCols are the columns of chschema.TxnTraces.
type traceCols struct {
	TxnID, TraceID []string
	Start          []time.Time
}

func (c *traceCols) columns(stamp uint64) chbatch.Columns {
	return chbatch.Columns{"txn_id": c.TxnID, "trace_id": c.TraceID, "start_time": c.Start, "ingested_ns": stamped(len(c.TxnID), stamp)}
}
