package simulator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseErr(t *testing.T, y string) string {
	t.Helper()
	_, err := ParseConfig([]byte(y), "bad.yaml")
	if err == nil {
		t.Fatalf("no error for:\n%s", y)
	}
	return err.Error()
}

func resolveErr(t *testing.T, y string) string {
	t.Helper()
	cfg := mustParse(t, y)
	_, err := NewGenerator(cfg, GenOptions{Range: oneDay()})
	if err == nil {
		t.Fatalf("no error for:\n%s", y)
	}
	return err.Error()
}

func wantAll(t *testing.T, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q\ndoes not contain %q", msg, p)
		}
	}
}

func TestConfigDefaultsAndEmptyFile(t *testing.T) {
	cfg := mustParse(t, "")
	if cfg.Fleet.Merchants != 40 || cfg.Baseline.SettlementTraces != "per_txn" || len(cfg.Scenarios) != 0 {
		t.Fatalf("defaults not applied: %+v", cfg.Fleet)
	}
	cfg = mustParse(t, "fleet: {merchants: 5}\nbaseline: {declines: {insufficient_funds: 0.02}, latency_p95: 2.5s}\n")
	if cfg.Fleet.Merchants != 5 || cfg.Fleet.TerminalsPerMerchant != 3 {
		t.Fatal("a partial fleet section should keep the other defaults")
	}
	if cfg.Baseline.Declines.InsufficientFunds != 0.02 || cfg.Baseline.Declines.BankPolicy != 0.006 {
		t.Fatal("a partial declines section should keep the other defaults")
	}
	if cfg.Baseline.LatencyP95.D() != 2500*time.Millisecond {
		t.Fatalf("latency_p95 %v", cfg.Baseline.LatencyP95)
	}
}

func TestConfigUnknownKeys(t *testing.T) {
	wantAll(t, parseErr(t, "seed: 1\nsede: 2\n"), "bad.yaml: line 2", `unknown key "sede" in the top level`, "seed, fleet")
	wantAll(t, parseErr(t, "fleet:\n  merchants: 3\n  terminals: 4\n"), "line 3", `unknown key "terminals" in fleet`, "terminals_per_merchant")
	wantAll(t, parseErr(t, "scenarios:\n  - type: gateway_outage\n    gatway: gw-1\n"), "line 3", `unknown key "gatway" in a scenario`)
	wantAll(t, parseErr(t, "scenarios:\n  - type: gateway_outage\n    gateway: gw-1\n    rates:\n      code_77: 0.1\n"),
		"line 5", `unknown key "code_77" in rates`)
	wantAll(t, parseErr(t, "baseline:\n  declines:\n    insufficient: 0.1\n"), "line 3", `unknown key "insufficient" in baseline.declines`)
	wantAll(t, parseErr(t, "fleet: {merchants: many}\n"), "line 1", "many")
	wantAll(t, parseErr(t, "seed: 1\n---\nseed: 2\n"), "more than one YAML document")
}

func TestConfigImpossibleRates(t *testing.T) {
	sc := "scenarios:\n  - type: gateway_outage\n    gateway: gw-1\n    start: \"+1h\"\n    duration: 30m\n"
	wantAll(t, parseErr(t, sc+"    rates: {code_91: 1.5}\n"), "line 6", "scenarios[0].rates.code_91", "1.5 is not a probability")
	wantAll(t, parseErr(t, sc+"    rates: {code_91: -0.1}\n"), "-0.1 is not a probability")
	wantAll(t, parseErr(t, sc+"    rates: {code_91: 0.6, timeout: 0.5}\n"), "per-transaction rates add up to 1.100, more than 1")
	wantAll(t, parseErr(t, sc+"    rates: {code_57: 0.1}\n"), "gateway_outage has no rate code_57", "code_91")
	wantAll(t, parseErr(t, sc+"    severity: 2\n"), "severity", "at most 1")
	wantAll(t, parseErr(t, sc+"    severity: 0.5\n    rates: {code_91: 0.1}\n"), "either severity or rates")
	wantAll(t, parseErr(t, "baseline: {declines: {insufficient_funds: 0.7}, failures: {network: 0.5}}\n"), "add up to 1.2", "nothing would be approved")
	wantAll(t, parseErr(t, "baseline: {batch_failure_rate: 2}\n"), "baseline.batch_failure_rate", "not a probability")
	wantAll(t, parseErr(t, "fleet: {d0_share: 1.2}\n"), "fleet.d0_share")
	// Batch rates are probabilities of their own, not part of the sum.
	mustParse(t, "scenarios:\n  - {type: network_degradation, region: shanghai, start: \"+1h\", duration: 1h,"+
		" rates: {connection_error: 0.9, batch_upload_failure: 1}}\n")
}

func TestConfigScenarioShape(t *testing.T) {
	wantAll(t, parseErr(t, "scenarios:\n  - {type: meteor, start: \"+1h\", duration: 1h}\n"), `unknown scenario type "meteor"`, "gateway_outage")
	wantAll(t, parseErr(t, "scenarios:\n  - {start: \"+1h\", duration: 1h}\n"), "missing type")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: gateway_outage, start: \"+1h\", duration: 1h}\n"), "needs a target: one of gateway, acquirer")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, acquirer: acq-1, start: \"+1h\", duration: 1h}\n"),
		"exactly one target, got 2")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: gateway_outage, region: shanghai, start: \"+1h\", duration: 1h}\n"),
		"gateway_outage cannot target a region")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h\"}\n"), "missing duration")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h\", duration: -5m}\n"), "must be above 0")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h\", duration: 0s}\n"), "must be above 0")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h\", duration: soon}\n"), "line 2", "invalid duration")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: yesterday, duration: 1h}\n"), "neither an RFC 3339")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, duration: 1h}\n"), "missing start")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: day_cutoff, start: \"+1h\", duration: 25h, daily: true}\n"), "shorter than 24h")
	wantAll(t, parseErr(t, "scenarios:\n  - {type: limit_change, bin_prefix: 62x, start: \"+1h\"}\n"), "1 to 8 digits")
	// Step changes may omit the duration; day_cutoff may omit the target.
	mustParse(t, "scenarios:\n  - {type: bank_policy_change, issuer: iss-01, start: \"+1h\"}\n  - {type: day_cutoff, start: \"+23h\", duration: 10m}\n")
}

func TestConfigProblemsListedByLine(t *testing.T) {
	msg := parseErr(t, "fleet:\n  merchants: 0\n  gateways: 0\nscenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h\", duration: 1h, rates: {code_91: 3}}\n")
	lines := strings.Split(msg, "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "line 2") || !strings.Contains(lines[1], "line 3") || !strings.Contains(lines[2], "line 5") {
		t.Fatalf("want three problems in line order, got:\n%s", msg)
	}
}

func TestConfigWindowsAgainstRun(t *testing.T) {
	wantAll(t, resolveErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+25h\", duration: 1h}\n"),
		"line 2", "outside the run")
	wantAll(t, resolveErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"2026-11-01T00:00:00Z\", duration: 1h}\n"),
		"outside the run")
	wantAll(t, resolveErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+23h\", duration: 2h}\n"),
		"after the run ends")
	msg := resolveErr(t, `scenarios:
  - {type: gateway_outage, gateway: gw-2, start: "+14h", duration: 30m}
  - {type: gateway_outage, gateway: gw-1, start: "+14h", duration: 30m}
  - {type: gateway_outage, gateway: gw-2, start: "+14h20m", duration: 30m}
`)
	wantAll(t, msg, "line 4", "scenarios[2]", "overlaps scenarios[0] (line 2", "on the same target")
	if strings.Contains(msg, "scenarios[1]") {
		t.Errorf("a different target is no overlap: %s", msg)
	}
	// Back to back is not an overlap; different types on one target are fine.
	cfg := mustParse(t, `scenarios:
  - {type: gateway_outage, gateway: gw-2, start: "+14h", duration: 30m}
  - {type: gateway_outage, gateway: gw-2, start: "+14h30m", duration: 30m}
  - {type: day_cutoff, gateway: gw-2, start: "+14h", duration: 30m}
`)
	if _, err := NewGenerator(cfg, GenOptions{Range: oneDay()}); err != nil {
		t.Fatal(err)
	}
	// Daily windows overlap a one-off window on a later day.
	wantAll(t, func() string {
		cfg := mustParse(t, `scenarios:
  - {type: day_cutoff, start: "+22h55m", duration: 10m, daily: true}
  - {type: day_cutoff, start: "+46h58m", duration: 5m}
`)
		_, err := NewGenerator(cfg, GenOptions{Range: Range{From: day0, To: day0.Add(72 * time.Hour)}})
		if err == nil {
			t.Fatal("no overlap found")
		}
		return err.Error()
	}(), "overlaps")
}

func TestConfigUnknownTargets(t *testing.T) {
	wantAll(t, resolveErr(t, "scenarios:\n  - {type: gateway_outage, gateway: gw-9, start: \"+1h\", duration: 1h}\n"),
		`unknown gateway "gw-9"`, "gw-1 .. gw-3")
	wantAll(t, resolveErr(t, "scenarios:\n  - {type: key_rotation_fault, merchant: \"#400\", start: \"+1h\", duration: 1h}\n"),
		"merchant #400 does not exist: the fleet has 40")
	wantAll(t, resolveErr(t, "scenarios:\n  - {type: limit_change, bin_prefix: \"999\", start: \"+1h\"}\n"), "matches no BIN")
	wantAll(t, resolveErr(t, "scenarios:\n  - {type: network_degradation, region: mars, start: \"+1h\", duration: 1h}\n"), `unknown region "mars"`)
}

func TestExampleScenarioFiles(t *testing.T) {
	files, err := filepath.Glob("scenarios/*.yaml")
	if err != nil || len(files) < 9 {
		t.Fatalf("want the example scenario files, found %v (%v)", files, err)
	}
	types := map[string]bool{}
	for _, f := range files {
		cfg, err := LoadConfig(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, s := range cfg.Scenarios {
			types[s.Type] = true
		}
		if _, err := NewGenerator(cfg, GenOptions{Range: oneDay()}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, ty := range ScenarioTypes() {
		if !types[ty] {
			t.Errorf("no example file uses %s", ty)
		}
	}
	if _, err := os.Stat("scenarios/demo.yaml"); err != nil {
		t.Error(err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30m": 30 * time.Minute, "2d": 48 * time.Hour, "1d12h": 36 * time.Hour,
		"+1h": time.Hour, "-2h": -2 * time.Hour, "1.5d": 36 * time.Hour} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "xd", "1x", "1d1"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) gave no error", in)
		}
	}
}
