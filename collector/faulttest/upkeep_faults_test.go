package faulttest

import (
	"context"
	"testing"
	"time"
)

// A compaction of closed days that the server refuses (merges stopped on
// the facts, so OPTIMIZE fails) is logged and counted in
// settlewatch_exporter_upkeep_failures_total, not as a write failure, and
// ingest goes on: every span is stored.
func TestFailedCompactionIsCountedAndIngestGoesOn(t *testing.T) {
	srv := clickhouse(t)
	col := newCollector(t, srv, db) // migrates the schema at start
	conn := connect(t, srv, db)
	ctx := context.Background()
	old := time.Now().Add(-5 * 24 * time.Hour)
	if err := conn.Exec(ctx, "SYSTEM STOP MERGES payment_facts_by_arrival"); err != nil {
		t.Fatal(err)
	}
	for _, span := range []string{"oldspan1", "oldspan2"} {
		if err := conn.Exec(ctx, "INSERT INTO payment_facts_by_arrival (txn_id, span_id, start_time, ingested_ns) SELECT 'OLD-1', ?, toDateTime(?), ?",
			span, old.Unix(), uint64(old.UnixNano())); err != nil {
			t.Fatal(err)
		}
	}
	// The first stored batch starts the hourly upkeep.
	total, sent := sendInBackground(col.grpc, 200, 7)
	waitSent(t, sent)
	waitCount(t, conn, "SELECT uniqExact(span_id) FROM spans", uint64(total), 2*time.Minute)
	deadline := time.Now().Add(time.Minute)
	var failed float64
	for time.Now().Before(deadline) {
		if failed = metricSum(col.metricsText(t), "settlewatch_exporter_upkeep_failures_total", `table="payment_facts_by_arrival"`); failed > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if failed != 1 {
		t.Errorf("upkeep failures of payment_facts_by_arrival: %v, want 1", failed)
	}
	if line := col.logLine(t, "could not compact closed days", "payment_facts_by_arrival"); line == "" {
		t.Error("the failed compaction was not logged")
	}
	if n := metricSum(col.metricsText(t), "settlewatch_exporter_write_failures_total", `table="payment_facts_by_arrival"`); n != 0 {
		t.Errorf("the failed compaction was counted as %v write failures", n)
	}
	col.alive(t)
}
