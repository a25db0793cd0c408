package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu       sync.Mutex
	spans    int
	paths    map[string]bool
	services map[string]bool
}

func (r *receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.services == nil {
		r.services = map[string]bool{}
	}
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.Resource.Attributes {
			if a.Key == "service.name" {
				r.services[a.Value.GetStringValue()] = true
			}
		}
		for _, ss := range rs.ScopeSpans {
			r.spans += len(ss.Spans)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	if r.paths == nil {
		r.paths = map[string]bool{}
	}
	r.paths[req.URL.Path] = true
	r.mu.Unlock()
	raw, _ := io.ReadAll(req.Body)
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

func scenarioFile(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const small = `seed: 5
fleet: {merchants: 3, terminals_per_merchant: 2}
scenarios:
  - {type: gateway_outage, gateway: gw-1, start: "+10h", duration: 2h}
  - {type: network_degradation, merchant: "#2", start: "+15h", duration: 3h}
`

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

type report struct {
	Stats struct {
		Txns          int64 `json:"txns"`
		SpansEnded    int64 `json:"spans_ended"`
		SpansExported int64 `json:"spans_exported"`
		SpansDropped  int64 `json:"spans_dropped"`
		SpansFailed   int64 `json:"spans_failed"`
	} `json:"stats"`
	Achieved float64 `json:"achieved_txns_per_second"`
	Truth    struct {
		Txns      int              `json:"txns"`
		ByOutcome map[string]int64 `json:"by_outcome"`
	} `json:"truth"`
}

func parseReport(t *testing.T, s string) report {
	t.Helper()
	var r report
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("report %q: %v", s, err)
	}
	return r
}

func TestBackfillGRPC(t *testing.T) {
	rcv, addr := startGRPC(t)
	dir := filepath.Join(t.TempDir(), "truth")
	code, out, errs := runCmd(t, "backfill", "-days", "2", "-endpoint", addr, "-scenario", scenarioFile(t, small), "-truth", dir, "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	rep := parseReport(t, out)
	rcv.mu.Lock()
	got := rcv.spans
	services := rcv.services
	rcv.mu.Unlock()
	if rep.Stats.Txns < 500 || int64(got) != rep.Stats.SpansExported || rep.Stats.SpansExported != rep.Stats.SpansEnded || rep.Stats.SpansDropped != 0 {
		t.Fatalf("received %d spans, report %+v", got, rep.Stats)
	}
	for _, s := range []string{"pos-terminal", "payment-gateway", "settlement-service"} {
		if !services[s] {
			t.Errorf("no spans from %s", s)
		}
	}
	if !strings.Contains(errs, "backfill") || !strings.Contains(errs, "%") {
		t.Errorf("no progress on stderr: %q", errs)
	}
	f, err := os.Open(filepath.Join(dir, "truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines++
	}
	if int64(lines) != rep.Stats.Txns || rep.Truth.Txns != lines || rep.Truth.ByOutcome["settled"] == 0 {
		t.Fatalf("truth has %d lines, %+v; %d transactions sent", lines, rep.Truth, rep.Stats.Txns)
	}
	for _, name := range []string{"totals.csv", "totals.json", "summary.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestBackfillHTTP(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	code, out, errs := runCmd(t, "backfill", "-days", "1", "-protocol", "http", "-endpoint", srv.URL, "-scenario",
		scenarioFile(t, small), "-resources", "pooled", "-gzip=false")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.spans == 0 || !rcv.paths["/v1/traces"] {
		t.Fatalf("received %d spans on %v", rcv.spans, rcv.paths)
	}
	if !strings.Contains(out, "exported") {
		t.Fatalf("report: %s", out)
	}
}

func TestLoad(t *testing.T) {
	rcv, addr := startGRPC(t)
	code, out, errs := runCmd(t, "load", "-workers", "3", "-rate", "400", "-duration", "1500ms", "-endpoint", addr, "-json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	rep := parseReport(t, out)
	if rep.Stats.Txns < 350 || rep.Stats.Txns > 900 || rep.Stats.SpansExported+rep.Stats.SpansDropped+rep.Stats.SpansFailed != rep.Stats.SpansEnded {
		t.Fatalf("report %+v", rep)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if int64(rcv.spans) != rep.Stats.SpansExported {
		t.Fatalf("received %d, exported %d", rcv.spans, rep.Stats.SpansExported)
	}
}

func TestLive(t *testing.T) {
	_, addr := startGRPC(t)
	dir := t.TempDir()
	code, out, errs := runCmd(t, "live", "-rate", "100", "-duration", "2500ms", "-endpoint", addr, "-truth", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "live ") || !strings.Contains(errs, "txns") {
		t.Fatalf("no progress line: %q", errs)
	}
	if !strings.Contains(out, "transactions") {
		t.Fatalf("report: %s", out)
	}
}

func TestCheckAndFleet(t *testing.T) {
	code, out, _ := runCmd(t, "check", "-scenario", "../../simulator/scenarios/demo.yaml")
	if code != 0 || !strings.Contains(out, "gw-2 outage") {
		t.Fatalf("check demo: %d %s", code, out)
	}
	bad := scenarioFile(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h\", duration: 1h, rates: {code_91: 1.5}}\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h30m\", duration: 1h}\n  - {type: meteor}\n")
	code, _, errs := runCmd(t, "check", "-scenario", bad)
	if code != exitUsage || !strings.Contains(errs, "line 2") || !strings.Contains(errs, "not a probability") ||
		!strings.Contains(errs, "unknown scenario type") {
		t.Fatalf("check bad: %d %s", code, errs)
	}
	overlap := scenarioFile(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h\", duration: 1h}\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h30m\", duration: 1h}\n")
	code, _, errs = runCmd(t, "check", "-scenario", overlap)
	if code != exitUsage || !strings.Contains(errs, "overlaps") {
		t.Fatalf("check overlap: %d %s", code, errs)
	}
	code, out, _ = runCmd(t, "fleet", "-scenario", scenarioFile(t, small))
	if code != 0 || !strings.Contains(out, "gw-1") || !strings.Contains(out, "#6") || !strings.Contains(out, "iss-01") {
		t.Fatalf("fleet: %d %s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"teleport"},
		{"backfill", "-protocol", "smoke"},
		{"backfill", "-days", "0"},
		{"backfill", "-from", "yesterday"},
		{"live", "-bogus"},
		{"load", "-workers", "0"},
		{"backfill", "-scenario", "/nonexistent.yaml"},
	} {
		if code, _, _ := runCmd(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, out, _ := runCmd(t, "help"); code != 0 || !strings.Contains(out, "backfill") {
		t.Errorf("help: %d", code)
	}
	for _, c := range []string{"backfill", "live", "load", "fleet", "check"} {
		if code, _, errs := runCmd(t, c, "-h"); code != 0 || !strings.Contains(errs, "Usage: settlewatch-sim "+c) {
			t.Errorf("%s -h: exit %d, %q", c, code, errs)
		}
	}
}
