// Package loadgen builds contract-shaped OTLP trace requests with known span
// ids and sends them the way an SDK exporter does (retrying backpressure), for
// benchmarks and fault tests that must count every span.
package loadgen

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// SpansPerTxn is the shape of one generated attempt: pos.transaction,
// pos.card.read, pos.host.request from the terminal; gateway.authorize and
// gateway.issuer.request from the gateway.
const SpansPerTxn = 5

var declineCodes = []string{"51", "05", "55", "61", "14", "91", "96"}

// Requests builds n transactions as OTLP requests of about perRequest spans,
// contract-shaped (resource attributes, pos.* span attributes, W3C parents).
func Requests(n, perRequest int, seed int64) []ptrace.Traces {
	rng := rand.New(rand.NewSource(seed))
	base := time.Now().Add(-2 * time.Hour)
	var out []ptrace.Traces
	txnsPerReq := max(perRequest/SpansPerTxn, 1)
	for start := 0; start < n; start += txnsPerReq {
		td := ptrace.NewTraces()
		term := td.ResourceSpans().AppendEmpty()
		ra := term.Resource().Attributes()
		ra.PutStr("service.name", "pos-terminal")
		ra.PutStr("service.version", "4.2.0")
		ra.PutStr("pos.merchant.region", "east")
		tspans := term.ScopeSpans().AppendEmpty().Spans()
		gw := td.ResourceSpans().AppendEmpty()
		gw.Resource().Attributes().PutStr("service.name", "payment-gateway")
		gw.Resource().Attributes().PutStr("pos.gateway.id", "gw-1")
		gspans := gw.ScopeSpans().AppendEmpty().Spans()
		for i := start; i < min(start+txnsPerReq, n); i++ {
			txn := TxnID(seed, i)
			var tid pcommon.TraceID
			binary.BigEndian.PutUint64(tid[:8], uint64(seed))
			binary.BigEndian.PutUint64(tid[8:], uint64(i))
			at := base.Add(time.Duration(rng.Int63n(int64(time.Hour))))
			code := "00"
			if rng.Intn(100) < 4 {
				code = declineCodes[rng.Intn(len(declineCodes))]
			}
			root := span(tspans, tid, i, 0, 0, "pos.transaction", ptrace.SpanKindInternal, at, 1200*time.Millisecond)
			a := root.Attributes()
			a.PutStr("pos.txn.id", txn)
			a.PutStr("pos.txn.type", "sale")
			a.PutInt("pos.amount.minor", 100+rng.Int63n(100000))
			a.PutStr("pos.currency", "CNY")
			a.PutStr("pos.terminal.id", fmt.Sprintf("T%05d", rng.Intn(5000)))
			a.PutStr("pos.merchant.id", fmt.Sprintf("M%04d", rng.Intn(500)))
			a.PutStr("pos.gateway.id", "gw-1")
			a.PutStr("pos.card.scheme", "unionpay")
			a.PutStr("pos.card.funding", "debit")
			a.PutStr("pos.card.entry_mode", "chip")
			a.PutStr("pos.batch.number", "000123")
			a.PutStr("pos.response.code", code)
			a.PutStr("pos.response.source", "issuer")
			span(tspans, tid, i, 1, 0, "pos.card.read", ptrace.SpanKindInternal, at, 200*time.Millisecond).Attributes().PutStr("pos.txn.id", txn)
			host := span(tspans, tid, i, 2, 0, "pos.host.request", ptrace.SpanKindClient, at.Add(250*time.Millisecond), 900*time.Millisecond)
			host.Attributes().PutStr("pos.txn.id", txn)
			host.Attributes().PutStr("server.address", "gw-1.example")
			auth := span(gspans, tid, i, 3, 2, "gateway.authorize", ptrace.SpanKindServer, at.Add(300*time.Millisecond), 800*time.Millisecond)
			auth.Attributes().PutStr("pos.txn.id", txn)
			auth.Attributes().PutStr("pos.response.code", code)
			iss := span(gspans, tid, i, 4, 3, "gateway.issuer.request", ptrace.SpanKindClient, at.Add(350*time.Millisecond), 700*time.Millisecond)
			iss.Attributes().PutStr("pos.txn.id", txn)
			iss.Attributes().PutStr("pos.issuer.id", "iss-1")
			iss.Attributes().PutStr("pos.acquirer.id", "acq-1")
		}
		out = append(out, td)
	}
	return out
}

// TxnID is the id of transaction i of a run: scattered over the key space as
// terminals' ids are (sequential ids would make every read by id touch one
// corner of a table ordered by txn_id and hide what a lookup costs). The
// letters keep it from ever reading as a card number to the PAN masker: no
// run of more than 8 digits.
func TxnID(seed int64, i int) string {
	h := mix(uint64(seed)*0x9e3779b97f4a7c15 + uint64(i))
	return fmt.Sprintf("B%08xT%08x", uint32(h>>32), uint32(h))
}

// mix is splitmix64's finaliser: a bijection, so distinct inputs give
// distinct ids.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func span(spans ptrace.SpanSlice, tid pcommon.TraceID, txn, idx, parent int, name string, kind ptrace.SpanKind, at time.Time, d time.Duration) ptrace.Span {
	s := spans.AppendEmpty()
	s.SetTraceID(tid)
	s.SetSpanID(spanID(txn, idx))
	if idx > 0 {
		s.SetParentSpanID(spanID(txn, parent))
	}
	s.SetName(name)
	s.SetKind(kind)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(d)))
	return s
}

func spanID(txn, idx int) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], uint64(txn)<<4|uint64(idx)+1)
	return id
}

// Split sends the terminals' and the gateways' spans of each request apart,
// as the two processes export them: every request of reqs becomes one request
// of terminal spans and, lag requests later, one of gateway spans, so a
// transaction's spans reach the collector in two requests.
func Split(reqs []ptrace.Traces, lag int) []ptrace.Traces {
	var out, pending []ptrace.Traces
	for _, r := range reqs {
		term, gw := ptrace.NewTraces(), ptrace.NewTraces()
		rs := r.ResourceSpans()
		rs.At(0).CopyTo(term.ResourceSpans().AppendEmpty())
		if rs.Len() > 1 {
			rs.At(1).CopyTo(gw.ResourceSpans().AppendEmpty())
		}
		out = append(out, term)
		pending = append(pending, gw)
		if len(pending) > lag {
			out = append(out, pending[0])
			pending = pending[1:]
		}
	}
	return append(out, pending...)
}
