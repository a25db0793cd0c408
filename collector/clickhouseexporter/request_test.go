package clickhouseexporter

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	pdatareq "go.opentelemetry.io/collector/pdata/xpdata/request"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/loadgen"
)

// variedTraces are contract-shaped transactions plus a span with what they
// lack: events, links, a batch close, an error without a transaction, and
// strings that are empty, long or not ASCII.
func variedTraces() ptrace.Traces {
	td := benchTraces(30)
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "pos-terminal")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	odd := spans.AppendEmpty()
	odd.SetName("pos.card.read")
	odd.SetTraceID(pcommon.TraceID{9, 9})
	odd.SetSpanID(pcommon.SpanID{9, 1})
	odd.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	odd.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
	odd.Status().SetCode(ptrace.StatusCodeError)
	odd.Status().SetMessage("读卡失败 " + strings.Repeat("x", 300))
	odd.Attributes().PutStr("error.type", "card_read_error")
	odd.Attributes().PutStr("empty", "")
	ev := odd.Events().AppendEmpty()
	ev.SetName("retry")
	ev.SetTimestamp(pcommon.NewTimestampFromTime(now))
	ev.Attributes().PutInt("attempt", 2)
	l := odd.Links().AppendEmpty()
	l.SetTraceID(pcommon.TraceID{7})
	l.SetSpanID(pcommon.SpanID{7})
	closeSpan := spans.AppendEmpty()
	closeSpan.SetName("pos.batch.close")
	closeSpan.SetTraceID(pcommon.TraceID{8})
	closeSpan.SetSpanID(pcommon.SpanID{8})
	closeSpan.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	closeSpan.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
	closeSpan.Attributes().PutStr("pos.terminal.id", "T9")
	closeSpan.Attributes().PutStr("pos.batch.number", "000777")
	closeSpan.Attributes().PutInt("pos.batch.txn_count", 12)
	closeSpan.Attributes().PutInt("pos.batch.amount.minor", 123456)
	return td
}

// copyOf is a deep copy of td: the same spans, timestamps included.
func copyOf(td ptrace.Traces) ptrace.Traces {
	out := ptrace.NewTraces()
	td.CopyTo(out)
	return out
}

func convertRows(td ptrace.Traces) *rowsRequest {
	c := converter{maxValueBytes: 65536, now: time.Now()}
	return c.convert(td)
}

// columnsDiff names the first difference between two tables' columns; an
// empty array and a missing one are the same row to ClickHouse.
func columnsDiff(a, b chbatch.Columns) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d columns against %d", len(a), len(b))
	}
	for name, va := range a {
		x, y := reflect.ValueOf(va), reflect.ValueOf(b[name])
		if !y.IsValid() || x.Len() != y.Len() {
			return fmt.Sprintf("column %s: %v against %v", name, va, b[name])
		}
		for i := range x.Len() {
			ex, ey := x.Index(i), y.Index(i)
			if ex.Kind() == reflect.Slice && ex.Len() == 0 && ey.Len() == 0 {
				continue
			}
			if !reflect.DeepEqual(ex.Interface(), ey.Interface()) {
				return fmt.Sprintf("column %s row %d: %v against %v", name, i, ex.Interface(), ey.Interface())
			}
		}
	}
	return ""
}

func sameRows(t *testing.T, want, got converted) {
	t.Helper()
	for name, tables := range map[string][2]chbatch.Columns{
		"spans": {want.spans, got.spans}, "facts": {want.facts, got.facts},
		"batches": {want.batches, got.batches}, "traces": {want.traces, got.traces},
	} {
		if diff := columnsDiff(tables[0], tables[1]); diff != "" {
			t.Errorf("%s: %s", name, diff)
		}
	}
	if !reflect.DeepEqual(want.keys, got.keys) {
		t.Errorf("assembly keys %+v, want %+v", got.keys, want.keys)
	}
}

// The persistent queue's copy of a request gives back every row of every
// table as converted.
func TestRowsSurviveTheQueueEncoding(t *testing.T) {
	td := variedTraces()
	r := convertRows(copyOf(td))
	want := viewOf(convertRows(td))
	if want.nBatches != 1 || want.nFacts != 151 || len(want.keys.TraceIDs) != 1 {
		t.Fatalf("the test request lost its variety: %d batch closes, %d facts, %d trace keys", want.nBatches, want.nFacts, len(want.keys.TraceIDs))
	}
	b, err := rowsEncoding{}.Marshal(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if est := r.BytesSize(); est < len(b) || est > len(b)+2000 {
		t.Errorf("BytesSize %d for an encoding of %d bytes", est, len(b))
	}
	_, back, err := rowsEncoding{}.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.ItemsCount() != want.nSpans {
		t.Errorf("decoded %d spans, want %d", back.ItemsCount(), want.nSpans)
	}
	got := viewOf(back.(*rowsRequest))
	got.spans["ingested_ns"], got.facts["ingested_ns"] = want.spans["ingested_ns"], want.facts["ingested_ns"]
	sameRows(t, want, got)
	if ev := got.spans["events.name"].([][]string); ev[len(ev)-2][0] != "retry" {
		t.Errorf("events of the odd span: %v", ev[len(ev)-2])
	}
}

// A request queued by a collector from before rows were queued is OTLP, with
// or without the helper's context; it is converted when read.
func TestQueuedOTLPRequestIsConverted(t *testing.T) {
	td := variedTraces()
	want := viewOf(convertRows(copyOf(td)))
	ctx := client.NewContext(context.Background(), client.Info{Metadata: client.NewMetadata(map[string][]string{"tenant": {"a"}})})
	withCtx, err := pdatareq.MarshalTraces(ctx, td)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	converted := 0
	enc := rowsEncoding{legacy: func(_ context.Context, td ptrace.Traces) *rowsRequest {
		converted++
		return convertRows(td)
	}}
	for name, b := range map[string][]byte{"request with context": withCtx, "bare traces": plain} {
		_, r, err := enc.Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameRows(t, want, viewOf(r.(*rowsRequest)))
	}
	if converted != 2 {
		t.Errorf("converted %d legacy requests, want 2", converted)
	}
	if _, _, err := enc.Unmarshal([]byte{0xff, 0xff, 0xff}); err == nil || !strings.Contains(err.Error(), "queued OTLP request") {
		t.Errorf("garbage unmarshalled as %v", err)
	}
}

// A damaged or foreign queue file is an error saying so, never a panic or
// a short request.
func TestDamagedQueuedRowsAreErrors(t *testing.T) {
	b := encodeRows(convertRows(benchTraces(20)))
	for n := len(rowsMagic); n < len(b); n += 7 {
		if _, err := decodeRows(b[:n]); err == nil {
			t.Fatalf("decoded %d of %d bytes without an error", n, len(b))
		}
	}
	newer := append([]byte(nil), b...)
	newer[len(rowsMagic)] = rowsFormat + 1
	if _, err := decodeRows(newer); err == nil || !strings.Contains(err.Error(), "drain the queue") {
		t.Errorf("a newer format decoded as %v", err)
	}
	huge := append(append([]byte(nil), b[:len(rowsMagic)+1]...), binary.AppendUvarint(nil, 1<<39)...)
	if _, err := decodeRows(huge); err == nil {
		t.Error("a count of 2^39 spans decoded")
	}
}

// A version that adds or drops a column still reads the queue the other
// wrote: columns are matched by name.
func TestQueuedRowsMatchColumnsByName(t *testing.T) {
	type olderSpans struct {
		TraceID []string
		Retired []uint64 // a column this version no longer has
	}
	b := append([]byte(nil), rowsMagic[:]...)
	b = append(b, rowsFormat)
	b = binary.AppendUvarint(b, 2)
	b = encodeSet(b, &olderSpans{TraceID: []string{"a", "b"}, Retired: []uint64{1, 2}})
	b = encodeSet(b, &factCols{})
	b = encodeSet(b, &batchCols{})
	r, err := decodeRows(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.n != 2 || r.spans.TraceID[1] != "b" || len(r.spans.Name) != 2 || len(r.spans.AttrKeys) != 2 || r.spans.Start[0] != (time.Time{}) {
		t.Fatalf("decoded spans %+v", r.spans)
	}
}

// Batching merges requests and cuts them at max_size spans; each span's
// facts and batch close stay with it, and no row is lost or repeated.
func TestMergeSplitKeepsRowsWithTheirSpans(t *testing.T) {
	reqs := loadgen.Requests(300, 700, 5) // 1500 spans in requests of ≤700
	var batch *rowsRequest
	var pieces []*rowsRequest
	total := 0
	for _, td := range append(reqs, variedTraces()) {
		r := convertRows(td)
		total += r.n
		if batch == nil {
			batch = r
			continue
		}
		out, err := batch.MergeSplit(context.Background(), 1000, exporterhelper.RequestSizerTypeItems, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range out[:len(out)-1] {
			pieces = append(pieces, p.(*rowsRequest))
		}
		batch = out[len(out)-1].(*rowsRequest)
		if len(out) > 1 && batch.n > out[0].ItemsCount() {
			t.Errorf("the last piece (%d spans) is larger than the first (%d)", batch.n, out[0].ItemsCount())
		}
	}
	pieces = append(pieces, batch)
	seen, facts, closes := map[string]bool{}, 0, 0
	for _, p := range pieces {
		if p.n > 1000 || p.n != len(p.spans.TraceID) {
			t.Fatalf("a piece of %d spans (%d span rows), max 1000", p.n, len(p.spans.TraceID))
		}
		for i, row := range p.facts.SpanRow {
			if int(row) >= p.n || p.spans.SpanID[row] != p.facts.SpanID[i] {
				t.Fatalf("fact %d names span row %d of %d, not its span", i, row, p.n)
			}
		}
		for i, row := range p.batches.SpanRow {
			if int(row) >= p.n || p.spans.SpanID[row] != p.batches.SpanID[i] {
				t.Fatalf("batch close %d names span row %d, not its span", i, row)
			}
		}
		for _, id := range p.spans.SpanID {
			seen[id] = true
		}
		facts += len(p.facts.TxnID)
		closes += len(p.batches.TerminalID)
	}
	if len(seen) != total || total != 1500+152 {
		t.Errorf("%d distinct spans in the pieces, %d sent", len(seen), total)
	}
	if facts != 1500+151 || closes != 1 {
		t.Errorf("%d facts and %d batch closes in the pieces", facts, closes)
	}
	if len(pieces) < 2 {
		t.Fatalf("%d pieces: nothing was cut", len(pieces))
	}
	if _, err := batch.MergeSplit(context.Background(), 1000, exporterhelper.RequestSizerTypeBytes, nil); err == nil {
		t.Error("a split in bytes was accepted")
	}
	// One request larger than max_size alone is cut too.
	big := convertRows(loadgen.Requests(500, 2500, 6)[0])
	out, err := big.MergeSplit(context.Background(), 1000, exporterhelper.RequestSizerTypeItems, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, p := range out {
		sizes = append(sizes, p.ItemsCount())
	}
	if !reflect.DeepEqual(sizes, []int{1000, 1000, 500}) {
		t.Errorf("cut into %v, want [1000 1000 500]", sizes)
	}
}
