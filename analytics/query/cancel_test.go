package query_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// fillTransactions writes n rows server-side (INSERT … SELECT into the
// table's explicit column list): enough volume for a slow raw query.
func fillTransactions(t *testing.T, db *chtest.DB, n int) {
	t.Helper()
	expr := map[string]string{
		"txn_id": "concat('S', toString(number))", "version": "toUInt64(1)", "txn_time": "toDateTime(1790000000 + number % 2592000)",
		"txn_ns": "toUInt64(1790000000 + number % 2592000) * 1000000000", "trace_id": "toFixedString('', 16)",
		"outcome": "'declined'", "cause": "multiIf(number % 3 = 0, 'account', number % 3 = 1, 'card', 'limit')", "cause_class": "'soft'",
		"amount_minor": "toInt64(number % 100000)", "currency": "'CNY'", "merchant_id": "concat('M', toString(number % 50000))",
		"terminal_id": "concat('T', toString(number % 200000))", "gateway_id": "concat('gw-', toString(number % 4))",
		"span_count": "toUInt32(5)", "rules_revision": "toUInt32(1)", "data_issues": "emptyArrayString()", "fact_hours": "[toStartOfHour(toDateTime(1790000000 + number % 2592000))]", "assembled_at": "now()",
		"settled_ns": "toUInt64(0)", "latency_ns": "toUInt64(number % 5000000000)",
	}
	if err := synth.FillServerSide(t.Context(), db.Conn, db.Name, chschema.Transactions, uint64(n), expr); err != nil {
		t.Fatal(err)
	}
}

// A question cut short by its caller's deadline returns a clear error, and
// the server stops working on it: nothing of it is left in system.processes.
func TestDeadlineCancelsTheServerQuery(t *testing.T) {
	db := chtest.Migrated(t)
	fillTransactions(t, db, 4_000_000)
	q := &query.Querier{Conn: db.Conn, DB: db.Name, Timeout: time.Minute}
	r := query.Range{From: time.Unix(1790000000, 0), To: time.Unix(1790000000+2592000, 0)}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: r, By: "terminal", Source: query.SourceRaw})
	if err == nil {
		t.Fatalf("a raw 30-day breakdown by terminal over 4M rows finished within 150 ms (%s): no deadline to test", time.Since(start))
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("error %v, want one that wraps the passed deadline", err)
	}
	// The server-side query must end too (the driver cancels it; the paired
	// max_execution_time bounds it otherwise).
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := db.Count(t, "SELECT count() FROM system.processes WHERE position(query, ?) > 0 AND position(query, 'system.processes') = 0", db.Name+"`.`transactions")
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d queries of the cancelled question still run on the server after 10 s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
