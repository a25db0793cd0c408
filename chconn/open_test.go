package chconn_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestOpenAndServerVersion(t *testing.T) {
	db := chtest.New(t)
	conn, err := chconn.Open(t.Context(), db.Settings)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	v, err := chconn.ServerVersion(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server %s", v)
	if v.Major < 18 {
		t.Errorf("version %v", v)
	}
	var current string
	if err := conn.QueryRow(t.Context(), "SELECT currentDatabase()").Scan(&current); err != nil || current != db.Name {
		t.Errorf("connected to %q (%v), want %q", current, err, db.Name)
	}
	admin, err := chconn.OpenNoDatabase(t.Context(), db.Settings)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.QueryRow(t.Context(), "SELECT currentDatabase()").Scan(&current); err != nil || current != "default" {
		t.Errorf("OpenNoDatabase connected to %q (%v)", current, err)
	}
}

func TestOpenErrors(t *testing.T) {
	s := chtest.ServerSettings(t)
	s.Database = "no_such_database_here"
	if _, err := chconn.Open(t.Context(), s); err == nil || !strings.Contains(err.Error(), "no_such_database_here") {
		t.Errorf("missing database: %v", err)
	}
	s.Database = "bad-name"
	if _, err := chconn.Open(t.Context(), s); err == nil || !strings.Contains(err.Error(), "bad-name") {
		t.Errorf("invalid settings: %v", err)
	}
	s = chtest.ServerSettings(t)
	s.Addr = []string{"127.0.0.1:1"} // nothing listens on port 1
	s.DialTimeout = time.Second
	if _, err := chconn.Open(t.Context(), s); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable server: %v", err)
	}
}

func TestWithQuerySettings(t *testing.T) {
	db := chtest.New(t)
	ctx, cancel := chconn.WithQuerySettings(t.Context(), time.Second, chconn.IntSetting("max_threads", 1), chconn.BoolSetting("log_queries", false))
	defer cancel()
	got := map[string]string{}
	rows, err := db.Conn.Query(ctx, "SELECT name, value FROM system.settings WHERE name IN ('max_execution_time', 'max_threads', 'log_queries')")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		got[k] = v
	}
	rows.Close()
	if got["max_execution_time"] != "1" || got["max_threads"] != "1" || got["log_queries"] != "0" {
		t.Errorf("server saw settings %v", got)
	}
}

// A query that outlives its deadline must also stop on the server.
func TestDeadlineStopsServerQuery(t *testing.T) {
	db := chtest.New(t)
	id := "chconn-deadline-" + db.Name
	ctx, cancel := chconn.WithQuerySettings(t.Context(), time.Second)
	defer cancel()
	ctx = clickhouse.Context(ctx, clickhouse.WithQueryID(id))
	start := time.Now()
	var n uint64
	err := db.Conn.QueryRow(ctx, "SELECT count() FROM system.numbers WHERE NOT ignore(sipHash64(number))").Scan(&n)
	if err == nil {
		t.Fatalf("endless query returned %d", n)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("returned after %v", took)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if db.Count(t, "SELECT count() FROM system.processes WHERE query_id = ?", id) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("query still running on the server 10 s after its deadline")
		}
	}
}

// The server logs each query with the program's name as its client name.
func TestQueriesCarryTheProgramsName(t *testing.T) {
	db := chtest.New(t)
	conn, err := chconn.Open(t.Context(), db.Settings)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := clickhouse.Context(t.Context(), clickhouse.WithQueryID("chconn-client-name-"+db.Name), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
	if err := conn.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	// The server logs a query's end after answering it: flush until it is
	// there.
	var name string
	for try := 0; name == "" && try < 50; try++ {
		if err := conn.Exec(t.Context(), "SYSTEM FLUSH LOGS"); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(t.Context(), "SELECT any(client_name) FROM system.query_log WHERE query_id = ?", "chconn-client-name-"+db.Name).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if name == "" {
			time.Sleep(100 * time.Millisecond)
		}
	}
	// A test binary is named after its package.
	if !strings.HasPrefix(name, "chconn.test/") {
		t.Errorf("client name %q, want it to begin with the program's name, chconn.test/", name)
	}
}
