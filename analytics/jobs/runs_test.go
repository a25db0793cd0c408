package jobs

import (
	"testing"
	"time"
)

func TestCovers(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	spans := [][2]time.Time{{h(5), h(8)}, {h(0), h(3)}, {h(2), h(5)}, {h(10), h(12)}}
	for _, tc := range []struct {
		from, to int
		want     bool
	}{{0, 8, true}, {1, 4, true}, {0, 9, false}, {7, 11, false}, {10, 12, true}, {9, 10, false}} {
		if got := covers(append([][2]time.Time(nil), spans...), h(tc.from), h(tc.to)); got != tc.want {
			t.Errorf("covers %d..%d = %v", tc.from, tc.to, got)
		}
	}
}

func TestRunVersionOrdersFinalAfterRunning(t *testing.T) {
	at := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	running := Run{Started: at, Status: StatusRunning}
	done := Run{Started: at, Finished: at, Status: StatusOK}
	if done.version() <= running.version() {
		t.Error("the final row does not replace the running one")
	}
}
