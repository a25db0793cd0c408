package distribution

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chtest"
)

// The profiling overlay (collector/config.pprof.yaml) serves pprof on its
// loopback endpoint, and the shipped pipeline still stores what it gets.
func TestPprofOverlay(t *testing.T) {
	db := chtest.Migrated(t)
	endpoint := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rc := startCollectorWith(t, db, map[string]string{"SETTLEWATCH_PPROF_ENDPOINT": endpoint}, []string{"../config.pprof.yaml"})

	resp, err := http.Get("http://" + endpoint + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatalf("pprof endpoint: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Fatalf("pprof cmdline: %d, %d bytes", resp.StatusCode, len(body))
	}

	td := ptrace.NewTraces()
	spans := scope(td, "pos-terminal", map[string]any{"pos.terminal.id": "T-PPROF", "pos.merchant.id": "M-PPROF"})
	addSpan(spans, spanSpec{trace: "pprof-1", id: "pprof-1/root", name: "pos.transaction", start: time.Now().Add(-time.Minute), dur: time.Second,
		attrs: map[string]any{"pos.txn.id": "PPROF-1", "pos.txn.type": "refund", "pos.response.code": "00", "pos.amount.minor": 100}})
	rc.sendGRPC(t, td)
	waitFor(t, db, 1, "SELECT count() FROM "+chtest.Txns+" WHERE txn_id = 'PPROF-1'")
	// pprof exposes the process's internals: the overlay's default is loopback.
	overlay, err := os.ReadFile("../config.pprof.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(overlay), "SETTLEWATCH_PPROF_ENDPOINT:-127.0.0.1:1777}") {
		t.Error("config.pprof.yaml: the default pprof endpoint must be 127.0.0.1:1777")
	}
}

// The benchmark's floor overlay (collector/config.floor.yaml) is a stock
// collector: the same receiver accepts every span and the nop exporter
// drops them, so nothing reaches ClickHouse.
func TestFloorOverlay(t *testing.T) {
	db := chtest.Migrated(t)
	rc := startCollectorWith(t, db, nil, []string{"../config.floor.yaml"})
	td := ptrace.NewTraces()
	spans := scope(td, "pos-terminal", map[string]any{"pos.terminal.id": "T-FLOOR", "pos.merchant.id": "M-FLOOR"})
	for i := range 3 {
		addSpan(spans, spanSpec{trace: "floor-1", id: fmt.Sprintf("floor-1/%d", i), name: "pos.transaction", start: time.Now().Add(-time.Minute), dur: time.Second,
			attrs: map[string]any{"pos.txn.id": "FLOOR-1"}})
	}
	rc.sendGRPC(t, td)
	if got := counter(rc.metrics(t), "otelcol_receiver_accepted_spans"); got != 3 {
		t.Fatalf("%v spans accepted, want 3", got)
	}
	time.Sleep(500 * time.Millisecond) // longer than a test's batch flush
	if n := db.Count(t, "SELECT count() FROM spans"); n != 0 {
		t.Errorf("%d spans stored by the floor, want none", n)
	}
}
