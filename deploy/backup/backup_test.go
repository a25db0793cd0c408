package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

const db = "settlewatch"

// server starts a private ClickHouse in its own temporary directory; its data
// path (<path> in config.xml) is <dir>/data.
func server(t *testing.T) (*chtest.Server, driver.Conn) {
	t.Helper()
	if _, err := exec.LookPath("clickhouse-client"); err != nil {
		t.Skip("clickhouse-client not installed")
	}
	srv, err := chtest.StartServer(t.TempDir(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := chconn.Open(ctx, srv.Settings())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return srv, conn
}

func dataPath(srv *chtest.Server) string { return filepath.Join(srv.Dir, "data") }

// script runs one of the scripts against srv with a bounded wait.
func script(t *testing.T, name string, srv *chtest.Server, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args = append([]string{name, "--host", "127.0.0.1", "--port", strconv.Itoa(srv.TCPPort), "--clickhouse-path", dataPath(srv)}, args...)
	out, err := exec.CommandContext(ctx, "bash", args...).CombinedOutput()
	t.Logf("%s:\n%s", name, out)
	return string(out), err
}

// counts is count() of every table of the database.
func counts(t *testing.T, conn driver.Conn) map[string]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]uint64{}
	for _, n := range names {
		var c uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM `"+db+"`.`"+n+"`").Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}

// answers are the analytics answers over r, as JSON for an exact comparison.
func answers(t *testing.T, conn driver.Conn, r query.Range) string {
	t.Helper()
	q := &query.Querier{Conn: conn, DB: db, Timeout: time.Minute}
	ctx := context.Background()
	outcomes, err := q.Outcomes(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	causes, err := q.Causes(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	byGateway, err := q.CauseBreakdown(ctx, query.CausesQuery{Range: r, By: "gateway", Source: query.SourceRaw})
	if err != nil {
		t.Fatal(err)
	}
	if len(outcomes) == 0 || len(causes) == 0 || len(byGateway.Rows) == 0 {
		t.Fatalf("empty answers: %d outcomes, %d causes, %d causes by gateway", len(outcomes), len(causes), len(byGateway.Rows))
	}
	b, err := json.Marshal(map[string]any{"outcomes": outcomes, "causes": causes, "causes_by_gateway": byGateway})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBackupAndRestoreIntoFreshServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, connA := server(t)
	v, err := chconn.ServerVersion(ctx, connA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chschema.Migrate(ctx, connA, db, chschema.DialectFor(v, ""), nil); err != nil {
		t.Fatal(err)
	}
	// Across a month boundary (transactions_by_time is partitioned by month), inserted
	// in two loads so tables have several parts, with old versions FINAL hides.
	day := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	r := query.Range{From: day.Add(12 * time.Hour), To: day.Add(36 * time.Hour)}
	txns := synth.Generate(synth.Config{Seed: 5, From: r.From, To: r.To, PerHour: 1500, USDShare: 0.2,
		Outages: []synth.Outage{{Gateway: "gw-1", From: day.Add(23 * time.Hour), To: day.Add(25 * time.Hour), FailRate: 0.6}}})
	rows := synth.Rows(txns)
	for _, part := range [][]synth.Txn{rows[:len(rows)/2], rows[len(rows)/2:]} {
		if err := synth.Insert(ctx, connA, db, part, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := synth.InsertFacts(ctx, connA, db, txns); err != nil {
		t.Fatal(err)
	}
	wantCounts := counts(t, connA)
	wantAnswers := answers(t, connA, r)
	var total uint64
	for _, c := range wantCounts {
		total += c
	}
	if wantCounts["transactions_by_time"] == 0 || wantCounts["payment_facts_by_arrival"] == 0 || wantCounts["schema_migrations"] == 0 {
		t.Fatalf("nothing to back up: %v", wantCounts)
	}

	dir := filepath.Join(t.TempDir(), "backup")
	began := time.Now()
	if _, err := script(t, "backup.sh", a, "--database", db, "--out", dir); err != nil {
		t.Fatalf("backup.sh: %v", err)
	}
	backupTook := time.Since(began)
	if left, _ := filepath.Glob(filepath.Join(dataPath(a), "shadow", "settlewatch_backup_*")); len(left) > 0 {
		t.Errorf("backup left frozen parts behind: %v", left)
	}

	b, connB := server(t)
	began = time.Now()
	if _, err := script(t, "restore.sh", b, "--from", dir); err != nil {
		t.Fatalf("restore.sh: %v", err)
	}
	restoreTook := time.Since(began)
	gotCounts := counts(t, connB)
	if len(gotCounts) != len(wantCounts) {
		t.Errorf("B has %d tables, A has %d", len(gotCounts), len(wantCounts))
	}
	for name, want := range wantCounts {
		if got, ok := gotCounts[name]; !ok || got != want {
			t.Errorf("%s: %d rows on B (present %v), %d on A", name, got, ok, want)
		}
	}
	if got := answers(t, connB, r); got != wantAnswers {
		t.Errorf("analytics answers differ\nA: %s\nB: %s", wantAnswers, got)
	}
	t.Logf("RESULT: %d tables, %d rows (%d transactions_by_time rows, %d payment_facts_by_arrival rows); backup %s, restore+verify %s",
		len(wantCounts), total, wantCounts["transactions_by_time"], wantCounts["payment_facts_by_arrival"], backupTook.Round(time.Millisecond), restoreTook.Round(time.Millisecond))

	// A backup that lost a part must not restore silently.
	parts, _ := filepath.Glob(filepath.Join(dir, "data", "transactions_by_time", "*"))
	if len(parts) < 2 {
		t.Fatalf("transactions_by_time backed up in %d parts, want several", len(parts))
	}
	if err := os.RemoveAll(parts[0]); err != nil {
		t.Fatal(err)
	}
	c, _ := server(t)
	out, err := script(t, "restore.sh", c, "--from", dir)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(out, "MISMATCH transactions_by_time") {
		t.Errorf("restore of a damaged backup: err %v, want exit status 3 naming transactions_by_time", err)
	}
}
