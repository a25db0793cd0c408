package clickhouseexporter

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// benchTraces builds n contract-shaped transactions of 5 spans each.
func benchTraces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	term := td.ResourceSpans().AppendEmpty()
	term.Resource().Attributes().PutStr("service.name", "pos-terminal")
	term.Resource().Attributes().PutStr("pos.merchant.region", "east")
	ts := term.ScopeSpans().AppendEmpty().Spans()
	gw := td.ResourceSpans().AppendEmpty()
	gw.Resource().Attributes().PutStr("service.name", "payment-gateway")
	gs := gw.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	for i := 0; i < n; i++ {
		txn := fmt.Sprintf("B%09d", i)
		tid := pcommon.TraceID{byte(i), byte(i >> 8), byte(i >> 16), 1}
		for j, name := range []string{"pos.transaction", "pos.card.read", "pos.host.request", "gateway.authorize", "gateway.issuer.request"} {
			spans := ts
			if j >= 3 {
				spans = gs
			}
			s := spans.AppendEmpty()
			s.SetTraceID(tid)
			s.SetSpanID(pcommon.SpanID{byte(i), byte(i >> 8), byte(i >> 16), byte(j + 1)})
			if j > 0 {
				s.SetParentSpanID(pcommon.SpanID{byte(i), byte(i >> 8), byte(i >> 16), 1})
			}
			s.SetName(name)
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Second)))
			a := s.Attributes()
			a.PutStr("pos.txn.id", txn)
			if j == 0 {
				a.PutStr("pos.txn.type", "sale")
				a.PutInt("pos.amount.minor", 1234)
				a.PutStr("pos.currency", "CNY")
				a.PutStr("pos.terminal.id", "T00001")
				a.PutStr("pos.merchant.id", "M0001")
				a.PutStr("pos.gateway.id", "gw-1")
				a.PutStr("pos.card.scheme", "unionpay")
				a.PutStr("pos.response.code", "00")
				a.PutStr("pos.batch.number", "000123")
			}
		}
	}
	return td
}

// BenchmarkConvert measures OTLP → rows for every table, per span.
func BenchmarkConvert(b *testing.B) {
	td := benchTraces(400) // 2000 spans, the size of a typical request
	enc, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := converter{maxValueBytes: 65536, now: time.Now()}
		// As the queue reads it back; convert lets the part go.
		c.convert([][]byte{enc}, td.SpanCount())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*td.SpanCount()), "ns/span")
}
