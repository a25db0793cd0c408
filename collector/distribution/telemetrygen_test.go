package distribution

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/settlewatch/settlewatch/chtest"
)

// telemetrygenBin finds the contrib load generator: on PATH or in GOPATH/bin
// (scripts/test.sh installs it).
func telemetrygenBin(t *testing.T) string {
	if p, err := exec.LookPath("telemetrygen"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(string(out[:len(out)-1]), "bin", "telemetrygen")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("telemetrygen is not installed; scripts/test.sh installs it")
	}
	t.Skip("telemetrygen not installed (go install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v0.161.0)")
	return ""
}

// An outside OTLP client, following the README's command: its spans land and
// form the transaction its attributes name.
func TestTelemetrygenTrafficLands(t *testing.T) {
	bin := telemetrygenBin(t)
	db := chtest.Migrated(t)
	rc := startCollector(t, db, nil)
	cmd := exec.Command(bin, "traces", "--otlp-endpoint", rc.grpcAddr, "--otlp-insecure", "--traces", "50", "--rate", "500",
		"--service", "pos-terminal",
		"--telemetry-attributes", `pos.txn.id="TG-1"`, "--telemetry-attributes", `pos.txn.type="sale"`,
		"--telemetry-attributes", `pos.response.code="51"`, "--telemetry-attributes", `pos.currency="CNY"`,
		"--otlp-attributes", `pos.terminal.id="T-TG"`, "--otlp-attributes", `pos.merchant.id="M-TG"`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("telemetrygen: %v\n%s", err, out)
	}
	waitFor(t, db, 100, "SELECT count() FROM spans FINAL")
	// Spans are stored before the transaction is re-assembled: wait for the
	// row that has seen them all.
	waitFor(t, db, 100, "SELECT toUInt64(max(span_count)) FROM transactions_by_time WHERE deleted = 0 AND txn_id = 'TG-1'")
	waitOutcomes(t, db, map[string]want{"TG-1": {"declined", "account"}})
	if got := db.Count(t, "SELECT count() FROM "+chtest.Txns+" WHERE txn_id = 'TG-1' AND terminal_id = 'T-TG' AND merchant_id = 'M-TG' AND span_count = 100 AND has(data_issues, 'root_not_named_pos_transaction')"); got != 1 {
		t.Error("TG-1 lost its resource attributes, span count or data issue")
	}
}
