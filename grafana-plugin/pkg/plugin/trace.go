package plugin

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/domain"
)

// Tags the trace frame adds to spans joined from other traces.
const (
	TagJoinedBy       = "settlewatch.joined_by"
	TagOriginalTrace  = "settlewatch.original_trace_id"
	TagOriginalParent = "settlewatch.original_parent_span_id"
)

// trace answers the whole story of one transaction as a frame Grafana's
// trace view draws: every span of its trace (terminal and gateway), plus
// the settlement span(s) and the batch close, which live in other traces
// and are joined by pos.txn.id (or the terminal's batch). Those are shown
// under the transaction's root span, each tagged with where it really
// lives. The root carries the outcome and cause. Built here, in Go, so
// that it is the same frame wherever it is asked from.
func (d *Datasource) trace(ctx context.Context, r *request, st Store) (data.Frames, error) {
	id := strings.TrimSpace(r.TxnID)
	trace := strings.ToLower(strings.TrimSpace(r.TraceID))
	switch {
	case id == "" && trace == "":
		return nil, bad("trace: give a transaction id (pos.txn.id) or a trace id")
	case id != "" && trace != "":
		return nil, bad("trace: give a transaction id or a trace id, not both")
	case trace != "":
		if b, err := hex.DecodeString(trace); err != nil || len(b) != 16 {
			return nil, bad("trace id %q: want 32 hexadecimal digits", clip(trace))
		}
		txn, err := st.TxnByTrace(ctx, trace)
		if err != nil {
			return nil, err
		}
		id = txn
	}
	if err := model.ValidateTxnID(id); err != nil {
		return nil, bad("%v", err)
	}
	story, err := st.Txn(ctx, id)
	if err != nil {
		return nil, err
	}
	f := traceFrame(story)
	describe(f, "the trace of transaction "+story.TxnID, query.Meta{Source: "raw"}, d.settings.MaxRows)
	return data.Frames{f}, nil
}

type kv struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type spanLog struct {
	Timestamp float64 `json:"timestamp"`
	Fields    []kv    `json:"fields"`
}

type spanRef struct {
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
	Tags    []kv   `json:"tags,omitempty"`
}

func traceFrame(s query.TxnStory) *data.Frame {
	spans := s.Spans
	// The root: the pos.transaction span that has no parent.
	root := -1
	for i, sp := range spans {
		if sp.Name == domain.SpanTransaction && sp.ParentSpanID == "" {
			root = i
			break
		}
	}
	if root < 0 {
		for i, sp := range spans {
			if sp.ParentSpanID == "" && sp.Name != domain.SpanSettlement && sp.Name != domain.SpanBatchClose {
				root = i
				break
			}
		}
	}
	primary := ""
	if root >= 0 {
		primary = spans[root].TraceID
	}
	inPrimary := map[string]bool{}
	for _, sp := range spans {
		if sp.TraceID == primary {
			inPrimary[sp.SpanID] = true
		}
	}
	n := len(spans)
	traceIDs, spanIDs, parents := make([]string, n), make([]string, n), make([]string, n)
	ops, services, kinds, messages := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	starts, durations := make([]float64, n), make([]float64, n)
	codes := make([]int64, n)
	tags, svcTags, logs, refs := make([]json.RawMessage, n), make([]json.RawMessage, n), make([]json.RawMessage, n), make([]json.RawMessage, n)
	for i, sp := range spans {
		var t []kv
		if sp.Name != domain.SpanBatchClose { // a batch close belongs to the whole batch
			t = append(t, kv{"pos.txn.id", s.TxnID})
		}
		var rs []spanRef
		traceIDs[i], spanIDs[i], parents[i] = sp.TraceID, sp.SpanID, sp.ParentSpanID
		if primary != "" && sp.TraceID != primary {
			// Joined from another trace: shown under the root, pointing back.
			traceIDs[i] = primary
			parents[i] = spans[root].SpanID
			how := "pos.txn.id"
			if sp.Name == domain.SpanBatchClose {
				how = "pos.batch.number"
			}
			t = append(t, kv{TagJoinedBy, how}, kv{TagOriginalTrace, sp.TraceID})
			if sp.ParentSpanID != "" {
				t = append(t, kv{TagOriginalParent, sp.ParentSpanID})
			}
			rs = append(rs, spanRef{TraceID: sp.TraceID, SpanID: sp.SpanID, Tags: []kv{{"relation", "joined by " + how}}})
		}
		ops[i], services[i], kinds[i], messages[i] = sp.Name, sp.Service, spanKind(sp.Kind), sp.StatusMessage
		starts[i] = float64(sp.Start.UnixNano()) / 1e6
		durations[i] = sp.DurationMs
		codes[i] = statusCode(sp.Status)
		seen := map[string]bool{"pos.txn.id": true}
		var rt []kv
		if i == root {
			// The transaction row's values (typed: amounts are numbers) win
			// over the same keys among the root span's stored attributes.
			rt = rootTags(s)
			for _, x := range rt {
				seen[x.Key] = true
			}
		}
		for _, a := range sp.Attributes {
			if !seen[a.Key] {
				seen[a.Key] = true
				t = append(t, kv{a.Key, a.Value})
			}
		}
		if sp.ResponseCode != "" && !seen["pos.response.code"] {
			t = append(t, kv{"pos.response.code", sp.ResponseCode})
		}
		if sp.ErrorType != "" && !seen["error.type"] {
			t = append(t, kv{"error.type", sp.ErrorType})
		}
		t = append(t, rt...)
		tags[i] = mustJSON(t)
		svcTags[i] = mustJSON(serviceTags(s, sp))
		var l []spanLog
		for _, ev := range sp.Events {
			fields := []kv{{"event", ev.Name}}
			keys := make([]string, 0, len(ev.Attributes))
			for k := range ev.Attributes {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fields = append(fields, kv{k, ev.Attributes[k]})
			}
			l = append(l, spanLog{Timestamp: float64(ev.Time.UnixNano()) / 1e6, Fields: fields})
		}
		if codes[i] == 2 {
			fields := []kv{{"event", "error"}}
			if sp.ErrorType != "" {
				fields = append(fields, kv{"error.type", sp.ErrorType})
			}
			if sp.StatusMessage != "" {
				fields = append(fields, kv{"message", sp.StatusMessage})
			}
			l = append(l, spanLog{Timestamp: starts[i] + durations[i], Fields: fields})
		}
		if i == root && s.Outcome != "" {
			l = append(l, spanLog{Timestamp: starts[i] + durations[i], Fields: []kv{{"event", "classified"}, {"outcome", s.Outcome}, {"cause", s.Cause}}})
		}
		if l == nil {
			l = []spanLog{}
		}
		logs[i] = mustJSON(l)
		if rs == nil {
			rs = []spanRef{}
		}
		refs[i] = mustJSON(rs)
	}
	f := data.NewFrame("trace",
		data.NewField("traceID", nil, traceIDs),
		data.NewField("spanID", nil, spanIDs),
		data.NewField("parentSpanID", nil, parents),
		data.NewField("operationName", nil, ops),
		data.NewField("serviceName", nil, services),
		data.NewField("serviceTags", nil, svcTags),
		data.NewField("startTime", nil, starts),
		data.NewField("duration", nil, durations),
		data.NewField("tags", nil, tags),
		data.NewField("logs", nil, logs),
		data.NewField("references", nil, refs),
		data.NewField("kind", nil, kinds),
		data.NewField("statusCode", nil, codes),
		data.NewField("statusMessage", nil, messages),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTrace}
	return f
}

func rootTags(s query.TxnStory) []kv {
	t := []kv{
		{"settlewatch.outcome", s.Outcome},
		{"settlewatch.cause", s.Cause},
	}
	add := func(k, v string) {
		if v != "" && v != "none" {
			t = append(t, kv{k, v})
		}
	}
	add("settlewatch.cause_class", s.CauseClass)
	add("settlewatch.cause_source", s.CauseSource)
	add("settlewatch.cause_code", s.CauseCode)
	add("pos.response.source", s.ResponseSource)
	add("pos.txn.type", s.TxnType)
	t = append(t, kv{"pos.amount.minor", s.AmountMinor})
	add("pos.currency", s.Currency)
	add("pos.gateway.id", s.Gateway)
	add("pos.batch.number", s.BatchNumber)
	add("pos.settlement.status", s.SettlementStatus)
	if len(s.DataIssues) > 0 {
		t = append(t, kv{"settlewatch.data_issues", strings.Join(s.DataIssues, ",")})
	}
	return t
}

// serviceTags are the span's resource attributes as stored; spans stored
// without them get what the transaction row knows of their service.
func serviceTags(s query.TxnStory, sp query.SpanRow) []kv {
	if len(sp.Resource) > 0 {
		t := make([]kv, 0, len(sp.Resource))
		for _, a := range sp.Resource {
			t = append(t, kv{a.Key, a.Value})
		}
		return t
	}
	service := sp.Service
	t := []kv{{"service.name", service}}
	switch service {
	case "pos-terminal":
		if s.Terminal != "" {
			t = append(t, kv{"pos.terminal.id", s.Terminal})
		}
		if s.Merchant != "" {
			t = append(t, kv{"pos.merchant.id", s.Merchant})
		}
	case "payment-gateway":
		if s.Gateway != "" {
			t = append(t, kv{"pos.gateway.id", s.Gateway})
		}
	}
	return t
}

func spanKind(k string) string {
	switch k {
	case "server", "client", "producer", "consumer", "internal":
		return k
	}
	return "unspecified"
}

// statusCode is the trace view's code: 0 unset, 1 ok, 2 error.
func statusCode(s string) int64 {
	switch s {
	case "ok":
		return 1
	case "error":
		return 2
	}
	return 0
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
