package clickhouseexporter

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"

	"github.com/settlewatch/settlewatch/assembly"
)

// rowsRequest is what the exporter queues, batches and stores: an export
// request's spans converted to rows as it arrives. The persistent queue
// holds these rows (encoding.go) instead of the OTLP request, so a request
// is decoded once, by the receiver, and not encoded and decoded again as
// spans on its way through the queue (docs/benchmarks.md, "Rows in the
// queue"); its spans are let go as soon as the receiver's call returns.
type rowsRequest struct {
	n       int // spans
	spans   *spanCols
	facts   *factCols
	batches *batchCols

	// What converting found wrong, counted and logged once, when it arrives.
	issues   map[string]int
	examples map[string]string // reason → one txn or span id, for the log

	// Set by the first attempt to store it (prepare); a retry of the same
	// request resumes from them and writes its rows with the same stamp.
	stamp  uint64
	traces *traceCols
	keys   assembly.Keys
	stored [4]bool // by table, in the order store writes them
}

func newRowsRequest(n int) *rowsRequest {
	return &rowsRequest{
		n: n, spans: newSpanCols(n), facts: newFactCols(n), batches: &batchCols{},
		issues: map[string]int{}, examples: map[string]string{},
	}
}

// ItemsCount is the spans the request holds: what the queue and the
// batches are sized by.
func (r *rowsRequest) ItemsCount() int { return r.n }

// BytesSize is the size of the request's encoding, for a queue sized in
// bytes.
func (r *rowsRequest) BytesSize() int { return encodedLen(r) }

// MergeSplit appends other's rows to r's, then cuts the result into
// requests of at most maxSize spans (the last one the smallest), each
// span's facts and batch close with it. Only the items sizer is supported
// (Config.Validate refuses the others for batches).
func (r *rowsRequest) MergeSplit(_ context.Context, maxSize int, szt exporterhelper.RequestSizerType, other xexporterhelper.Request) ([]xexporterhelper.Request, error) {
	if szt != exporterhelper.RequestSizerTypeItems {
		return nil, fmt.Errorf("settlewatch exporter: batches are sized in items (spans), not %s", szt.String())
	}
	if other != nil {
		o, ok := other.(*rowsRequest)
		if !ok {
			return nil, fmt.Errorf("settlewatch exporter: cannot merge a %T into its rows", other)
		}
		r.merge(o)
	}
	if maxSize <= 0 || r.n <= maxSize {
		return []xexporterhelper.Request{r}, nil
	}
	var out []xexporterhelper.Request
	for r.n > maxSize {
		out = append(out, r.cut(maxSize))
	}
	if r.n > 0 {
		out = append(out, r)
	}
	return out, nil
}

// merge moves o's rows to the end of r's.
func (r *rowsRequest) merge(o *rowsRequest) {
	f0, b0 := len(r.facts.SpanRow), len(r.batches.SpanRow)
	appendCols(r.spans, o.spans)
	appendCols(r.facts, o.facts)
	appendCols(r.batches, o.batches)
	// o's span indexes now count from r's first span.
	for _, rows := range [][]uint32{r.facts.SpanRow[f0:], r.batches.SpanRow[b0:]} {
		for i := range rows {
			rows[i] += uint32(r.n)
		}
	}
	r.n += o.n
	*o = rowsRequest{spans: &spanCols{}, facts: &factCols{}, batches: &batchCols{}}
}

// cut removes r's first k spans, with their facts and batch closes, and
// returns them as a request of their own.
func (r *rowsRequest) cut(k int) *rowsRequest {
	fk, bk := firstFrom(r.facts.SpanRow, k), firstFrom(r.batches.SpanRow, k)
	nf, nb := len(r.facts.SpanRow), len(r.batches.SpanRow)
	head := &rowsRequest{n: k,
		spans:   sliceCols(r.spans, 0, k),
		facts:   sliceCols(r.facts, 0, fk),
		batches: sliceCols(r.batches, 0, bk),
	}
	r.spans = sliceCols(r.spans, k, r.n)
	r.facts = sliceCols(r.facts, fk, nf)
	r.batches = sliceCols(r.batches, bk, nb)
	r.facts.SpanRow = shifted(r.facts.SpanRow, -k)
	r.batches.SpanRow = shifted(r.batches.SpanRow, -k)
	r.n -= k
	return head
}

// prepare stamps the request's rows and works out its txn_traces rows and
// assembly's keys, once: a retry keeps them.
func (r *rowsRequest) prepare(stamp uint64) {
	if r.stamp != 0 {
		return
	}
	r.stamp = stamp
	r.traces, r.keys = txnTraces(r.facts, r.batches)
}
