package distribution

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/settlewatch/settlewatch/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// runningCollector is the real collector, built from this distribution's
// components and the shipped config.yaml, running in-process.
type runningCollector struct {
	grpcAddr, httpAddr, metricsAddr string
	client                          ptraceotlp.GRPCClient
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := chtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startCollector runs the shipped collector/config.yaml with its environment
// variables pointed at db and free loopback ports; flush is shortened so
// tests do not wait a second per batch.
func startCollector(t *testing.T, db *chtest.DB, extraEnv map[string]string) *runningCollector {
	t.Helper()
	return startCollectorWith(t, db, extraEnv, nil)
}

// startCollectorWith is startCollector with config overlays applied after
// the shipped config (paths relative to this package).
func startCollectorWith(t *testing.T, db *chtest.DB, extraEnv map[string]string, overlays []string) *runningCollector {
	t.Helper()
	rc := &runningCollector{
		grpcAddr:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		httpAddr:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		metricsAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}
	env := map[string]string{
		"SETTLEWATCH_CH_ADDR":            db.Settings.Addr[0],
		"SETTLEWATCH_CH_DATABASE":        db.Name,
		"SETTLEWATCH_OTLP_GRPC_ENDPOINT": rc.grpcAddr,
		"SETTLEWATCH_OTLP_HTTP_ENDPOINT": rc.httpAddr,
		"SETTLEWATCH_HEALTH_ENDPOINT":    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"SETTLEWATCH_METRICS_PORT":       strings.Split(rc.metricsAddr, ":")[1],
		"SETTLEWATCH_QUEUE_DIR":          filepath.Join(t.TempDir(), "queue"),
		"SETTLEWATCH_LOG_LEVEL":          "warn",
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	// The shipped config, with a short flush so a test's batch goes out fast.
	shipped, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(shipped), "flush_timeout: 1s", "flush_timeout: 100ms", 1)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	uris := []string{"file:" + path}
	for _, o := range overlays {
		uris = append(uris, "file:"+o)
	}
	col, err := Start(uris, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := col.Stop(30 * time.Second); err != nil {
			t.Errorf("collector run: %v", err)
		}
	})
	conn, err := grpc.NewClient(rc.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	rc.client = ptraceotlp.NewGRPCClient(conn)
	return rc
}

func (rc *runningCollector) sendGRPC(t *testing.T, td ptrace.Traces) {
	t.Helper()
	if err := rc.exportGRPC(td); err != nil {
		t.Fatal(err)
	}
}

// exportGRPC is sendGRPC for goroutines, which must not call t.Fatal.
func (rc *runningCollector) exportGRPC(td ptrace.Traces) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := rc.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		return fmt.Errorf("OTLP/gRPC export: %w", err)
	}
	return nil
}

func (rc *runningCollector) sendHTTP(t *testing.T, td ptrace.Traces) {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+rc.httpAddr+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("OTLP/HTTP export: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("OTLP/HTTP export: %s: %s", resp.Status, b)
	}
}

// metrics scrapes the collector's own Prometheus endpoint.
func (rc *runningCollector) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + rc.metricsAddr + "/metrics")
	if err != nil {
		t.Fatalf("scrape metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFor polls a count until it reaches want (the pipeline is asynchronous:
// the sending queue acknowledges before ClickHouse has the rows).
func waitFor(t *testing.T, db *chtest.DB, want uint64, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var got uint64
	for time.Now().Before(deadline) {
		if got = db.Count(t, query, args...); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: got %d, want %d", query, got, want)
}
