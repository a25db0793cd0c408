package clickhouseexporter

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/collector/otlpwire"
)

// FuzzConvert feeds arbitrary bytes to the conversion: nothing may panic,
// and whatever pdata parses, encoded again as the queue holds it, must
// convert whole, keep one spans row per span, and
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
		// Whatever the bytes, reading them never panics.
		n, _ := otlpwire.CountSpans(data)
		c := converter{maxValueBytes: 1024, now: time.Unix(1_800_000_000, 0)}
		c.convert([][]byte{data}, n)
		td, err := u.UnmarshalTraces(data)
		if err != nil {
			return // not OTLP: the receiver rejects it before us
		}
		// What the queue holds is pdata's encoding of what it parsed: that
		// converts whole.
		rs, err := c.convertTraces(td)
		if err != nil {
			t.Fatal(err)
		}
		if rs.malformed != nil || rs.nSpans != td.SpanCount() {
			t.Fatalf("%d spans rows for %d spans (%v)", rs.nSpans, td.SpanCount(), rs.malformed)
		}
		if rs.nFacts > rs.nSpans || rs.nBatches > rs.nSpans {
			t.Fatalf("more derived rows than spans: %d facts, %d batches", rs.nFacts, rs.nBatches)
		}
		for _, v := range stringsOf(rs.spans["name"]) {
			if len(v) > 1024+len("…[truncated]") {
				t.Fatalf("unbounded name of %d bytes", len(v))
			}
		}
	})
}
