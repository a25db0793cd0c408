package assembly

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

// now is the assemblers' clock; the sale is older than the settlement window.
var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

const (
	saleID   = "TXN-RACE-1"
	terminal = "T-0042"
	batchNo  = "000007"
)

var saleTrace = strings.Repeat("\x01", 16)

func saleStart() int64 { return now.Add(-48 * time.Hour).UnixNano() }

// saleRoot is the terminal's pos.transaction of an approved sale.
func saleRoot() domain.Fact {
	return domain.Fact{
		TxnID: saleID, TraceID: saleTrace, SpanID: "root0001", Name: domain.SpanTransaction, Service: "pos-terminal",
		StartNs: saleStart(), DurationNs: 2e9, Status: domain.StatusOK, ResponseCode: "00", ResponseSource: "issuer",
		TxnType: domain.TxnTypeSale, AmountMinor: 1250, Amount: domain.AmountOK, Currency: "CNY",
		Dims: domain.Dimensions{TerminalID: terminal, MerchantID: "M-7", BatchNumber: batchNo, GatewayID: "gw-1"},
	}
}

// saleGateway is the gateway's span of the same sale (no terminal or batch).
func saleGateway() domain.Fact {
	return domain.Fact{
		TxnID: saleID, TraceID: saleTrace, SpanID: "gway0001", ParentSpanID: "host0001", Name: "gateway.authorize",
		Service: "payment-gateway", StartNs: saleStart() + 5e8, DurationNs: 3e8, ResponseCode: "00", ResponseSource: "issuer",
		Dims: domain.Dimensions{GatewayID: "gw-1"},
	}
}

// saleSettlement is the settlement service's span that settled the sale, 20
// hours after it, in a trace of its own.
func saleSettlement() domain.Fact {
	return domain.Fact{TxnID: saleID, TraceID: strings.Repeat("\x03", 16), SpanID: "settle01", Name: domain.SpanSettlement,
		Service: "settlement-service", StartNs: saleStart() + 20*int64(time.Hour), SettlementStatus: domain.SettlementSettled,
		ResponseCode: "00", AmountMinor: 1250, Amount: domain.AmountOK}
}

// failedClose is the terminal's batch close that could not upload the batch.
func failedClose() domain.BatchClose {
	return domain.BatchClose{TerminalID: terminal, BatchNumber: batchNo, SpanID: "close001",
		CloseNs: saleStart() + 10*int64(time.Hour), Status: domain.StatusError, Result: domain.BatchFailed, ErrorType: "upload_failed"}
}

func newAssembler(db *chtest.DB) *Assembler {
	return &Assembler{Conn: db.Conn, DB: db.Name, Rules: domain.DefaultRules(), Window: domain.DefaultSettlementWindow,
		Now: func() time.Time { return now }}
}

// ingestFacts does what the exporter does with a request of facts: store
// them, then assemble their transactions.
func ingestFacts(t *testing.T, db *chtest.DB, a *Assembler, facts ...domain.Fact) {
	t.Helper()
	insertFacts(t, db, facts...)
	keys := Keys{}
	for _, f := range facts {
		keys.TxnIDs = append(keys.TxnIDs, f.TxnID)
	}
	if _, err := a.Assemble(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
}

// ingestClose does what the exporter does with a request holding a batch close.
func ingestClose(t *testing.T, db *chtest.DB, a *Assembler, b domain.BatchClose) {
	t.Helper()
	insertClose(t, db, b)
	if _, err := a.Assemble(context.Background(), Keys{Batches: []BatchKey{{TerminalID: b.TerminalID, BatchNumber: b.BatchNumber, CloseNs: uint64(b.CloseNs)}}}); err != nil {
		t.Fatal(err)
	}
}

// A sale's last fact and its terminal's failed batch close can be stored by
// two collector replicas (or the two queue consumers of one) at the same
// time. In every interleaving the winning row must have read both: the sale
// is unsettled because the batch upload failed (network), not for want of a
// settlement (settlement).
func TestBatchCloseReachesSaleInEveryInterleaving(t *testing.T) {
	cases := []struct {
		name string
		// partial: the gateway's fact was stored and assembled before, so the
		// sale already has a row (failed, no root) when the root arrives.
		partial bool
		run     func(t *testing.T, db *chtest.DB, sale, closer *Assembler)
	}{
		{name: "close first", run: func(t *testing.T, db *chtest.DB, sale, closer *Assembler) {
			ingestClose(t, db, closer, failedClose())
			ingestFacts(t, db, sale, saleRoot())
		}},
		{name: "close last", run: func(t *testing.T, db *chtest.DB, sale, closer *Assembler) {
			ingestFacts(t, db, sale, saleRoot())
			ingestClose(t, db, closer, failedClose())
		}},
		// The sale's writer has read the batch closes (none yet) when the close
		// is stored and its writer looks for the batch's sales; the sale's row
		// is written only afterwards.
		{name: "close while the sale is assembled", run: func(t *testing.T, db *chtest.DB, sale, closer *Assembler) {
			sale.afterRead = func() {
				sale.afterRead = nil
				ingestClose(t, db, closer, failedClose())
			}
			ingestFacts(t, db, sale, saleRoot())
		}},
		{name: "close while the sale is assembled, after a partial row", partial: true, run: func(t *testing.T, db *chtest.DB, sale, closer *Assembler) {
			sale.afterRead = func() {
				sale.afterRead = nil
				ingestClose(t, db, closer, failedClose())
			}
			ingestFacts(t, db, sale, saleRoot())
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := chtest.Migrated(t)
			sale, closer := newAssembler(db), newAssembler(db)
			if c.partial {
				ingestFacts(t, db, sale, saleGateway())
				if got := current(t, db, saleID); got.outcome != "failed" {
					t.Fatalf("partial row: %+v, want failed (no root yet)", got)
				}
			}
			c.run(t, db, sale, closer)
			facts := 1
			if c.partial {
				facts = 2
			}
			got := current(t, db, saleID)
			want := stored{outcome: "unsettled", cause: "network", source: "batch_close_error_type",
				version: VersionParts{Revision: domain.DefaultRules().Revision, Facts: facts, Batches: 1, WindowPassed: true}}
			if got != want {
				explain(t, sale, saleID)
				t.Fatalf("stored %+v, want %+v", got, want)
			}
		})
	}
}

// A re-sent span is one fact: its second copy (a later ingest) neither
// raises the version nor changes the row.
func TestResentFactCountsOnce(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	ingestFacts(t, db, a, saleRoot(), saleGateway())
	first := current(t, db, saleID)
	ingestFacts(t, db, a, saleRoot()) // the client retried a request
	got := current(t, db, saleID)
	if got != first || got.version.Facts != 2 {
		explain(t, a, saleID)
		t.Fatalf("after the re-sent span: %+v, before: %+v (want 2 facts, unchanged)", got, first)
	}
}

// stored is the current (FINAL) row of a transaction.
type stored struct {
	outcome, cause, source string
	version                VersionParts
}

func current(t *testing.T, db *chtest.DB, txnID string) stored {
	t.Helper()
	ctx, cancel := chconn.WithQuerySettings(context.Background(), time.Minute)
	defer cancel()
	rows, err := db.Conn.Query(ctx, "SELECT toString(outcome), toString(cause), cause_source, version FROM "+chtest.Txns+" WHERE txn_id = ?", txnID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []stored
	for rows.Next() {
		var s stored
		var v uint64
		if err := rows.Scan(&s.outcome, &s.cause, &s.source, &v); err != nil {
			t.Fatal(err)
		}
		s.version = DecodeVersion(v)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("the live transactions hold %d rows of %s, want 1: %+v", len(out), txnID, out)
	}
	return out[0]
}

func explain(t *testing.T, a *Assembler, txnID string) {
	t.Helper()
	lines, err := a.Explain(context.Background(), txnID)
	for _, l := range lines {
		t.Log(l)
	}
	if err != nil {
		t.Log(err)
	}
}

// ingested gives every stored row a later ingest time, as retries get.
var ingested = uint64(now.UnixNano())

func nextIngest() uint64 { ingested++; return ingested }

// insertFacts stores facts and returns them as the exporter would hand them
// to assembly (Keys.Stored).
func insertFacts(t testing.TB, db *chtest.DB, facts ...domain.Fact) []Known {
	t.Helper()
	var known []Known
	var c struct {
		str    map[string][]string
		u64    map[string][]uint64
		times  []time.Time
		amount []int64
		ok     []uint8
	}
	c.str, c.u64 = map[string][]string{}, map[string][]uint64{}
	for _, f := range facts {
		d := f.Dims
		for k, v := range map[string]string{
			"txn_id": f.TxnID, "trace_id": f.TraceID, "span_id": f.SpanID, "parent_span_id": f.ParentSpanID,
			"name": f.Name, "service_name": f.Service, "kind": "internal", "status_code": f.Status.String(),
			"error_type": f.ErrorType, "response_code": f.ResponseCode, "response_source": f.ResponseSource,
			"txn_type": f.TxnType, "currency": f.Currency, "terminal_id": d.TerminalID, "terminal_model": d.TerminalModel,
			"merchant_id": d.MerchantID, "region": d.Region, "gateway_id": d.GatewayID, "acquirer_id": d.AcquirerID,
			"issuer_id": d.IssuerID, "card_scheme": d.CardScheme, "card_funding": d.CardFunding, "entry_mode": d.EntryMode,
			"card_bin": d.CardBIN, "batch_number": d.BatchNumber, "settlement_status": f.SettlementStatus,
			"settlement_date": f.SettlementDate, "server_address": "",
		} {
			c.str[k] = append(c.str[k], v)
		}
		c.u64["start_ns"] = append(c.u64["start_ns"], uint64(f.StartNs))
		c.u64["duration_ns"] = append(c.u64["duration_ns"], uint64(f.DurationNs))
		ing := nextIngest()
		c.u64["ingested_ns"] = append(c.u64["ingested_ns"], ing)
		known = append(known, Known{Fact: StoredFact(f, f.Status.String(), uint8(f.Amount), uint64(f.StartNs), uint64(f.DurationNs)), IngestedNs: ing})
		c.times = append(c.times, time.Unix(0, f.StartNs).UTC())
		c.amount = append(c.amount, f.AmountMinor)
		c.ok = append(c.ok, uint8(f.Amount))
	}
	cols := chbatch.Columns{"start_time": c.times, "amount_minor": c.amount, "amount_ok": c.ok}
	for k, v := range c.str {
		cols[k] = v
	}
	for k, v := range c.u64 {
		cols[k] = v
	}
	insert(t, db, chschema.PaymentFacts, cols, len(facts))
	return known
}

func insertClose(t *testing.T, db *chtest.DB, b domain.BatchClose) {
	t.Helper()
	insert(t, db, chschema.BatchCloses, chbatch.Columns{
		"terminal_id": []string{b.TerminalID}, "merchant_id": []string{"M-7"}, "batch_number": []string{b.BatchNumber},
		"trace_id": []string{strings.Repeat("\x02", 16)}, "span_id": []string{b.SpanID},
		"close_time": []time.Time{time.Unix(0, b.CloseNs).UTC()}, "close_ns": []uint64{uint64(b.CloseNs)},
		"status_code": []string{b.Status.String()}, "batch_result": []string{b.Result}, "error_type": []string{b.ErrorType},
		"txn_count": []int64{1}, "amount_minor": []int64{1250}, "ingested_ns": []uint64{nextIngest()},
	}, 1)
}

func insert(t testing.TB, db *chtest.DB, tbl chschema.Table, cols chbatch.Columns, n int) {
	t.Helper()
	ctx, cancel := chconn.WithQuerySettings(context.Background(), time.Minute)
	defer cancel()
	if err := chbatch.Insert(ctx, db.Conn, db.Name, tbl, cols, n); err != nil {
		t.Fatal(err)
	}
}
