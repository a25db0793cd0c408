// Package assembly keeps one current row per transaction in the transactions
// table. It reads every fact stored for the transactions it is asked about,
// classifies them with the domain rules and writes a row whose version grows
// with what was seen, so the newest complete view wins in the
// ReplacingMergeTree whatever order spans arrived in and whichever collector
// replica wrote them (see ARCHITECTURE.md).
package assembly

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// Keys are what an ingest batch touched.
type Keys struct {
	// TxnIDs whose facts changed.
	TxnIDs []string
	// TraceIDs (raw 16 bytes) of failed spans that carried no pos.txn.id; the
	// transactions of those traces are looked up.
	TraceIDs []string
	// Batches closed: their unsettled transactions may get a better cause.
	// Every transaction of these batches is rebuilt (see txnsOfBatches).
	Batches []BatchKey
	// Rebuild are transactions to rebuild from all their facts, as the
	// transactions of TraceIDs and Batches are. AssembleInPieces moves those
	// here once it has found them, so that its next call does not look for
	// them again.
	Rebuild []string
	// Stored, optional, are the facts the caller has just stored: a
	// transaction whose stored rows are all among them is not read back
	// whole (readFacts).
	Stored Stored
}

// Empty reports whether there is nothing to assemble.
func (k Keys) Empty() bool {
	return len(k.TxnIDs) == 0 && len(k.TraceIDs) == 0 && len(k.Batches) == 0 && len(k.Rebuild) == 0
}

// BatchKey names one terminal's batch, with the close time to bound the search.
type BatchKey struct {
	TerminalID, BatchNumber string
	CloseNs                 uint64
}

// Assembler classifies transactions and writes their rows.
type Assembler struct {
	Conn  driver.Conn
	DB    string
	Rules *domain.Rules
	// Window is the settlement window (zero: the contract's 36 h).
	Window time.Duration
	// Now is the clock for the settlement window (nil: time.Now).
	Now func() time.Time
	// QueryTimeout bounds each query, paired with max_execution_time.
	QueryTimeout time.Duration
	// ChunkSize caps how many ids go into one IN list.
	ChunkSize int
	Log       *slog.Logger

	// flushAt, in tests, replaces flushRows.
	flushAt int
	// afterRead, in tests, runs between reading a chunk and writing its rows
	// so that another writer can be interleaved there deterministically.
	afterRead func()
	// afterList, in tests, runs between listing the stored rows and reading
	// the ones the caller did not write.
	afterList func()
	// txnHash, in tests, replaces chschema.TxnHash: no two real ids are
	// known to share a cityHash64, so a test makes two share one.
	txnHash func(string) uint64
	// countsMissingUntil (unix ns): until then the listing counts the facts
	// themselves, recent_fact_counts_by_hash having been missing.
	countsMissingUntil atomic.Int64
}

// Result counts what one call did.
type Result struct {
	Transactions int
	ByOutcome    map[domain.Outcome]int
	// FromMemory counts the transactions classified from Keys.Stored
	// without reading their facts back whole.
	FromMemory int
}

func (a *Assembler) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Assembler) window() time.Duration {
	if a.Window > 0 {
		return a.Window
	}
	return domain.DefaultSettlementWindow
}

func (a *Assembler) flushRows() int {
	if a.flushAt > 0 {
		return a.flushAt
	}
	return flushRows
}

// defaultChunk is how many transactions are read and classified at a time;
// their facts are held until then. The rows of every chunk of one call are
// written together (txnRows), so the chunk no longer sets the parts the
// server merges.
const defaultChunk = 5000

func (a *Assembler) chunk() int {
	if a.ChunkSize > 0 {
		return a.ChunkSize
	}
	return defaultChunk
}

// Transaction ids are the client's, up to the exporter's max_value_bytes.
// A chunk holds at most chunkBytes of ids, so that one query's id set (an
// external table, sets.go) stays bounded. Queries may be up to
// maxQueryBytes long: ids no longer go into their text, but a single id
// bound as a value can still be long, and ClickHouse's default of 256 KiB
// refused a query for its size on every retry of the batch when lists of
// ids were literals.
const (
	chunkBytes    = 8 << 20
	maxQueryBytes = 64 << 20
)

func (a *Assembler) queryCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	t := a.QueryTimeout
	if t <= 0 {
		t = 30 * time.Second
	}
	return chconn.WithQuerySettings(ctx, t, chconn.IntSetting("max_query_size", maxQueryBytes))
}

// chunks splits ids into runs of at most a.chunk() ids and chunkBytes bytes.
func (a *Assembler) chunks(ids []string) [][]string {
	var out [][]string
	start, size := 0, 0
	for i, id := range ids {
		if i > start && (i-start == a.chunk() || size+len(id) > chunkBytes) {
			out = append(out, ids[start:i])
			start, size = i, 0
		}
		size += len(id)
	}
	if start < len(ids) {
		out = append(out, ids[start:])
	}
	return out
}

// factSource is which facts assembly reads: at ingest, those that arrived
// in the last days (chschema.RecentCutoff), so that the read costs what those
// days hold (chschema.PaymentFacts is partitioned by arrival day);
// otherwise all of them.
type factSource bool

const (
	recentFacts factSource = true
	allFacts    factSource = false
)

// scoped returns where, and its args, limited to src's facts.
func (a *Assembler) scoped(src factSource, where string, args []any) (string, []any) {
	if src != recentFacts {
		return where, args
	}
	cut := uint64(chschema.RecentCutoff(a.now()).UnixNano())
	return "ingested_ns >= ? AND " + where, append([]any{cut}, args...)
}

// Assemble rebuilds every transaction that keys touch. It is the ingest path:
// the transactions named by TxnIDs are classified from their recent facts
// (chschema.RecentCutoff); one that also has older facts gets a row that
// usually counts fewer facts than its complete one, which then keeps
// winning (ARCHITECTURE.md, known trade-offs), and Reconcile rebuilds it
// from all its facts. Transactions found through traces or
// batch closes may be old (a batch closed days late), so they are read from
// all facts, as are those of keys.Rebuild.
func (a *Assembler) Assemble(ctx context.Context, keys Keys) (Result, error) {
	rebuild, err := a.txnsOf(ctx, keys.TraceIDs, keys.Batches)
	if err != nil {
		return Result{}, err
	}
	found := make(map[string]bool, len(rebuild)+len(keys.Rebuild))
	for _, id := range append(rebuild, keys.Rebuild...) {
		found[id] = true
	}
	recent := make([]string, 0, len(keys.TxnIDs))
	seen := make(map[string]bool, len(keys.TxnIDs))
	for _, id := range keys.TxnIDs {
		if !found[id] && !seen[id] {
			seen[id] = true
			recent = append(recent, id)
		}
	}
	res, err := a.assemble(ctx, recent, newKnownFacts(keys.Stored), recentFacts)
	if err != nil || len(found) == 0 {
		return res, err
	}
	rest := make([]string, 0, len(found))
	for id := range found {
		rest = append(rest, id)
	}
	more, err := a.AssembleTxns(ctx, rest)
	return merge(res, more), err
}

// AssembleInPieces is Assemble for a caller that retries after a failure.
// It assembles keys' transactions a chunk at a time, each chunk's rows
// written before the next is read, then the transactions of keys' traces
// and batches. It removes from keys what it has written, so a call after a
// failure goes on from there. A batch whose transactions must mostly be read
// back, as when a client sends again what is stored, can take longer than
// a caller's deadline; retried whole it would fail the same way every time.
// It writes a part per chunk where Assemble writes one per call, so callers
// use it once Assemble has failed.
func (a *Assembler) AssembleInPieces(ctx context.Context, keys *Keys) (Result, error) {
	res := Result{ByOutcome: map[domain.Outcome]int{}}
	// Each piece is then a stretch of distinct ids (readOrder); sorted
	// once, the list stays sorted as pieces are cut off it.
	keys.TxnIDs = sortedDistinct(keys.TxnIDs)
	stored := keys.Stored
	err := a.inPieces(&res, &keys.TxnIDs, func(ids []string) (Result, error) {
		return a.Assemble(ctx, Keys{TxnIDs: ids, Stored: stored})
	})
	if err != nil {
		return res, err
	}
	// A batch close names every transaction of its batch, and a replay of
	// closes can name most of the history: they are found once, then
	// rebuilt a chunk at a time like the rest.
	found, err := a.txnsOf(ctx, keys.TraceIDs, keys.Batches)
	if err != nil {
		return res, err
	}
	keys.Rebuild = sortedDistinct(append(keys.Rebuild, found...))
	keys.TraceIDs, keys.Batches = nil, nil
	return res, a.inPieces(&res, &keys.Rebuild, func(ids []string) (Result, error) { return a.AssembleTxns(ctx, ids) })
}

// inPieces runs do on *ids a chunk at a time, adding each result into res
// and cutting each chunk off *ids once done, until *ids is empty or do fails.
func (a *Assembler) inPieces(res *Result, ids *[]string, do func([]string) (Result, error)) error {
	for len(*ids) > 0 {
		n := min(a.chunk(), len(*ids))
		r, err := do((*ids)[:n])
		*res = merge(*res, r)
		if err != nil {
			return err
		}
		*ids = (*ids)[n:]
	}
	return nil
}

// txnsOf returns, each once, the transactions of the given traces (of
// failed spans without pos.txn.id) and closed batches.
func (a *Assembler) txnsOf(ctx context.Context, traceIDs []string, batches []BatchKey) ([]string, error) {
	var out []string
	if len(traceIDs) > 0 {
		ids, err := a.txnsOfTraces(ctx, traceIDs)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	if len(batches) > 0 {
		ids, err := a.txnsOfBatches(ctx, batches)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return sortedDistinct(out), nil
}

// readOrder orders ids of more than one chunk for reading: the ids whose
// facts are read back first, sorted, so that each chunk of them is a
// stretch of the facts' sort key (txn_id first) and its reads by id touch
// that stretch's granules only, where ids in arrival order touch nearly
// every granule of the parts read in every chunk; then, in arrival order,
// those taken from the caller's facts alone (known.fromMemory), for which
// nothing is read. When none is read back, as for whole transactions at
// ingest, ids is returned as it is, without a copy. The caller's slice is
// not reordered.
func readOrder(ids []string, known knownFacts, chunk int) []string {
	if len(ids) <= chunk {
		return ids
	}
	var buf []uint64
	first := slices.IndexFunc(ids, func(id string) bool { return !known.fromMemory(id, &buf) })
	if first < 0 {
		return ids // every id from memory: nothing read back
	}
	read := append(make([]string, 0, len(ids)), ids[first])
	memory := slices.Clone(ids[:first])
	for _, id := range ids[first+1:] {
		if known.fromMemory(id, &buf) {
			memory = append(memory, id)
		} else {
			read = append(read, id)
		}
	}
	slices.Sort(read)
	return append(read, memory...)
}

// sortedDistinct sorts ids in place and drops repeats.
func sortedDistinct(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// AssembleTxns rebuilds the given transactions from all their facts, in chunks.
func (a *Assembler) AssembleTxns(ctx context.Context, txnIDs []string) (Result, error) {
	return a.assemble(ctx, txnIDs, knownFacts{}, allFacts)
}

func (a *Assembler) assemble(ctx context.Context, txnIDs []string, known knownFacts, src factSource) (Result, error) {
	res := Result{ByOutcome: map[domain.Outcome]int{}}
	if src == recentFacts {
		listed, err := a.listKnown(ctx, txnIDs, known)
		if err != nil {
			return res, err
		}
		known.listed = listed
	}
	rows := newTxnRows(len(txnIDs))
	done := 0
	for _, chunk := range a.chunks(readOrder(txnIDs, known, a.chunk())) {
		if err := a.assembleChunk(ctx, chunk, known, src, &res, rows); err != nil {
			return res, err
		}
		done += len(chunk)
		if rows.len() >= a.flushRows() {
			if err := a.flush(ctx, rows, &res); err != nil {
				return res, err
			}
			rows = newTxnRows(len(txnIDs) - done)
		}
	}
	return res, a.flush(ctx, rows, &res)
}

// assembleChunk classifies a chunk's transactions and adds their rows.
func (a *Assembler) assembleChunk(ctx context.Context, txnIDs []string, known knownFacts, src factSource, res *Result, rows *txnRows) error {
	byTxn, traceOwner, fromMemory, err := a.loadFacts(ctx, txnIDs, known, src)
	if err != nil {
		return err
	}
	res.FromMemory += fromMemory
	if err := a.addTracelessFailures(ctx, byTxn, traceOwner, src); err != nil {
		return err
	}
	asOf := a.now()
	txns := make([]domain.Transaction, 0, len(byTxn))
	inputs := make([]domain.Input, 0, len(byTxn))
	for _, facts := range byTxn {
		// The facts are this chunk's own copies: sorted here, in place,
		// Classify reads them without copying them again.
		in := domain.Input{Facts: domain.SortFacts(facts), AsOf: asOf, Window: a.window()}
		inputs = append(inputs, in)
		txns = append(txns, a.Rules.Classify(in))
	}
	if err := a.refine(ctx, inputs, txns); err != nil {
		return err
	}
	if a.afterRead != nil {
		a.afterRead()
	}
	rows.add(a.Rules, a.now().UTC().Truncate(time.Second), inputs, txns)
	return nil
}

// refine re-classifies the transactions that need more than their own facts:
// failures whose parent chain runs through spans that were not facts, and
// unsettled ones whose batch close may say why.
func (a *Assembler) refine(ctx context.Context, inputs []domain.Input, txns []domain.Transaction) error {
	var needLinks, needBatches []int
	for i, t := range txns {
		if t.Outcome == domain.OutcomeFailed && brokenChain(inputs[i].Facts) {
			needLinks = append(needLinks, i)
		}
		if t.Outcome == domain.OutcomeUnsettled && t.Dims.TerminalID != "" && t.Dims.BatchNumber != "" {
			needBatches = append(needBatches, i)
		}
	}
	if len(needLinks) > 0 {
		traces := make([]string, 0, len(needLinks))
		for _, i := range needLinks {
			traces = append(traces, txns[i].TraceID)
		}
		links, err := a.loadLinks(ctx, traces)
		if err != nil {
			return err
		}
		for _, i := range needLinks {
			inputs[i].Links = links[txns[i].TraceID]
			txns[i] = a.Rules.Classify(inputs[i])
		}
	}
	if len(needBatches) > 0 {
		keys := make([]BatchKey, 0, len(needBatches))
		for _, i := range needBatches {
			keys = append(keys, BatchKey{TerminalID: txns[i].Dims.TerminalID, BatchNumber: txns[i].Dims.BatchNumber})
		}
		closes, err := a.loadBatchCloses(ctx, keys)
		if err != nil {
			return err
		}
		for _, i := range needBatches {
			inputs[i].Batches = closes[[2]string{txns[i].Dims.TerminalID, txns[i].Dims.BatchNumber}]
			txns[i] = a.Rules.Classify(inputs[i])
		}
	}
	return nil
}

// brokenChain reports whether some failed fact's parent is not among the
// facts of its trace (so depth needs the spans table).
func brokenChain(facts []domain.Fact) bool {
	have := make(map[string]bool, len(facts))
	for i := range facts {
		have[facts[i].TraceID+facts[i].SpanID] = true
	}
	for i := range facts {
		f := &facts[i]
		if (f.Status == domain.StatusError || f.ErrorType != "") && f.ParentSpanID != "" && !have[f.TraceID+f.ParentSpanID] {
			return true
		}
	}
	return false
}

// Version orders the rows of one transaction. From the most significant bits:
// rules revision, facts seen, batch closes seen, settlement window passed.
// Every input only grows, so the most complete view is the newest. Facts rank
// above batch closes because batch closes are only read for unsettled
// transactions: a settlement fact arriving later must beat an unsettled row
// that had read a batch close.
func Version(rulesRevision uint32, in domain.Input, t domain.Transaction) uint64 {
	facts := min(uint64(t.SpanCount), 1<<19-1)
	batches := min(uint64(len(in.Batches)), 1<<11-1)
	v := uint64(rulesRevision)<<32 | facts<<12 | batches<<1
	if t.WindowPassed {
		v |= 1
	}
	return v
}

func wrap(what string, err error) error { return fmt.Errorf("assembly: %s: %w", what, err) }

// logger is Log, or the process's default logger.
func (a *Assembler) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}
