package rollup

import (
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/analytics/model"
)

// Step 1's branches are sorted only for servers that write them as sorted
// blocks (sortsBranches); elsewhere a sort would be wasted work.
func TestDimensionsSQLSortsBranchesOnlyWhenAsked(t *testing.T) {
	const order = "ORDER BY b, val, outcome, cause, currency)"
	if n, want := strings.Count(dimensionsSQL("w", true), order), len(model.Dimensions)+1; n != want {
		t.Errorf("sorted: %d branches ordered, want %d", n, want)
	}
	if strings.Contains(dimensionsSQL("w", false), "ORDER BY") {
		t.Error("unsorted: a branch is ordered")
	}
	if stepOneSettings(false) != nil || len(stepOneSettings(true)) != 3 {
		t.Errorf("settings: unsorted %v, sorted %v", stepOneSettings(false), stepOneSettings(true))
	}
}
