package chschema

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migration is one schema version. Every statement must be idempotent (IF NOT
// EXISTS; columns via AddColumnIfMissing in Run) because two processes may
// apply the same migration at once.
type Migration struct {
	Version uint32
	Name    string
	// Statements are the DDL for database db in dialect d. Their checksum is
	// recorded with the version.
	Statements func(db string, d Dialect) []string
	// Run, if set, runs after Statements, for steps that must look at the
	// server first (e.g. AddColumnIfMissing: 18.16 has no ADD COLUMN IF NOT EXISTS).
	Run func(ctx context.Context, conn driver.Conn, db string, d Dialect) error
	// Once, if set, runs when Migrate applies the migration, after Run, and
	// never from Repair: one-off copies of existing data. It must tolerate
	// running twice (two migrators at once).
	Once func(ctx context.Context, conn driver.Conn, db string, d Dialect) error
}

// AllMigrations lists the migrations in version order.
func AllMigrations() []Migration {
	return []Migration{
		{Version: 1, Name: "create tables", Statements: v1},
		{Version: 2, Name: "analytics tables", Statements: v2},
		{Version: 3, Name: "transactions.fact_hours", Statements: noStatements, Run: v3},
		{Version: 4, Name: "time-ordered transactions", Statements: v4, Once: v4Fill},
		{Version: 5, Name: "recent facts by arrival day", Statements: v5, Once: v5Fill},
		{Version: 6, Name: "recent fact counts by transaction and stamp", Statements: v6, Once: v6Fill},
		{Version: 7, Name: "drop txn_traces (its pairs are in payment_facts)", Statements: v7},
		{Version: 8, Name: "transactions stored once, in transactions_by_time (transaction_versions is a Null table feeding it)", Statements: v8},
		{Version: 9, Name: "payment facts stored once, by arrival day, in payment_facts_by_arrival (payment_facts copied into it)", Statements: v9, Run: v9Copy},
		{Version: 10, Name: "drop payment_facts and recent_facts (their facts are in payment_facts_by_arrival)", Statements: v10},
		{Version: 11, Name: "recent fact counts by transaction hash, in recent_fact_counts_by_hash (recent_fact_counts copied into it)", Statements: v11, Run: v11Fill},
		{Version: 12, Name: "drop recent_fact_counts (its counts are in recent_fact_counts_by_hash)", Statements: v12},
	}
}

// LatestVersion is the version a fully migrated database has.
func LatestVersion() uint32 {
	all := AllMigrations()
	return all[len(all)-1].Version
}

func v1(db string, d Dialect) []string {
	out := []string{createDatabase(db, d)}
	for _, t := range v1Tables() {
		out = append(out, t.createSQLAt(db, d, 1)...)
	}
	return out
}

func createDatabase(db string, d Dialect) string {
	return fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s%s", db, d.onCluster())
}

// bootstrap creates what Migrate needs before it can read applied versions.
func bootstrap(db string, d Dialect) []string {
	return append([]string{createDatabase(db, d)}, Migrations.createSQL(db, d)...)
}

// Statements returns the statements of every migration for db in d, in order.
func Statements(db string, d Dialect) ([]string, error) {
	if err := check(db, d); err != nil {
		return nil, err
	}
	var out []string
	for _, m := range AllMigrations() {
		out = append(out, m.Statements(db, d)...)
	}
	return out, nil
}

// Script renders every migration for db in d as one SQL script with a comment
// per migration, for people to read (the golden files are scripts). Migrate
// does more than run it: it records versions and runs each migration's Run.
func Script(db string, d Dialect) (string, error) {
	if err := check(db, d); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- settlewatch schema for database %s, dialect %s\n", db, d)
	for _, m := range AllMigrations() {
		fmt.Fprintf(&b, "\n-- migration %d: %s\n", m.Version, m.Name)
		for _, stmt := range m.Statements(db, d) {
			b.WriteString("\n" + stmt + ";\n")
		}
		if m.Run != nil || m.Once != nil {
			b.WriteString("\n-- (plus steps that check the server first or copy existing data; see chschema.AllMigrations)\n")
		}
	}
	return b.String(), nil
}

// checksum identifies a migration's statements as generated for one database
// and dialect; a different value on a later run means the migration's code
// changed after it was applied (or the server's dialect did).
func checksum(m Migration, stmts []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s", m.Version, m.Name, strings.Join(stmts, "\x00"))
	return hex.EncodeToString(h.Sum(nil))
}
