package query

import (
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/anomaly"
	"github.com/settlewatch/settlewatch/analytics/model"
)

// Three weeks of daily buckets, the last shown and the two before as its
// baseline: the baseline is the median rate of the same weekday in the
// weeks that had traffic, a week without traffic is skipped, and a cause
// without failures reads as zeros.
func TestGridPointsBaseline(t *testing.T) {
	from := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	r := Range{From: from, To: from.Add(3 * anomaly.Week)}
	gr := newGrid(r, model.Day)
	if gr.buckets() != 21 {
		t.Fatalf("%d buckets, want 21", gr.buckets())
	}
	add := func(day int, cause string, n uint64) {
		t.Helper()
		if err := gr.add(from.AddDate(0, 0, day), cause, n); err != nil {
			t.Fatal(err)
		}
	}
	// Monday of week 0: 10 of 100 failed (network); week 1: 30 of 100;
	// week 2 (shown): 5 of 50.
	add(0, "none", 90)
	add(0, "network", 10)
	add(7, "none", 70)
	add(7, "network", 30)
	add(14, "none", 45)
	add(14, "network", 5)
	// Tuesday: traffic in week 2 only.
	add(15, "none", 20)

	first := gr.index(from.Add(2 * anomaly.Week))
	ps := gr.points(first, []string{"network", "card"}, 2)
	if len(ps) != 7*2 {
		t.Fatalf("%d points, want 14", len(ps))
	}
	mon, monCard, tue := ps[0], ps[1], ps[2]
	if !mon.Bucket.Equal(from.AddDate(0, 0, 14)) || mon.Cause != "network" || mon.Failures != 5 || mon.Transactions != 50 {
		t.Fatalf("Monday: %+v", mon)
	}
	if mon.BaselineWeeks != 2 || mon.Baseline != 0.2 || mon.Rate != 0.1 || mon.Ratio != 0.5 {
		t.Errorf("Monday baseline: %+v, want median of 0.1 and 0.3 = 0.2, ratio 0.5", mon)
	}
	if monCard.Failures != 0 || monCard.BaselineWeeks != 2 || monCard.Baseline != 0 || monCard.Ratio != 0 {
		t.Errorf("card, never failed: %+v", monCard)
	}
	if tue.Transactions != 20 || tue.BaselineWeeks != 0 || tue.Baseline != 0 {
		t.Errorf("Tuesday, no traffic in earlier weeks: %+v", tue)
	}
}

func TestGridRefusesBucketsItDoesNotHold(t *testing.T) {
	from := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	gr := newGrid(Range{From: from, To: from.Add(3 * time.Hour)}, model.Hour)
	for _, b := range []time.Time{from.Add(-time.Hour), from.Add(3 * time.Hour), from.Add(90 * time.Minute)} {
		if err := gr.add(b, "network", 1); err == nil || !strings.Contains(err.Error(), "not one of the 3 buckets") {
			t.Errorf("bucket %s: %v", b, err)
		}
	}
	if err := gr.add(from.Add(2*time.Hour), "network", 1); err != nil || gr.totals[2] != 1 || gr.fails["network"][2] != 1 {
		t.Errorf("last bucket: %v %v", err, gr.totals)
	}
}
