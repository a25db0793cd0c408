package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGCLeavesAnOperatorsGOGCAlone(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	tuneGC(func(string) string { return "50" })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set the plugin changed the GC target to %d", got)
	}
	tuneGC(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Fatalf("without GOGC the GC target is %d, want %d", got, gcPercent)
	}
}
