package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
)

const queryTimeout = 60 * time.Second

// Txns is a FROM source of the transactions of the connection's database as
// a lookup by id sees them (chschema.LatestTransactions).
var Txns = chschema.LatestTransactions()

// DB is a database created for one test and dropped when it ends.
type DB struct {
	Conn     driver.Conn     // connected to database Name
	Name     string          // unique per test and per process
	Settings chconn.Settings // Database is Name
}

// ServerSettings are the settings of the test server, connected to "default".
// It fails t when Main did not run.
func ServerSettings(t testing.TB) chconn.Settings {
	t.Helper()
	if server == nil {
		t.Fatal("chtest: no server; call chtest.Main(m) from TestMain")
	}
	return *server
}

// New creates an empty database for t and drops it in t.Cleanup.
func New(t testing.TB) *DB {
	t.Helper()
	s := ServerSettings(t)
	ctx, cancel := chconn.WithQuerySettings(context.Background(), queryTimeout)
	defer cancel()
	admin, err := chconn.OpenNoDatabase(ctx, s)
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	name := dbName(t.Name())
	if err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		t.Fatalf("chtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := chconn.WithQuerySettings(context.Background(), queryTimeout)
		defer cancel()
		if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("chtest: drop database %s: %v", name, err)
		}
		_ = admin.Close()
	})
	s.Database = name
	conn, err := chconn.Open(ctx, s)
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() }) // runs before the drop above
	return &DB{Conn: conn, Name: name, Settings: s}
}

// Migrated is New with the settlewatch schema applied in the dialect of the
// server.
func Migrated(t testing.TB) *DB {
	t.Helper()
	db := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	v, err := chconn.ServerVersion(ctx, db.Conn)
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	if _, err := chschema.Migrate(ctx, db.Conn, db.Name, chschema.DialectFor(v, ""), Logger(t)); err != nil {
		t.Fatalf("chtest: %v", err)
	}
	return db
}

// Session opens a one-connection session on db's database (jobs.Env.Session).
func (db *DB) Session(ctx context.Context) (driver.Conn, error) {
	return chconn.OpenSession(ctx, db.Settings)
}

// Count runs a query that returns one UInt64 (e.g. SELECT count() …) and
// returns it, failing t on error. Bind values with ? and args.
func (db *DB) Count(t testing.TB, query string, args ...any) uint64 {
	t.Helper()
	ctx, cancel := chconn.WithQuerySettings(context.Background(), queryTimeout)
	defer cancel()
	var n uint64
	if err := db.Conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("chtest: count %q: %v", query, err)
	}
	return n
}

// Lines runs a query of one String column and returns its rows, one per
// line, failing t on error. Bind values with ? and args.
func (db *DB) Lines(t testing.TB, query string, args ...any) string {
	t.Helper()
	ctx, cancel := chconn.WithQuerySettings(context.Background(), queryTimeout)
	defer cancel()
	rows, err := db.Conn.Query(ctx, query, args...)
	if err != nil {
		t.Fatalf("chtest: query %q: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("chtest: scan %q: %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("chtest: query %q: %v", query, err)
	}
	return strings.Join(out, "\n")
}

// Exec runs a statement, failing t on error. Never use it for INSERT … VALUES
// (it hangs on 18.16); insert with PrepareBatch.
func (db *DB) Exec(t testing.TB, query string, args ...any) {
	t.Helper()
	ctx, cancel := chconn.WithQuerySettings(context.Background(), queryTimeout)
	defer cancel()
	if err := db.Conn.Exec(ctx, query, args...); err != nil {
		t.Fatalf("chtest: exec %q: %v", query, err)
	}
}

// Logger logs through t.Log, so output shows with the test that caused it.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// dbName is unique across test binaries sharing one server (random suffix)
// and still says which test made it, for anyone looking at a leftover.
func dbName(test string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("%s_%s", b.String(), hex.EncodeToString(rnd[:]))
}
