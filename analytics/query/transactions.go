package query

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// TransactionsQuery lists classified transactions, newest first.
type TransactionsQuery struct {
	Range   Range
	Filters Filters // Outcomes empty: every outcome that has a cause
	Limit   int     // 0: the querier's row cap
}

// TxnListRow is one listed transaction.
type TxnListRow struct {
	TxnID        string    `json:"txn_id"`
	TraceID      string    `json:"trace_id"` // hex, the attempt's own trace
	TxnTime      time.Time `json:"txn_time"`
	Outcome      string    `json:"outcome"`
	Cause        string    `json:"cause"`
	Class        string    `json:"class"`
	ResponseCode string    `json:"response_code"`
	ErrorType    string    `json:"error_type"`
	AmountMinor  int64     `json:"amount_minor"`
	Currency     string    `json:"currency"`
	Gateway      string    `json:"gateway"`
	Merchant     string    `json:"merchant"`
	Terminal     string    `json:"terminal"`
	BatchNumber  string    `json:"batch_number"`
}

// TransactionsResult is the list and how it was answered.
type TransactionsResult struct {
	Rows []TxnListRow
	Meta Meta
}

// failureOutcomes are the outcomes that carry a cause: the default list.
func failureOutcomes() []string {
	var out []string
	for _, o := range domain.Outcomes {
		if o.HasCause() {
			out = append(out, string(o))
		}
	}
	return out
}

// Transactions lists the transactions in tq.Range that pass the filters,
// newest first, at most Limit (Meta.Truncated says when more exist).
func (q *Querier) Transactions(ctx context.Context, tq TransactionsQuery) (TransactionsResult, error) {
	if err := tq.Range.Validate(); err != nil {
		return TransactionsResult{}, invalid("%v", err)
	}
	if err := tq.Filters.Validate(); err != nil {
		return TransactionsResult{}, err
	}
	f := tq.Filters
	if len(f.Outcomes) == 0 {
		f.Outcomes = failureOutcomes()
	}
	limit := tq.Limit
	if limit <= 0 || limit > q.maxRows() {
		limit = q.maxRows()
	}
	w := rawWhere(q.DB, tq.Range, f, true)
	res := TransactionsResult{Meta: Meta{Source: string(SourceRaw)}}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	rows, err := q.Conn.Query(qctx, "SELECT txn_id, trace_id, txn_time, toString(outcome), toString(cause), toString(cause_class), response_code,"+
		" error_type, amount_minor, currency, gateway_id, merchant_id, terminal_id, batch_number FROM "+
		w.from()+" ORDER BY txn_time DESC, txn_id LIMIT ?", append(w.args, limit+1)...)
	if err != nil {
		return res, fmt.Errorf("transactions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r TxnListRow
		var trace string
		if err := rows.Scan(&r.TxnID, &trace, &r.TxnTime, &r.Outcome, &r.Cause, &r.Class, &r.ResponseCode, &r.ErrorType,
			&r.AmountMinor, &r.Currency, &r.Gateway, &r.Merchant, &r.Terminal, &r.BatchNumber); err != nil {
			return res, fmt.Errorf("transactions: %w", err)
		}
		if strings.Trim(trace, "\x00") != "" {
			r.TraceID = hex.EncodeToString([]byte(trace))
		}
		r.TxnTime = r.TxnTime.UTC()
		res.Rows = append(res.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("transactions: %w", err)
	}
	if len(res.Rows) > limit {
		res.Rows, res.Meta.Truncated = res.Rows[:limit], true
	}
	return res, nil
}

// TxnByTrace finds the transaction a trace belongs to (its pos.txn.id), for
// on-call engineers who start from a trace id. The spans table is ordered by
// trace id, so this reads one granule.
func (q *Querier) TxnByTrace(ctx context.Context, traceHex string) (string, error) {
	traceHex = strings.ToLower(strings.TrimSpace(traceHex))
	if b, err := hex.DecodeString(traceHex); err != nil || len(b) != 16 {
		return "", invalid("trace id %q: want 32 hexadecimal digits", clip(traceHex))
	}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	ids, err := q.strings(qctx, "SELECT txn_id FROM "+q.table(chschema.Spans.Name)+
		" WHERE trace_id = unhex(?) AND txn_id != '' GROUP BY txn_id ORDER BY count() DESC, txn_id LIMIT 1", traceHex)
	if err != nil {
		return "", fmt.Errorf("transaction of trace %s: %w", traceHex, err)
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("trace %s: %w", traceHex, ErrNotFound)
	}
	return ids[0], nil
}
