package chusers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/scheduler"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// The shipped files (deploy/compose/clickhouse): the portable users file and,
// for 18.16, the database overlay.
var (
	chDir      = filepath.Join("..", "compose", "clickhouse")
	usersFiles = []string{filepath.Join("users.d", "settlewatch.xml"), filepath.Join("legacy", "settlewatch-databases.xml")}
)

const (
	db        = "settlewatch"
	owner     = "settlewatch"
	collector = "settlewatch_collector"
	analytics = "settlewatch_analytics"
	grafana   = "grafana"
)

// passwordEnv names the variables users.d/settlewatch.xml reads (from_env).
var passwordEnv = map[string]string{
	owner:     "SETTLEWATCH_CH_PASSWORD",
	collector: "SETTLEWATCH_COLLECTOR_CH_PASSWORD",
	analytics: "SETTLEWATCH_ANALYTICS_CH_PASSWORD",
	grafana:   "GRAFANA_CH_PASSWORD",
}

// ClickHouse error codes the users meet.
const (
	codeAccessDenied  = 291 // a database outside allow_databases
	codeReadonly      = 164 // readonly profile: a write, DDL or SET readonly
	codeDDLProhibited = 392 // allow_ddl=0
	codeQuota         = 201 // QUOTA_EXPIRED
	codeWrongPassword = 193
	codeTooManyRows   = 396 // max_result_rows with result_overflow_mode=throw
)

type server struct {
	*chtest.Server
	passwords map[string]string
}

// start runs a private ClickHouse with the shipped users files and random
// passwords in its environment (except the variables in unset), and migrates
// the schema as its owner. Connect the application users to the settlewatch
// database: 18.16 drops a handshake naming a database outside a user's
// allow_databases (the client reads EOF).
func start(t *testing.T, unset ...string) *server {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "users.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range usersFiles {
		b, err := os.ReadFile(filepath.Join(chDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "users.d", filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pw := map[string]string{}
	for user, env := range passwordEnv {
		t.Setenv(env, "") // restored after the test
		if slices.Contains(unset, env) {
			os.Unsetenv(env)
			continue
		}
		var rnd [12]byte
		_, _ = rand.Read(rnd[:])
		pw[user] = hex.EncodeToString(rnd[:])
		os.Setenv(env, pw[user])
	}
	srv, err := chtest.StartServer(dir, 0, 0) // inherits the passwords
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	s := &server{srv, pw}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn := s.open(t, owner, "default")
	v, err := chconn.ServerVersion(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chschema.Migrate(ctx, conn, db, chschema.DialectFor(v, ""), chtest.Logger(t)); err != nil {
		t.Fatalf("the schema owner cannot migrate: %v", err)
	}
	return s
}

func (s *server) settings(user, database string) chconn.Settings {
	cs := s.Settings()
	cs.Username, cs.Password, cs.Database = user, s.passwords[user], database
	return cs
}

// open connects as user to database, failing t on error.
func (s *server) open(t *testing.T, user, database string) driver.Conn {
	t.Helper()
	conn, err := chconn.Open(context.Background(), s.settings(user, database))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// exec runs q with a deadline and max_execution_time, as our programs do.
func exec(conn driver.Conn, q string) error {
	ctx, cancel := chconn.WithQuerySettings(context.Background(), 30*time.Second)
	defer cancel()
	return conn.Exec(ctx, q)
}

func count(t *testing.T, conn driver.Conn, q string) uint64 {
	t.Helper()
	ctx, cancel := chconn.WithQuerySettings(context.Background(), 30*time.Second)
	defer cancel()
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func setting(t *testing.T, conn driver.Conn, name string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(context.Background(), "SELECT value FROM system.settings WHERE name = ?", name).Scan(&v); err != nil {
		t.Fatalf("read setting %s: %v", name, err)
	}
	return v
}

func code(err error) int32 {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return ex.Code
	}
	return 0
}

// refused fails t unless q fails with the given ClickHouse error code.
func refused(t *testing.T, conn driver.Conn, user, q string, want int32) {
	t.Helper()
	if err := exec(conn, q); code(err) != want {
		t.Errorf("%s: %s: got %v, want ClickHouse error %d", user, q, err, want)
	}
}

// insertCloses inserts n rows into batch_closes with INSERT … SELECT.
func insertCloses(conn driver.Conn, prefix string, n int) error {
	return exec(conn, "INSERT INTO "+db+".batch_closes (terminal_id, batch_number, span_id, close_time, ingested_ns) "+
		"SELECT concat('"+prefix+"-', toString(number)), '000001', toFixedString(unhex('0011223344556677'), 8), now(), number + 1 "+
		"FROM system.numbers LIMIT "+strconv.Itoa(n))
}

// ddl are statements no application user may run.
var ddl = []string{
	"CREATE TABLE " + db + ".intruder (x UInt8) ENGINE = Memory",
	"DROP TABLE " + db + ".spans",
	"ALTER TABLE " + db + ".spans DELETE WHERE 1",
	"ALTER TABLE " + db + ".spans ADD COLUMN intruder UInt8",
	"TRUNCATE TABLE " + db + ".spans",
	"RENAME TABLE " + db + ".spans TO " + db + ".spans_gone",
	"OPTIMIZE TABLE " + db + ".spans FINAL",
	"DROP DATABASE " + db,
}

func TestSchemaOwnerMigrates(t *testing.T) {
	s := start(t)
	conn := s.open(t, owner, db)
	v, err := chschema.Status(context.Background(), conn, db)
	if err != nil {
		t.Fatal(err)
	}
	if v != chschema.LatestVersion() {
		t.Errorf("schema version %d after migrate as %s, want %d", v, owner, chschema.LatestVersion())
	}
	if n := count(t, conn, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND name IN ('spans', 'transactions_by_time', 'rollups')"); n != 3 {
		t.Errorf("%d of the 3 sample tables exist", n)
	}
}

// The collector and analytics users (profile settlewatch_writer) insert and
// read in the settlewatch database and nowhere else, and run no DDL.
func TestWritersInsertButRunNoDDL(t *testing.T) {
	s := start(t)
	admin := s.open(t, owner, "default")
	if err := exec(admin, "CREATE DATABASE other"); err != nil {
		t.Fatal(err)
	}
	if err := exec(admin, "CREATE TABLE other.t (x UInt8) ENGINE = Memory"); err != nil {
		t.Fatal(err)
	}
	for i, user := range []string{collector, analytics} {
		conn := s.open(t, user, db)
		if err := insertCloses(conn, user, 10); err != nil {
			t.Fatalf("%s cannot insert: %v", user, err)
		}
		if n := count(t, conn, "SELECT count() FROM "+db+".batch_closes"); n != uint64(10*(i+1)) {
			t.Errorf("%s reads %d rows of batch_closes, want %d", user, n, 10*(i+1))
		}
		if got := setting(t, conn, "allow_ddl"); got != "0" {
			t.Errorf("%s: allow_ddl=%s", user, got)
		}
		// The profile builds on the server's default profile (chtest sets
		// log_queries=1 there; cluster mode sets insert_distributed_sync).
		if got := setting(t, conn, "log_queries"); got != "1" {
			t.Errorf("%s: log_queries=%s: the default profile's settings do not reach the writers", user, got)
		}
		for _, q := range ddl {
			refused(t, conn, user, q, codeDDLProhibited)
		}
		refused(t, conn, user, "SET allow_ddl = 1", codeDDLProhibited)
		refused(t, conn, user, "SELECT count() FROM other.t", codeAccessDenied)
		refused(t, conn, user, "INSERT INTO other.t SELECT 1", codeAccessDenied)
	}
	// Nothing the refused statements named was touched.
	if n := count(t, admin, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND name IN ('spans', 'intruder', 'spans_gone')"); n != 1 {
		t.Errorf("%d of spans/intruder/spans_gone exist, want spans only", n)
	}
	if n := count(t, admin, "SELECT count() FROM system.columns WHERE database = '"+db+"' AND table = 'spans' AND name = 'intruder'"); n != 0 {
		t.Error("a writer added a column")
	}
}

// The analytics daemon's jobs, as configured by the shipped example config,
// all run as the analytics user.
func TestAnalyticsJobsRunAsAnalyticsUser(t *testing.T) {
	s := start(t)
	cfg, err := scheduler.LoadConfig(filepath.Join("..", "..", "analytics", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := cfg.Build()
	if err != nil {
		t.Fatal(err)
	}
	r := &jobs.Runner{Env: jobs.Env{Conn: s.open(t, analytics, db), Session: chconn.Sessions(s.settings(analytics, db)), DB: db, QueryTimeout: time.Minute, Log: chtest.Logger(t)}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var names []string
	for _, e := range entries {
		if !e.Enabled {
			continue
		}
		names = append(names, e.Job.Name())
		if _, err := r.RunScheduled(ctx, e.Job); err != nil {
			t.Errorf("job %s as %s: %v", e.Job.Name(), analytics, err)
		}
	}
	admin := s.open(t, owner, db)
	if n := count(t, admin, "SELECT uniqExact(job) FROM "+db+".job_runs FINAL WHERE status = 'ok'"); n != uint64(len(names)) || n < 4 {
		t.Errorf("%d jobs recorded an ok run, want all of %v", n, names)
	}
}

// Grafana reads with its own settings (the data source sends
// max_execution_time with every query) and can change nothing.
func TestGrafanaReadsOnly(t *testing.T) {
	s := start(t)
	admin := s.open(t, owner, db)
	if err := insertCloses(admin, "g", 3); err != nil {
		t.Fatal(err)
	}
	if err := exec(admin, "CREATE DATABASE other"); err != nil {
		t.Fatal(err)
	}
	conn := s.open(t, grafana, db)
	// count uses chconn.WithQuerySettings: max_execution_time travels with the query.
	if n := count(t, conn, "SELECT count() FROM "+db+".batch_closes"); n != 3 {
		t.Errorf("grafana reads %d rows, want 3", n)
	}
	// What the plugin's health check reads to say "read-only".
	if got := setting(t, conn, "readonly"); got != "2" {
		t.Errorf("grafana: readonly=%s, want 2", got)
	}
	for _, q := range append([]string{"INSERT INTO " + db + ".batch_closes (terminal_id) SELECT 'x'", "SET readonly = 0"}, ddl...) {
		refused(t, conn, grafana, q, codeReadonly)
	}
	refused(t, conn, grafana, "SELECT count() FROM other.tables", codeAccessDenied)
	// The profile's result limit holds for a query that does not raise it.
	var limit struct {
		MaxResultRows int `xml:"profiles>settlewatch_grafana>max_result_rows"`
	}
	readUsersXML(t, &limit)
	if limit.MaxResultRows <= 0 {
		t.Fatalf("max_result_rows %d in the profile", limit.MaxResultRows)
	}
	refused(t, conn, grafana, "SELECT number FROM system.numbers LIMIT "+strconv.Itoa(limit.MaxResultRows+1)+" FORMAT Null", codeTooManyRows)
	if n := count(t, admin, "SELECT count() FROM "+db+".batch_closes"); n != 3 {
		t.Errorf("batch_closes has %d rows after grafana's refused writes, want 3", n)
	}
}

func readUsersXML(t *testing.T, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chDir, usersFiles[0]))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// The quota refuses Grafana's queries beyond its limit, and only Grafana's.
func TestGrafanaQuota(t *testing.T) {
	var q struct {
		Queries int `xml:"quotas>settlewatch_grafana>interval>queries"`
	}
	readUsersXML(t, &q)
	if q.Queries <= 0 {
		t.Fatalf("quota queries %d", q.Queries)
	}
	s := start(t)
	conn := s.open(t, grafana, db)
	ok, n := 0, 0
	var err error
	// 18.16 lets limit+1 queries through; if the minute rolls over during
	// the loop, up to twice that pass before the refusal.
	for n = 0; n < 2*q.Queries+3; n++ {
		if err = exec(conn, "SELECT 1"); err != nil {
			break
		}
		ok++
	}
	if code(err) != codeQuota || !strings.Contains(err.Error(), "Quota for user 'grafana'") {
		t.Fatalf("after %d queries: %v, want the quota error %d", n, err, codeQuota)
	}
	if ok < q.Queries || ok > 2*q.Queries+2 {
		t.Errorf("%d queries passed before the quota refused one, want %d (%d on 18.16; up to %d across a minute boundary)",
			ok, q.Queries, q.Queries+1, 2*q.Queries+2)
	}
	t.Logf("quota: %d queries passed, then %v", ok, err)
	// Keyed by user: the collector is not affected.
	if n := count(t, s.open(t, collector, db), "SELECT count() FROM system.one"); n != 1 {
		t.Errorf("collector: %d", n)
	}
}

// Passwords come from the server's environment: the right one is needed,
// and a variable left unset gives an empty password (why every deploy
// config sets them all, checked by deploy/deploytest).
func TestPasswordsFromEnvironment(t *testing.T) {
	s := start(t, passwordEnv[grafana])
	for user := range passwordEnv {
		if user == grafana {
			continue
		}
		conn, err := chconn.Open(context.Background(), s.settings(user, db))
		if err != nil {
			t.Errorf("%s with its password: %v", user, err)
			continue
		}
		_ = conn.Close() // an open connection would hold the server's shutdown
		wrong := s.settings(user, db)
		wrong.Password += "x"
		if _, err := chconn.Open(context.Background(), wrong); code(err) != codeWrongPassword {
			t.Errorf("%s with a wrong password: %v, want error %d", user, err, codeWrongPassword)
		}
	}
	conn, err := chconn.Open(context.Background(), s.settings(grafana, db))
	if err != nil {
		t.Fatalf("GRAFANA_CH_PASSWORD unset: grafana with an empty password: %v (if the server now refuses, update deploy/README.md)", err)
	}
	_ = conn.Close()
}

// A profile change reaches new connections within seconds, but a connection
// opened before it keeps its old settings: a collector keeps writing through
// its pooled connections until they close (any failed query closes one in
// clickhouse-go; idle ones live up to an hour).
func TestProfileChangeReachesNewConnectionsOnly(t *testing.T) {
	s := start(t)
	cs := s.settings(collector, db)
	cs.MaxOpenConns = 1 // one connection, reused
	before, err := chconn.Open(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if err := insertCloses(before, "before", 1); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir, "users.d", "settlewatch.xml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ro := SetProfile(b, collector, "readonly")
	if string(ro) == string(b) {
		t.Fatal("the collector's profile was not found in users.d/settlewatch.xml")
	}
	if err := Rewrite(path, ro); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	var reload time.Duration
	for reload == 0 && time.Since(changed) < 30*time.Second {
		conn, err := chconn.Open(context.Background(), s.settings(collector, db))
		if err != nil {
			t.Fatal(err)
		}
		if setting(t, conn, "readonly") == "1" {
			reload = time.Since(changed)
		}
		_ = conn.Close()
		time.Sleep(200 * time.Millisecond)
	}
	if reload == 0 {
		b, _ := os.ReadFile(filepath.Join(s.Dir, "log", "clickhouse-server.err.log"))
		t.Fatalf("the users file change did not reach a new connection within 30 s; server errors:\n%s", b)
	}
	t.Logf("a new connection saw the read-only profile %s after the file changed", reload.Round(100*time.Millisecond))
	if err := insertCloses(before, "after", 1); err != nil {
		t.Errorf("the connection opened before the change: %v, want its old (writable) profile", err)
	}
	fresh := s.open(t, collector, db)
	refused(t, fresh, collector, "INSERT INTO "+db+".batch_closes (terminal_id) SELECT 'x'", codeReadonly)
	if n := count(t, s.open(t, owner, db), "SELECT count() FROM "+db+".batch_closes"); n != 2 {
		t.Errorf("batch_closes has %d rows, want 2", n)
	}
}
