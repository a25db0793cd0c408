package simulator

import (
	"fmt"
	"strings"
	"testing"
)

const allScenariosYAML = `
seed: 11
fleet: {merchants: 40, terminals_per_merchant: 3}
scenarios:
  - {type: gateway_outage, gateway: gw-2, start: "+10h", duration: 2h}
  - {type: network_degradation, merchant: "#3", start: "+12h", duration: 6h,
     rates: {connection_error: 0.3, timeout: 0.2, offline_approved: 0.1, batch_upload_failure: 1}}
  - {type: bank_policy_change, issuer: iss-01, start: "+12h"}
  - {type: key_rotation_fault, merchant: "#5", start: "+9h", duration: 3h}
  - {type: day_cutoff, start: "+22h30m", duration: 1h}
  - {type: batch_out_of_balance, terminal: "#7", start: "+20h", duration: 4h}
  - {type: operator_error_burst, terminal: "#9", start: "+11h", duration: 4h, severity: 1}
  - {type: limit_change, bin_prefix: "62", start: "+15h", duration: 5h}
`

// scenarioOnly returns the allScenarios config with only scenario i.
func scenarioOnly(t *testing.T, i int) *Config {
	cfg := mustParse(t, allScenariosYAML)
	cfg.Scenarios = cfg.Scenarios[i : i+1]
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func baselineOf(t *testing.T) *Config {
	cfg := mustParse(t, allScenariosYAML)
	cfg.Scenarios = nil
	return cfg
}

// Each scenario type changes what it should, in its window and on its target only.
func TestScenarioChangesOnlyItsWindow(t *testing.T) {
	base := mustGenerate(t, baselineOf(t), oneDay())
	baseTxns := map[string]*Txn{}
	for _, tx := range base.Txns() {
		baseTxns[tx.ID] = tx
	}
	baseTruth := truthOf(base, DefaultSettlementWindow)
	for i, sc := range mustParse(t, allScenariosYAML).Scenarios {
		t.Run(sc.Type, func(t *testing.T) {
			p := mustGenerate(t, scenarioOnly(t, i), oneDay())
			s := p.Scenarios[0]
			truth := truthOf(p, DefaultSettlementWindow)
			hit, changed := 0, 0
			counts := map[string]int{}
			if len(p.Txns()) != len(baseTxns) {
				t.Fatalf("%d transactions, baseline %d: a scenario must not change arrivals", len(p.Txns()), len(baseTxns))
			}
			for _, tx := range p.Txns() {
				bt := baseTxns[tx.ID]
				if bt == nil {
					t.Fatalf("%s not in the baseline", tx.ID)
				}
				in := s.Active(tx.Time) && s.matchesTxn(tx)
				same := txnDigest(tx) == txnDigest(bt)
				if !in {
					if !same {
						t.Fatalf("%s (outside the window or target) changed", tx.ID)
					}
					if tx.Scenario != "" {
						t.Fatalf("%s outside the window marked with scenario %s", tx.ID, tx.Scenario)
					}
					continue
				}
				hit++
				if !same {
					changed++
				}
				a, _ := ClassifyAuth(tx.Spans)
				counts[string(a.Outcome)+"/"+string(a.Cause)]++
				counts["code:"+a.Code]++
				if a.ErrorType != "" {
					counts["err:"+a.ErrorType]++
				}
			}
			if hit < 20 && len(s.txn) > 0 {
				t.Fatalf("only %d transactions in the window on the target", hit)
			}
			share := func(keys ...string) float64 {
				n := 0
				for _, k := range keys {
					n += counts[k]
				}
				return float64(n) / float64(hit)
			}
			check := func(name string, got, want float64) {
				if got < want {
					t.Errorf("%s: share %.3f of %d hit transactions, want at least %.2f (%v)", name, got, hit, want, counts)
				}
			}
			switch s.Type {
			case ScenarioGatewayOutage:
				check("91/96/92/timeouts/unavailable", share("code:91", "code:96", "code:92", "failed/timeout", "failed/gateway"), 0.6)
			case ScenarioNetworkDegradation:
				check("network/timeout failures", share("failed/network", "failed/timeout"), 0.35)
				check("offline approvals", share("code:Y3"), 0.03)
			case ScenarioBankPolicyChange:
				check("57/62/5C", share("code:57", "code:62", "code:5C"), 0.08)
			case ScenarioKeyRotationFault:
				check("A0/99/63", share("code:A0", "code:99", "code:63"), 0.6)
			case ScenarioDayCutoff:
				check("90", share("code:90"), 0.4)
			case ScenarioOperatorErrorBurst:
				check("operator", share("failed/operator", "declined/operator"), 0.2)
			case ScenarioLimitChange:
				check("61/65", share("code:61", "code:65"), 0.08)
			}
			if len(s.txn) > 0 && changed == 0 {
				t.Fatalf("no transaction changed")
			}
			// Batch-level effects: only the target's closes after the window change.
			baseCloses := map[string]*BatchClose{}
			for _, c := range base.Closes() {
				baseCloses[c.Terminal.ID+"/"+c.BatchNumber] = c
			}
			affected := 0
			for _, c := range p.Closes() {
				bc := baseCloses[c.Terminal.ID+"/"+c.BatchNumber]
				if bc == nil {
					t.Fatalf("close %s/%s not in the baseline", c.Terminal.ID, c.BatchNumber)
				}
				if c.Result != bc.Result {
					affected++
					if !s.matchesTerminal(c.Terminal) {
						t.Fatalf("close of terminal %s (not targeted) changed to %s", c.Terminal.ID, c.Result)
					}
				}
			}
			switch s.Type {
			case ScenarioNetworkDegradation:
				if affected == 0 {
					t.Fatal("no batch upload failed that night")
				}
				unsettled := 0
				for id, tr := range truth {
					if tr.Outcome == OutcomeUnsettled {
						if tr.Cause != CauseNetwork || tr.ErrorType != "upload_failed" {
							t.Fatalf("%s unsettled with cause %s (%s), want network (upload_failed)", id, tr.Cause, tr.ErrorType)
						}
						unsettled++
					}
				}
				if unsettled == 0 {
					t.Fatal("no transaction unsettled after the failed upload")
				}
			case ScenarioBatchOutOfBalance:
				if affected == 0 {
					t.Fatal("no batch out of balance")
				}
				rejected := 0
				for id, tr := range truth {
					if tr.Outcome == OutcomeSettlementRejected && baseTruth[id].Outcome == OutcomeSettled {
						if tr.Cause != CauseSettlement {
							t.Fatalf("%s rejected with cause %s", id, tr.Cause)
						}
						rejected++
					}
				}
				if rejected == 0 {
					t.Fatal("no settlement rejection")
				}
			default:
				if affected != 0 {
					t.Fatalf("%d batch closes changed", affected)
				}
			}
		})
	}
}

func TestDailyScenarioRepeats(t *testing.T) {
	cfg := mustParse(t, `
fleet: {merchants: 20}
scenarios:
  - {type: day_cutoff, start: "+22h55m", duration: 10m, daily: true, rates: {code_90: 1}}
`)
	p := mustGenerate(t, cfg, Range{From: day0, To: day0.Add(72 * 3600e9)})
	days := map[string]int{}
	for _, tx := range p.Txns() {
		lt := tx.Time.In(p.Fleet.Location)
		in := lt.Hour() == 22 && lt.Minute() >= 55 || lt.Hour() == 23 && lt.Minute() < 5
		if in != (tx.Spans[0].Code == "90") {
			t.Fatalf("%s at %s has code %q", tx.ID, lt.Format("15:04:05"), tx.Spans[0].Code)
		}
		if in {
			days[lt.Format("01-02")]++
		}
	}
	if len(days) != 3 {
		t.Fatalf("cut-off on %d days, want 3: %v", len(days), days)
	}
}

func TestScenarioTargetsByIndexAndID(t *testing.T) {
	p := mustGenerate(t, baselineOf(t), oneDay())
	m := p.Fleet.Merchants[4]
	y := fmt.Sprintf("fleet: {merchants: 40, terminals_per_merchant: 3}\nseed: 11\nscenarios:\n"+
		"  - {type: key_rotation_fault, merchant: %q, start: \"+9h\", duration: 1h}\n"+
		"  - {type: operator_error_burst, terminal: %q, start: \"+9h\", duration: 1h}\n", m.ID, p.Fleet.Terminals[0].ID)
	g, err := NewGenerator(mustParse(t, y), GenOptions{Range: oneDay()})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Scenarios()[0].TargetID; got != m.ID {
		t.Fatalf("target %s, want %s", got, m.ID)
	}
	y2 := strings.Replace(y, m.ID, "#5", 1)
	g2, err := NewGenerator(mustParse(t, y2), GenOptions{Range: oneDay()})
	if err != nil {
		t.Fatal(err)
	}
	if got := g2.Scenarios()[0].TargetID; got != m.ID {
		t.Fatalf("#5 resolved to %s, want %s", got, m.ID)
	}
}
