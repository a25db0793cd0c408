package clickhouseexporter

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// FuzzConvert feeds arbitrary OTLP protobuf to the conversion: whatever
// parses must convert without panicking, keep one spans row per span, and
// produce only storable strings.
func FuzzConvert(f *testing.F) {
	m := &ptrace.ProtoMarshaler{}
	for _, td := range []ptrace.Traces{benchTraces(2), ptrace.NewTraces()} {
		b, err := m.MarshalTraces(td)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	bad := ptrace.NewTraces()
	sp := newSpan(bad, "pos-terminal\xff")
	sp.SetName("pos.batch.close")
	sp.Attributes().PutDouble("pos.amount.minor", 1e300)
	sp.Attributes().PutStr("pos.txn.id", "4111111111111111")
	sp.SetEndTimestamp(1)
	b, _ := m.MarshalTraces(bad)
	f.Add(b)
	u := &ptrace.ProtoUnmarshaler{}
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := u.UnmarshalTraces(data)
		if err != nil {
			return // not OTLP: the receiver rejects it before us
		}
		c := converter{maxValueBytes: 1024, now: time.Unix(1_800_000_000, 0)}
		rs := c.convert(td)
		if rs.nSpans != td.SpanCount() {
			t.Fatalf("%d spans rows for %d spans", rs.nSpans, td.SpanCount())
		}
		if rs.nFacts > rs.nSpans || rs.nBatches > rs.nSpans || rs.nTraces > rs.nSpans {
			t.Fatalf("more derived rows than spans: %d facts, %d batches, %d traces", rs.nFacts, rs.nBatches, rs.nTraces)
		}
		for _, v := range stringsOf(rs.spans["name"]) {
			if len(v) > 1024+len("…[truncated]") {
				t.Fatalf("unbounded name of %d bytes", len(v))
			}
		}
	})
}
