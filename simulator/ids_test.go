package simulator

import (
	"testing"
	"time"
)

// Two runs of one seed over different days must not reuse trace ids: the
// store is keyed by them, and a second day would collapse into the first.
func TestRunsOverDifferentRangesUseDistinctTraceIDs(t *testing.T) {
	cfg, err := LoadConfig("scenarios/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	total := 0
	for i := 0; i < 2; i++ {
		from := day.AddDate(0, 0, i)
		p, err := Generate(cfg, Range{From: from, To: from.Add(24 * time.Hour), AsOf: from.Add(25 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range p.Txns() {
			seen[tx.TraceID.String()] = true
			total++
		}
	}
	if total < 100 || len(seen) != total {
		t.Errorf("%d transactions over two days share trace ids: %d distinct", total, len(seen))
	}
}
