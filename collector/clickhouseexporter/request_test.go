package clickhouseexporter

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/ptrace"
	pdatareq "go.opentelemetry.io/collector/pdata/xpdata/request"

	"github.com/settlewatch/settlewatch/loadgen"
)

// spanIDs lists a row set's span ids in order.
func spanIDs(rs *rowSet) []string { return stringsOf(rs.spans["span_id"]) }

func convertParts(t *testing.T, r *otlpRequest) *rowSet {
	t.Helper()
	c := converter{maxValueBytes: 1024, now: time.Now()}
	// convert lets each part go once converted; the request keeps its own.
	rs := c.convert(slices.Clone(r.parts), r.n)
	if rs.malformed != nil {
		t.Fatal(rs.malformed)
	}
	return rs
}

// A request goes into the queue as the collector's own traces request does
// and comes back as bytes that convert to the same rows, its client
// metadata restored; queued again (as the queue does at start with the
// requests a killed collector had taken out), it is still readable by the
// collector's own decoder, so a downgrade reads the queue too.
func TestQueueEncodingRoundTrip(t *testing.T) {
	td := loadgen.Requests(30, 150, 5)[0]
	want := spanIDs(convertOne(t, td))
	ctx := client.NewContext(context.Background(), client.Info{
		Metadata: client.NewMetadata(map[string][]string{"x-tenant": {"acquirer-7"}}),
	})
	enc := otlpEncoding{owned: true}
	b, err := enc.Marshal(ctx, &otlpRequest{td: td, n: td.SpanCount()})
	if err != nil {
		t.Fatal(err)
	}
	gotCtx, req, err := enc.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	r := req.(*otlpRequest)
	if r.n != 150 || len(r.parts) != 1 {
		t.Fatalf("read back %d spans in %d parts, want 150 in 1", r.n, len(r.parts))
	}
	if got := client.FromContext(gotCtx).Metadata.Get("x-tenant"); len(got) != 1 || got[0] != "acquirer-7" {
		t.Errorf("client metadata read back as %v", got)
	}
	if got := spanIDs(convertParts(t, r)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("the queued request converts to other spans: %d against %d", len(got), len(want))
	}

	again, err := enc.Marshal(gotCtx, r)
	if err != nil {
		t.Fatal(err)
	}
	stockCtx, stock, err := pdatareq.UnmarshalTraces(again)
	if err != nil {
		t.Fatalf("the collector's own decoder refuses a request queued again: %v", err)
	}
	if stock.SpanCount() != 150 || client.FromContext(stockCtx).Metadata.Get("x-tenant")[0] != "acquirer-7" {
		t.Errorf("queued again: %d spans, metadata %v", stock.SpanCount(), client.FromContext(stockCtx).Metadata)
	}
	_, req2, err := otlpEncoding{}.Unmarshal(again)
	if err != nil {
		t.Fatal(err)
	}
	if got := spanIDs(convertParts(t, req2.(*otlpRequest))); len(got) != len(want) || got[149] != want[149] {
		t.Errorf("queued again, read back %d spans", len(got))
	}
}

// Items queued by earlier collectors read back: the envelope written by
// the stock traces request, and a bare TracesData from before it.
func TestQueueEncodingReadsEarlierItems(t *testing.T) {
	td := loadgen.Requests(10, 50, 9)[0]
	stock, err := pdatareq.MarshalTraces(context.Background(), td)
	if err != nil {
		t.Fatal(err)
	}
	bare, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"envelope": stock, "bare": bare} {
		_, req, err := otlpEncoding{}.Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r := req.(*otlpRequest); r.n != 50 || len(spanIDs(convertParts(t, r))) != 50 {
			t.Errorf("%s: %d spans", name, r.n)
		}
	}
	if _, _, err := (otlpEncoding{}).Unmarshal([]byte{0x0a, 0x09, 0x12}); err == nil {
		t.Error("a damaged item was read without an error")
	}
}

// A storage other than the spool may reuse its buffer: the request read
// back must not view it.
func TestQueueEncodingCopiesABufferItDoesNotOwn(t *testing.T) {
	b, err := pdatareq.MarshalTraces(context.Background(), loadgen.Requests(5, 25, 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	_, req, err := otlpEncoding{}.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	want := spanIDs(convertParts(t, req.(*otlpRequest)))
	clear(b)
	if got := spanIDs(convertParts(t, req.(*otlpRequest))); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Error("the request read back changed with the storage's buffer")
	}
}

// Batches merge whole requests up to max_size spans; a request that would
// pass it starts the next batch, and one larger than max_size goes alone.
func TestMergeSplitKeepsRequestsWhole(t *testing.T) {
	reqs := loadgen.Requests(60, 100, 4) // three requests of 100 spans
	mk := func(i int) *otlpRequest {
		r := &otlpRequest{td: reqs[i], n: reqs[i].SpanCount()}
		if err := r.encode(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	ctx, items := context.Background(), exporterhelper.RequestSizerTypeItems
	a := mk(0)
	out, err := a.MergeSplit(ctx, 250, items, mk(1))
	if err != nil || len(out) != 1 || a.n != 200 || len(a.parts) != 2 {
		t.Fatalf("merge within max: %d requests, %d spans, %v", len(out), a.n, err)
	}
	c := mk(2)
	out, err = a.MergeSplit(ctx, 250, items, c)
	if err != nil || len(out) != 2 || out[0] != a || out[1] != c || a.n != 200 || c.n != 100 {
		t.Fatalf("merge past max: %d requests (%v)", len(out), err)
	}
	out, err = c.MergeSplit(ctx, 50, items, nil)
	if err != nil || len(out) != 1 || out[0] != c {
		t.Fatalf("a request above max alone: %d requests (%v)", len(out), err)
	}
	if got := len(spanIDs(convertParts(t, a))); got != 200 {
		t.Errorf("the merged batch converts to %d spans, want 200", got)
	}
	if _, err := a.MergeSplit(ctx, 250, exporterhelper.RequestSizerTypeBytes, c); err == nil {
		t.Error("batches sized in bytes were accepted")
	}
}
