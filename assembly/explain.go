package assembly

import (
	"context"
	"fmt"
	"time"

	"github.com/settlewatch/settlewatch/chschema"
)

// VersionParts is a transactions.version taken apart (see Version).
type VersionParts struct {
	Revision     uint32
	Facts        int
	Batches      int
	WindowPassed bool
}

// DecodeVersion takes a version written by Version apart.
func DecodeVersion(v uint64) VersionParts {
	return VersionParts{
		Revision:     uint32(v >> 32),
		Facts:        int(v >> 12 & (1<<20 - 1)),
		Batches:      int(v >> 1 & (1<<11 - 1)),
		WindowPassed: v&1 == 1,
	}
}

func (p VersionParts) String() string {
	return fmt.Sprintf("rev %d, %d facts, %d batch closes, window passed %t", p.Revision, p.Facts, p.Batches, p.WindowPassed)
}

// Explain describes what is stored for one transaction, one line each: every
// row written for it (not collapsed; by version, with its part and the
// version decoded), its facts, the failed spans without pos.txn.id in its
// traces, and the batch closes of its batch. It is how to tell which view
// won and what it had seen.
func (a *Assembler) Explain(ctx context.Context, txnID string) ([]string, error) {
	var out []string
	var terminal, batch string
	// Every version's row at its own hour, and its tombstones at the other
	// hours of its facts (chschema.TransactionsByTime).
	qctx, cancel := a.queryCtx(ctx)
	stored, err := chschema.ReadTxnFacts(qctx, a.Conn, a.DB, txnID)
	cancel()
	if err != nil {
		return out, wrap("explain", err)
	}
	hours := stored.Hours
	if len(hours) == 0 {
		return out, nil // no facts, so no row either
	}
	err = a.each(ctx, &out, "row", "SELECT _part, txn_hour, deleted, version, toString(outcome), toString(cause), cause_source, span_count, "+
		"terminal_id, batch_number, settlement_status, txn_time, assembled_at FROM "+a.table(chschema.TransactionsByTime.Name)+
		" WHERE "+chschema.AtHours+" AND txn_id = ? ORDER BY version, deleted, txn_hour, _part", []any{hours, txnID},
		func(scan func(...any) error) (string, error) {
			var part, outcome, cause, source, term, num, settle string
			var version uint64
			var deleted uint8
			var spans uint32
			var hour, txnTime, at time.Time
			if err := scan(&part, &hour, &deleted, &version, &outcome, &cause, &source, &spans, &term, &num, &settle, &txnTime, &at); err != nil {
				return "", err
			}
			if deleted == 1 {
				return fmt.Sprintf("part %s version %d: tombstone at hour %s", part, version, hour.UTC().Format(time.RFC3339)), nil
			}
			terminal, batch = term, num
			return fmt.Sprintf("part %s version %d (%s): %s/%s from %q, %d spans, terminal %q batch %q, settlement %q, txn_time %s, assembled %s",
				part, version, DecodeVersion(version), outcome, cause, source, spans, term, num, settle,
				txnTime.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339)), nil
		})
	if err != nil {
		return out, err
	}
	const facts = "SELECT name, hex(trace_id), hex(span_id), toString(status_code), error_type, response_code, settlement_status, " +
		"terminal_id, batch_number, start_ns, ingested_ns FROM "
	fact := func(scan func(...any) error) (string, error) {
		var name, trace, span, status, et, code, settle, term, num string
		var start, ingested uint64
		if err := scan(&name, &trace, &span, &status, &et, &code, &settle, &term, &num, &start, &ingested); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s trace %s span %s: status %s, error.type %q, code %q, settlement %q, terminal %q batch %q, start %d, ingested %d",
			name, trace, span, status, et, code, settle, term, num, start, ingested), nil
	}
	if err := a.each(ctx, &out, "fact", facts+a.facts()+" WHERE txn_id = ? ORDER BY start_ns", []any{txnID}, fact); err != nil {
		return out, err
	}
	if err := a.each(ctx, &out, "traceless fact", facts+a.facts()+" WHERE txn_id = '' AND trace_id IN (SELECT trace_id FROM "+
		a.facts()+" WHERE txn_id = ?) ORDER BY start_ns", []any{txnID}, fact); err != nil {
		return out, err
	}
	if terminal == "" || batch == "" {
		return out, nil
	}
	return out, a.each(ctx, &out, "batch close", "SELECT hex(span_id), toString(status_code), batch_result, error_type, close_ns, ingested_ns FROM "+
		a.table("batch_closes")+" WHERE terminal_id = ? AND batch_number = ? ORDER BY close_ns", []any{terminal, batch},
		func(scan func(...any) error) (string, error) {
			var span, status, result, et string
			var closeNs, ingested uint64
			if err := scan(&span, &status, &result, &et, &closeNs, &ingested); err != nil {
				return "", err
			}
			return fmt.Sprintf("span %s: status %s, result %q, error.type %q, close %d, ingested %d", span, status, result, et, closeNs, ingested), nil
		})
}

// each runs query and appends one line per row, prefixed with kind.
func (a *Assembler) each(ctx context.Context, out *[]string, kind, query string, args []any, line func(scan func(...any) error) (string, error)) error {
	qctx, cancel := a.queryCtx(ctx)
	defer cancel()
	rows, err := a.Conn.Query(qctx, query, args...)
	if err != nil {
		return wrap("explain: read "+kind+"s", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := line(rows.Scan)
		if err != nil {
			return wrap("explain: scan "+kind, err)
		}
		*out = append(*out, kind+" "+s)
	}
	if err := rows.Err(); err != nil {
		return wrap("explain: read "+kind+"s", err)
	}
	return nil
}
