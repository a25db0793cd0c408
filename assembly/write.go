package assembly

import (
	"context"
	"slices"
	"time"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// dateTimeMax is the last second a ClickHouse DateTime holds.
var dateTimeMax = time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)

func dateTime(ns int64) time.Time {
	t := time.Unix(0, ns).UTC()
	if ns < 0 {
		return time.Unix(0, 0).UTC()
	}
	if t.After(dateTimeMax) {
		return dateTimeMax
	}
	return t
}

// txnRows holds classified transactions as the columns of their rows until
// they are written. The chunks of one call go into one INSERT (up to
// flushRows rows): every INSERT is a part in transactions and in
// transactions_by_time for the server to merge, and an ingest batch's
// transactions in two parts instead of one cost the server 8-10 % more CPU
// per span (docs/benchmarks.md, "One part per batch for transactions").
// The facts a chunk was classified from can go once its rows are added.
type txnRows struct {
	txnID, traceID, txnType, outcome, cause, class, causeSource, causeCode []string
	responseCode, responseSource, errorType, currency                      []string
	terminalID, terminalModel, merchantID, region, gatewayID, acquirerID   []string
	issuerID, cardScheme, cardFunding, entryMode, cardBIN, batchNumber     []string
	settlementStatus, settlementDate, settlementCode                       []string
	version, txnNs, settledNs, latencyNs                                   []uint64
	txnTime, assembledAt                                                   []time.Time
	amount                                                                 []int64
	spanCount, rulesRevision                                               []uint32
	issues                                                                 [][]string
	factHours                                                              [][]time.Time
}

// flushRows bounds the rows held before they are written: a reassembly of
// millions of transactions still writes as it goes.
const flushRows = 20000

// newTxnRows sizes every column for n rows up front: appending to empty
// slices regrew forty of them on every batch.
func newTxnRows(n int) *txnRows {
	n = min(n, flushRows)
	return &txnRows{
		txnID: sized[string](n), traceID: sized[string](n), txnType: sized[string](n), outcome: sized[string](n),
		cause: sized[string](n), class: sized[string](n), causeSource: sized[string](n), causeCode: sized[string](n),
		responseCode: sized[string](n), responseSource: sized[string](n), errorType: sized[string](n), currency: sized[string](n),
		terminalID: sized[string](n), terminalModel: sized[string](n), merchantID: sized[string](n), region: sized[string](n),
		gatewayID: sized[string](n), acquirerID: sized[string](n), issuerID: sized[string](n), cardScheme: sized[string](n),
		cardFunding: sized[string](n), entryMode: sized[string](n), cardBIN: sized[string](n), batchNumber: sized[string](n),
		settlementStatus: sized[string](n), settlementDate: sized[string](n), settlementCode: sized[string](n),
		version: sized[uint64](n), txnNs: sized[uint64](n), settledNs: sized[uint64](n), latencyNs: sized[uint64](n),
		txnTime: sized[time.Time](n), assembledAt: sized[time.Time](n), amount: sized[int64](n),
		spanCount: sized[uint32](n), rulesRevision: sized[uint32](n), issues: sized[[]string](n), factHours: sized[[]time.Time](n),
	}
}

func (r *txnRows) len() int { return len(r.txnID) }

// add appends one row per classified transaction.
func (r *txnRows) add(rules *domain.Rules, now time.Time, inputs []domain.Input, txns []domain.Transaction) {
	for i, t := range txns {
		r.txnID = append(r.txnID, t.TxnID)
		r.version = append(r.version, Version(rules.Revision, inputs[i], t))
		r.txnTime = append(r.txnTime, dateTime(t.TxnNs))
		r.txnNs = append(r.txnNs, uint64(max(t.TxnNs, 0)))
		r.traceID = append(r.traceID, t.TraceID)
		r.txnType = append(r.txnType, t.TxnType)
		r.outcome = append(r.outcome, string(t.Outcome))
		r.cause = append(r.cause, string(t.Cause))
		r.class = append(r.class, string(t.Class))
		r.causeSource = append(r.causeSource, t.CauseSource)
		r.causeCode = append(r.causeCode, t.CauseCode)
		r.responseCode = append(r.responseCode, t.ResponseCode)
		r.responseSource = append(r.responseSource, t.ResponseSource)
		r.errorType = append(r.errorType, t.ErrorType)
		r.amount = append(r.amount, t.AmountMinor)
		r.currency = append(r.currency, t.Currency)
		d := t.Dims
		r.terminalID = append(r.terminalID, d.TerminalID)
		r.terminalModel = append(r.terminalModel, d.TerminalModel)
		r.merchantID = append(r.merchantID, d.MerchantID)
		r.region = append(r.region, d.Region)
		r.gatewayID = append(r.gatewayID, d.GatewayID)
		r.acquirerID = append(r.acquirerID, d.AcquirerID)
		r.issuerID = append(r.issuerID, d.IssuerID)
		r.cardScheme = append(r.cardScheme, d.CardScheme)
		r.cardFunding = append(r.cardFunding, d.CardFunding)
		r.entryMode = append(r.entryMode, d.EntryMode)
		r.cardBIN = append(r.cardBIN, d.CardBIN)
		r.batchNumber = append(r.batchNumber, d.BatchNumber)
		r.settlementStatus = append(r.settlementStatus, t.SettlementStatus)
		r.settlementDate = append(r.settlementDate, t.SettlementDate)
		r.settlementCode = append(r.settlementCode, t.SettlementCode)
		r.settledNs = append(r.settledNs, uint64(max(t.SettledNs, 0)))
		r.latencyNs = append(r.latencyNs, uint64(max(t.LatencyNs, 0)))
		r.spanCount = append(r.spanCount, uint32(t.SpanCount))
		r.rulesRevision = append(r.rulesRevision, rules.Revision)
		issues := t.Issues
		if issues == nil {
			issues = []string{}
		}
		r.issues = append(r.issues, issues)
		r.factHours = append(r.factHours, factHours(inputs[i].Facts))
		r.assembledAt = append(r.assembledAt, now)
	}
}

// flush writes the rows held and counts them into res. The caller starts a
// new txnRows for any rows after them.
func (a *Assembler) flush(ctx context.Context, r *txnRows, res *Result) error {
	n := r.len()
	if n == 0 {
		return nil
	}
	cols := chbatch.Columns{
		"txn_id": r.txnID, "version": r.version, "txn_time": r.txnTime, "txn_ns": r.txnNs, "trace_id": r.traceID,
		"txn_type": r.txnType, "outcome": r.outcome, "cause": r.cause, "cause_class": r.class,
		"cause_source": r.causeSource, "cause_code": r.causeCode, "response_code": r.responseCode,
		"response_source": r.responseSource, "error_type": r.errorType, "amount_minor": r.amount, "currency": r.currency,
		"terminal_id": r.terminalID, "terminal_model": r.terminalModel, "merchant_id": r.merchantID, "region": r.region,
		"gateway_id": r.gatewayID, "acquirer_id": r.acquirerID, "issuer_id": r.issuerID, "card_scheme": r.cardScheme,
		"card_funding": r.cardFunding, "entry_mode": r.entryMode, "card_bin": r.cardBIN, "batch_number": r.batchNumber,
		"settlement_status": r.settlementStatus, "settlement_date": r.settlementDate, "settlement_code": r.settlementCode,
		"settled_ns": r.settledNs, "latency_ns": r.latencyNs, "span_count": r.spanCount, "rules_revision": r.rulesRevision,
		"data_issues": r.issues, "fact_hours": r.factHours, "assembled_at": r.assembledAt,
	}
	qctx, cancel := a.queryCtx(ctx)
	defer cancel()
	if err := chbatch.Insert(qctx, a.Conn, a.DB, chschema.Transactions, cols, n); err != nil {
		return wrap("write transactions", err)
	}
	res.Transactions += n
	for _, o := range r.outcome {
		res.ByOutcome[domain.Outcome(o)]++
	}
	return nil
}

func sized[T any](n int) []T { return make([]T, 0, n) }

// factHours lists the distinct hours of the facts' times, in order: every
// hour an earlier version of the row can have had
// (chschema.TransactionsByTime). Sorted, so that the row does not depend on
// the order the facts were read in.
func factHours(facts []domain.Fact) []time.Time {
	out := make([]time.Time, 0, 2)
	for i := range facts { // by index: a Fact is too large to copy per look
		h := dateTime(facts[i].StartNs).Truncate(time.Hour)
		if !slices.ContainsFunc(out, h.Equal) {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}
