package simulator

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestTruthRecordsAndFiles(t *testing.T) {
	cfg := mustParse(t, allScenariosYAML)
	r := oneDay()
	r.AsOf = r.To.Add(40 * time.Hour) // every window has passed
	p := mustGenerate(t, cfg, r)
	rec := NewTruthRecorder(0)
	for _, e := range p.Events {
		rec.Observe(e)
	}
	// Observing a transaction twice (a duplicate send) changes nothing.
	rec.Observe(p.Events[0])
	recs := rec.Records(r.AsOf)
	if len(recs) != len(p.Txns()) {
		t.Fatalf("%d records for %d transactions", len(recs), len(p.Txns()))
	}
	outcomes := map[Outcome]int{}
	for _, tr := range recs {
		outcomes[tr.Outcome]++
		if (tr.Cause == CauseNone) != (tr.Outcome == OutcomeApproved || tr.Outcome == OutcomeSettled || tr.Outcome == OutcomePending) {
			t.Fatalf("%s: outcome %s with cause %s", tr.TxnID, tr.Outcome, tr.Cause)
		}
		if tr.Outcome == OutcomePending {
			t.Fatalf("%s pending 40h after the range", tr.TxnID)
		}
	}
	for _, o := range []Outcome{OutcomeApproved, OutcomeDeclined, OutcomeFailed, OutcomeSettled, OutcomeSettlementRejected, OutcomeUnsettled} {
		if outcomes[o] == 0 {
			t.Errorf("no %s transaction: %v", o, outcomes)
		}
	}
	// Generated only up to the end of the day, most sales are still pending.
	early := truthOf(mustGenerate(t, cfg, Range{From: r.From, To: r.To, AsOf: r.To}), 0)
	pending := 0
	for _, tr := range early {
		if tr.Outcome == OutcomePending {
			pending++
		}
	}
	if pending < len(early)/2 {
		t.Errorf("only %d of %d pending at the end of the day", pending, len(early))
	}

	dir := t.TempDir()
	sum, err := rec.WriteDir(dir, r.AsOf)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Txns != len(recs) || sum.ByOutcome["settled"] != int64(outcomes[OutcomeSettled]) {
		t.Fatalf("summary %+v", sum)
	}
	back, err := ReadTruthFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(recs) {
		t.Fatalf("read %d records back, wrote %d", len(back), len(recs))
	}
	for i := range back {
		if back[i] != recs[i] {
			t.Fatalf("record %d changed in the round trip:\n%+v\n%+v", i, back[i], recs[i])
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, TruthFile))
	for _, key := range []string{`"txn_id"`, `"outcome"`, `"cause"`, `"gateway_id"`, `"merchant_id"`, `"terminal_id"`,
		`"amount_minor"`, `"currency"`, `"txn_time"`, `"response_code"`, `"error_type"`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("truth.jsonl has no %s", key)
		}
	}
	// The totals add up to the records.
	f, err := os.Open(filepath.Join(dir, TotalsCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if rows[0][0] != "hour" || rows[0][2] != "cause" {
		t.Fatalf("header %v", rows[0])
	}
	var total, amount int64
	for _, row := range rows[1:] {
		n, _ := strconv.ParseInt(row[5], 10, 64)
		a, _ := strconv.ParseInt(row[6], 10, 64)
		total += n
		amount += a
	}
	var wantAmount int64
	for _, tr := range recs {
		wantAmount += tr.AmountMinor
	}
	if total != int64(len(recs)) || amount != wantAmount {
		t.Fatalf("totals: %d txns %d amount, want %d and %d", total, amount, len(recs), wantAmount)
	}
}

func TestTruthSettlementBeforeTransaction(t *testing.T) {
	p := mustGenerate(t, mustParse(t, "fleet: {merchants: 3}\n"), oneDay())
	rec := NewTruthRecorder(0)
	// Settlements first, then the rest: the order of observation does not matter.
	for _, e := range p.Events {
		if e.Kind == EventSettlement {
			rec.Observe(e)
		}
	}
	for _, e := range p.Events {
		if e.Kind != EventSettlement {
			rec.Observe(e)
		}
	}
	want := truthOf(p, 0)
	for _, tr := range rec.Records(p.Range.AsOf) {
		if want[tr.TxnID] != tr {
			t.Fatalf("%s: %+v, want %+v", tr.TxnID, tr, want[tr.TxnID])
		}
	}
}
