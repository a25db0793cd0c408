package clustertest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/query"
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

// EnvRun must be set (to anything) for the cluster test to run.
const EnvRun = "SETTLEWATCH_CLUSTER_TEST"

const (
	clusterName = "settlewatch" // as in deploy/clickhouse-cluster/config.d/cluster.xml
	db          = "settlewatch"
	// landTimeout bounds each wait for rows to arrive, replicate or assemble.
	landTimeout = 3 * time.Minute
)

// TestClusterMode runs the whole pipeline on a one-shard, two-replica
// ClickHouse 18.16 cluster configured from deploy/clickhouse-cluster:
//
//  1. the schema is migrated ON CLUSTER (chschema, cluster dialect) from
//     version 8 with a fact stored, which reaches payment_facts_by_arrival on
//     both replicas, counted in recent_fact_counts_by_hash: every table is ReplicatedReplacingMergeTree <t>_local
//     behind a Distributed <t> on both replicas, and the old tables are gone;
//  2. the real collector (in-process, shipped config + the shipped cluster
//     overlay, both replicas in its endpoint list) stores a simulated day;
//     both replicas hold every span;
//  3. replica 1 is stopped; a second simulated day goes to replica 2 (the
//     collector fails over); replica 1 is restarted and catches up: both
//     replicas hold the same rows, keyed by span id, of every table;
//  4. every transaction's outcome and cause, read through the Distributed
//     table on either replica, equals the simulator's ground truth, and so do
//     the query layer's outcome and cause counts from raw tables and from
//     rollups written by the rollup job through Distributed tables.
func TestClusterMode(t *testing.T) {
	if os.Getenv(EnvRun) == "" {
		t.Skip("cluster test: set " + EnvRun + "=1 (deploy/clickhouse-cluster/test.sh does, after installing zookeeper)")
	}
	began := time.Now()
	ctx := context.Background()
	zk := startZooKeeper(t)
	reps := newReplicas(t, zk, "clickhouse-1", "clickhouse-2")
	r1, r2 := reps[0], reps[1]
	t.Logf("zookeeper %s, %s %s, %s %s up in %s", zk.addr(), r1.name, r1.addr(), r2.name, r2.addr(), since(began))
	checkTopology(t, reps)

	// 1. Schema ON CLUSTER.
	admin := r1.open(t, "default")
	v, err := chconn.ServerVersion(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	d := chschema.DialectFor(v, clusterName)
	// As version 8 left a cluster, with a fact in payment_facts: the
	// migration copies it into payment_facts_by_arrival through the
	// Distributed tables, and drops the old tables on both replicas
	// (checkEngines lists exactly the current ones).
	for _, m := range chschema.AllMigrations()[:8] {
		for _, stmt := range m.Statements(db, d) {
			if err := admin.Exec(ctx, stmt); err != nil {
				t.Fatalf("version %d ON CLUSTER: %v", m.Version, err)
			}
		}
		if m.Run != nil {
			if err := m.Run(ctx, admin, db, d); err != nil {
				t.Fatalf("version %d ON CLUSTER: %v", m.Version, err)
			}
		}
	}
	sync, cancelSync := chconn.WithQuerySettings(ctx, time.Minute, chconn.BoolSetting("insert_distributed_sync", true))
	err = admin.Exec(sync, "INSERT INTO "+db+".payment_facts (txn_id, trace_id, span_id, start_time, ingested_ns) SELECT 'UPGRADED-1', 'upgraded-trace-1', 'upgrade1', now(), toUInt64(toUInt32(now())) * 1000000000")
	cancelSync()
	if err != nil {
		t.Fatalf("a fact as version 8 stored it: %v", err)
	}
	if _, err := chschema.Migrate(ctx, admin, db, d, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate ON CLUSTER: %v", err)
	}
	for _, r := range reps {
		checkEngines(t, r, d)
	}
	c1, c2 := r1.open(t, db), r2.open(t, db)
	for _, c := range []struct {
		r    *replica
		conn driver.Conn
	}{{r1, c1}, {r2, c2}} {
		waitCount(t, c.r.name+" the fact copied by the upgrade", c.conn, 1, "SELECT count() FROM payment_facts_by_arrival_local WHERE txn_id = 'UPGRADED-1'")
		// Counted by id when it was copied (migration 9), then by hash
		// (migration 11 copies the counts). 18.16 counts migration 9's
		// synchronous copy through the Distributed table more than once
		// (two to four here): a count above the rows stored only sends the
		// transaction to be read whole, a missing one would be the bug.
		waitCount(t, c.r.name+" the fact's count copied by the upgrade", c.conn, 1, "SELECT toUInt64(sum(facts) >= 1) FROM recent_fact_counts_by_hash_local WHERE txn_hash = cityHash64('UPGRADED-1')")
	}
	checkBlocksMakeOnePart(t, d, admin, c1, c2)

	// 2. The collector writes a simulated day through the Distributed tables.
	grpcAddr := startCollector(t, []string{r1.addr(), r2.addr()})
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	dayA := simulator.Range{From: midnight.AddDate(0, 0, -4), To: midnight.AddDate(0, 0, -3), AsOf: time.Now()}
	dayB := simulator.Range{From: midnight.AddDate(0, 0, -3), To: midnight.AddDate(0, 0, -2), AsOf: time.Now()}
	resA := backfill(t, simConfig(t, 1), dayA, grpcAddr)
	for _, c := range []struct {
		r    *replica
		conn driver.Conn
	}{{r1, c1}, {r2, c2}} {
		waitCount(t, c.r.name+" spans_local", c.conn, uint64(resA.Spans), "SELECT uniqExact(trace_id, span_id) FROM spans_local")
	}
	waitCount(t, "transactions via Distributed on "+r1.name, c1, uint64(len(resA.Truth)), "SELECT count() FROM "+chtest.Txns)
	t.Logf("day A: %d transactions, %d spans on both replicas (%s)", len(resA.Truth), resA.Spans, since(began))

	// 3. Replica 1 down: the next day lands on replica 2 alone.
	stopped := time.Now()
	r1.p.stop()
	t.Logf("%s stopped", r1.name)
	// A collector or migrate command (re)started now runs the migrations: the
	// schema is current, so it must not wait for the stopped replica (an ON
	// CLUSTER statement waits distributed_ddl_task_timeout, 180 s, for every
	// host, and then fails).
	admin2 := r2.open(t, "default")
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	applied, err := chschema.Migrate(mctx, admin2, db, d, slog.New(slog.DiscardHandler))
	cancel()
	if err != nil || len(applied) != 0 {
		t.Fatalf("migrate a current schema with %s down: applied %v, %v (after %s)", r1.name, applied, err, since(stopped))
	}
	// A second seed: the simulator gives a terminal the same trace and span
	// ids on every day a separate run starts at midnight, and the store would
	// (rightly) collapse them.
	resB := backfill(t, simConfig(t, 2), dayB, grpcAddr)
	spans := uint64(resA.Spans + resB.Spans)
	txns := uint64(len(resA.Truth) + len(resB.Truth))
	waitCount(t, r2.name+" spans_local while "+r1.name+" is down", c2, spans, "SELECT uniqExact(trace_id, span_id) FROM spans_local")
	waitCount(t, "transactions via Distributed on "+r2.name, c2, txns, "SELECT count() FROM "+chtest.Txns)
	t.Logf("day B: %d transactions, %d spans on %s alone, %s after the stop", len(resB.Truth), resB.Spans, r2.name, since(stopped))

	restarted := time.Now()
	r1.start(t)
	waitCount(t, r1.name+" spans_local after restart", c1, spans, "SELECT uniqExact(trace_id, span_id) FROM spans_local")
	waitSameRows(t, c1, c2)
	t.Logf("%s restarted and caught up in %s: both replicas hold the same rows of every table", r1.name, since(restarted))

	// 4. Classification and analytics through the Distributed tables.
	truth := map[string]want{}
	for _, tr := range slices.Concat(resA.Truth, resB.Truth) {
		truth[tr.TxnID] = want{string(tr.Outcome), string(tr.Cause)}
	}
	a := &assembly.Assembler{Conn: c1, DB: db, Rules: domain.DefaultRules(), Window: domain.DefaultSettlementWindow}
	if _, err := a.Sweep(ctx, time.Time{}); err != nil {
		t.Fatalf("sweep through Distributed tables: %v", err)
	}
	// Every fact reached both replicas and was counted (the view on the
	// replica that took the insert, then replication); none is older, so
	// the sweep's reconciliation finds nothing; pruning runs ON CLUSTER.
	for _, c := range []struct {
		r    *replica
		conn driver.Conn
	}{{r1, c1}, {r2, c2}} {
		txns, err := count(c.conn, "SELECT uniqExact(txn_id) FROM payment_facts_by_arrival_local WHERE txn_id != ''")
		if err != nil || txns == 0 {
			t.Fatalf("%s payment_facts_by_arrival_local: %d transactions, %v", c.r.name, txns, err)
		}
		waitCount(t, c.r.name+" recent_fact_counts_by_hash_local", c.conn, txns, "SELECT uniqExact(txn_hash) FROM recent_fact_counts_by_hash_local")
	}
	if late, err := a.Reconcile(ctx, time.Now().Add(-time.Hour)); err != nil || late.Transactions != 0 {
		t.Fatalf("reconcile through Distributed tables: %d transactions, %v; want 0", late.Transactions, err)
	}
	if dropped, err := chschema.PruneRecentFactCounts(ctx, admin2, db, d, time.Now()); err != nil || len(dropped) != 0 {
		t.Fatalf("prune recent_fact_counts_by_hash ON CLUSTER: dropped %v, %v; want nothing", dropped, err)
	}
	// The closed days of the spans are compacted ON CLUSTER: each replica
	// ends with one part a day, and the same rows.
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("20060102")
	compacted, err := chschema.CompactClosedDays(ctx, admin2, db, d, chschema.Spans, time.Now(), 10)
	if err != nil {
		t.Fatalf("compact the closed days of spans ON CLUSTER: %v", err)
	}
	t.Logf("compacted the closed days %v of spans ON CLUSTER", compacted)
	for _, c := range []struct {
		r    *replica
		conn driver.Conn
	}{{r1, c1}, {r2, c2}} {
		waitCount(t, c.r.name+" spans_local parts beyond one a closed day", c.conn, 0,
			"SELECT toUInt64(count() - uniqExact(partition)) FROM system.parts WHERE database = currentDatabase() AND table = 'spans_local' AND active AND partition < '"+yesterday+"'")
	}
	waitSameRows(t, c1, c2)
	for _, c := range []struct {
		r    *replica
		conn driver.Conn
	}{{r1, c1}, {r2, c2}} {
		waitTruth(t, c.r.name, c.conn, truth)
	}
	t.Logf("every transaction equals the ground truth on both replicas (%s)", since(began))
	// One transaction of each day by id, as the trace view asks: the hours
	// of its facts through one Distributed table, then its row at those
	// hours through another.
	for _, c := range []struct {
		r    *replica
		conn driver.Conn
	}{{r1, c1}, {r2, c2}} {
		q := &query.Querier{Conn: c.conn, DB: db, Timeout: time.Minute}
		for _, tr := range []simulator.TruthRecord{resA.Truth[0], resB.Truth[len(resB.Truth)-1]} {
			story, err := q.Txn(ctx, tr.TxnID)
			if err != nil {
				t.Fatalf("%s: lookup of %s through Distributed tables: %v", c.r.name, tr.TxnID, err)
			}
			if story.Outcome != string(tr.Outcome) || story.Cause != string(tr.Cause) || len(story.Spans) == 0 {
				t.Errorf("%s: %s looked up as %s/%s with %d spans, want %s/%s with its spans", c.r.name, tr.TxnID,
					story.Outcome, story.Cause, len(story.Spans), tr.Outcome, tr.Cause)
			}
		}
	}

	// The window staged in a temporary table on replica 2, grouped into the
	// Distributed rollups table; then a scheduled run, which also looks for
	// ended days to derive (through Distributed tables).
	runner := &jobs.Runner{Env: jobs.Env{Conn: c2, Session: chconn.Sessions(r2.settings(db)), DB: db, QueryTimeout: 2 * time.Minute, Log: slog.New(slog.DiscardHandler)}}
	if _, err := runner.Backfill(ctx, &rollup.Job{}, dayA.From, dayB.To, nil); err != nil {
		t.Fatalf("rollup job through Distributed tables: %v", err)
	}
	if _, err := runner.RunScheduled(ctx, &rollup.Job{MaxLateness: 400 * 24 * time.Hour, InitialLookback: 400 * 24 * time.Hour}); err != nil {
		t.Fatalf("scheduled rollup through Distributed tables: %v", err)
	}
	wantOutcomes, wantCauses := map[string]uint64{}, map[string]uint64{}
	for _, w := range truth {
		wantOutcomes[w.outcome]++
		if w.cause != string(domain.CauseNone) {
			wantCauses[w.cause]++
		}
	}
	r := query.Range{From: dayA.From, To: dayB.To}
	for _, c := range []struct {
		r    *replica
		conn driver.Conn
	}{{r1, c1}, {r2, c2}} {
		q := &query.Querier{Conn: c.conn, DB: db, Timeout: time.Minute}
		for _, src := range []query.Source{query.SourceRaw, query.SourceRollup} {
			name := c.r.name + " " + string(src)
			oc, err := q.OutcomeBreakdown(ctx, query.OutcomesQuery{Range: r, Source: src})
			if err != nil {
				t.Fatalf("%s outcomes: %v", name, err)
			}
			if oc.Meta.Source != string(src) {
				t.Errorf("%s outcomes answered from %q", name, oc.Meta.Source)
			}
			got := map[string]uint64{}
			for _, row := range oc.Rows {
				got[row.Outcome] += row.Transactions
			}
			equalCounts(t, name+" outcomes", got, wantOutcomes)
			cs, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: r, Source: src})
			if err != nil {
				t.Fatalf("%s causes: %v", name, err)
			}
			got = map[string]uint64{}
			for _, row := range cs.Rows {
				got[row.Cause] += row.Transactions
			}
			equalCounts(t, name+" causes", got, wantCauses)
		}
	}
	t.Logf("outcomes %v, causes %v equal the ground truth from raw tables and rollups on both replicas; total %s",
		wantOutcomes, wantCauses, since(began))
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

type want struct{ outcome, cause string }

// checkTopology: each server sees the cluster as one shard with both
// replicas, and has its own macros.
func checkTopology(t *testing.T, reps []*replica) {
	t.Helper()
	for _, r := range reps {
		conn := r.open(t, "default")
		ctx, cancel := chconn.WithQuerySettings(context.Background(), 30*time.Second)
		rows, err := conn.Query(ctx, "SELECT shard_num, replica_num, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", clusterName)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var shard, rep uint32
			var port uint16
			if err := rows.Scan(&shard, &rep, &port); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d/%d:%d", shard, rep, port))
		}
		rows.Close()
		wantTopo := []string{fmt.Sprintf("1/1:%d", reps[0].tcp), fmt.Sprintf("1/2:%d", reps[1].tcp)}
		if !slices.Equal(got, wantTopo) {
			t.Errorf("%s: cluster %s is %v, want %v", r.name, clusterName, got, wantTopo)
		}
		var shard, rep string
		if err := conn.QueryRow(ctx, "SELECT anyIf(substitution, macro = 'shard'), anyIf(substitution, macro = 'replica') FROM system.macros").Scan(&shard, &rep); err != nil {
			t.Fatal(err)
		}
		cancel()
		if shard != "01" || rep != r.name {
			t.Errorf("%s: macros shard=%q replica=%q", r.name, shard, rep)
		}
	}
}

// checkEngines: every table of the schema exists on r with the cluster
// dialect's engine.
func checkEngines(t *testing.T, r *replica, d chschema.Dialect) {
	t.Helper()
	conn := r.open(t, "default")
	ctx, cancel := chconn.WithQuerySettings(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ?", db)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var n, e string
		if err := rows.Scan(&n, &e); err != nil {
			t.Fatal(err)
		}
		got[n] = e
	}
	rows.Close()
	wantEngines := map[string]string{chschema.Migrations.Name: "ReplicatedReplacingMergeTree", chschema.ByTimeView: "MaterializedView",
		chschema.RecentFactCountsView: "MaterializedView"}
	for _, tb := range chschema.All() {
		switch {
		case tb.Null:
			wantEngines[tb.LocalName(d)] = "Null"
		case tb.Sum != "":
			wantEngines[tb.LocalName(d)] = "ReplicatedSummingMergeTree"
		default:
			wantEngines[tb.LocalName(d)] = "ReplicatedReplacingMergeTree"
		}
		if tb.LocalName(d) != tb.Name {
			wantEngines[tb.Name] = "Distributed"
		}
	}
	if !maps.Equal(got, wantEngines) {
		t.Fatalf("%s: tables %v, want %v", r.name, got, wantEngines)
	}
	if n := len(wantEngines); n < 20 {
		t.Fatalf("only %d tables expected: schema changed?", n)
	}
}

// startCollector runs the real collector in-process: the shipped
// collector/config.yaml, then the shipped cluster overlay, then a short
// flush for the test; ClickHouse is every replica, in order.
func startCollector(t *testing.T, chAddrs []string) string {
	t.Helper()
	dir := t.TempDir()
	grpcAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env := map[string]string{
		"SETTLEWATCH_CH_ADDR":            strings.Join(chAddrs, ","),
		"SETTLEWATCH_CH_DATABASE":        db,
		"SETTLEWATCH_OTLP_GRPC_ENDPOINT": grpcAddr,
		"SETTLEWATCH_OTLP_HTTP_ENDPOINT": fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"SETTLEWATCH_HEALTH_ENDPOINT":    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"SETTLEWATCH_METRICS_PORT":       fmt.Sprint(freePort(t)),
		"SETTLEWATCH_QUEUE_DIR":          filepath.Join(dir, "queue"),
		"SETTLEWATCH_LOG_LEVEL":          "warn",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	fast := filepath.Join(dir, "fast.yaml")
	if err := os.WriteFile(fast, []byte("exporters:\n  settlewatch_clickhouse:\n    sending_queue:\n      batch:\n        flush_timeout: 100ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uris := []string{"file:../collector/config.yaml", "file:" + shipped + "/collector-cluster.yaml", "file:" + fast}
	col, err := distribution.Start(uris, startTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := col.Stop(60 * time.Second); err != nil {
			t.Errorf("collector run: %v", err)
		}
	})
	return grpcAddr
}

// simConfig is the demo scenario (a gateway outage and a regional network
// degradation) on a smaller fleet, so two days take seconds to send.
func simConfig(t *testing.T, seedOffset uint64) *simulator.Config {
	t.Helper()
	cfg, err := simulator.LoadConfig("../simulator/scenarios/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed += seedOffset
	cfg.Fleet.Merchants = 12
	cfg.Fleet.TerminalsPerMerchant = 2
	cfg.Baseline.TxnsPerTerminalPerDay = 40
	return cfg
}

func backfill(t *testing.T, cfg *simulator.Config, r simulator.Range, grpcAddr string) *simulator.BackfillResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), landTimeout)
	defer cancel()
	exp, err := simulator.NewOTLPExporter(ctx, simulator.ExporterConfig{Endpoint: grpcAddr, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := simulator.SimulateBackfill(ctx, cfg, r, exp, simulator.EmitterOptions{}, domain.DefaultSettlementWindow)
	if err != nil {
		t.Fatalf("simulate %s: %v", r.From.Format(time.DateOnly), err)
	}
	if len(res.Truth) < 200 || res.Stats.SpansDropped != 0 {
		t.Fatalf("simulated %d transactions, %d spans dropped", len(res.Truth), res.Stats.SpansDropped)
	}
	return res
}

func count(conn driver.Conn, q string) (uint64, error) {
	ctx, cancel := chconn.WithQuerySettings(context.Background(), 30*time.Second)
	defer cancel()
	var n uint64
	err := conn.QueryRow(ctx, q).Scan(&n)
	return n, err
}

// waitCount polls q until it returns want, for at most landTimeout.
// checkBlocksMakeOnePart inserts rows of several blocks (chbatch.BlockRows
// each) with one chbatch.Insert through a Distributed table: with
// insert_distributed_sync the Distributed table forwards block by block, and
// the shard must still write one part, on each replica.
func checkBlocksMakeOnePart(t *testing.T, d chschema.Dialect, admin, c1, c2 driver.Conn) {
	t.Helper()
	ctx := context.Background()
	tbl := chschema.Table{Name: "chbatch_blocks", Version: "v", OrderBy: "id", ShardKey: "id",
		ColumnDefs: []chschema.Column{{Name: "id", Type: "UInt64"}, {Name: "v", Type: "UInt64"}}}
	ddl, err := tbl.CreateSQL(db, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range ddl {
		if err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rows := 2*chbatch.BlockRows + 5
	ids := make([]uint64, rows)
	for i := range ids {
		ids[i] = uint64(i)
	}
	if err := chbatch.Insert(ctx, c1, db, tbl, chbatch.Columns{"id": ids, "v": ids}, rows); err != nil {
		t.Fatal(err)
	}
	local := tbl.LocalName(d)
	for i, c := range []driver.Conn{c1, c2} {
		waitCount(t, fmt.Sprintf("%s on replica %d", local, i+1), c, uint64(rows), "SELECT count() FROM "+local)
		var parts uint64
		if err := c.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = ? AND level = 0", db, local).Scan(&parts); err != nil {
			t.Fatal(err)
		}
		if parts != 1 {
			t.Errorf("replica %d: one insert of %d rows in blocks of %d wrote %d parts, want 1", i+1, rows, chbatch.BlockRows, parts)
		}
	}
}

func waitCount(t *testing.T, what string, conn driver.Conn, want uint64, q string) {
	t.Helper()
	deadline := time.Now().Add(landTimeout)
	var got uint64
	var err error
	for time.Now().Before(deadline) {
		if got, err = count(conn, q); err == nil && got == want {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: %s gave %d (error %v), want %d after %v; running queries: %s", what, q, got, err, want, landTimeout, running(conn))
}

// running lists the queries the server is running, for failure messages.
func running(conn driver.Conn) string {
	ctx, cancel := chconn.WithQuerySettings(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT toString(round(elapsed)), substring(query, 1, 120) FROM system.processes WHERE query NOT LIKE '%system.processes%'")
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var el, q string
		if err := rows.Scan(&el, &q); err != nil {
			return err.Error()
		}
		out = append(out, el+"s "+q)
	}
	return fmt.Sprint(out)
}

// fingerprint of a local table: how many distinct keys it holds and a hash
// of the set of keys (order-free), so two replicas can be compared row key
// by row key.
func fingerprint(conn driver.Conn, local, key string) (string, error) {
	ctx, cancel := chconn.WithQuerySettings(context.Background(), 30*time.Second)
	defer cancel()
	var n, h uint64
	q := "SELECT count(), sum(h) FROM (SELECT DISTINCT cityHash64(" + key + ") AS h FROM " + local + ")"
	if err := conn.QueryRow(ctx, q).Scan(&n, &h); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d rows #%x", n, h), nil
}

// waitSameRows waits until both replicas hold the same keys in every table
// the collector writes (by span id; transactions by hour, id and version).
func waitSameRows(t *testing.T, c1, c2 driver.Conn) {
	t.Helper()
	tables := map[string]string{
		"spans_local":                    "trace_id, span_id",
		"payment_facts_by_arrival_local": "trace_id, span_id",
		"batch_closes_local":             "terminal_id, batch_number, span_id",
		// written by the view on each replica's transaction_versions_local
		"transactions_by_time_local": "txn_hour, txn_id, version, deleted",
	}
	deadline := time.Now().Add(landTimeout)
	for _, tb := range slices.Sorted(maps.Keys(tables)) {
		for {
			f1, err1 := fingerprint(c1, tb, tables[tb])
			f2, err2 := fingerprint(c2, tb, tables[tb])
			if err1 == nil && err2 == nil && f1 == f2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s differs between replicas after %v: %s (%v) vs %s (%v)", tb, landTimeout, f1, err1, f2, err2)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// stored reads every transaction's outcome and cause through the
// Distributed table.
func stored(conn driver.Conn) (map[string]want, error) {
	ctx, cancel := chconn.WithQuerySettings(context.Background(), time.Minute)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT txn_id, toString(outcome), toString(cause) FROM "+chtest.Txns)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]want{}
	for rows.Next() {
		var id string
		var w want
		if err := rows.Scan(&id, &w.outcome, &w.cause); err != nil {
			return nil, err
		}
		out[id] = w
	}
	return out, rows.Err()
}

// waitTruth polls until every stored transaction equals the ground truth
// (the collector re-assembles as late spans arrive), for at most landTimeout.
func waitTruth(t *testing.T, name string, conn driver.Conn, truth map[string]want) {
	t.Helper()
	deadline := time.Now().Add(landTimeout)
	var diffs []string
	for {
		got, err := stored(conn)
		diffs = diffs[:0]
		if err != nil {
			diffs = append(diffs, err.Error())
		}
		for id, w := range truth {
			if g, ok := got[id]; !ok {
				diffs = append(diffs, id+": missing")
			} else if g != w {
				diffs = append(diffs, fmt.Sprintf("%s: stored %v, truth %v", id, g, w))
			}
		}
		if len(got) != len(truth) {
			diffs = append(diffs, fmt.Sprintf("%d stored, %d in the truth", len(got), len(truth)))
		}
		if len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(diffs)
			t.Fatalf("%s: %d differences from the ground truth after %v, e.g. %v", name, len(diffs), landTimeout, diffs[:min(len(diffs), 10)])
		}
		time.Sleep(time.Second)
	}
}

func equalCounts(t *testing.T, what string, got, want map[string]uint64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: %v, ground truth %v", what, got, want)
	}
	if len(want) < 2 {
		t.Errorf("%s: ground truth has only %v: traffic too uniform to compare", what, want)
	}
}
