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
	var facts []domain.Fact
	var ids []string
	for i := range 5 {
		f := saleRoot()
		f.TxnID = fmt.Sprintf("TXN-PIECE-%d", i)
		f.SpanID = fmt.Sprintf("root%04d", i)
		f.TraceID = strings.Repeat(string(rune('a'+i)), 16)
		facts = append(facts, f)
		ids = append(ids, f.TxnID)
	}
	insertFacts(t, db, facts...)
	// Merges would fold a chunk written twice into one part's rows.
	db.Exec(t, "SYSTEM STOP MERGES "+db.Name+".transactions_by_time")

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

	a.afterRead = nil
	res, err = a.AssembleInPieces(context.Background(), &keys)
	if err != nil {
		t.Fatal(err)
	}
	if res.Transactions != 3 || !keys.Empty() {
		t.Fatalf("the retry wrote %d, left %+v; want 3 and nothing", res.Transactions, keys)
	}
	for _, id := range ids {
		if got := current(t, db, id); got.outcome != "unsettled" || got.version.Facts != 1 {
			t.Errorf("%s: %+v, want unsettled from its one fact (a sale past its window)", id, got)
		}
	}
	if n := db.Count(t, "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = 'transactions_by_time' AND active", db.Name); n != 5 {
		t.Errorf("transactions_by_time holds %d rows, want 5: a chunk was written twice", n)
	}
}
