package assembly

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

// After a failure midway (here a deadline passing while the second chunk is
// classified), AssembleInPieces goes on from the chunk that failed: the
// chunk written before it is not written again, and every transaction ends
// assembled once.
func TestAssembleInPiecesResumesAfterAFailure(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	a.ChunkSize = 2 // five transactions: chunks of 2, 2 and 1
	ids := fiveSales(t, db, "TXN-PIECE", 'a')

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reads := 0
	a.afterRead = func() {
		if reads++; reads == 2 {
			cancel() // the second chunk's rows cannot be written
		}
	}
	keys := Keys{TxnIDs: slices.Clone(ids)}
	res, err := a.AssembleInPieces(ctx, &keys)
	if err == nil {
		t.Fatal("AssembleInPieces with the context canceled midway succeeded")
	}
	if res.Transactions != 2 || !slices.Equal(keys.TxnIDs, ids[2:]) {
		t.Fatalf("after the failure: %d written, %v left; want 2 written, %v left", res.Transactions, keys.TxnIDs, ids[2:])
	}

	finishPieces(t, a, &keys, 3)
	for _, id := range ids {
		if got := current(t, db, id); got.outcome != "unsettled" || got.version.Facts != 1 {
			t.Errorf("%s: %+v, want unsettled from its one fact (a sale past its window)", id, got)
		}
	}
	if n := db.Count(t, "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = 'transactions_by_time' AND active", db.Name); n != 5 {
		t.Errorf("transactions_by_time holds %d rows, want 5: a chunk was written twice", n)
	}
}

// The transactions of a closed batch are found once and then rebuilt a chunk
// at a time as well: a failure while rebuilding them leaves the ones not yet
// written in keys.Rebuild, and the next call writes only those.
func TestAssembleInPiecesResumesInABatchsTransactions(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	a.ChunkSize = 2
	ids := fiveSales(t, db, "TXN-BATCH", 'k')
	insertClose(t, db, failedClose())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reads := 0
	a.afterRead = func() {
		// Reads 1–3 are the recent chunks of TxnIDs (2, 2, 1), 4 and 5
		// the batch's first two chunks: the second cannot be written.
		if reads++; reads == 5 {
			cancel()
		}
	}
	c := failedClose()
	keys := Keys{TxnIDs: slices.Clone(ids), Batches: []BatchKey{{TerminalID: c.TerminalID, BatchNumber: c.BatchNumber, CloseNs: uint64(c.CloseNs)}}}
	res, err := a.AssembleInPieces(ctx, &keys)
	if err == nil {
		t.Fatal("AssembleInPieces with the context canceled midway succeeded")
	}
	if res.Transactions != 7 || len(keys.TxnIDs) != 0 || len(keys.Batches) != 0 || len(keys.Rebuild) != 3 {
		t.Fatalf("after the failure: %d written, keys %+v; want 7 written (5 recent, 2 of the batch), 3 left to rebuild", res.Transactions, keys)
	}

	finishPieces(t, a, &keys, 3)
	for _, id := range ids {
		if got := current(t, db, id); got.outcome != "unsettled" || got.cause != "network" || got.version.Batches != 1 {
			t.Errorf("%s: %+v, want unsettled for the failed upload of its batch", id, got)
		}
	}
	if n := db.Count(t, "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = 'transactions_by_time' AND active", db.Name); n != 10 {
		t.Errorf("transactions_by_time holds %d rows, want 10 (each transaction once from its recent facts, once with its batch)", n)
	}
}

// fiveSales stores the root facts of five approved sales of terminal
// T-0042's batch 000007, ids prefix-0 to prefix-4, and stops merges of the
// transactions, which would fold a chunk written twice into one part's rows.
func fiveSales(t *testing.T, db *chtest.DB, prefix string, trace rune) []string {
	t.Helper()
	var facts []domain.Fact
	var ids []string
	for i := range 5 {
		f := saleRoot()
		f.TxnID = fmt.Sprintf("%s-%d", prefix, i)
		f.SpanID = fmt.Sprintf("root%04d", i)
		f.TraceID = strings.Repeat(string(trace+rune(i)), 16)
		facts = append(facts, f)
		ids = append(ids, f.TxnID)
	}
	insertFacts(t, db, facts...)
	db.Exec(t, "SYSTEM STOP MERGES "+db.Name+".transactions_by_time")
	return ids
}

// finishPieces calls AssembleInPieces again, without the failure, and checks
// that it writes want transactions and leaves nothing to do.
func finishPieces(t *testing.T, a *Assembler, keys *Keys, want int) {
	t.Helper()
	a.afterRead = nil
	res, err := a.AssembleInPieces(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if res.Transactions != want || !keys.Empty() {
		t.Fatalf("the retry wrote %d, left %+v; want %d and nothing", res.Transactions, *keys, want)
	}
}

// merge adds two results, the first of them empty (a caller's zero total)
// or not.
func TestMergeAddsEveryCount(t *testing.T) {
	b := Result{Transactions: 3, FromMemory: 2, ByOutcome: map[domain.Outcome]int{domain.OutcomeSettled: 3}}
	if got := merge(Result{}, b); got.Transactions != 3 || got.FromMemory != 2 || got.ByOutcome[domain.OutcomeSettled] != 3 {
		t.Errorf("merge into an empty result: %+v", got)
	}
	a := Result{Transactions: 1, FromMemory: 1, ByOutcome: map[domain.Outcome]int{domain.OutcomeSettled: 1}}
	if got := merge(a, b); got.Transactions != 4 || got.FromMemory != 3 || got.ByOutcome[domain.OutcomeSettled] != 4 {
		t.Errorf("merge: %+v", got)
	}
}
