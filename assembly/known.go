package assembly

import (
	"context"

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

// knownFacts are the caller's facts by transaction and row.
type knownFacts map[string]map[factRow]domain.Fact

func newKnownFacts(ks []Known) knownFacts {
	if len(ks) == 0 {
		return nil
	}
	out := knownFacts{}
	for _, k := range ks {
		m := out[k.Fact.TxnID]
		if m == nil {
			m = map[factRow]domain.Fact{}
			out[k.Fact.TxnID] = m
		}
		m[factRow{k.Fact.TraceID, k.Fact.SpanID, k.IngestedNs}] = k.Fact
	}
	return out
}

// readFacts returns every stored fact of txnIDs, as reading them back does.
// The rows of the transactions the caller knows facts of are first listed by
// key and version only (three narrow columns instead of thirty: on a table
// of a month, reading a few thousand scattered transactions whole costs
// seconds, docs/benchmarks.md); a transaction whose rows are all known takes
// the known facts of exactly those rows. The others, and any transaction with
// a row the caller did not write (another writer's, or a re-sent span's
// older copy), are read whole. Either way the facts are the rows stored.
// It also reports how many transactions took known facts.
func (a *Assembler) readFacts(ctx context.Context, txnIDs []string, known knownFacts, src string) ([]domain.Fact, int, error) {
	var candidates, rest []string
	for _, id := range txnIDs {
		if known[id] != nil {
			candidates = append(candidates, id)
		} else {
			rest = append(rest, id)
		}
	}
	var out []domain.Fact
	fromMemory := 0
	if len(candidates) > 0 {
		rows, err := a.factRows(ctx, candidates, src)
		if err != nil {
			return nil, 0, err
		}
		for _, id := range candidates {
			facts, ok := known.cover(id, rows[id])
			if !ok {
				rest = append(rest, id)
				continue
			}
			if len(facts) > 0 {
				out = append(out, facts...)
				fromMemory++
			}
		}
	}
	if len(rest) > 0 {
		more, err := a.queryFacts(ctx, src, "txn_id IN ?", groupSet(rest))
		if err != nil {
			return nil, 0, err
		}
		out = append(out, more...)
	}
	return out, fromMemory, nil
}

// cover returns the known facts of rows, or false if a row is not known.
func (k knownFacts) cover(txnID string, rows []factRow) ([]domain.Fact, bool) {
	mine := k[txnID]
	out := make([]domain.Fact, 0, len(rows))
	for _, r := range rows {
		f, ok := mine[r]
		if !ok {
			return nil, false
		}
		out = append(out, f)
	}
	return out, true
}

// factRows lists the stored rows of txnIDs by key and version.
func (a *Assembler) factRows(ctx context.Context, txnIDs []string, src string) (map[string][]factRow, error) {
	qctx, cancel := a.queryCtx(ctx)
	defer cancel()
	rows, err := a.Conn.Query(qctx, "SELECT txn_id, trace_id, span_id, ingested_ns FROM "+a.table(src)+" WHERE txn_id IN ?", groupSet(txnIDs))
	if err != nil {
		return nil, wrap("list facts", err)
	}
	defer rows.Close()
	out := make(map[string][]factRow, len(txnIDs))
	for rows.Next() {
		var id string
		var r factRow
		if err := rows.Scan(&id, &r.trace, &r.span, &r.ingested); err != nil {
			return nil, wrap("scan fact rows", err)
		}
		out[id] = append(out[id], r)
	}
	return out, rows.Err()
}
