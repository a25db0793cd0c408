package simulator

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// receiver is an in-process OTLP trace receiver (gRPC and HTTP/protobuf) that keeps what it gets.
type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	rs    []*tracepb.ResourceSpans
	spans int
}

func (r *receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		r.rs = append(r.rs, rs)
		for _, ss := range rs.ScopeSpans {
			r.spans += len(ss.Spans)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &msg); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	resp, _ := r.Export(req.Context(), &msg)
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func startGRPC(t *testing.T) (*receiver, string) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcv := &receiver{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, rcv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return rcv, lis.Addr().String()
}

func smallPlan(t *testing.T) *Plan {
	cfg := mustParse(t, "fleet: {merchants: 3, terminals_per_merchant: 2}\nscenarios:\n"+
		"  - {type: gateway_outage, gateway: gw-1, start: \"+9h\", duration: 6h, rates: {code_91: 0.5, timeout: 0.3}}\n")
	return mustGenerate(t, cfg, oneDay())
}

func checkReceived(t *testing.T, rcv *receiver, p *Plan, st EmitStats) {
	t.Helper()
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if int64(rcv.spans) != st.SpansEnded || st.SpansExported != st.SpansEnded || st.SpansDropped != 0 {
		t.Fatalf("received %d spans; stats %+v", rcv.spans, st)
	}
	// Index host requests and authorize spans as received.
	type got struct {
		trace, parent []byte
		service       string
	}
	bySpan := map[string]got{}
	for _, rs := range rcv.rs {
		svc := ""
		for _, a := range rs.Resource.Attributes {
			if a.Key == "service.name" {
				svc = a.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			if ss.Scope.GetName() != ScopeName {
				t.Fatalf("scope %q", ss.Scope.GetName())
			}
			for _, s := range ss.Spans {
				bySpan[string(s.SpanId)] = got{s.TraceId, s.ParentSpanId, svc}
			}
		}
	}
	authorize := 0
	for _, tx := range p.Txns() {
		for _, s := range tx.Spans {
			g, ok := bySpan[string(s.SpanID[:])]
			if !ok {
				t.Fatalf("%s: %s not received", tx.ID, s.Name)
			}
			if !bytes.Equal(g.trace, tx.TraceID[:]) || g.service != s.Service.ServiceName() {
				t.Fatalf("%s: %s received in trace %x from %s", tx.ID, s.Name, g.trace, g.service)
			}
			if s.Name == SpanAuthorize {
				authorize++
				host := tx.Spans[s.Parent]
				if !bytes.Equal(g.parent, host.SpanID[:]) {
					t.Fatalf("%s: gateway.authorize parent %x, want the host request %s", tx.ID, g.parent, host.SpanID)
				}
			}
		}
	}
	if authorize == 0 {
		t.Fatal("no gateway.authorize")
	}
}

func TestOTLPGRPCRoundTrip(t *testing.T) {
	rcv, addr := startGRPC(t)
	p := smallPlan(t)
	ctx := context.Background()
	exp, err := NewOTLPExporter(ctx, ExporterConfig{Protocol: "grpc", Endpoint: addr, Insecure: true, Compression: "gzip"})
	if err != nil {
		t.Fatal(err)
	}
	em := NewEmitter(exp, EmitterOptions{Blocking: true, MaxExportBatchSize: 512})
	rec := NewTruthRecorder(0)
	gen, err := NewGenerator(mustParse(t, "fleet: {merchants: 3, terminals_per_merchant: 2}\nscenarios:\n"+
		"  - {type: gateway_outage, gateway: gw-1, start: \"+9h\", duration: 6h, rates: {code_91: 0.5, timeout: 0.3}}\n"),
		GenOptions{Range: oneDay()})
	if err != nil {
		t.Fatal(err)
	}
	if err := Backfill(ctx, gen, em, rec, nil); err != nil {
		t.Fatal(err)
	}
	st, err := em.Shutdown(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkReceived(t, rcv, p, st)
	if rec.Len() != len(p.Txns()) {
		t.Fatalf("truth has %d transactions, plan %d", rec.Len(), len(p.Txns()))
	}
}

func TestOTLPHTTPRoundTrip(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	p := smallPlan(t)
	ctx := context.Background()
	exp, err := NewOTLPExporter(ctx, ExporterConfig{Protocol: "http", Endpoint: srv.URL + "/v1/traces", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	em := NewEmitter(exp, EmitterOptions{Blocking: true})
	for _, e := range p.Events {
		if err := em.Emit(e); err != nil {
			t.Fatal(err)
		}
	}
	st, err := em.Shutdown(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkReceived(t, rcv, p, st)
}

// Nothing listens: every export fails and is counted, nothing blocks forever.
func TestOTLPFailuresAreCounted(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	ctx := context.Background()
	exp, err := NewOTLPExporter(ctx, ExporterConfig{Protocol: "grpc", Endpoint: addr, Insecure: true,
		Timeout: 500 * time.Millisecond, RetryMaxElapsed: -1})
	if err != nil {
		t.Fatal(err)
	}
	em := NewEmitter(exp, EmitterOptions{MaxQueueSize: 4096, MaxExportBatchSize: 2048, BatchTimeout: 50 * time.Millisecond})
	p := smallPlan(t)
	for _, e := range p.Events[:200] {
		_ = em.Emit(e)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, _ := em.Shutdown(sctx)
	if st.SpansExported != 0 || st.SpansFailed+st.SpansDropped != st.SpansEnded || st.ExportErrors == 0 || st.LastError == "" {
		t.Fatalf("stats %+v", st)
	}
}
