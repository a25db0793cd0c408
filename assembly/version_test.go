package assembly

import (
	"testing"

	"github.com/settlewatch/settlewatch/domain"
)

// Each later, more complete view of a transaction must get a higher version.
func TestVersionGrowsWithWhatWasSeen(t *testing.T) {
	v := func(rev uint32, facts, batches int, passed bool) uint64 {
		return Version(rev, domain.Input{Batches: make([]domain.BatchClose, batches)}, domain.Transaction{SpanCount: facts, WindowPassed: passed})
	}
	steps := []struct {
		name string
		v    uint64
	}{
		{"terminal spans only, pending", v(1, 3, 0, false)},
		{"gateway spans arrived", v(1, 5, 0, false)},
		{"window passed: unsettled", v(1, 5, 0, true)},
		{"unsettled, failed batch close read", v(1, 5, 1, true)},
		{"settlement arrived (batches not read)", v(1, 6, 0, false)},
		{"rules changed", v(2, 6, 0, false)},
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].v <= steps[i-1].v {
			t.Errorf("%q (%d) is not newer than %q (%d)", steps[i].name, steps[i].v, steps[i-1].name, steps[i-1].v)
		}
	}
}
