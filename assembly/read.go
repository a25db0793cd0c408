package assembly

import (
	"context"
	"strings"
	"time"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// Every query binds its values; sets of ids go beside it as external
// tables (sets.go).

const factColumns = `txn_id, trace_id, span_id, parent_span_id, name, service_name, start_ns, duration_ns,
	status_code, error_type, response_code, response_source, txn_type, amount_minor, amount_ok, currency,
	terminal_id, terminal_model, merchant_id, region, gateway_id, acquirer_id, issuer_id, card_scheme,
	card_funding, entry_mode, card_bin, batch_number, settlement_status, settlement_date, ingested_ns`

// zeroID maps the all-zero FixedString of an absent id back to "".
func zeroID(s string) string {
	if strings.Trim(s, "\x00") == "" {
		return ""
	}
	return s
}

func statusFromEnum(s string) domain.SpanStatus {
	switch s {
	case "ok":
		return domain.StatusOK
	case "error":
		return domain.StatusError
	}
	return domain.StatusUnset
}

// queryFacts reads the facts of src's rows matching where, each with its
// ingested_ns (the row's version: which copy of a span it is).
// expect, if known, is about how many rows match: a Known is large, and
// growing the slice copied the rows read again and again.
func (a *Assembler) queryFacts(ctx context.Context, src factSource, expect int, set idSet, where string, args ...any) ([]Known, error) {
	where, args = a.scoped(src, where, args)
	rows, done, err := a.query(ctx, "SELECT "+factColumns+" FROM "+a.facts()+" WHERE "+where, []idSet{set}, args...)
	if err != nil {
		return nil, wrap("read facts", err)
	}
	defer done()
	out := make([]Known, 0, expect)
	for rows.Next() {
		var f domain.Fact
		var startNs, durNs, ingested uint64
		var status string
		var amountOK uint8
		d := &f.Dims
		if err := rows.Scan(&f.TxnID, &f.TraceID, &f.SpanID, &f.ParentSpanID, &f.Name, &f.Service, &startNs, &durNs,
			&status, &f.ErrorType, &f.ResponseCode, &f.ResponseSource, &f.TxnType, &f.AmountMinor, &amountOK, &f.Currency,
			&d.TerminalID, &d.TerminalModel, &d.MerchantID, &d.Region, &d.GatewayID, &d.AcquirerID, &d.IssuerID, &d.CardScheme,
			&d.CardFunding, &d.EntryMode, &d.CardBIN, &d.BatchNumber, &f.SettlementStatus, &f.SettlementDate, &ingested); err != nil {
			return nil, wrap("scan facts", err)
		}
		out = append(out, Known{Fact: StoredFact(f, status, amountOK, startNs, durNs), IngestedNs: ingested})
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("read facts", err)
	}
	return out, nil
}

// StoredFact is the fact of a payment_facts row from the values of its
// columns (the status enum's name, amount_ok, the nanosecond times): what
// reading the row back gives, whether it was read or just written.
func StoredFact(f domain.Fact, status string, amountOK uint8, startNs, durNs uint64) domain.Fact {
	f.TraceID, f.SpanID = fixed(f.TraceID, 16), fixed(f.SpanID, 8)
	if f.ParentSpanID != "" { // a root span's: no padding to make and trim again
		f.ParentSpanID = zeroID(fixed(f.ParentSpanID, 8))
	}
	f.StartNs, f.DurationNs = int64(startNs), int64(durNs)
	f.Status = statusFromEnum(status)
	f.Amount = domain.AmountState(amountOK)
	return f
}

// fixed is s as a FixedString(n) column gives it back: padded with zero bytes.
func fixed(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat("\x00", n-len(s))
}

// loadFacts reads the facts of txnIDs, grouped by transaction, and notes
// which transaction owns each of their traces.
func (a *Assembler) loadFacts(ctx context.Context, txnIDs []string, known knownFacts, src factSource) (map[string][]domain.Fact, map[string]string, int, error) {
	byTxn, fromMemory, err := a.readFacts(ctx, txnIDs, known, src)
	if err != nil {
		return nil, nil, 0, err
	}
	// In the order asked, so that a trace several transactions share goes
	// to the same one every time when none has its root span here.
	owner := map[string]string{}
	for _, id := range txnIDs {
		for i := range byTxn[id] {
			f := &byTxn[id][i]
			if f.Name == domain.SpanTransaction || owner[f.TraceID] == "" {
				owner[f.TraceID] = f.TxnID
			}
		}
	}
	return byTxn, owner, fromMemory, nil
}

// addTracelessFailures adds the failed spans that carried no pos.txn.id but
// sit in a trace of one of the transactions (e.g. a gateway's database span).
func (a *Assembler) addTracelessFailures(ctx context.Context, byTxn map[string][]domain.Fact, owner map[string]string, src factSource) error {
	if len(owner) == 0 {
		return nil
	}
	traces := make([]string, 0, len(owner))
	for t := range owner {
		traces = append(traces, t)
	}
	facts, err := a.queryFacts(ctx, src, 0, traceSet(traces), "txn_id = '' AND trace_id IN sw_trace_ids")
	if err != nil {
		return err
	}
	for _, k := range facts {
		f := k.Fact
		if id := owner[f.TraceID]; id != "" {
			f.TxnID = id
			byTxn[id] = append(byTxn[id], f)
		}
	}
	return nil
}

// txnsOfTraces finds the transactions of traces in spans, which is ordered
// by trace id: the facts hold the same pairs (every non-close span with a
// transaction id, stored in the same request and after its spans) but are
// ordered by txn_id, so asking them by trace id would read all of them
// (0.16-0.3 s at 10M transactions, for every request holding a failed span
// without one).
func (a *Assembler) txnsOfTraces(ctx context.Context, traceIDs []string) ([]string, error) {
	ids, err := a.selectIDs(ctx, "SELECT DISTINCT txn_id FROM "+a.table("spans")+" WHERE trace_id IN sw_trace_ids AND txn_id != '' AND name != ?",
		[]idSet{traceSet(traceIDs)}, domain.SpanBatchClose)
	if err != nil {
		return nil, wrap("look up transactions of traces", err)
	}
	return ids, nil
}

// txnsOfBatches finds the transactions of the closed batches, so that the
// unsettled ones among them get the close's cause. It looks in the facts, not
// in the transactions table: a writer that read the batch closes just before
// this close was stored may not have written its row yet, but it stored its
// facts before it read, so they are here (ARCHITECTURE.md, assembly). Every
// transaction of the batch is returned, whatever its current row says, for
// the same reason. A fact without a terminal id matches any terminal's batch
// of that number (the terminal may have been named on another span). The
// search is bounded to the week before the latest close so that it prunes
// partitions; a batch spans a business day.
func (a *Assembler) txnsOfBatches(ctx context.Context, batches []BatchKey) ([]string, error) {
	terms, nums := []string{""}, make([]string, 0, len(batches))
	want := map[[2]string]bool{}
	wantNum := map[string]bool{}
	var latest uint64
	for _, b := range batches {
		terms = append(terms, b.TerminalID)
		nums = append(nums, b.BatchNumber)
		want[[2]string{b.TerminalID, b.BatchNumber}] = true
		wantNum[b.BatchNumber] = true
		latest = max(latest, b.CloseNs)
	}
	from := time.Unix(0, int64(latest)).Add(-7 * 24 * time.Hour)
	rows, done, err := a.query(ctx, "SELECT DISTINCT txn_id, terminal_id, batch_number FROM "+a.facts()+
		" WHERE ingested_ns >= ? AND start_time >= toDateTime(?) AND batch_number IN sw_batch_numbers AND terminal_id IN sw_terminal_ids AND txn_id != ''",
		[]idSet{numSet(nums), termSet(terms)}, chschema.ArrivedSince(from), max(from.Unix(), 0))
	if err != nil {
		return nil, wrap("look up transactions of batches", err)
	}
	defer done()
	var out []string
	for rows.Next() {
		var id, term, num string
		if err := rows.Scan(&id, &term, &num); err != nil {
			return nil, wrap("scan transactions of batches", err)
		}
		if want[[2]string{term, num}] || (term == "" && wantNum[num]) {
			out = append(out, id)
		}
	}
	return out, rows.Err()
}

func (a *Assembler) loadLinks(ctx context.Context, traceIDs []string) (map[string][]domain.SpanLink, error) {
	rows, done, err := a.query(ctx, "SELECT trace_id, span_id, parent_span_id FROM "+a.table("spans")+" WHERE trace_id IN sw_trace_ids",
		[]idSet{traceSet(traceIDs)})
	if err != nil {
		return nil, wrap("read span links", err)
	}
	defer done()
	out := map[string][]domain.SpanLink{}
	for rows.Next() {
		var tr string
		var l domain.SpanLink
		if err := rows.Scan(&tr, &l.SpanID, &l.ParentSpanID); err != nil {
			return nil, wrap("scan span links", err)
		}
		l.ParentSpanID = zeroID(l.ParentSpanID)
		out[tr] = append(out[tr], l)
	}
	return out, rows.Err()
}

func (a *Assembler) loadBatchCloses(ctx context.Context, keys []BatchKey) (map[[2]string][]domain.BatchClose, error) {
	terms, nums := make([]string, 0, len(keys)), make([]string, 0, len(keys))
	for _, k := range keys {
		terms = append(terms, k.TerminalID)
		nums = append(nums, k.BatchNumber)
	}
	rows, done, err := a.query(ctx, "SELECT terminal_id, batch_number, span_id, close_ns, status_code, batch_result, error_type FROM "+
		a.table("batch_closes")+" WHERE terminal_id IN sw_terminal_ids AND batch_number IN sw_batch_numbers",
		[]idSet{termSet(terms), numSet(nums)})
	if err != nil {
		return nil, wrap("read batch closes", err)
	}
	defer done()
	out := map[[2]string][]domain.BatchClose{}
	seen := map[string]bool{} // a re-sent close is one close
	for rows.Next() {
		var b domain.BatchClose
		var closeNs uint64
		var status string
		if err := rows.Scan(&b.TerminalID, &b.BatchNumber, &b.SpanID, &closeNs, &status, &b.Result, &b.ErrorType); err != nil {
			return nil, wrap("scan batch closes", err)
		}
		b.CloseNs = int64(closeNs)
		b.Status = statusFromEnum(status)
		k := [2]string{b.TerminalID, b.BatchNumber}
		if !seen[k[0]+"\x00"+k[1]+"\x00"+b.SpanID] {
			seen[k[0]+"\x00"+k[1]+"\x00"+b.SpanID] = true
			out[k] = append(out[k], b)
		}
	}
	return out, rows.Err()
}

// table is the qualified name of one of our tables; db was validated when
// the settings were, and table names are constants of this package.
func (a *Assembler) table(name string) string { return "`" + a.DB + "`.`" + name + "`" }

// facts is the facts table.
func (a *Assembler) facts() string { return a.table(chschema.PaymentFacts.Name) }
