package gctarget

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestSetPercentLeavesAnOperatorsGOGCAlone(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if SetPercent(150, func(string) string { return "50" }) {
		t.Error("with GOGC set, SetPercent says it set the target")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set the GC target changed to %d", got)
	}
	if !SetPercent(150, func(string) string { return "" }) {
		t.Error("without GOGC, SetPercent says it did not set the target")
	}
	if got := debug.SetGCPercent(100); got != 150 {
		t.Fatalf("without GOGC the GC target is %d, want 150", got)
	}
}

func TestSetMemoryLimitLeavesAnOperatorsGOMEMLIMITAlone(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOMEMLIMIT" {
				return v
			}
			return ""
		}
	}
	if SetMemoryLimit(200<<20, env("1GiB")) {
		t.Error("with GOMEMLIMIT set, SetMemoryLimit says it set the limit")
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("with GOMEMLIMIT set the limit changed to %d", got)
	}
	if !SetMemoryLimit(200<<20, env("")) {
		t.Error("without GOMEMLIMIT, SetMemoryLimit says it did not set the limit")
	}
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Fatalf("without GOMEMLIMIT the limit is %d, want %d", got, 200<<20)
	}
}
