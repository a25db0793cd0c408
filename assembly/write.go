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

// write stores one row per classified transaction.
func (a *Assembler) write(ctx context.Context, inputs []domain.Input, txns []domain.Transaction) error {
	n := len(txns)
	if n == 0 {
		return nil
	}
	now := a.now().UTC().Truncate(time.Second)
	// Every column sized for n rows up front: appending to empty slices
	// regrew forty of them on every batch.
	type strs = []string
	c := struct {
		txnID, traceID, txnType, outcome, cause, class, causeSource, causeCode strs
		responseCode, responseSource, errorType, currency                      strs
		terminalID, terminalModel, merchantID, region, gatewayID, acquirerID   strs
		issuerID, cardScheme, cardFunding, entryMode, cardBIN, batchNumber     strs
		settlementStatus, settlementDate, settlementCode                       strs
		version, txnNs, settledNs, latencyNs                                   []uint64
		txnTime, assembledAt                                                   []time.Time
		amount                                                                 []int64
		spanCount, rulesRevision                                               []uint32
		issues                                                                 [][]string
		factHours                                                              [][]time.Time
	}{
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
	for i, t := range txns {
		c.txnID = append(c.txnID, t.TxnID)
		c.version = append(c.version, Version(a.Rules.Revision, inputs[i], t))
		c.txnTime = append(c.txnTime, dateTime(t.TxnNs))
		c.txnNs = append(c.txnNs, uint64(max(t.TxnNs, 0)))
		c.traceID = append(c.traceID, t.TraceID)
		c.txnType = append(c.txnType, t.TxnType)
		c.outcome = append(c.outcome, string(t.Outcome))
		c.cause = append(c.cause, string(t.Cause))
		c.class = append(c.class, string(t.Class))
		c.causeSource = append(c.causeSource, t.CauseSource)
		c.causeCode = append(c.causeCode, t.CauseCode)
		c.responseCode = append(c.responseCode, t.ResponseCode)
		c.responseSource = append(c.responseSource, t.ResponseSource)
		c.errorType = append(c.errorType, t.ErrorType)
		c.amount = append(c.amount, t.AmountMinor)
		c.currency = append(c.currency, t.Currency)
		d := t.Dims
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
		c.batchNumber = append(c.batchNumber, d.BatchNumber)
		c.settlementStatus = append(c.settlementStatus, t.SettlementStatus)
		c.settlementDate = append(c.settlementDate, t.SettlementDate)
		c.settlementCode = append(c.settlementCode, t.SettlementCode)
		c.settledNs = append(c.settledNs, uint64(max(t.SettledNs, 0)))
		c.latencyNs = append(c.latencyNs, uint64(max(t.LatencyNs, 0)))
		c.spanCount = append(c.spanCount, uint32(t.SpanCount))
		c.rulesRevision = append(c.rulesRevision, a.Rules.Revision)
		issues := t.Issues
		if issues == nil {
			issues = []string{}
		}
		c.issues = append(c.issues, issues)
		c.factHours = append(c.factHours, factHours(inputs[i].Facts))
		c.assembledAt = append(c.assembledAt, now)
	}
	cols := chbatch.Columns{
		"txn_id": c.txnID, "version": c.version, "txn_time": c.txnTime, "txn_ns": c.txnNs, "trace_id": c.traceID,
		"txn_type": c.txnType, "outcome": c.outcome, "cause": c.cause, "cause_class": c.class,
		"cause_source": c.causeSource, "cause_code": c.causeCode, "response_code": c.responseCode,
		"response_source": c.responseSource, "error_type": c.errorType, "amount_minor": c.amount, "currency": c.currency,
		"terminal_id": c.terminalID, "terminal_model": c.terminalModel, "merchant_id": c.merchantID, "region": c.region,
		"gateway_id": c.gatewayID, "acquirer_id": c.acquirerID, "issuer_id": c.issuerID, "card_scheme": c.cardScheme,
		"card_funding": c.cardFunding, "entry_mode": c.entryMode, "card_bin": c.cardBIN, "batch_number": c.batchNumber,
		"settlement_status": c.settlementStatus, "settlement_date": c.settlementDate, "settlement_code": c.settlementCode,
		"settled_ns": c.settledNs, "latency_ns": c.latencyNs, "span_count": c.spanCount, "rules_revision": c.rulesRevision,
		"data_issues": c.issues, "fact_hours": c.factHours, "assembled_at": c.assembledAt,
	}
	qctx, cancel := a.queryCtx(ctx)
	defer cancel()
	if err := chbatch.Insert(qctx, a.Conn, a.DB, chschema.Transactions, cols, n); err != nil {
		return wrap("write transactions", err)
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
