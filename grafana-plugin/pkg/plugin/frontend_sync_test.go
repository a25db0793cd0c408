package plugin

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/domain"
)

// The editors' pickers (src/types.ts) list what this backend accepts; the
// backend validates everything anyway, but a picker offering a name the
// backend refuses, or missing one it accepts, is a bug.
func TestFrontendListsMatchTheBackend(t *testing.T) {
	src, err := os.ReadFile("../../src/types.ts")
	if err != nil {
		t.Fatal(err)
	}
	list := func(name string) []string {
		re := regexp.MustCompile(`(?s)export const ` + name + `(?::[^=]+)? = \[(.*?)\];`)
		m := re.FindSubmatch(src)
		if m == nil {
			t.Fatalf("types.ts has no list %s", name)
		}
		var out []string
		for _, s := range regexp.MustCompile(`'([^']*)'`).FindAllSubmatch(m[1], -1) {
			out = append(out, string(s[1]))
		}
		return out
	}
	var causes, outcomes []string
	for _, c := range domain.Causes {
		causes = append(causes, string(c))
	}
	for _, o := range domain.Outcomes {
		outcomes = append(outcomes, string(o))
	}
	for name, want := range map[string][]string{
		"DIMENSIONS": model.DimensionNames(), "CAUSES": causes, "OUTCOMES": outcomes, "QUERY_TYPES": QueryTypes,
		"CAUSE_METRICS": causeMetrics, "VALUE_METRICS": valueMetrics, "TXN_STATUSES": TxnStatuses, "KPIS": KPINames,
	} {
		if got := list(name); !slices.Equal(got, want) {
			t.Errorf("types.ts %s = %v, the backend has %v", name, got, want)
		}
	}
	if !strings.Contains(string(src), "export const ALL_VALUE = '"+AllValue+"'") {
		t.Error("types.ts ALL_VALUE differs from the backend's")
	}
}
