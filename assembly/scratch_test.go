package assembly

import (
	"testing"

	"github.com/settlewatch/settlewatch/domain"
)

// Slices taken from one scratch never share a fact: appending past what was
// asked moves a slice out instead of overwriting its neighbour, growing the
// array leaves the slices taken intact, and reset leaves no fact behind to
// keep its strings alive.
func TestChunkScratchSlicesAreTheirOwn(t *testing.T) {
	s := &chunkScratch{}
	a := s.take(2)
	a = append(a, domain.Fact{TxnID: "A1"}, domain.Fact{TxnID: "A2"})
	b := s.take(1)
	b = append(b, domain.Fact{TxnID: "B1"})
	a = append(a, domain.Fact{TxnID: "A3"}) // past its room: moved out
	big := s.take(5000)                     // past the array: a new one
	big = append(big, domain.Fact{TxnID: "C1"})
	if got := ids(a) + "/" + ids(b) + "/" + ids(big); got != "A1,A2,A3/B1/C1" {
		t.Fatalf("slices hold %s", got)
	}
	s.byTxn = s.transactionsMap(1)
	s.byTxn["B"] = b
	s.inputs = append(s.inputs, domain.Input{Facts: b})
	s.txns = append(s.txns, domain.Transaction{TxnID: "B"})
	s.reset()
	if len(s.facts) != 0 || len(s.byTxn) != 0 || len(s.inputs) != 0 || len(s.txns) != 0 {
		t.Fatalf("after reset: %d facts, %d transactions mapped, %d inputs, %d results", len(s.facts), len(s.byTxn), len(s.inputs), len(s.txns))
	}
	for i, f := range s.facts[:cap(s.facts)] {
		if f.TxnID != "" {
			t.Fatalf("fact %d still holds %q after reset", i, f.TxnID)
		}
	}
	if again := s.take(1); cap(again) != 1 || &again[:1][0] != &s.facts[0] {
		t.Fatal("reset did not free the array for the next chunk")
	}
}

// The pool keeps one scratch between calls, unless a rare chunk made it
// larger than a usual one needs.
func TestScratchPoolKeepsUsualSizes(t *testing.T) {
	var p scratchPool
	s := p.get()
	s.take(100)
	p.put(s)
	if got := p.get(); got != s || len(got.facts) != 0 {
		t.Fatalf("pool gave %p (%d facts), want the scratch put back, reset", got, len(got.facts))
	}
	s.take(maxKeptFacts + 1)
	p.put(s)
	if got := p.get(); got == s {
		t.Fatal("pool kept a scratch larger than maxKeptFacts")
	}
}

func ids(fs []domain.Fact) string {
	out := ""
	for i, f := range fs {
		if i > 0 {
			out += ","
		}
		out += f.TxnID
	}
	return out
}
