package clickhouseexporter

import (
	"bytes"
	"context"
	"fmt"

	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/pdata/ptrace"
	pdatareq "go.opentelemetry.io/collector/pdata/xpdata/request"

	"github.com/settlewatch/settlewatch/collector/otlpwire"
)

// otlpRequest is what the exporter queues and batches: export requests as
// OTLP bytes, converted to rows (otlpwire) when their batch is first pushed.
// The persistent queue stores a request as the collector's own traces
// request does, so a queue written before or after this change reads back;
// a request read back is not decoded into pdata, only its spans counted
// (docs/benchmarks.md, "OTLP read in place").
type otlpRequest struct {
	// td is a request as received, until the persistent queue marshals it
	// (in Offer, before ConsumeTraces returns); then the request is
	// dropped and what the queue reads back holds parts.
	td    ptrace.Traces
	parts [][]byte // encoded TracesData, each a request as queued
	n     int      // spans

	// rows are the batch converted by its first push; a retry (the helper
	// hands the same request back) resumes from them.
	rows *rowSet
}

// ItemsCount is the spans the request holds: what the queue and the batches
// are sized by.
func (r *otlpRequest) ItemsCount() int { return r.n }

// BytesSize is the size of the request's OTLP encoding.
func (r *otlpRequest) BytesSize() int {
	if r.parts == nil {
		return (&ptrace.ProtoMarshaler{}).TracesSize(r.td)
	}
	n := 0
	for _, p := range r.parts {
		n += len(p)
	}
	return n
}

// encode turns a request held as received into bytes.
func (r *otlpRequest) encode() error {
	if r.parts != nil || r.n == 0 {
		return nil
	}
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(r.td)
	if err != nil {
		return fmt.Errorf("settlewatch exporter: encode request: %w", err)
	}
	r.parts, r.td = [][]byte{b}, ptrace.Traces{}
	return nil
}

// MergeSplit appends other's requests to r's. Requests are not cut: when
// both together would exceed maxSize, r is sent as it is and other starts
// the next batch, so a batch holds at most maxSize spans unless a single
// request holds more (a client's request is bounded by the receiver's
// max_recv_msg_size).
func (r *otlpRequest) MergeSplit(_ context.Context, maxSize int, szt exporterhelper.RequestSizerType, other xexporterhelper.Request) ([]xexporterhelper.Request, error) {
	if szt != exporterhelper.RequestSizerTypeItems {
		return nil, fmt.Errorf("settlewatch exporter: batches are sized in items (spans), not %s", szt.String())
	}
	if other == nil {
		return []xexporterhelper.Request{r}, nil
	}
	o, ok := other.(*otlpRequest)
	if !ok {
		return nil, fmt.Errorf("settlewatch exporter: cannot merge a %T into a batch of OTLP requests", other)
	}
	if maxSize > 0 && r.n+o.n > maxSize && r.n > 0 {
		return []xexporterhelper.Request{r, o}, nil
	}
	if err := r.encode(); err != nil {
		return nil, err
	}
	if err := o.encode(); err != nil {
		return nil, err
	}
	r.parts = append(r.parts, o.parts...)
	r.n += o.n
	*o = otlpRequest{}
	return []xexporterhelper.Request{r}, nil
}

// otlpEncoding is the persistent queue's encoding of otlpRequest: the
// collector's own (pdatareq's request envelope: format version, the
// TracesData, the request's context), read back without decoding the spans.
type otlpEncoding struct {
	// owned: the storage hands Unmarshal a buffer of its own that nothing
	// changes afterwards (settlewatch_spool reads each item from its file),
	// so the request may hold it until its batch is converted. Another
	// storage's buffer is copied first. The rows copy what they keep.
	owned bool
}

func (otlpEncoding) Marshal(ctx context.Context, req xexporterhelper.Request) ([]byte, error) {
	r, ok := req.(*otlpRequest)
	if !ok {
		return nil, fmt.Errorf("settlewatch exporter: cannot queue a %T", req)
	}
	if r.parts != nil {
		// A request read back from the queue and queued again (the queue
		// does so at start with the requests a killed collector had taken
		// out): its bytes go back as they are.
		return envelope(ctx, r.parts)
	}
	b, err := pdatareq.MarshalTraces(ctx, r.td)
	r.td = ptrace.Traces{} // the queue holds the bytes from here on
	return b, err
}

// envelope writes parts and ctx as pdatareq.MarshalTraces would.
func envelope(ctx context.Context, parts [][]byte) ([]byte, error) {
	withCtx, err := pdatareq.MarshalTraces(ctx, ptrace.NewTraces())
	if err != nil {
		return nil, fmt.Errorf("settlewatch exporter: queue request context: %w", err)
	}
	_, reqCtx, err := otlpwire.Envelope(withCtx)
	if err != nil {
		return nil, fmt.Errorf("settlewatch exporter: queue request context: %w", err)
	}
	return otlpwire.AppendEnvelope(nil, parts, reqCtx), nil
}

// Unmarshal finds the TracesData in a queued request and counts its spans.
// A request queued without the envelope (by collectors from before it existed) is a bare
// TracesData.
func (enc otlpEncoding) Unmarshal(b []byte) (context.Context, xexporterhelper.Request, error) {
	ctx := context.Background()
	traces, reqCtx, err := otlpwire.Envelope(b)
	if err != nil {
		return ctx, nil, fmt.Errorf("settlewatch exporter: queued request: %w", err)
	}
	if reqCtx != nil {
		ctx = requestContext(reqCtx)
	}
	n, err := otlpwire.CountSpans(traces)
	if err != nil {
		return ctx, nil, fmt.Errorf("settlewatch exporter: queued request: %w", err)
	}
	if !enc.owned {
		traces = bytes.Clone(traces)
	}
	return ctx, &otlpRequest{parts: [][]byte{traces}, n: n}, nil
}

// requestContext decodes a queued request's context (its client metadata
// and span context) with pdata's own decoder, from an envelope that holds
// the context alone.
func requestContext(enc []byte) context.Context {
	env := otlpwire.AppendEnvelope(nil, nil, enc)
	ctx, _, err := pdatareq.UnmarshalTraces(env)
	if err != nil {
		return context.Background() // the spans matter; their context does not
	}
	return ctx
}
