package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// exportMethod is OTLP/gRPC's trace export, the method SDK exporters call.
const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// Encoded is one OTLP ExportTraceServiceRequest in its protobuf wire form.
type Encoded []byte

// Encode marshals each request once, up front, the way an SDK exporter
// on another host would have before sending it: the benchmark then spends
// the shared cores sending, not marshalling (docs/benchmarks.md, the
// twenty-fourth stop's section).
func Encode(reqs []ptrace.Traces) ([]Encoded, error) {
	out := make([]Encoded, len(reqs))
	for i, td := range reqs {
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			return nil, fmt.Errorf("encode request %d: %w", i, err)
		}
		out[i] = b
	}
	return out, nil
}

// Send exports reqs to an OTLP/gRPC endpoint from several workers; a request
// counts as sent once the server acknowledged it.
func Send(addr string, reqs []ptrace.Traces, workers int) error {
	enc, err := Encode(reqs)
	if err != nil {
		return err
	}
	return SendEncoded(addr, enc, workers)
}

// SendEncoded is Send for requests already encoded (Encode).
func SendEncoded(addr string, reqs []Encoded, workers int) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	work := make(chan Encoded)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range work {
				if err := exportWithRetry(conn, req); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, r := range reqs {
		work <- r
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("export: %w", err)
	default:
		return nil
	}
}

// exportWithRetry retries what the OTLP spec calls retryable (the memory
// limiter's Unavailable, ResourceExhausted, and DeadlineExceeded: a full
// queue holds a request until there is room, and a long ClickHouse outage
// can outlast an attempt's deadline), as SDK exporters do. A response that
// reports rejected spans is an error: the benchmark counts every span sent.
func exportWithRetry(conn *grpc.ClientConn, req Encoded) error {
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		resp := ptraceotlp.NewExportResponse()
		err := conn.Invoke(ctx, exportMethod, req, &resp, grpc.ForceCodecV2(wireCodec{}))
		cancel()
		if err == nil {
			if n := resp.PartialSuccess().RejectedSpans(); n > 0 {
				return fmt.Errorf("the collector rejected %d spans: %s", n, resp.PartialSuccess().ErrorMessage())
			}
			return nil
		}
		code := status.Code(err)
		if (code != codes.Unavailable && code != codes.ResourceExhausted && code != codes.DeadlineExceeded) || attempt > 200 {
			return err
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
}

// wireCodec sends an Encoded request as it is and reads the export
// response with pdata's own decoder. Its name is the standard proto
// codec's, so the request's content type is what SDK exporters send.
type wireCodec struct{}

func (wireCodec) Name() string { return "proto" }

func (wireCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(Encoded)
	if !ok {
		return nil, fmt.Errorf("loadgen: cannot send a %T", v)
	}
	// A SliceBuffer is not pooled: the request's bytes stay the caller's.
	return mem.BufferSlice{mem.SliceBuffer(req)}, nil
}

func (wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	resp, ok := v.(*ptraceotlp.ExportResponse)
	if !ok {
		return fmt.Errorf("loadgen: cannot read a response into %T", v)
	}
	return resp.UnmarshalProto(data.Materialize())
}
