package assembly

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

// A fact that arrives days after the rest of its transaction, when the rest
// arrived before the recent days ingest reads: ingest classifies from the recent facts only, a row
// counting fewer facts, so the complete row stays current; Reconcile then
// rebuilds that transaction, and only that one, from all its facts.
func TestLateFactReconciledFromAllFacts(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	ctx := context.Background()
	const id = "TXN-LATE"

	// The sale's terminal and gateway spans were stored six days ago.
	saved := ingested
	ingested = uint64(now.Add(-6 * 24 * time.Hour).UnixNano())
	root, gw := sale(id)
	insertFacts(t, db, root, gw)
	ingested = saved
	if _, err := a.AssembleTxns(ctx, []string{id}); err != nil {
		t.Fatal(err)
	}
	before := current(t, db, id)
	if before.outcome != string(domain.OutcomeUnsettled) || before.version.Facts != 2 {
		t.Fatalf("before: %+v, want unsettled with 2 facts", before)
	}

	// Its settlement arrives now, with another sale that is all recent.
	settle := saleSettlement()
	settle.TxnID = id
	fresh := saleRoot()
	fresh.TxnID, fresh.SpanID = "TXN-FRESH", "root0002"
	known := insertFacts(t, db, settle, fresh)
	res, err := a.Assemble(ctx, Keys{TxnIDs: []string{id, fresh.TxnID}, Stored: KnownFacts(known)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transactions != 2 {
		t.Fatalf("ingest assembled %d transactions, want 2", res.Transactions)
	}
	if got := current(t, db, id); got != before {
		t.Errorf("after ingest of the late settlement: %+v, want the complete row kept: %+v", got, before)
	}

	res, err = a.Reconcile(ctx, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Transactions != 1 {
		t.Errorf("reconciled %d transactions, want 1 (only %s has facts older than the recent days)", res.Transactions, id)
	}
	if got := current(t, db, id); got.outcome != string(domain.OutcomeSettled) || got.version.Facts != 3 {
		t.Errorf("after Reconcile: %+v, want settled with 3 facts", got)
	}
	if got := current(t, db, fresh.TxnID); got.version.Facts != 1 {
		t.Errorf("%s: %+v, want its one fact", fresh.TxnID, got)
	}
}

// Transaction ids are the client's (up to the exporter's max_value_bytes):
// a request of 5,000 transactions with 80-byte ids makes sets of 400 KB,
// which as literal IN lists were past ClickHouse's default max_query_size
// (256 KiB) and now go as external tables. A query refused for its size
// would fail the batch on every retry and stall ingest.
func TestLongTransactionIDsFitTheQueries(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	var facts []domain.Fact
	var ids []string
	for i := range 5000 {
		f := saleRoot()
		f.TxnID = fmt.Sprintf("%s-%06d", strings.Repeat("L", 72), i)
		f.TraceID = fmt.Sprintf("%016d", i)
		ids = append(ids, f.TxnID)
		facts = append(facts, f)
	}
	known := insertFacts(t, db, facts...)
	for _, stored := range [][]Known{known, nil} { // listed, and read back whole
		res, err := a.Assemble(context.Background(), Keys{TxnIDs: ids, Stored: KnownFacts(stored)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Transactions != len(ids) {
			t.Fatalf("assembled %d transactions, want %d", res.Transactions, len(ids))
		}
	}
	if n := db.Count(t, "SELECT count() FROM "+chtest.Txns); n != uint64(len(ids)) {
		t.Errorf("transactions holds %d rows, want %d", n, len(ids))
	}
}

// The chunks of one call are written in one INSERT (chunk by chunk, five
// transactions in chunks of two would be three); a call with more rows than
// a write holds writes as it goes (written once three rows are held: four
// rows, then one). Either way every transaction is written and counted once,
// by outcome.
func TestChunksOfOneCallShareInserts(t *testing.T) {
	declineLast := func(i int, f *domain.Fact) {
		if i == 4 {
			f.ResponseCode, f.Status = "51", domain.StatusError
		}
	}
	for _, c := range []struct {
		name        string
		flushAt     int
		edit        func(int, *domain.Fact)
		want        map[domain.Outcome]int
		wantInserts uint64
	}{
		{"one insert", 0, declineLast, map[domain.Outcome]int{domain.OutcomeUnsettled: 4, domain.OutcomeDeclined: 1}, 1},
		{"written as it goes", 3, nil, map[domain.Outcome]int{domain.OutcomeUnsettled: 5}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := chtest.Migrated(t)
			a := newAssembler(db)
			a.ChunkSize, a.flushAt = 2, c.flushAt
			ids := storeSales(t, db, 5, c.edit)
			res, err := a.Assemble(context.Background(), Keys{TxnIDs: ids})
			if err != nil {
				t.Fatal(err)
			}
			if res.Transactions != 5 || !maps.Equal(res.ByOutcome, c.want) {
				t.Errorf("result %+v, want 5 transactions, %v", res, c.want)
			}
			if n := db.Count(t, "SELECT count() FROM "+chtest.Txns); n != 5 {
				t.Errorf("%d transactions stored, want 5", n)
			}
			if n := inserts(t, db, "transactions_by_time"); n != c.wantInserts {
				t.Errorf("%d parts made in transactions_by_time, want %d (one per INSERT)", n, c.wantInserts)
			}
		})
	}
}

// inserts counts the parts INSERTs made in table, from the server's log of
// new parts: parts themselves may have merged since (18.16 and 24.x name
// the event differently).
func inserts(t *testing.T, db *chtest.DB, table string) uint64 {
	t.Helper()
	db.Exec(t, "SYSTEM FLUSH LOGS")
	return db.Count(t, "SELECT count() FROM system.part_log WHERE database = currentDatabase() AND table = '"+table+
		"' AND toString(event_type) IN ('NEW_PART', 'NewPart')")
}

// storeSales stores n sales' roots, each its own transaction and trace,
// edit changing the i-th first, and returns their transaction ids.
func storeSales(t *testing.T, db *chtest.DB, n int, edit func(i int, f *domain.Fact)) []string {
	t.Helper()
	facts := make([]domain.Fact, 0, n)
	ids := make([]string, 0, n)
	for i := range n {
		f := saleRoot()
		f.TxnID = fmt.Sprintf("TXN-SALE-%d", i)
		f.TraceID = fmt.Sprintf("%016d", i)
		if edit != nil {
			edit(i, &f)
		}
		ids = append(ids, f.TxnID)
		facts = append(facts, f)
	}
	insertFacts(t, db, facts...)
	return ids
}

// Reassemble lists the transactions with a fact in the range among the
// facts (they hold every (transaction, trace) pair) and rebuilds
// each: not one outside the range, and no transaction for a failed span
// without pos.txn.id.
func TestReassembleListsTheRangeFromFacts(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	ctx := context.Background()
	from := time.Unix(0, saleStart()).Truncate(time.Hour)
	to := from.Add(time.Hour)
	ids := storeSales(t, db, 3, func(i int, f *domain.Fact) {
		if i == 2 {
			f.StartNs = to.Add(time.Hour).UnixNano() // outside the range
		}
	})
	traceless := saleGateway()
	traceless.TxnID, traceless.SpanID, traceless.TraceID = "", "gwfail01", strings.Repeat("\x09", 16)
	traceless.Status, traceless.ErrorType = domain.StatusError, "timeout"
	insertFacts(t, db, traceless)

	var seen []int
	res, err := a.Reassemble(ctx, from, to, func(done, total int) { seen = append(seen, done, total) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Transactions != 2 || len(seen) != 2 || seen[0] != 2 || seen[1] != 2 {
		t.Fatalf("reassembled %d transactions, progress %v; want 2 of 2", res.Transactions, seen)
	}
	for _, id := range ids[:2] {
		if got := current(t, db, id); got.outcome != string(domain.OutcomeUnsettled) {
			t.Errorf("%s: %+v, want its row rebuilt (an approved sale past its window is unsettled)", id, got)
		}
	}
	if n := db.Count(t, "SELECT count() FROM transactions_by_time WHERE deleted = 0 AND txn_id IN (?, '')", ids[2]); n != 0 {
		t.Errorf("%d rows for the sale outside the range or for the span without a transaction, want none", n)
	}
}
