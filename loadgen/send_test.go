package loadgen

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// receiver is an OTLP/gRPC trace server (pdata's own service), which keeps
// the span ids it received and answers as told.
type receiver struct {
	ptraceotlp.UnimplementedGRPCServer
	mu       sync.Mutex
	spans    map[[8]byte]int
	unavail  int // refuse this many requests with Unavailable first
	rejected int64
}

func (r *receiver) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unavail > 0 {
		r.unavail--
		return ptraceotlp.NewExportResponse(), status.Error(codes.Unavailable, "memory limiter")
	}
	countSpanIDs(r.spans, req.Traces())
	resp := ptraceotlp.NewExportResponse()
	if r.rejected > 0 {
		resp.PartialSuccess().SetRejectedSpans(r.rejected)
		resp.PartialSuccess().SetErrorMessage("bad spans")
	}
	return resp, nil
}

func serve(t *testing.T, r *receiver) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(s, r)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// countSpanIDs adds one to into for every span of td, by span id.
func countSpanIDs(into map[[8]byte]int, td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := range rss.Len() {
		sss := rss.At(i).ScopeSpans()
		for j := range sss.Len() {
			ss := sss.At(j).Spans()
			for k := range ss.Len() {
				into[ss.At(k).SpanID()]++
			}
		}
	}
}

// Encoded requests arrive as the requests they were made from: every span
// once, after the server's Unavailable answers were retried.
func TestSendEncodedDeliversEverySpanOnce(t *testing.T) {
	reqs := Requests(300, 100, 11)
	want := map[[8]byte]int{}
	for _, td := range reqs {
		countSpanIDs(want, td)
	}
	if len(want) != 300*SpansPerTxn {
		t.Fatalf("%d distinct span ids generated, want %d", len(want), 300*SpansPerTxn)
	}
	r := &receiver{spans: map[[8]byte]int{}, unavail: 3}
	if err := Send(serve(t, r), reqs, 3); err != nil {
		t.Fatal(err)
	}
	if len(r.spans) != len(want) {
		t.Fatalf("the server received %d distinct spans, want %d", len(r.spans), len(want))
	}
	for id, n := range r.spans {
		if n != 1 || want[id] != 1 {
			t.Fatalf("span %x received %d times (generated %d times)", id, n, want[id])
		}
	}
}

// A response reporting rejected spans fails the send: the benchmark counts
// every span it sent as one to store.
func TestSendEncodedReportsRejectedSpans(t *testing.T) {
	r := &receiver{spans: map[[8]byte]int{}, rejected: 7}
	err := Send(serve(t, r), Requests(10, 50, 3), 1)
	if err == nil || !strings.Contains(err.Error(), "rejected 7 spans: bad spans") {
		t.Fatalf("got %v, want the rejected spans reported", err)
	}
}
