package advice

import (
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/analytics/model"
)

func hist(latenciesMs ...uint64) []uint64 {
	h := make([]uint64, model.HistBuckets)
	for _, ms := range latenciesMs {
		h[model.HistBucketOf(ms)]++
	}
	return h
}

func TestAdvise(t *testing.T) {
	var ls []uint64
	for i := range 990 {
		ls = append(ls, uint64(300+i)) // 300 ms .. 1.29 s
	}
	ls = append(ls, 6000, 6000, 9000, 9000, 9000, 12000, 16000, 21000, 60000, 60000) // 10 slow
	a, err := Advise("gw-1", hist(ls...), 2, []uint64{5000, 10000, 15000, 20000, 30000, 60000}, 0.003)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64]uint64{5000: 10, 10000: 5, 15000: 4, 20000: 3, 30000: 2, 60000: 2}
	for _, c := range a.Candidates {
		if c.WouldTimeout != want[c.TimeoutMs] {
			t.Errorf("candidate %d: %d would time out, want %d", c.TimeoutMs, c.WouldTimeout, want[c.TimeoutMs])
		}
	}
	// The 2 reported timeouts (at 60 s) count for every candidate; 10 s adds
	// 3 more (0.3 % <= 0.3 %), 5 s adds 8: 10 s is recommended.
	if a.Requests != 1000 || a.RecommendedMs != 10000 || a.ObservedTimeouts != 2 || a.Candidates[1].Additional != 3 || a.Candidates[0].Additional != 8 {
		t.Errorf("advice %+v", a)
	}
	if !strings.Contains(a.Summary, "recommend 10 s") || a.P50Ms < 700 || a.P50Ms > 900 {
		t.Errorf("summary %q p50 %v", a.Summary, a.P50Ms)
	}
	// Nothing meets a tiny target.
	a, _ = Advise("gw-1", hist(ls...), 2, []uint64{5000, 10000}, 0.0001)
	if a.RecommendedMs != 0 || !strings.Contains(a.Summary, "Fix the gateway") {
		t.Errorf("advice %+v", a)
	}
	if _, err := Advise("gw-1", nil, 0, []uint64{7000}, 0); err == nil {
		t.Error("candidate that is not a histogram bound accepted")
	}
}

func TestQuantileAndBuckets(t *testing.T) {
	if model.HistBucketOf(0) != 0 || model.HistBucketOf(24) != 0 || model.HistBucketOf(25) != 1 || model.HistBucketOf(1_000_000) != model.HistBuckets-1 {
		t.Error("HistBucketOf")
	}
	h := hist(100, 100, 100, 100) // all in [100, 150)
	if q := model.Quantile(h, 0.5); q < 100 || q > 150 {
		t.Errorf("median %v", q)
	}
	if n, _ := model.AtOrAbove(h, 150); n != 0 {
		t.Errorf("AtOrAbove 150 = %d", n)
	}
	if n, _ := model.AtOrAbove(h, 100); n != 4 {
		t.Errorf("AtOrAbove 100 = %d", n)
	}
}
