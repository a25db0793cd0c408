package query

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chschema"
)

// SpanRow is one span of a transaction's story.
type SpanRow struct {
	Start         time.Time `json:"start"`
	OffsetMs      float64   `json:"offset_ms"` // from the transaction's first span
	DurationMs    float64   `json:"duration_ms"`
	Service       string    `json:"service"`
	Name          string    `json:"name"`
	Kind          string    `json:"kind"`
	Status        string    `json:"status"`
	StatusMessage string    `json:"status_message,omitempty"`
	ResponseCode  string    `json:"response_code"`
	ErrorType     string    `json:"error_type"`
	TraceID       string    `json:"trace_id"`
	SpanID        string    `json:"span_id"`
	ParentSpanID  string    `json:"parent_span_id"`
	Depth         int       `json:"depth"`
	// Attributes and Resource are the span's and its resource's attributes
	// as stored (PANs already masked), Events its events.
	Attributes []Attr      `json:"attributes"`
	Resource   []Attr      `json:"resource"`
	Events     []SpanEvent `json:"events"`
}

// Attr is one attribute of a span or resource.
type Attr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// SpanEvent is one event of a span.
type SpanEvent struct {
	Time       time.Time         `json:"time"`
	Name       string            `json:"name"`
	Attributes map[string]string `json:"attributes"`
}

func attrs(keys, vals []string) []Attr {
	out := make([]Attr, 0, len(keys))
	for i, k := range keys {
		if i < len(vals) {
			out = append(out, Attr{k, vals[i]})
		}
	}
	return out
}

// TxnStory is the whole story of one transaction.
type TxnStory struct {
	TxnID            string    `json:"txn_id"`
	Outcome          string    `json:"outcome"`
	Cause            string    `json:"cause"`
	CauseClass       string    `json:"cause_class"`
	CauseSource      string    `json:"cause_source"`
	CauseCode        string    `json:"cause_code"`
	ResponseCode     string    `json:"response_code"`
	ResponseSource   string    `json:"response_source"`
	ErrorType        string    `json:"error_type"`
	AmountMinor      int64     `json:"amount_minor"`
	Currency         string    `json:"currency"`
	TxnType          string    `json:"txn_type"`
	TxnTime          time.Time `json:"txn_time"`
	Gateway          string    `json:"gateway"`
	Merchant         string    `json:"merchant"`
	Terminal         string    `json:"terminal"`
	BatchNumber      string    `json:"batch_number"`
	SettlementStatus string    `json:"settlement_status"`
	DataIssues       []string  `json:"data_issues"`
	Spans            []SpanRow `json:"spans"`
}

// Txn tells the story of one transaction: its classified row and every span
// that carried its pos.txn.id (terminal, gateway, settlement), the spans of
// its own trace that carried none (a failed gateway call), and its batch's
// close.
func (q *Querier) Txn(ctx context.Context, id string) (TxnStory, error) {
	if err := model.ValidateTxnID(id); err != nil {
		return TxnStory{}, invalid("%v", err)
	}
	qctx, cancel := q.ctx(ctx)
	defer cancel()
	var s TxnStory
	var primary string
	// Its facts give its traces and the hours its row can sit at.
	facts, err := chschema.ReadTxnFacts(qctx, q.Conn, q.DB, id)
	if err != nil {
		return s, fmt.Errorf("txn: %w", err)
	}
	if len(facts.Hours) == 0 {
		return s, fmt.Errorf("transaction %s: %w", id, ErrNotFound)
	}
	rows, err := q.Conn.Query(qctx, "SELECT txn_id, toString(outcome), toString(cause), toString(cause_class), cause_source, cause_code, response_code,"+
		" response_source, error_type, amount_minor, currency, txn_type, txn_time, gateway_id, merchant_id, terminal_id, batch_number,"+
		" settlement_status, data_issues, trace_id FROM "+
		// The row sits at one of the hours of its facts; a row older than a
		// tombstone at its hour is hidden, so at most one is live.
		chschema.ByTimeSource(q.DB, chschema.AtHours+" AND txn_id = ?")+
		" ORDER BY version DESC LIMIT 1", facts.Hours, id)
	if err != nil {
		return s, fmt.Errorf("txn: %w", err)
	}
	found := false
	for rows.Next() {
		found = true
		if err := rows.Scan(&s.TxnID, &s.Outcome, &s.Cause, &s.CauseClass, &s.CauseSource, &s.CauseCode, &s.ResponseCode, &s.ResponseSource,
			&s.ErrorType, &s.AmountMinor, &s.Currency, &s.TxnType, &s.TxnTime, &s.Gateway, &s.Merchant, &s.Terminal, &s.BatchNumber,
			&s.SettlementStatus, &s.DataIssues, &primary); err != nil {
			rows.Close()
			return s, fmt.Errorf("txn: %w", err)
		}
	}
	rows.Close()
	if !found {
		return s, fmt.Errorf("transaction %s: %w", id, ErrNotFound)
	}
	s.TxnTime = s.TxnTime.UTC()
	if s.DataIssues == nil {
		s.DataIssues = []string{}
	}
	// The spans query is bounded by the times of the transaction's facts and
	// batch closes, so that it reads the day partitions of its traces only,
	// not every day of spans kept.
	when := timeSpan{}
	when.add(s.TxnTime)
	when.add(facts.First)
	when.add(facts.Last)
	traces := facts.Traces
	var batchTraces []string
	if s.Terminal != "" && s.BatchNumber != "" {
		batchTraces, err = q.traces(qctx, &when, "SELECT trace_id, min(close_time) FROM "+q.table(chschema.BatchCloses.Name)+
			" WHERE terminal_id = ? AND batch_number = ? GROUP BY trace_id LIMIT 100", s.Terminal, s.BatchNumber)
		if err != nil {
			return s, fmt.Errorf("txn batch closes: %w", err)
		}
	}
	all := append(append([]string{}, traces...), batchTraces...)
	if strings.Trim(primary, "\x00") != "" {
		all = append(all, primary)
	}
	if len(all) == 0 {
		s.Spans = []SpanRow{}
		return s, nil
	}
	isBatch := map[string]bool{}
	for _, t := range batchTraces {
		isBatch[t] = true
	}
	sr, err := q.Conn.Query(qctx, "SELECT trace_id, span_id, parent_span_id, start_ns, duration_ns, service_name, name, toString(kind),"+
		" toString(status_code), status_message, txn_id, attributes.key, attributes.value, resource.key, resource.value,"+
		" events.time_ns, events.name, events.attributes FROM "+q.table(chschema.Spans.Name)+
		// A trace's spans lie within minutes of each other; a day either side
		// of the traces' times leaves room for clock skew. No FINAL: a span
		// stored twice (a retried request) is the same span, skipped below,
		// and merging the wide rows at read time costs more than the read.
		" WHERE trace_id IN ? AND (txn_id = ? OR txn_id = '') AND start_time >= toDateTime(?) AND start_time <= toDateTime(?)"+
		" ORDER BY start_ns, span_id LIMIT ?", set(all), id, when.lo.Add(-24*time.Hour).Unix(), when.hi.Add(24*time.Hour).Unix(), q.maxRows()+1)
	if err != nil {
		return s, fmt.Errorf("txn spans: %w", err)
	}
	defer sr.Close()
	s.Spans = []SpanRow{}
	parents := map[string]string{}
	seen := map[string]bool{}
	for sr.Next() {
		var sp SpanRow
		var trace, span, parent, txnID string
		var startNs, durNs uint64
		var keys, vals, rkeys, rvals, evNames, evAttrs []string
		var evTimes []uint64
		if err := sr.Scan(&trace, &span, &parent, &startNs, &durNs, &sp.Service, &sp.Name, &sp.Kind, &sp.Status, &sp.StatusMessage, &txnID,
			&keys, &vals, &rkeys, &rvals, &evTimes, &evNames, &evAttrs); err != nil {
			return s, fmt.Errorf("txn spans: %w", err)
		}
		if seen[trace+span] {
			continue // a copy of a span already shown
		}
		seen[trace+span] = true
		sp.Attributes, sp.Resource = attrs(keys, vals), attrs(rkeys, rvals)
		sp.Events = make([]SpanEvent, 0, len(evNames))
		for i, name := range evNames {
			ev := SpanEvent{Name: name, Attributes: map[string]string{}}
			if i < len(evTimes) {
				ev.Time = time.Unix(0, int64(evTimes[i])).UTC()
			}
			if i < len(evAttrs) {
				_ = json.Unmarshal([]byte(evAttrs[i]), &ev.Attributes) // written by our exporter as a JSON object
			}
			sp.Events = append(sp.Events, ev)
		}
		switch {
		case txnID == id:
		case isBatch[trace] && sp.Name == "pos.batch.close":
		case txnID == "" && trace == primary:
		default:
			continue
		}
		sp.Start = time.Unix(0, int64(startNs)).UTC()
		sp.DurationMs = float64(durNs) / 1e6
		sp.TraceID, sp.SpanID = hex.EncodeToString([]byte(trace)), hex.EncodeToString([]byte(span))
		if strings.Trim(parent, "\x00") != "" {
			sp.ParentSpanID = hex.EncodeToString([]byte(parent))
		}
		for i, k := range keys {
			if i >= len(vals) {
				break
			}
			switch k {
			case "pos.response.code":
				sp.ResponseCode = vals[i]
			case "error.type":
				sp.ErrorType = vals[i]
			}
		}
		parents[sp.TraceID+sp.SpanID] = sp.ParentSpanID
		s.Spans = append(s.Spans, sp)
	}
	if err := sr.Err(); err != nil {
		return s, fmt.Errorf("txn spans: %w", err)
	}
	if len(s.Spans) > q.maxRows() {
		s.Spans = s.Spans[:q.maxRows()]
	}
	sort.SliceStable(s.Spans, func(i, j int) bool { return s.Spans[i].Start.Before(s.Spans[j].Start) })
	if len(s.Spans) > 0 {
		t0 := s.Spans[0].Start
		for i := range s.Spans {
			sp := &s.Spans[i]
			sp.OffsetMs = float64(sp.Start.Sub(t0)) / 1e6
			for p, n := sp.ParentSpanID, 0; p != "" && n < 64; n++ {
				next, ok := parents[sp.TraceID+p]
				if !ok {
					break
				}
				sp.Depth++
				p = next
			}
		}
	}
	return s, nil
}

func (q *Querier) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := q.Conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// timeSpan is the earliest and latest of some times.
type timeSpan struct{ lo, hi time.Time }

func (t *timeSpan) add(at time.Time) {
	if t.lo.IsZero() || at.Before(t.lo) {
		t.lo = at
	}
	if at.After(t.hi) {
		t.hi = at
	}
}

// traces runs a query of (trace_id, time) rows, adding the times to when.
func (q *Querier) traces(ctx context.Context, when *timeSpan, query string, args ...any) ([]string, error) {
	rows, err := q.Conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		out = append(out, id)
		when.add(at.UTC())
	}
	return out, rows.Err()
}
