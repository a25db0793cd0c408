package clickhouseexporter

import (
	"log/slog"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// What assembly logs through slog reaches the collector's zap logger at the
// same level, with its attributes as fields; below the logger's level it is
// dropped.
func TestSlogThroughZap(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	l := slog.New(zapHandler{log: zap.New(core)}).With("component", "assembly")
	l.Warn("recent_fact_counts is missing", "error", "code 60")
	l.Debug("not shown")
	all := logs.All()
	if len(all) != 1 {
		t.Fatalf("%d entries, want 1: %+v", len(all), all)
	}
	e := all[0]
	if e.Level != zapcore.WarnLevel || e.Message != "recent_fact_counts is missing" {
		t.Errorf("entry %v %q", e.Level, e.Message)
	}
	if got := e.ContextMap(); got["component"] != "assembly" || got["error"] != "code 60" {
		t.Errorf("fields %v", got)
	}
}
