package gcpercent

import (
	"runtime/debug"
	"testing"
)

func TestSetDefaultLeavesAnOperatorsGOGCAlone(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if SetDefault(150, func(string) string { return "50" }) {
		t.Error("with GOGC set, SetDefault says it set the target")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set the GC target changed to %d", got)
	}
	if !SetDefault(150, func(string) string { return "" }) {
		t.Error("without GOGC, SetDefault says it did not set the target")
	}
	if got := debug.SetGCPercent(100); got != 150 {
		t.Fatalf("without GOGC the GC target is %d, want 150", got)
	}
}
