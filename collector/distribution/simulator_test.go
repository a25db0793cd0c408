package distribution

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
	"github.com/settlewatch/settlewatch/simulator"
)

// A simulated day with two incidents (a gateway outage and a regional network
// degradation that fails batch uploads) goes through the real collector into
// ClickHouse; after the settlement sweep every stored transaction's outcome
// and cause equals the simulator's ground truth, which the simulator computed
// from what it generated, not from what was stored.
func TestSimulatedDayMatchesGroundTruth(t *testing.T) {
	db := chtest.Migrated(t)
	rc := startCollector(t, db, nil)
	ctx := context.Background()

	cfg, err := simulator.LoadConfig("../../simulator/scenarios/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A whole day that ended more than the settlement window ago: nothing is
	// left pending, so the sweep and the truth agree on every transaction.
	midnight := time.Now().Truncate(24 * time.Hour)
	r := simulator.Range{From: midnight.AddDate(0, 0, -3), To: midnight.AddDate(0, 0, -2), AsOf: time.Now()}
	exp, err := simulator.NewOTLPExporter(ctx, simulator.ExporterConfig{Endpoint: rc.grpcAddr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := simulator.SimulateBackfill(ctx, cfg, r, exp, simulator.EmitterOptions{}, domain.DefaultSettlementWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Truth) < 1000 || res.Stats.SpansDropped != 0 {
		t.Fatalf("simulated %d transactions, %d spans dropped", len(res.Truth), res.Stats.SpansDropped)
	}
	waitFor(t, db, uint64(res.Spans), "SELECT count() FROM spans FINAL")
	waitFor(t, db, uint64(len(res.Truth)), "SELECT count() FROM "+chtest.Txns)

	// Pending sales past the window become unsettled (the analytics daemon's job).
	a := &assembly.Assembler{Conn: db.Conn, DB: db.Name, Rules: domain.DefaultRules(), Window: domain.DefaultSettlementWindow}
	if _, err := a.Sweep(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}

	exp2 := map[string]want{}
	scenarioTxns := map[string]int{}
	for _, tr := range res.Truth {
		exp2[tr.TxnID] = want{string(tr.Outcome), string(tr.Cause)}
		if tr.Scenario != "" {
			scenarioTxns[tr.Scenario]++
		}
	}
	// The collector acknowledges before ClickHouse has the rows and
	// re-assembles as settlements arrive: poll until the stored state equals
	// the truth (or fail with the differences).
	// On failure, show the stored versions and facts of the first differing
	// transactions: what assembly saw is usually the answer.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		got := stored(t, db)
		ids := slices.Sorted(maps.Keys(exp2))
		shown := 0
		for _, id := range ids {
			if got[id] == exp2[id] || shown == 10 {
				continue
			}
			shown++
			t.Logf("%s: truth %s/%s, stored %s/%s", id, exp2[id].outcome, exp2[id].cause, got[id].outcome, got[id].cause)
			lines, err := a.Explain(context.Background(), id)
			for _, l := range lines {
				t.Logf("  %s", l)
			}
			if err != nil {
				t.Logf("  %v", err)
			}
		}
	})
	waitOutcomes(t, db, exp2)
	// Both incidents shaped some transactions, and their effects are there.
	if len(scenarioTxns) < 2 {
		t.Errorf("scenario effects in the truth: %v", scenarioTxns)
	}
	for _, c := range []struct{ q string }{
		{"SELECT count() FROM " + chtest.Txns + " WHERE outcome = 'unsettled' AND cause = 'network'"},
		{"SELECT count() FROM " + chtest.Txns + " WHERE gateway_id = 'gw-2' AND cause IN ('gateway', 'timeout', 'system')"},
		{"SELECT count() FROM " + chtest.Txns + " WHERE outcome = 'settled'"},
	} {
		if db.Count(t, c.q) == 0 {
			t.Errorf("nothing for %s", c.q)
		}
	}
	t.Logf("%d transactions, %d spans equal the ground truth; scenario effects %v", len(exp2), res.Spans, scenarioTxns)

	// The analytics rollup over the same data equals the simulator's totals
	// per hour × gateway × cause (× outcome × currency), cell by cell.
	runner := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, Session: db.Session, DB: db.Name, QueryTimeout: time.Minute}}
	if _, err := runner.Backfill(ctx, &rollup.Job{BackfillWindow: 24 * time.Hour}, r.From.Add(-24*time.Hour), time.Now().Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, row := range simulator.Totals(res.Truth) {
		want[fmt.Sprintf("%s|%s|%s|%s|%s", row.Hour.UTC().Format(time.RFC3339), row.GatewayID, row.Cause, row.Outcome, row.Currency)] += row.Txns
	}
	rows, err := db.Conn.Query(ctx, "SELECT bucket, value, toString(cause), toString(outcome), currency, transactions FROM rollups FINAL WHERE granularity = 3600 AND dimension = 'gateway' AND transactions > 0")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for rows.Next() {
		var bucket time.Time
		var gw, cause, outcome, cur string
		var n uint64
		if err := rows.Scan(&bucket, &gw, &cause, &outcome, &cur, &n); err != nil {
			t.Fatal(err)
		}
		got[fmt.Sprintf("%s|%s|%s|%s|%s", bucket.UTC().Format(time.RFC3339), gw, cause, outcome, cur)] += int64(n)
	}
	rows.Close()
	if !maps.Equal(got, want) {
		var d []string
		for k, v := range want {
			if got[k] != v {
				d = append(d, fmt.Sprintf("%s: rollup %d, truth %d", k, got[k], v))
			}
		}
		for k, v := range got {
			if _, ok := want[k]; !ok {
				d = append(d, fmt.Sprintf("%s: rollup %d, not in truth", k, v))
			}
		}
		sort.Strings(d)
		t.Errorf("rollups differ from the simulator's totals in %d cells:\n%s", len(d), strings.Join(d[:min(20, len(d))], "\n"))
	}
	t.Logf("rollups equal the simulator's totals in all %d hour × gateway × cause × outcome × currency cells", len(want))
}
