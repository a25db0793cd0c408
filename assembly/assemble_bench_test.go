package assembly

import (
	"context"
	"fmt"
	"testing"

	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

// BenchmarkAssembleStored is assembly's part of ingesting one batch: 4 000
// sales of two facts each, listed, classified and written ("-chunks":
// 20 000, four chunks, as in the collector's batches). "mine": the
// caller stored both facts (Keys.Stored); "gateway-earlier": another writer
// stored the gateway's facts before, so they are read back by range. The
// allocation counts are the client's own and do not drift with the shared
// machine; docs/benchmarks.md has the figures.
//
//	SETTLEWATCH_TEST_CH_ADDR=… go test -run '^$' -bench AssembleStored -benchmem ./assembly/
func BenchmarkAssembleStored(b *testing.B) {
	for _, c := range []struct {
		n       int
		earlier bool
	}{{4000, false}, {4000, true}, {20000, false}} {
		n, earlier := c.n, c.earlier
		name := "mine"
		if earlier {
			name = "gateway-earlier"
		}
		if n > defaultChunk {
			name += "-chunks" // a batch of several chunks, as at ingest
		}
		b.Run(name, func(b *testing.B) {
			db := chtest.Migrated(b)
			a := newAssembler(db)
			var roots, gateways []domain.Fact
			keys := Keys{}
			for i := range n {
				r, g := saleRoot(), saleGateway()
				id := fmt.Sprintf("TXN-BENCH-%06d", i)
				trace := fmt.Sprintf("%016d", i)
				r.TxnID, g.TxnID, r.TraceID, g.TraceID = id, id, trace, trace
				roots, gateways = append(roots, r), append(gateways, g)
				keys.TxnIDs = append(keys.TxnIDs, id)
			}
			wantMem := n
			if earlier {
				insertFacts(b, db, gateways...)
				keys.Stored = KnownFacts(insertFacts(b, db, roots...))
				wantMem = 0
			} else {
				keys.Stored = KnownFacts(insertFacts(b, db, append(roots, gateways...)...))
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := a.Assemble(context.Background(), keys)
				if err != nil {
					b.Fatal(err)
				}
				if res.Transactions != n || res.FromMemory != wantMem || res.ByOutcome[domain.OutcomeApproved]+res.ByOutcome[domain.OutcomeUnsettled] != n {
					b.Fatalf("%+v: want %d transactions, %d from memory", res, n, wantMem)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/txn")
		})
	}
}
