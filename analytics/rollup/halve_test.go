package rollup

import (
	"testing"
	"time"
)

// The staged window's halves: two runs of about half the rows each, or the
// hour holding more than half of them, to be halved by transaction id.
func TestHalve(t *testing.T) {
	h0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	hours := func(n int) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = h0.Add(time.Duration(i) * time.Hour)
		}
		return out
	}
	rows := func(ns ...uint64) map[int64]uint64 {
		m := map[int64]uint64{}
		for i, n := range ns {
			m[h0.Add(time.Duration(i)*time.Hour).Unix()] = n
		}
		return m
	}
	for _, c := range []struct {
		name  string
		hours int
		rows  map[int64]uint64
		a, b  int // hours in each run (big < 0)
		big   int
	}{
		{"one hour", 1, rows(1000), 0, 0, 0},
		{"a full hour and the running one", 2, rows(1000, 30), 0, 0, 0},
		{"the running hour holds most", 2, rows(300, 1000), 0, 0, 1},
		{"even hours", 4, rows(10, 10, 10, 10), 2, 2, -1},
		{"night and day", 6, rows(1, 1, 1, 1, 50, 50), 5, 1, -1},
		{"traffic only in the morning of a day", 24, rows(0, 0, 0, 0, 0, 0, 0, 0, 30, 30, 30, 3), 10, 14, -1},
		{"no rows", 3, rows(), 2, 1, -1},
	} {
		a, b, big := halve(hours(c.hours), c.rows)
		if big != c.big || len(a) != c.a || len(b) != c.b {
			t.Errorf("%s: runs of %d and %d hours, big %d; want %d and %d, big %d", c.name, len(a), len(b), big, c.a, c.b, c.big)
		}
		if big < 0 && (len(a)+len(b) != c.hours || !b[0].Equal(h0.Add(time.Duration(len(a))*time.Hour))) {
			t.Errorf("%s: the runs %v and %v do not cover the hours in order", c.name, a, b)
		}
	}
}
