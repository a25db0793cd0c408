package assembly

import (
	"context"
	"time"

	"github.com/settlewatch/settlewatch/domain"
)

// Known is a fact the caller has just stored, with the ingested_ns it was
// stored with (Keys.Stored).
type Known struct {
	Fact       domain.Fact // as StoredFact gives it
	IngestedNs uint64
}

// factRow names one stored row of payment_facts: its key and version.
type factRow struct {
	trace, span string
	ingested    uint64
}

// knownFacts are facts by transaction: pointers into the caller's Known, or
// into those read back. A fact is large and a transaction has a handful, so
// a short list per transaction is searched instead of copying each fact into
// a map of its own (those maps were a sixth of assembly's allocations under
// load, docs/benchmarks.md).
type knownFacts map[string][]*Known

func newKnownFacts(ks []Known) knownFacts {
	if len(ks) == 0 {
		return nil
	}
	out := knownFacts{}
	for i := range ks {
		k := &ks[i]
		out[k.Fact.TxnID] = append(out[k.Fact.TxnID], k)
	}
	return out
}

// find returns the fact stored as row r among ks.
func find(ks []*Known, r factRow) (*domain.Fact, bool) {
	for _, k := range ks {
		if k.IngestedNs == r.ingested && k.Fact.SpanID == r.span && k.Fact.TraceID == r.trace {
			return &k.Fact, true
		}
	}
	return nil, false
}

// readFacts returns every stored fact of txnIDs by transaction, as reading
// them back does.
// The rows of the transactions the caller knows facts of are first listed by
// key and version only (four narrow columns instead of thirty: reading a few
// thousand scattered transactions whole reads most of the table,
// docs/benchmarks.md). A transaction's rows the caller wrote take the known
// facts; the others (another writer's, or a re-sent span's other copy) are
// read by id within the range of their ingested_ns, which src is partitioned
// by, so that only the parts written in that range are read (for a gateway's
// half of a transaction, the terminal's half stored moments before).
// Transactions the caller knows nothing of, and any whose listed rows the
// ranged read did not return (merged away meanwhile), are read whole. Either
// way the facts are the rows stored. It also reports how many transactions
// took only known facts.
func (a *Assembler) readFacts(ctx context.Context, txnIDs []string, known knownFacts, src string) (map[string][]domain.Fact, int, error) {
	var candidates, rest []string
	for _, id := range txnIDs {
		if known[id] != nil {
			candidates = append(candidates, id)
		} else {
			rest = append(rest, id)
		}
	}
	byTxn := make(map[string][]domain.Fact, len(txnIDs))
	fromMemory := 0
	if len(candidates) > 0 {
		listed, err := a.factRows(ctx, candidates, known, src)
		if err != nil {
			return nil, 0, err
		}
		var partial []foreignRange
		for _, id := range candidates {
			mine := known[id]
			fr := foreignRange{id: id}
			for _, r := range listed[id] {
				if _, ok := find(mine, r); !ok {
					fr.lo, fr.hi = minNonZero(fr.lo, r.ingested), max(fr.hi, r.ingested)
					fr.any = true
				}
			}
			switch {
			case fr.any:
				partial = append(partial, fr)
			case len(listed[id]) > 0:
				byTxn[id], _ = known.join(id, listed[id], nil)
				fromMemory++
			}
		}
		if len(partial) > 0 {
			if a.afterList != nil {
				a.afterList()
			}
			var read []Known
			for _, g := range byRecency(partial) {
				expect := 0
				for _, id := range g.ids {
					expect += len(listed[id])
				}
				more, err := a.queryFacts(ctx, src, expect, txnSet(g.ids), "txn_id IN sw_txn_ids AND ingested_ns >= ? AND ingested_ns <= ?", g.lo, g.hi)
				if err != nil {
					return nil, 0, err
				}
				if read == nil {
					read = more
				} else {
					read = append(read, more...)
				}
			}
			found := newKnownFacts(read)
			for _, fr := range partial {
				id := fr.id
				facts, ok := known.join(id, listed[id], found[id])
				if !ok {
					rest = append(rest, id)
					continue
				}
				byTxn[id] = facts
			}
		}
	}
	if len(rest) > 0 {
		more, err := a.queryFacts(ctx, src, len(rest), txnSet(rest), "txn_id IN sw_txn_ids")
		if err != nil {
			return nil, 0, err
		}
		// Each transaction's slice sized first: growing it copied the
		// (large) facts again and again.
		counts := make(map[string]int, len(rest))
		for i := range more {
			counts[more[i].Fact.TxnID]++
		}
		for i := range more {
			f := &more[i].Fact
			if byTxn[f.TxnID] == nil {
				byTxn[f.TxnID] = make([]domain.Fact, 0, counts[f.TxnID])
			}
			byTxn[f.TxnID] = append(byTxn[f.TxnID], *f)
		}
	}
	return byTxn, fromMemory, nil
}

// join returns the fact of every listed row of txnID, known or read, or
// false if a row is neither.
func (k knownFacts) join(txnID string, rows []factRow, read []*Known) ([]domain.Fact, bool) {
	mine := k[txnID]
	out := make([]domain.Fact, 0, len(rows))
	for _, r := range rows {
		f, ok := find(mine, r)
		if !ok {
			if f, ok = find(read, r); !ok {
				return nil, false
			}
		}
		out = append(out, *f)
	}
	return out, true
}

// foreignRange is the range of ingested_ns of a transaction's rows the
// caller did not write.
type foreignRange struct {
	id     string
	lo, hi uint64
	any    bool
}

// freshSpan separates the rows stored moments before (the other half of a
// transaction sent in two requests: many transactions, a narrow range) from
// older ones (a settlement a day after its sale: few transactions, a wide
// range). Read together, the wide range would take in every part written
// since, for all of the many ids.
const freshSpan = uint64(time.Hour)

// rangeGroup is one ranged read: ids and the range that covers their rows.
type rangeGroup struct {
	ids    []string
	lo, hi uint64
}

// byRecency splits ranges into at most two reads: the transactions whose
// foreign rows all arrived within freshSpan of the newest, and the others.
func byRecency(rs []foreignRange) []rangeGroup {
	var newest uint64
	for _, r := range rs {
		newest = max(newest, r.hi)
	}
	var fresh, old rangeGroup
	for _, r := range rs {
		g := &old
		if r.lo+freshSpan >= newest {
			g = &fresh
		}
		g.ids = append(g.ids, r.id)
		g.lo, g.hi = minNonZero(g.lo, r.lo), max(g.hi, r.hi)
	}
	var out []rangeGroup
	for _, g := range []rangeGroup{fresh, old} {
		if len(g.ids) > 0 {
			out = append(out, g)
		}
	}
	return out
}

func minNonZero(a, b uint64) uint64 {
	if a == 0 || b < a {
		return b
	}
	return a
}

// factRows lists the stored rows of txnIDs by key and version.
func (a *Assembler) factRows(ctx context.Context, txnIDs []string, known knownFacts, src string) (map[string][]factRow, error) {
	rows, done, err := a.query(ctx, "SELECT txn_id, trace_id, span_id, ingested_ns FROM "+a.table(src)+" WHERE txn_id IN sw_txn_ids",
		[]idSet{txnSet(txnIDs)})
	if err != nil {
		return nil, wrap("list facts", err)
	}
	defer done()
	// Every transaction's rows in one backing array, a slot for each fact
	// the caller knows of: appending per transaction grew thousands of
	// small slices a batch. Rows beyond those (another writer's) grow
	// their transaction's slice as before.
	total := 0
	for _, id := range txnIDs {
		total += len(known[id])
	}
	backing := make([]factRow, total)
	out := make(map[string][]factRow, len(txnIDs))
	for rows.Next() {
		var id string
		var r factRow
		if err := rows.Scan(&id, &r.trace, &r.span, &r.ingested); err != nil {
			return nil, wrap("scan fact rows", err)
		}
		rs, ok := out[id]
		if !ok { // each id of txnIDs takes its slots once: they add up to total
			n := len(known[id])
			rs, backing = backing[:0:n], backing[n:]
		}
		out[id] = append(rs, r)
	}
	return out, rows.Err()
}
