package e2e

import (
	"context"
	"net"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/collector/distribution"
	"github.com/settlewatch/settlewatch/domain"
	"github.com/settlewatch/settlewatch/simulator"
)

// day is a simulated day of the demo scenario (a gateway outage and a
// regional network degradation whose batch uploads fail) sent as OTLP
// through the real collector into ClickHouse, with the simulator's ground
// truth and its plan (every span it sent, with parents).
type day struct {
	db    *chtest.DB
	from  time.Time
	to    time.Time
	truth []simulator.TruthRecord
	plan  *simulator.Plan
}

func loopback(t testing.TB) string {
	t.Helper()
	addr, err := chtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// startCollector runs the shipped collector configuration in-process against db.
func startCollector(t *testing.T, db *chtest.DB) string {
	t.Helper()
	grpcAddr := loopback(t)
	_, metricsPort, _ := net.SplitHostPort(loopback(t))
	for k, v := range map[string]string{
		"SETTLEWATCH_CH_ADDR": db.Settings.Addr[0], "SETTLEWATCH_CH_DATABASE": db.Name,
		"SETTLEWATCH_OTLP_GRPC_ENDPOINT": grpcAddr, "SETTLEWATCH_OTLP_HTTP_ENDPOINT": loopback(t),
		"SETTLEWATCH_HEALTH_ENDPOINT": loopback(t), "SETTLEWATCH_METRICS_PORT": metricsPort,
		"SETTLEWATCH_QUEUE_DIR": filepath.Join(t.TempDir(), "queue"), "SETTLEWATCH_LOG_LEVEL": "warn",
	} {
		t.Setenv(k, v)
	}
	col, err := distribution.Start([]string{"file:" + filepath.Join("..", "..", "..", "collector", "config.yaml")}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := col.Stop(time.Minute); err != nil {
			t.Errorf("collector: %v", err)
		}
	})
	return grpcAddr
}

// simulateDay loads the demo day, sweeps the settlement window, rolls up
// (backfill and one scheduled run, so the health check sees fresh rollups)
// and writes two incidents with known values.
func simulateDay(t *testing.T) *day {
	t.Helper()
	db := chtest.Migrated(t)
	addr := startCollector(t, db)
	ctx := context.Background()
	cfg, err := simulator.LoadConfig(filepath.Join("..", "..", "..", "simulator", "scenarios", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A whole UTC day that ended more than the settlement window ago: nothing
	// is pending, so the sweep and the truth agree on every transaction.
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	r := simulator.Range{From: midnight.AddDate(0, 0, -3), To: midnight.AddDate(0, 0, -2), AsOf: time.Now()}
	exp, err := simulator.NewOTLPExporter(ctx, simulator.ExporterConfig{Endpoint: addr, Insecure: true})
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
	waitCount(t, db, uint64(res.Spans), "SELECT count() FROM spans FINAL")
	waitCount(t, db, uint64(len(res.Truth)), "SELECT count() FROM "+chtest.Txns)
	a := &assembly.Assembler{Conn: db.Conn, DB: db.Name, Rules: domain.DefaultRules(), Window: domain.DefaultSettlementWindow}
	if _, err := a.Sweep(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	waitTruth(t, db, a, res.Truth)

	runner := &jobs.Runner{Env: jobs.Env{Conn: db.Conn, Session: db.Session, DB: db.Name, QueryTimeout: 5 * time.Minute, Log: chtest.Logger(t)}}
	if _, err := runner.Backfill(ctx, &rollup.Job{}, res.Range.From, res.Range.To, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := runner.RunScheduled(ctx, &rollup.Job{}); err != nil {
		t.Fatal(err)
	}
	insertIncidents(t, db, res.Range.From)
	plan, err := simulator.Generate(cfg, res.Range)
	if err != nil {
		t.Fatal(err)
	}
	return &day{db: db, from: res.Range.From, to: res.Range.To, truth: res.Truth, plan: plan}
}

// waitCount polls until a count reaches want: the collector acknowledges
// spans before ClickHouse has the rows.
func waitCount(t *testing.T, db *chtest.DB, want uint64, q string) {
	t.Helper()
	var got uint64
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = db.Count(t, q); got == want {
			return
		}
	}
	t.Fatalf("%s: %d, want %d", q, got, want)
}

// waitTruth polls until every stored outcome and cause equals the truth
// (settlements re-assemble their transactions asynchronously). When it gives
// up it shows, for the first differing transactions, every stored version and
// the facts they were assembled from.
func waitTruth(t *testing.T, db *chtest.DB, a *assembly.Assembler, truth []simulator.TruthRecord) {
	t.Helper()
	want := map[string][2]string{}
	for _, tr := range truth {
		want[tr.TxnID] = [2]string{string(tr.Outcome), string(tr.Cause)}
	}
	var diff []string
	got := map[string][2]string{}
	n := 0 // rows: more than len(got) when FINAL left two rows of one transaction
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		ctx, cancel := chconn.WithQuerySettings(context.Background(), time.Minute)
		rows, err := db.Conn.Query(ctx, "SELECT txn_id, toString(outcome), toString(cause) FROM "+chtest.Txns)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		diff = diff[:0]
		clear(got)
		n = 0
		for rows.Next() {
			var id, o, c string
			if err := rows.Scan(&id, &o, &c); err != nil {
				t.Fatal(err)
			}
			n++
			got[id] = [2]string{o, c}
			if want[id] != got[id] {
				diff = append(diff, id)
			}
		}
		rows.Close()
		cancel()
		for id := range want {
			if _, ok := got[id]; !ok {
				diff = append(diff, id) // not stored at all
			}
		}
		if len(diff) == 0 && n == len(want) {
			return
		}
	}
	sort.Strings(diff)
	for _, id := range diff[:min(10, len(diff))] {
		t.Logf("%s: truth %s/%s, stored %s/%s", id, want[id][0], want[id][1], got[id][0], got[id][1])
		lines, err := a.Explain(context.Background(), id)
		for _, l := range lines {
			t.Logf("  %s", l)
		}
		if err != nil {
			t.Logf("  %v", err)
		}
	}
	t.Fatalf("%d stored transactions still differ from the ground truth (%d rows for %d transactions stored, %d in the truth)", len(diff), n, len(got), len(want))
}

// incident is one row written to the incidents table.
type incident struct {
	id, cause, dim, value, status, severity, summary string
	started, ended                                   time.Time
	peak                                             float64
	failures, transactions                           uint64
}

func testIncidents(from time.Time) []incident {
	return []incident{
		{id: "inc-gw2-outage", cause: "gateway", dim: "gateway", value: "gw-2", status: "closed", severity: "high",
			summary: "Gateway failures on gateway gw-2 rose to 41%", started: from.Add(14 * time.Hour), ended: from.Add(14*time.Hour + 30*time.Minute),
			peak: 0.41, failures: 120, transactions: 290},
		{id: "inc-wuhan-network", cause: "network", dim: "region", value: "wuhan", status: "open", severity: "medium",
			summary: "Network failures in region wuhan rose to 25%", started: from.Add(16 * time.Hour),
			peak: 0.25, failures: 80, transactions: 320},
	}
}

func insertIncidents(t *testing.T, db *chtest.DB, from time.Time) {
	t.Helper()
	list := testIncidents(from)
	cols := chbatch.Columns{}
	add := func(name string, v any) {
		switch x := v.(type) {
		case string:
			s, _ := cols[name].([]string)
			cols[name] = append(s, x)
		case time.Time:
			s, _ := cols[name].([]time.Time)
			cols[name] = append(s, x)
		case float64:
			s, _ := cols[name].([]float64)
			cols[name] = append(s, x)
		case uint64:
			s, _ := cols[name].([]uint64)
			cols[name] = append(s, x)
		case uint32:
			s, _ := cols[name].([]uint32)
			cols[name] = append(s, x)
		default:
			t.Fatalf("column %s: %T", name, v)
		}
	}
	for _, in := range list {
		ended := in.ended
		if ended.IsZero() {
			ended = time.Unix(0, 0).UTC()
		}
		add("incident_id", in.id)
		add("cause", in.cause)
		add("dimension", in.dim)
		add("value", in.value)
		add("granularity", uint32(300))
		add("started", in.started)
		add("ended", ended)
		add("status", in.status)
		add("kind", "step")
		add("severity", in.severity)
		add("score", 9.5)
		add("baseline_rate", 0.01)
		add("observed_rate", in.peak*0.9)
		add("peak_rate", in.peak)
		add("failures", in.failures)
		add("transactions", in.transactions)
		add("summary", in.summary)
		add("evaluated_to", in.started.Add(time.Hour))
		add("version", uint64(1))
	}
	ctx, cancel := chconn.WithQuerySettings(context.Background(), time.Minute)
	defer cancel()
	if err := chbatch.Insert(ctx, db.Conn, db.Name, chschema.Incidents, cols, len(list)); err != nil {
		t.Fatal(err)
	}
	if n := db.Count(t, "SELECT count() FROM incidents FINAL"); n != uint64(len(list)) {
		t.Fatalf("incidents stored: %d, want %d", n, len(list))
	}
}
