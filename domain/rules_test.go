package domain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// contractTable is the contract's cause table, typed in from
// shared/contract/telemetry.md independently of rules.yaml, so a drift
// between the shipped rules and the spec fails here.
var contractTable = []struct {
	cause  Cause
	class  Class
	codes  string
	errors string
}{
	{CauseNetwork, ClassSoft, "", "connection_refused connection_reset dns_failure tls_failure network_unreachable upload_failed"},
	{CauseTimeout, ClassSoft, "68 98", "timeout"},
	{CauseGateway, ClassSoft, "09 15 90 91 92", "gateway_unavailable gateway_error routing_failure"},
	{CauseSystem, ClassSoft, "03 06 19 22 25 28 30 63 88 94 96 97 99 A0", "internal_error database_error sync_failure app_crash hardware_fault"},
	{CauseAccount, ClassSoft, "39 46 51 52 53 78 9G", ""},
	{CauseAuthorization, ClassHard, "38 55 70 75 86", "pin_invalid pin_cancelled signature_missing"},
	{CauseOperator, ClassHard, "13 45 64", "invalid_amount wrong_payment_method card_read_error operator_cancelled"},
	{CauseLimit, ClassSoft, "61 65", "limit_exceeded"},
	{CauseBankPolicy, ClassHard, "01 02 05 12 40 57 58 62 93 5C", ""},
	{CauseCard, ClassHard, "04 07 14 33 34 41 43 54 59", ""},
	{CauseSettlement, ClassNone, "77 95", "batch_rejected batch_out_of_balance settlement_rejected"},
}

var contractApprovals = strings.Fields("00 08 10 11 85 Y1 Y3")

func TestDefaultRulesMatchContract(t *testing.T) {
	r := DefaultRules()
	for _, row := range contractTable {
		for _, code := range strings.Fields(row.codes) {
			if got := r.CauseOfCode(code); got != row.cause {
				t.Errorf("code %s: cause %s, want %s", code, got, row.cause)
			}
			if r.IsApproval(code) {
				t.Errorf("code %s must not approve", code)
			}
		}
		for _, et := range strings.Fields(row.errors) {
			if got := r.CauseOfErrorType(et); got != row.cause {
				t.Errorf("error.type %s: cause %s, want %s", et, got, row.cause)
			}
		}
		if got := r.ClassOf(row.cause); got != row.class {
			t.Errorf("class of %s: %s, want %s", row.cause, got, row.class)
		}
	}
	for _, code := range contractApprovals {
		if !r.IsApproval(code) {
			t.Errorf("code %s must approve", code)
		}
	}
	if got := strings.Join(r.ApprovalCodes(), " "); got != "00 08 10 11 85 Y1 Y3" {
		t.Errorf("approval codes %q", got)
	}
	// Nothing beyond the contract's table is mapped.
	n := 0
	for _, info := range r.Taxonomy() {
		n += len(info.ResponseCodes) + len(info.ErrorTypes)
	}
	want := 0
	for _, row := range contractTable {
		want += len(strings.Fields(row.codes)) + len(strings.Fields(row.errors))
	}
	if n != want {
		t.Errorf("taxonomy maps %d codes and error types, contract has %d", n, want)
	}
}

func TestUnlistedValuesAreUnknown(t *testing.T) {
	r := DefaultRules()
	for _, code := range []string{"N7", "ZZ", "", "000", "5c "} {
		want := CauseUnknown
		if code == "5c " { // normalised to 5C: bank policy
			want = CauseBankPolicy
		}
		if got := r.CauseOfCode(code); got != want {
			t.Errorf("code %q: %s, want %s", code, got, want)
		}
	}
	for _, et := range []string{"", "cosmic_ray", "TIMEOUT "} {
		want := CauseUnknown
		if et == "TIMEOUT " {
			want = CauseTimeout
		}
		if got := r.CauseOfErrorType(et); got != want {
			t.Errorf("error.type %q: %s, want %s", et, got, want)
		}
	}
}

func TestOperatorRulesExtendDefaults(t *testing.T) {
	r, err := ParseRules([]byte(`
revision: 2
approval_codes: ["Z3"]
causes:
  gateway:
    error_types: [upstream_503]
  card:
    response_codes: ["N7", "62"]   # moves 62 from bank_policy to card
`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision != 2 {
		t.Errorf("revision %d", r.Revision)
	}
	checks := map[string]Cause{"N7": CauseCard, "62": CauseCard, "57": CauseBankPolicy, "51": CauseAccount}
	for code, want := range checks {
		if got := r.CauseOfCode(code); got != want {
			t.Errorf("code %s: %s, want %s", code, got, want)
		}
	}
	if got := r.CauseOfErrorType("upstream_503"); got != CauseGateway {
		t.Errorf("upstream_503: %s", got)
	}
	if !r.IsApproval("Z3") || !r.IsApproval("00") {
		t.Error("approval codes not merged")
	}
	if DefaultRules().CauseOfCode("62") != CauseBankPolicy {
		t.Error("extending must not change the shipped defaults")
	}
}

func TestBadRulesFiles(t *testing.T) {
	cases := map[string]string{
		"no revision":      "causes: {}",
		"stale revision":   "revision: 1",
		"unknown cause":    "revision: 2\ncauses:\n  weather:\n    response_codes: [\"Q1\"]",
		"bad class":        "revision: 2\ncauses:\n  card:\n    class: medium",
		"bad code":         "revision: 2\ncauses:\n  card:\n    response_codes: [\"123\"]",
		"dup code":         "revision: 2\ncauses:\n  card:\n    response_codes: [\"Q1\"]\n  limit:\n    response_codes: [\"Q1\"]",
		"approval as fail": "revision: 2\ncauses:\n  card:\n    response_codes: [\"00\"]",
		"unknown key":      "revision: 2\ncausez: {}",
		"bad error type":   "revision: 2\ncauses:\n  card:\n    error_types: [\"has space\"]",
		"none cause":       "revision: 2\ncauses:\n  none:\n    error_types: [\"x\"]",
	}
	for name, doc := range cases {
		if _, err := ParseRules([]byte(doc)); err == nil {
			t.Errorf("%s: want an error", name)
		} else if err.Error() == "" {
			t.Errorf("%s: empty error message", name)
		}
	}
}

func TestLoadRulesFile(t *testing.T) {
	r, err := LoadRules("")
	if err != nil || r != DefaultRules() {
		t.Fatalf("empty path: %v", err)
	}
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte("revision: 7\ncauses:\n  limit:\n    response_codes: [\"N4\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err = LoadRules(p)
	if err != nil {
		t.Fatal(err)
	}
	if r.CauseOfCode("N4") != CauseLimit || r.Revision != 7 {
		t.Errorf("loaded rules: N4=%s revision=%d", r.CauseOfCode("N4"), r.Revision)
	}
	if _, err := LoadRules(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "read rules file") {
		t.Errorf("missing file: %v", err)
	}
}
