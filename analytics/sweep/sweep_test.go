package sweep_test

import (
	"context"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/sweep"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var t0 = time.Date(2026, 9, 20, 10, 0, 0, 0, time.UTC)

func sale(id string, at time.Time, terminal, batch, code string, amount int64) synth.Txn {
	return synth.Txn{ID: id, Time: at, Type: "sale", ResponseCode: code, Amount: amount, Currency: "CNY", Gateway: "gw-1",
		Merchant: "M-1", Terminal: terminal, Region: "east", BatchNumber: batch, LatencyNs: 1e9, HostLatencyNs: 5e8}
}

// traffic stands for the rest of the estate: a declined sale assembled at
// at, so the data has reached at (the sweep's cut-off never passes the data).
func traffic(t *testing.T, db *chtest.DB, id string, at time.Time) {
	t.Helper()
	x := sale(id, at, "T-9", "000009", "51", 100)
	x.Outcome, x.Cause, x.Class = domain.OutcomeDeclined, domain.CauseAccount, domain.ClassHard
	if err := synth.Insert(context.Background(), db.Conn, db.Name, []synth.Txn{x}, at); err != nil {
		t.Fatal(err)
	}
}

func outcomes(t *testing.T, db *chtest.DB) map[string]string {
	t.Helper()
	rows, err := db.Conn.Query(context.Background(), "SELECT txn_id, concat(toString(outcome), '/', toString(cause)) FROM "+chtest.Txns)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, oc string
		if err := rows.Scan(&id, &oc); err != nil {
			t.Fatal(err)
		}
		out[id] = oc
	}
	return out
}

// The settlement window boundary is exact: a sale exactly 36 h old at the
// sweep is unsettled, one a second younger is still pending; a failed batch
// close gives its cause; declines are never unsettled.
func TestSweepAtTheWindowBoundary(t *testing.T) {
	db := chtest.Migrated(t)
	ctx := context.Background()
	txns := []synth.Txn{
		sale("A-EXACT", t0, "T-1", "000001", "00", 1000),
		sale("B-YOUNGER", t0.Add(time.Second), "T-1", "000001", "00", 2000),
		sale("C-FAILED-BATCH", t0, "T-BAD", "000777", "00", 4000),
		sale("D-DECLINED", t0.Add(-time.Hour), "T-1", "000001", "51", 8000),
	}
	if err := synth.InsertFacts(ctx, db.Conn, db.Name, txns); err != nil {
		t.Fatal(err)
	}
	closeAt := t0.Add(12 * time.Hour)
	err := chbatch.Insert(ctx, db.Conn, db.Name, chschema.BatchCloses, chbatch.Columns{
		"terminal_id": []string{"T-BAD"}, "merchant_id": []string{"M-1"}, "batch_number": []string{"000777"},
		"trace_id": []string{"batch-trace-0777"}, "span_id": []string{"batchspn"}, "close_time": []time.Time{closeAt},
		"close_ns": []uint64{uint64(closeAt.UnixNano())}, "status_code": []string{"error"}, "batch_result": []string{"failed"},
		"error_type": []string{"upload_failed"}, "txn_count": []int64{1}, "amount_minor": []int64{4000}, "ingested_ns": []uint64{uint64(closeAt.UnixNano())},
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := &assembly.Assembler{Conn: db.Conn, DB: db.Name, Rules: domain.DefaultRules(), Now: func() time.Time { return t0.Add(time.Hour) }}
	if _, err := a.AssembleTxns(ctx, []string{"A-EXACT", "B-YOUNGER", "C-FAILED-BATCH", "D-DECLINED"}); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, db); got["A-EXACT"] != "pending/none" || got["D-DECLINED"] != "declined/account" {
		t.Fatalf("before the sweep: %v", got)
	}

	now := t0.Add(36*time.Hour + 30*time.Second) // the sweep's as-of is the minute: exactly t0 + 36 h
	traffic(t, db, "Z-TRAFFIC-1", now)
	r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, DB: db.Name, Log: chtest.Logger(t), Now: func() time.Time { return now }}}
	if _, err := r.RunScheduled(ctx, &sweep.Job{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A-EXACT": "unsettled/settlement", "B-YOUNGER": "pending/none",
		"C-FAILED-BATCH": "unsettled/network", "D-DECLINED": "declined/account", "Z-TRAFFIC-1": "declined/account"}
	if got := outcomes(t, db); len(got) != len(want) || got["A-EXACT"] != want["A-EXACT"] || got["B-YOUNGER"] != want["B-YOUNGER"] ||
		got["C-FAILED-BATCH"] != want["C-FAILED-BATCH"] || got["D-DECLINED"] != want["D-DECLINED"] {
		t.Errorf("after the sweep at %s: %v, want %v", now, got, want)
	}
	asOf := t0.Add(36 * time.Hour)
	aging := func() map[string]int64 {
		rows, err := db.Conn.Query(ctx, "SELECT concat(dimension, '/', value, '/', toString(cause), '/', age_bucket, '/', currency), transactions, amount_minor"+
			" FROM unsettled_aging FINAL WHERE as_of = toDateTime(?) AND transactions > 0", asOf.Unix())
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int64{}
		for rows.Next() {
			var k string
			var n uint64
			var amt int64
			if err := rows.Scan(&k, &n, &amt); err != nil {
				t.Fatal(err)
			}
			out[k] = int64(n)*1_000_000 + amt
		}
		return out
	}
	first := aging()
	if first["all//settlement/1-2d/CNY"] != 1_000_000+1000 || first["all//network/1-2d/CNY"] != 1_000_000+4000 ||
		first["gateway/gw-1/settlement/1-2d/CNY"] != 1_000_000+1000 || len(first) != 8 {
		t.Errorf("aging snapshot %v", first)
	}
	// The same snapshot again: nothing changes.
	if _, err := r.RunScheduled(ctx, &sweep.Job{}); err != nil {
		t.Fatal(err)
	}
	if again := aging(); len(again) != len(first) || again["all//network/1-2d/CNY"] != first["all//network/1-2d/CNY"] ||
		again["all//settlement/1-2d/CNY"] != first["all//settlement/1-2d/CNY"] {
		t.Errorf("re-run changed the snapshot: %v", again)
	}
	// One second later in the next minute, the younger sale's window has passed too.
	now = t0.Add(36*time.Hour + time.Minute)
	traffic(t, db, "Z-TRAFFIC-2", now)
	if _, err := r.RunScheduled(ctx, &sweep.Job{}); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, db)["B-YOUNGER"]; got != "unsettled/settlement" {
		t.Errorf("B-YOUNGER a minute later: %s", got)
	}
	if n := db.Count(t, "SELECT toUInt64(sum(transactions)) FROM unsettled_aging FINAL WHERE as_of = toDateTime(?) AND dimension = 'all'", asOf.Add(time.Minute).Unix()); n != 3 {
		t.Errorf("second snapshot counts %d unsettled, want 3", n)
	}
	if n := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE job = 'sweep' AND status = 'ok'"); n != 3 {
		t.Errorf("%d ok sweep runs recorded, want 3", n)
	}
}

// The daemon's clock 3 h ahead of the data (an NTP step, a VM restore, or no
// spans arriving for 3 h) must not flag a sale whose settlement window has
// not passed by the data: the cut-off is the newest assembled transaction.
// A clock behind the data sweeps up to the clock. When a cut-off recurs
// after the clock stepped back, its snapshot is replaced, not kept.
func TestSweepCutOffFollowsTheDataNotAClockAhead(t *testing.T) {
	db := chtest.Migrated(t)
	ctx := context.Background()
	txns := []synth.Txn{
		sale("A-DUE", t0, "T-1", "000001", "00", 1000),                      // due at t0 + 36 h
		sale("B-NOT-YET", t0.Add(2*time.Hour), "T-1", "000001", "00", 2000), // due at t0 + 38 h
	}
	if err := synth.InsertFacts(ctx, db.Conn, db.Name, txns); err != nil {
		t.Fatal(err)
	}
	a := &assembly.Assembler{Conn: db.Conn, DB: db.Name, Rules: domain.DefaultRules(), Now: func() time.Time { return t0.Add(3 * time.Hour) }}
	if _, err := a.AssembleTxns(ctx, []string{"A-DUE", "B-NOT-YET"}); err != nil {
		t.Fatal(err)
	}
	data := t0.Add(36*time.Hour + 5*time.Minute)
	traffic(t, db, "Z-TRAFFIC-1", data)

	clock := data.Add(3 * time.Hour) // B's window has passed by this clock, not by the data
	r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, DB: db.Name, Log: chtest.Logger(t), Now: func() time.Time { return clock }}}
	if _, err := r.RunScheduled(ctx, &sweep.Job{}); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, db); got["A-DUE"] != "unsettled/settlement" || got["B-NOT-YET"] != "pending/none" {
		t.Errorf("clock 3 h ahead of the data: %v", got)
	}
	unsettledAt := func(asOf time.Time) uint64 {
		return db.Count(t, "SELECT toUInt64(sum(transactions)) FROM unsettled_aging FINAL WHERE dimension = 'all' AND as_of = toDateTime(?)", asOf.Unix())
	}
	if n := unsettledAt(data); n != 1 {
		t.Errorf("snapshot at the data's time counts %d unsettled, want 1", n)
	}
	if n := db.Count(t, "SELECT count() FROM unsettled_aging WHERE as_of > toDateTime(?)", data.Unix()); n != 0 {
		t.Errorf("%d snapshot rows past the data's time", n)
	}

	// The clock steps back a day: it is behind the data, and is the cut-off.
	clock = data.Add(-24 * time.Hour)
	if _, err := r.RunScheduled(ctx, &sweep.Job{}); err != nil {
		t.Fatal(err)
	}
	if n := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE job = 'sweep' AND status = 'ok' AND window_to = toDateTime(?)", clock.Truncate(time.Minute).Unix()); n != 1 {
		t.Errorf("the sweep with the clock behind did not cut off at the clock (%d runs)", n)
	}

	// A pending sale from before A arrives late; the clock, corrected but
	// still behind the first run's, is ahead of the data again: the same
	// cut-off as the first run, whose snapshot must now count two.
	late := []synth.Txn{sale("C-LATE", t0.Add(-time.Hour), "T-2", "000002", "00", 4000)}
	if err := synth.InsertFacts(ctx, db.Conn, db.Name, late); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AssembleTxns(ctx, []string{"C-LATE"}); err != nil {
		t.Fatal(err)
	}
	clock = data.Add(20 * time.Minute)
	if _, err := r.RunScheduled(ctx, &sweep.Job{}); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, db); got["C-LATE"] != "unsettled/settlement" || got["B-NOT-YET"] != "pending/none" {
		t.Errorf("after the late sale: %v", got)
	}
	if n := unsettledAt(data); n != 2 {
		t.Errorf("the snapshot at the same cut-off counts %d unsettled after the re-run, want 2", n)
	}
}

// A settlement that arrives days after the rest of its sale, whose facts
// arrived before the recent days ingest reads: ingest builds a row from the
// settlement alone, which loses to the sale's row; the next sweep finds the
// sale (it got a fact since the last run and has facts older than the recent
// days) and rebuilds it settled.
func TestSweepReconcilesALateSettlement(t *testing.T) {
	db := chtest.Migrated(t)
	ctx := context.Background()
	if err := synth.InsertFacts(ctx, db.Conn, db.Name, []synth.Txn{sale("L-LATE", t0, "T-1", "000001", "00", 1000)}); err != nil {
		t.Fatal(err)
	}
	a := &assembly.Assembler{Conn: db.Conn, DB: db.Name, Rules: domain.DefaultRules(), Now: func() time.Time { return t0.Add(time.Hour) }}
	if _, err := a.AssembleTxns(ctx, []string{"L-LATE"}); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(5 * 24 * time.Hour)
	traffic(t, db, "Z-TRAFFIC-1", now.Add(-time.Hour))
	r := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, DB: db.Name, Log: chtest.Logger(t), Now: func() time.Time { return now }}}
	if _, err := r.RunScheduled(ctx, &sweep.Job{}); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, db)["L-LATE"]; got != "unsettled/settlement" {
		t.Fatalf("before its settlement: %s", got)
	}
	arrived := now.Add(5 * time.Minute)
	db.Exec(t, "INSERT INTO "+db.Name+".payment_facts_by_arrival (txn_id, trace_id, span_id, name, service_name, start_time, start_ns,"+
		" response_code, amount_minor, amount_ok, currency, settlement_status, ingested_ns)"+
		" SELECT 'L-LATE', 'settle-trace-001', 'settle01', ?, 'settlement-service', toDateTime(?), ?, '00', 1000, ?, 'CNY', ?, ?",
		domain.SpanSettlement, arrived.Unix(), uint64(arrived.UnixNano()), uint8(domain.AmountOK), domain.SettlementSettled, uint64(arrived.UnixNano()))
	a.Now = func() time.Time { return arrived } // ingest's clock: the sale's facts are days old
	if _, err := a.Assemble(ctx, assembly.Keys{TxnIDs: []string{"L-LATE"}}); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, db)["L-LATE"]; got != "unsettled/settlement" {
		t.Errorf("after ingest of the late settlement: %s, want the sale's row kept", got)
	}

	now = now.Add(15 * time.Minute)
	traffic(t, db, "Z-TRAFFIC-2", now)
	if _, err := r.RunScheduled(ctx, &sweep.Job{}); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, db)["L-LATE"]; got != "settled/none" {
		t.Errorf("after the next sweep: %s, want settled/none", got)
	}
}
