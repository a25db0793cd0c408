package assembly

import (
	"sync"

	"github.com/settlewatch/settlewatch/domain"
)

// chunkScratch is the memory one chunk is classified in: its transactions'
// facts (one backing array, a slice carved out per transaction), their
// inputs and results. It is reused chunk after chunk and call after call:
// allocated anew per chunk, the facts alone were the collector's largest
// allocation under load (13 % of its bytes, and a Fact holds thirty strings
// for the garbage collector to scan; docs/benchmarks.md, "Assembly's
// memory reused"). Nothing taken from it may outlive the chunk: the rows
// written (txnRows) copy what they need.
type chunkScratch struct {
	facts  []domain.Fact
	byTxn  map[string][]domain.Fact
	inputs []domain.Input
	txns   []domain.Transaction
}

// maxKeptFacts bounds the facts a scratch keeps room for between calls (a
// chunk of 5 000 transactions of a handful of facts each fits): a rare
// larger chunk's array is let go instead of held for good.
const maxKeptFacts = 1 << 16

// take returns an empty slice with room for n facts, in the scratch's array
// when it has the room. Appending past n moves the slice out of it.
func (s *chunkScratch) take(n int) []domain.Fact {
	if s == nil {
		return make([]domain.Fact, 0, n)
	}
	if cap(s.facts)-len(s.facts) < n {
		// Slices already taken keep the old array; the next chunk gets
		// this larger one.
		s.facts = make([]domain.Fact, 0, max(2*cap(s.facts), n, 1024))
	}
	l := len(s.facts)
	s.facts = s.facts[:l+n]
	return s.facts[l : l : l+n]
}

// transactionsMap returns the scratch's empty map of facts by transaction.
func (s *chunkScratch) transactionsMap(n int) map[string][]domain.Fact {
	if s == nil {
		return make(map[string][]domain.Fact, n)
	}
	if s.byTxn == nil {
		s.byTxn = make(map[string][]domain.Fact, n)
	}
	return s.byTxn
}

// reset frees the scratch for the next chunk. What it held is cleared, not
// only truncated: a fact's strings point into the caller's batch, which
// stale facts would otherwise keep alive after the call.
func (s *chunkScratch) reset() {
	clear(s.facts)
	s.facts = s.facts[:0]
	clear(s.byTxn)
	clear(s.inputs)
	s.inputs = s.inputs[:0]
	clear(s.txns)
	s.txns = s.txns[:0]
}

// scratchPool keeps one chunkScratch between calls. A sync.Pool is emptied
// by every garbage collection, which the collector runs several times a
// second under load: the scratch would be allocated anew nearly every call.
type scratchPool struct {
	mu    sync.Mutex
	spare *chunkScratch
}

func (p *scratchPool) get() *chunkScratch {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.spare
	p.spare = nil
	if s == nil {
		s = &chunkScratch{}
	}
	return s
}

func (p *scratchPool) put(s *chunkScratch) {
	s.reset()
	if cap(s.facts) > maxKeptFacts {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spare = s
}
