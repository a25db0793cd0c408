package assembly

import (
	"context"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// Known is a fact read back, with the ingested_ns it was stored with.
type Known struct {
	Fact       domain.Fact // as StoredFact gives it
	IngestedNs uint64
}

// Stored are the facts a caller has just stored (Keys.Stored), each read
// when assembly needs it: a batch's facts are not copied whole into another
// form first (that copy was 7 % of the bytes the collector allocated under
// load, docs/benchmarks.md).
type Stored interface {
	// Len is how many facts there are.
	Len() int
	// TxnID and IngestedNs are those of fact i; a fact without a
	// transaction id is ignored.
	TxnID(i int) string
	IngestedNs(i int) uint64
	// Fact is fact i as StoredFact gives it.
	Fact(i int) domain.Fact
}

// KnownFacts are facts already held as Known.
type KnownFacts []Known

func (k KnownFacts) Len() int                { return len(k) }
func (k KnownFacts) TxnID(i int) string      { return k[i].Fact.TxnID }
func (k KnownFacts) IngestedNs(i int) uint64 { return k[i].IngestedNs }
func (k KnownFacts) Fact(i int) domain.Fact  { return k[i].Fact }

// stampCount is how many stored rows of a transaction carry one
// ingested_ns: the listing groups a transaction's rows by writer (each
// collector batch stamps its rows with one ingested_ns).
type stampCount struct {
	ingested, n uint64
}

// knownFacts are facts by transaction: the indexes of a transaction's facts
// in src. A transaction has a handful, so a short list per transaction is
// kept instead of copying each fact into a map of its own.
type knownFacts struct {
	src   Stored
	byTxn map[string][]int32
	// listed, when not nil, are the recent counts of every transaction
	// known, listed once for a whole call (listKnown) instead of once per
	// chunk: each listing reads every granule of the recent days' counts.
	listed map[string][]stampCount
}

func newKnownFacts(s Stored) knownFacts {
	if s == nil || s.Len() == 0 {
		return knownFacts{}
	}
	out := knownFacts{src: s, byTxn: map[string][]int32{}}
	for i := range s.Len() {
		if id := s.TxnID(i); id != "" {
			out.byTxn[id] = append(out.byTxn[id], int32(i))
		}
	}
	return out
}

// has reports whether any fact of txnID is known.
func (k knownFacts) has(txnID string) bool { return len(k.byTxn[txnID]) > 0 }

// split parts txnIDs into those with known facts and, when withRest, the
// others (listKnown needs only the first list).
func (k knownFacts) split(txnIDs []string, withRest bool) (known, rest []string) {
	for _, id := range txnIDs {
		if k.has(id) {
			known = append(known, id)
		} else if withRest {
			rest = append(rest, id)
		}
	}
	return known, rest
}

// stamps appends the ingested_ns of txnID's facts to dst.
func (k knownFacts) stamps(dst []uint64, txnID string) []uint64 {
	for _, i := range k.byTxn[txnID] {
		dst = append(dst, k.src.IngestedNs(int(i)))
	}
	return dst
}

// readFacts returns every stored fact of txnIDs by transaction, as reading
// them back does.
// The rows of the transactions the caller knows facts of are first listed
// as counts per transaction and ingested_ns (two narrow columns instead of
// thirty: reading a few thousand scattered transactions whole reads most of
// the table, docs/benchmarks.md). A transaction whose rows are, stamp by
// stamp, as many as the caller's takes the known facts; rows of other
// stamps (another writer's, or a re-sent span's other copy) are read by id
// within the range of their ingested_ns, which src is partitioned by, so
// that only the parts written in that range are read (for a gateway's half
// of a transaction, the terminal's half stored moments before).
// Transactions the caller knows nothing of, any whose count of the caller's
// own stamp differs from what it stored (a copy merged away, or a writer
// that used the same ingested_ns), and any with more rows of a stamp read
// than listed, are read whole; fewer read than listed were merged away, and
// their replacements stand for them (withForeign). Either way the facts are
// the rows stored. It also reports how many transactions took only known
// facts.
func (a *Assembler) readFacts(ctx context.Context, txnIDs []string, known knownFacts, src factSource) (map[string][]domain.Fact, int, error) {
	candidates, rest := known.split(txnIDs, true)
	byTxn := make(map[string][]domain.Fact, len(txnIDs))
	fromMemory := 0
	var listed map[string][]stampCount
	if len(candidates) > 0 {
		listed = known.listed
		if listed == nil {
			var err error
			if listed, err = a.factStamps(ctx, candidates, src); err != nil {
				return nil, 0, err
			}
		}
		var partial []foreignRange
		var mine []uint64
		for _, id := range candidates {
			fr, stored, ok := known.judge(id, listed, &mine)
			if !stored {
				continue // none of its rows is stored (visible) yet
			}
			switch {
			case !ok:
				rest = append(rest, id)
			case fr.n > 0:
				partial = append(partial, fr)
			default:
				byTxn[id] = known.facts(id, 0)
				fromMemory++
			}
		}
		if len(partial) > 0 {
			if a.afterList != nil {
				a.afterList()
			}
			var read []Known
			for _, g := range byRecency(partial) {
				more, err := a.queryFacts(ctx, src, g.n, txnSet(g.ids), "txn_id IN sw_txn_ids AND ingested_ns >= ? AND ingested_ns <= ?", g.lo, g.hi)
				if err != nil {
					return nil, 0, err
				}
				if read == nil {
					read = more
				} else {
					read = append(read, more...)
				}
			}
			found := newKnownFacts(KnownFacts(read))
			for _, fr := range partial {
				facts, ok := known.withForeign(fr, found)
				if !ok {
					rest = append(rest, fr.id)
					continue
				}
				byTxn[fr.id] = facts
			}
		}
	}
	if len(rest) > 0 {
		more, err := a.queryFacts(ctx, src, expectedRows(rest, listed), txnSet(rest), "txn_id IN sw_txn_ids")
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

// factsPerTxn is about how many facts a transaction has (a sale's terminal
// and gateway spans, a settlement), for sizing a read of transactions that
// were not listed.
const factsPerTxn = 6

// expectedRows is about how many rows reading ids whole returns: their
// listed counts where listed, factsPerTxn each otherwise, and at most
// 2×factsPerTxn each (the counts keep rows the facts table has since
// merged away, and each row held is 448 bytes). The rows are large structs;
// a slice sized by the number of transactions grew a dozen times a read
// when a client sent stored transactions again, and the copies were a
// quarter of the collector's CPU (docs/benchmarks.md, "Stored transactions
// sent again").
func expectedRows(ids []string, listed map[string][]stampCount) int {
	n := 0
	for _, id := range ids {
		k := uint64(factsPerTxn)
		if stamps, ok := listed[id]; ok {
			k = 0
			for _, s := range stamps {
				k += s.n
			}
		}
		n += int(min(k, 2*factsPerTxn))
	}
	return n
}

// fromMemory reports whether readFacts takes txnID's facts from the
// caller's alone, as far as the counts listed for the whole call tell (buf:
// scratch space for the caller's stamps).
func (k knownFacts) fromMemory(txnID string, buf *[]uint64) bool {
	if k.listed == nil || !k.has(txnID) {
		return false
	}
	fr, stored, ok := k.judge(txnID, k.listed, buf)
	return !stored || (ok && fr.n == 0) // nothing stored visible yet: not read either
}

// judge compares the listed counts of txnID, which the caller holds facts
// of, with those facts (foreignStamps; buf: scratch space for their
// stamps). stored is false when none of its rows is listed.
func (k knownFacts) judge(txnID string, listed map[string][]stampCount, buf *[]uint64) (fr foreignRange, stored, ok bool) {
	stamps := listed[txnID]
	if len(stamps) == 0 {
		return foreignRange{}, false, false
	}
	*buf = k.stamps((*buf)[:0], txnID)
	fr, ok = foreignStamps(txnID, *buf, stamps)
	return fr, true, ok
}

// foreignStamps compares a transaction's stored rows, counted by
// ingested_ns, with the caller's facts of it (mine: their ingested_ns). It
// reports false when a stamp of the caller's has another count stored than
// the caller wrote (read the transaction whole); else the range and count of
// the rows of other stamps (none: every row is the caller's).
func foreignStamps(id string, mine []uint64, stamps []stampCount) (foreignRange, bool) {
	fr := foreignRange{id: id}
	matched := 0
	for _, s := range stamps {
		k := 0
		for _, m := range mine {
			if m == s.ingested {
				k++
			}
		}
		switch {
		case k == 0:
			fr.lo, fr.hi = minNonZero(fr.lo, s.ingested), max(fr.hi, s.ingested)
			fr.n += int(s.n)
			fr.foreign = append(fr.foreign, s)
		case uint64(k) != s.n:
			return fr, false
		default:
			matched += k
		}
	}
	// A stamp of the caller's that is not stored at all.
	return fr, matched == len(mine)
}

// facts returns the caller's facts of txnID in a slice of at least
// capacity.
func (k knownFacts) facts(txnID string, capacity int) []domain.Fact {
	mine := k.byTxn[txnID]
	out := make([]domain.Fact, 0, max(capacity, len(mine)))
	for _, i := range mine {
		out = append(out, k.src.Fact(int(i)))
	}
	return out
}

// withForeign returns the caller's facts of fr.id with the other rows read
// of it (read: its rows stored within fr's range of stamps), or false when a
// listed stamp has more rows read than listed (read the transaction whole).
//
// A listed row may be missing from read: payment_facts_by_arrival is a
// ReplacingMergeTree by (txn_id, trace_id, span_id) with ingested_ns as its
// version, so a row vanishes only when a merge replaces it with a row of the
// same key and a stamp at least as high. That row is the caller's (held
// here), another listed row (in read), or one another writer stored after
// the listing. That writer assembles the transaction after storing it, from
// every row, the caller's included; its row then counts more facts than one
// written here without that fact, so its version wins whichever is written
// last (Version). So the transaction ends up classified from every fact
// without being read whole here. A client sending stored transactions again
// leaves counts of rows merged away since, and each such transaction used to
// be read twice: ranged, then whole (docs/benchmarks.md, "Stored
// transactions sent again").
func (k knownFacts) withForeign(fr foreignRange, read knownFacts) ([]domain.Fact, bool) {
	rows := read.byTxn[fr.id]
	for _, s := range fr.foreign {
		got := uint64(0)
		for _, i := range rows {
			if read.src.IngestedNs(int(i)) == s.ingested {
				got++
			}
		}
		if got > s.n {
			return nil, false
		}
	}
	out := k.facts(fr.id, len(k.byTxn[fr.id])+len(rows))
	// A row read back of a stamp of the caller's is one it holds already.
	mine := k.stamps(make([]uint64, 0, 8), fr.id)
	for _, i := range rows {
		if !slices.Contains(mine, read.src.IngestedNs(int(i))) {
			out = append(out, read.src.Fact(int(i)))
		}
	}
	return out, true
}

// foreignRange is the range of ingested_ns of a transaction's rows the
// caller did not write.
type foreignRange struct {
	id      string
	lo, hi  uint64
	n       int          // how many rows
	foreign []stampCount // the stamps, none of them the caller's
}

// freshSpan separates the rows stored moments before (the other half of a
// transaction sent in two requests: many transactions, a narrow range) from
// older ones (a settlement a day after its sale: few transactions, a wide
// range). Read together, the wide range would take in every part written
// since, for all of the many ids.
const freshSpan = uint64(time.Hour)

// rangeGroup is one ranged read: ids and the range of their rows' stamps.
type rangeGroup struct {
	ids    []string
	lo, hi uint64
	n      int // how many rows, about
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
		g.n += r.n
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

// factStamps counts the stored rows of txnIDs by transaction and
// ingested_ns. The recent facts are counted already, in about a row per
// transaction (chschema.RecentFactCounts), keyed by a 64-bit hash of the
// id: the ids of a batch touch every granule of the recent days, so the
// listing costs the rows those days hold, five times fewer there than
// facts, and a hash costs the server half of what the id did to read and
// test (docs/benchmarks.md, "Recent fact counts", "Counts by transaction
// hash"). Any other source is counted here, two columns of every granule
// the ids touch: listing each row's key (trace and span ids too) read twice
// the bytes and sent five times the rows ("The listing by stamp"). A
// database not yet migrated to the counts (a collector that may not run
// DDL, upgraded before `settlewatch migrate`) has its facts counted instead.
func (a *Assembler) factStamps(ctx context.Context, txnIDs []string, src factSource) (map[string][]stampCount, error) {
	if src == recentFacts && a.countsUsable() {
		// The same days as the facts read: the counts of older ones wait
		// for PruneRecentFactCounts, and their parts are not read.
		out, err := a.listHashStamps(ctx, txnIDs)
		if !a.countsMissing(err) {
			return out, err
		}
	}
	where, args := a.scoped(src, "txn_id IN sw_txn_ids", nil)
	rows, done, err := a.query(ctx, "SELECT txn_id, ingested_ns, count() FROM "+a.facts()+
		" WHERE "+where+" GROUP BY txn_id, ingested_ns", []idSet{txnSet(txnIDs)}, args...)
	if err != nil {
		return nil, wrap("list facts", err)
	}
	defer done()
	list := newStampList(len(txnIDs))
	return list.out, scanStamps(rows, list.add)
}

// listKnown lists the recent counts of the transactions among txnIDs that
// known holds facts of, in one query for a call's chunks together: a
// batch of 100k spans is four chunks, and each listing reads every granule
// of the recent days' counts (docs/benchmarks.md, "One listing per batch").
// The hashes of a batch's transactions are a small set (8 bytes each). It
// returns nil, for each chunk to list its own, when the counts are missing
// (factStamps then lists the facts, whose ids a chunk bounds, without trying
// the counts again).
func (a *Assembler) listKnown(ctx context.Context, txnIDs []string, known knownFacts) (map[string][]stampCount, error) {
	if known.src == nil || !a.countsUsable() {
		return nil, nil
	}
	candidates, _ := known.split(txnIDs, false)
	if len(candidates) == 0 {
		return nil, nil
	}
	out, err := a.listHashStamps(ctx, candidates)
	if a.countsMissing(err) {
		return nil, nil
	}
	return out, err
}

// countsUsable reports whether the counts are listed: not within a minute
// of finding them missing (countsMissing).
func (a *Assembler) countsUsable() bool { return a.countsMissingUntil.Load() < a.now().UnixNano() }

// countsMissing reports whether err says the counts table is missing, and
// if so lists the facts instead for a minute (factStamps) and says why.
func (a *Assembler) countsMissing(err error) bool {
	if !chconn.IsCode(err, chconn.CodeUnknownTable) {
		return false
	}
	a.countsMissingUntil.Store(a.now().Add(time.Minute).UnixNano())
	a.logger().Warn("recent_fact_counts_by_hash is missing: listing the facts instead, which costs more; run settlewatch migrate", "error", err)
	return true
}

// listHashStamps lists the recent counts of txnIDs by their hash. Every id
// of a hash gets its counts: two ids of one hash in a batch (or one outside
// it) show more rows, or stamps of another writer's, than the caller
// stored, which sends the transaction to be read by its id (readFacts), so
// a collision costs a read, never a wrong transaction.
func (a *Assembler) listHashStamps(ctx context.Context, txnIDs []string) (map[string][]stampCount, error) {
	hashes := make([]uint64, len(txnIDs))
	idOf := make(map[uint64]string, len(txnIDs))
	var shared map[uint64][]string // the other ids of a hash two ids share
	hash := chschema.TxnHash
	if a.txnHash != nil {
		hash = a.txnHash
	}
	for i, id := range txnIDs {
		h := hash(id)
		hashes[i] = h
		if _, taken := idOf[h]; !taken {
			idOf[h] = id
			continue
		}
		if shared == nil {
			shared = map[uint64][]string{}
		}
		shared[h] = append(shared[h], id)
	}
	where, args := a.scoped(recentFacts, "txn_hash IN sw_txn_hashes", nil)
	rows, done, err := a.query(ctx, "SELECT txn_hash, ingested_ns, sum(facts) FROM "+a.table(chschema.RecentFactCounts.Name)+
		" WHERE "+where+" GROUP BY txn_hash, ingested_ns", []idSet{txnHashSet(hashes)}, args...)
	if err != nil {
		return nil, wrap("list fact counts", err)
	}
	defer done()
	list := newStampList(len(txnIDs))
	return list.out, scanStamps(rows, func(h uint64, sc stampCount) {
		list.add(idOf[h], sc)
		for _, id := range shared[h] {
			list.add(id, sc)
		}
	})
}

// scanStamps reads a listing's rows (key, ingested_ns, count) into add.
func scanStamps[K any](rows driver.Rows, add func(K, stampCount)) error {
	for rows.Next() {
		var k K
		var sc stampCount
		if err := rows.Scan(&k, &sc.ingested, &sc.n); err != nil {
			return wrap("scan fact stamps", err)
		}
		add(k, sc)
	}
	return rows.Err()
}

// stampList collects listed stamps by transaction, with one backing array
// and a slot per transaction: most have one stamp, and appending per
// transaction grew thousands of small slices a batch.
type stampList struct {
	backing []stampCount
	out     map[string][]stampCount
}

func newStampList(txns int) *stampList {
	return &stampList{backing: make([]stampCount, txns), out: make(map[string][]stampCount, txns)}
}

func (l *stampList) add(id string, sc stampCount) {
	ss, ok := l.out[id]
	if !ok && len(l.backing) > 0 {
		ss, l.backing = l.backing[:0:1], l.backing[1:]
	}
	l.out[id] = append(ss, sc)
}
