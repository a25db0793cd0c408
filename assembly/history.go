package assembly

import (
	"context"
	"time"

	"github.com/settlewatch/settlewatch/chschema"
)

// SweepSkew is how far behind the sweep's clock a writer's clock may be.
const SweepSkew = 6 * time.Hour

// Sweep re-assembles pending transactions whose settlement window has passed,
// so they become unsettled (with their batch close's cause) without waiting
// for another span.
//
// With since zero it reads every transaction up to the window's end (FINAL
// over all of transactions_by_time: seconds at 100M). A sweep that also ran
// at since (as of its own clock) or later passes since: only the hours whose
// sales' windows passed after since, less SweepSkew, are read. A
// sale still pending with an older time was written after that run by a
// writer whose clock was more than SweepSkew behind (ingest classifies with
// its own clock, so a sale whose window had passed is written unsettled,
// never pending).
func (a *Assembler) Sweep(ctx context.Context, since time.Time) (Result, error) {
	cutoff := max(a.now().Add(-a.window()).Unix(), 0)
	var from int64
	if !since.IsZero() {
		from = max(since.Add(-a.window()-SweepSkew).Truncate(time.Hour).Unix(), 0)
	}
	query := "SELECT txn_id FROM " + chschema.ByTimeSource(a.DB, "txn_hour >= toDateTime(?) AND txn_hour <= toDateTime(?)") +
		" WHERE outcome = 'pending' AND txn_time <= toDateTime(?)"
	args := []any{from, cutoff, cutoff}
	ids, err := a.selectIDs(ctx, query, nil, args...)
	if err != nil {
		return Result{}, wrap("find pending transactions past the window", err)
	}
	return a.AssembleTxns(ctx, ids)
}

// Reconcile rebuilds from all their facts the transactions that got facts
// since `since` and also have facts that arrived before the recent days
// (chschema.RecentCutoff): at ingest they were classified from their recent
// facts only (Assemble). They are rare (a fact arriving days after the rest
// of its transaction); the settlement sweep calls this every run.
//
// The older facts are looked for among those that started at most the
// settlement window and reconcileSlack before the earliest of the new ones
// (a late span keeps its start time; a settlement starts within the window
// after its sale), and so arrived after that too (a fact arrives after it
// starts; the slack covers a terminal's clock): the arrival days before that
// are not read, and with a year of history that is most of it.
func (a *Assembler) Reconcile(ctx context.Context, since time.Time) (Result, error) {
	sinceNs := uint64(max(since.UnixNano(), 0))
	var n uint64
	var earliest time.Time
	qctx, cancel := a.queryCtx(ctx)
	err := a.Conn.QueryRow(qctx, "SELECT count(), min(start_time) FROM "+a.facts()+" WHERE ingested_ns >= ? AND txn_id != ''", sinceNs).
		Scan(&n, &earliest)
	cancel()
	if err != nil {
		return Result{}, wrap("find the facts that arrived since the last run", err)
	}
	if n == 0 {
		return a.AssembleTxns(ctx, nil)
	}
	from := earliest.Add(-a.window() - reconcileSlack)
	cut := uint64(chschema.RecentCutoff(a.now()).UnixNano())
	// GLOBAL: in cluster mode the table is Distributed; with more than one
	// shard a plain IN over a Distributed subquery is refused by default
	// (distributed_product_mode = deny). GLOBAL builds the set once.
	ids, err := a.selectIDs(ctx, "SELECT DISTINCT txn_id FROM "+a.facts()+
		" WHERE ingested_ns < ? AND ingested_ns >= ? AND start_time >= toDateTime(?)"+
		" AND txn_id GLOBAL IN (SELECT txn_id FROM "+a.facts()+" WHERE ingested_ns >= ? AND txn_id != '')",
		nil, cut, chschema.ArrivedSince(from), max(from.Unix(), 0), sinceNs)
	if err != nil {
		return Result{}, wrap("find transactions with facts older than the recent days", err)
	}
	return a.AssembleTxns(ctx, ids)
}

// reconcileSlack is how much earlier than the settlement window allows a
// transaction's other facts may have started and still be found.
const reconcileSlack = 7 * 24 * time.Hour

// Reassemble re-classifies every transaction with a span in [from, to), for
// instance after the rules changed. progress, if set, is told after each chunk.
func (a *Assembler) Reassemble(ctx context.Context, from, to time.Time, progress func(done, total int)) (Result, error) {
	ids, err := a.selectIDs(ctx, "SELECT DISTINCT txn_id FROM "+a.facts()+
		" WHERE ingested_ns >= ? AND start_time >= toDateTime(?) AND start_time < toDateTime(?) AND txn_id != ''",
		nil, chschema.ArrivedSince(from), from.Unix(), to.Unix())
	if err != nil {
		return Result{}, wrap("find transactions in range", err)
	}
	total := Result{ByOutcome: nil}
	done := 0
	for _, chunk := range a.chunks(ids) {
		r, err := a.AssembleTxns(ctx, chunk)
		total = merge(total, r)
		if err != nil {
			return total, err
		}
		done += len(chunk)
		if progress != nil {
			progress(done, len(ids))
		}
	}
	return total, nil
}

func merge(a, b Result) Result {
	if a.ByOutcome == nil {
		a.ByOutcome = b.ByOutcome
		a.Transactions = b.Transactions
		a.FromMemory = b.FromMemory
		return a
	}
	a.Transactions += b.Transactions
	a.FromMemory += b.FromMemory
	for k, v := range b.ByOutcome {
		a.ByOutcome[k] += v
	}
	return a
}

func (a *Assembler) selectIDs(ctx context.Context, query string, sets []idSet, args ...any) ([]string, error) {
	rows, done, err := a.query(ctx, query, sets, args...)
	if err != nil {
		return nil, err
	}
	defer done()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
