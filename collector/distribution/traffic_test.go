package distribution

import (
	"crypto/sha256"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Hand-written OTLP, as an outside client that follows the contract would
// send it: the tests do not depend on our simulator.

func traceIDOf(s string) pcommon.TraceID {
	h := sha256.Sum256([]byte("trace/" + s))
	var id pcommon.TraceID
	copy(id[:], h[:16])
	return id
}

func spanIDOf(s string) pcommon.SpanID {
	h := sha256.Sum256([]byte("span/" + s))
	var id pcommon.SpanID
	copy(id[:], h[:8])
	return id
}

// scope adds a resource of the given service with its attributes.
func scope(td ptrace.Traces, service string, attrs map[string]any) ptrace.SpanSlice {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	put(rs.Resource().Attributes(), attrs)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("settlewatch-tests")
	return ss.Spans()
}

func put(m pcommon.Map, attrs map[string]any) {
	for k, v := range attrs {
		switch x := v.(type) {
		case string:
			m.PutStr(k, x)
		case int:
			m.PutInt(k, int64(x))
		case int64:
			m.PutInt(k, x)
		case float64:
			m.PutDouble(k, x)
		case bool:
			m.PutBool(k, x)
		}
	}
}

type spanSpec struct {
	trace, id, parent string
	name              string
	kind              ptrace.SpanKind
	start             time.Time
	dur               time.Duration
	errType           string // sets status ERROR and error.type
	attrs             map[string]any
}

func addSpan(spans ptrace.SpanSlice, s spanSpec) ptrace.Span {
	sp := spans.AppendEmpty()
	sp.SetTraceID(traceIDOf(s.trace))
	sp.SetSpanID(spanIDOf(s.id))
	if s.parent != "" {
		sp.SetParentSpanID(spanIDOf(s.parent))
	}
	sp.SetName(s.name)
	sp.SetKind(s.kind)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.start.Add(s.dur)))
	put(sp.Attributes(), s.attrs)
	if s.errType != "" {
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(s.errType)
		sp.Attributes().PutStr("error.type", s.errType)
	}
	return sp
}

// attempt describes one transaction attempt for the builders below.
type attempt struct {
	txn, typ, code   string
	at               time.Time
	amount           int64
	terminal, batch  string
	rootErr          string // error.type on pos.transaction
	hostErr          string // error.type on pos.host.request
	gatewayCode      string // gateway.authorize response code ("" = no gateway spans)
	issuerErr        string // error.type on gateway.issuer.request
	dropTxnIDGateway bool   // gateway spans without pos.txn.id
}

// terminalSpans are the pos-terminal spans of an attempt.
func terminalSpans(td ptrace.Traces, a attempt) {
	term := a.terminal
	if term == "" {
		term = "T-100"
	}
	spans := scope(td, "pos-terminal", map[string]any{
		"pos.terminal.id": term, "pos.terminal.model": "PAX-A920", "pos.merchant.id": "M-7",
		"pos.merchant.region": "east", "service.version": "4.2.0",
	})
	root := map[string]any{
		"pos.txn.id": a.txn, "pos.txn.type": a.typ, "pos.amount.minor": a.amount, "pos.currency": "CNY",
		"pos.gateway.id": "gw-1", "pos.card.scheme": "unionpay", "pos.card.funding": "debit",
		"pos.card.entry_mode": "chip", "pos.batch.number": a.batch,
	}
	if a.code != "" {
		root["pos.response.code"] = a.code
		root["pos.response.source"] = "issuer"
	}
	addSpan(spans, spanSpec{trace: a.txn, id: a.txn + "/root", name: "pos.transaction", kind: ptrace.SpanKindInternal,
		start: a.at, dur: 1500 * time.Millisecond, errType: a.rootErr, attrs: root})
	addSpan(spans, spanSpec{trace: a.txn, id: a.txn + "/card", parent: a.txn + "/root", name: "pos.card.read",
		kind: ptrace.SpanKindInternal, start: a.at.Add(10 * time.Millisecond), dur: 300 * time.Millisecond,
		attrs: map[string]any{"pos.txn.id": a.txn}})
	addSpan(spans, spanSpec{trace: a.txn, id: a.txn + "/host", parent: a.txn + "/root", name: "pos.host.request",
		kind: ptrace.SpanKindClient, start: a.at.Add(400 * time.Millisecond), dur: time.Second, errType: a.hostErr,
		attrs: map[string]any{"pos.txn.id": a.txn, "server.address": "gw-1.example", "server.port": 443, "network.transport": "tcp"}})
}

// gatewaySpans are the payment-gateway spans of an attempt (a separate
// resource; in production a separate process and OTLP request).
func gatewaySpans(td ptrace.Traces, a attempt) {
	if a.gatewayCode == "" && a.issuerErr == "" {
		return
	}
	spans := scope(td, "payment-gateway", map[string]any{"pos.gateway.id": "gw-1"})
	auth := map[string]any{"pos.txn.id": a.txn, "pos.response.code": a.gatewayCode, "pos.response.source": "gateway"}
	issuer := map[string]any{"pos.txn.id": a.txn, "pos.acquirer.id": "acq-1", "pos.issuer.id": "iss-4"}
	if a.dropTxnIDGateway {
		delete(auth, "pos.txn.id")
		delete(issuer, "pos.txn.id")
	}
	addSpan(spans, spanSpec{trace: a.txn, id: a.txn + "/auth", parent: a.txn + "/host", name: "gateway.authorize",
		kind: ptrace.SpanKindServer, start: a.at.Add(450 * time.Millisecond), dur: 900 * time.Millisecond, attrs: auth})
	addSpan(spans, spanSpec{trace: a.txn, id: a.txn + "/issuer", parent: a.txn + "/auth", name: "gateway.issuer.request",
		kind: ptrace.SpanKindClient, start: a.at.Add(500 * time.Millisecond), dur: 800 * time.Millisecond,
		errType: a.issuerErr, attrs: issuer})
}

// settlementSpan is the settlement service's answer, in its own trace.
func settlementSpan(td ptrace.Traces, txn, status, code, errType string, at time.Time, amount int64) {
	spans := scope(td, "settlement-service", nil)
	attrs := map[string]any{"pos.txn.id": txn, "pos.settlement.status": status, "pos.amount.minor": amount,
		"pos.settlement.date": at.Format("2006-01-02"), "pos.batch.number": "000001"}
	if code != "" {
		attrs["pos.response.code"] = code
	}
	addSpan(spans, spanSpec{trace: "settlement-file-" + at.Format("20060102"), id: "settle/" + txn, name: "settlement.transaction",
		kind: ptrace.SpanKindInternal, start: at, dur: 5 * time.Millisecond, errType: errType, attrs: attrs})
}

// batchClose is a terminal's end-of-day batch close, in its own trace.
func batchClose(td ptrace.Traces, terminal, batch, result, errType string, at time.Time) {
	spans := scope(td, "pos-terminal", map[string]any{"pos.terminal.id": terminal, "pos.merchant.id": "M-7"})
	addSpan(spans, spanSpec{trace: "batch/" + terminal + "/" + batch, id: "batch/" + terminal + "/" + batch + "/" + result,
		name: "pos.batch.close", kind: ptrace.SpanKindInternal, start: at, dur: 3 * time.Second, errType: errType,
		attrs: map[string]any{"pos.batch.number": batch, "pos.batch.result": result, "pos.batch.txn_count": 12, "pos.batch.amount.minor": 99000}})
}
