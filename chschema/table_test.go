package chschema

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/chconn"
)

func TestInsertSQLListsEveryColumn(t *testing.T) {
	for _, tb := range Tables() {
		cols := tb.Columns()
		sql := tb.InsertSQL("settlewatch")
		prefix := "INSERT INTO `settlewatch`.`" + tb.Name + "` ("
		if !strings.HasPrefix(sql, prefix) || !strings.HasSuffix(sql, ")") {
			t.Fatalf("%s: InsertSQL = %q, want prefix %q", tb.Name, sql, prefix)
		}
		listed := strings.Split(strings.TrimSuffix(strings.TrimPrefix(sql, prefix), ")"), ", ")
		var want []string
		for _, c := range tb.ColumnDefs {
			if c.Fields == nil {
				want = append(want, "`"+c.Name+"`")
			}
			for _, f := range c.Fields {
				want = append(want, "`"+c.Name+"."+f.Name+"`")
			}
		}
		if !slices.Equal(listed, want) {
			t.Errorf("%s: InsertSQL lists %v, want %v", tb.Name, listed, want)
		}
		if len(cols) != len(want) {
			t.Errorf("%s: Columns() has %d names, InsertSQL %d", tb.Name, len(cols), len(want))
		}
	}
	if got := Spans.Columns(); !slices.Contains(got, "attributes.key") || !slices.Contains(got, "events.time_ns") {
		t.Errorf("spans columns lack Nested arrays: %v", got)
	}
}

func TestColumnsAreWellFormed(t *testing.T) {
	for _, tb := range Tables() {
		seen := map[string]bool{}
		for _, name := range tb.Columns() {
			for part := range strings.SplitSeq(name, ".") {
				if !chconn.ValidIdent(part) {
					t.Errorf("%s: column %q is not a plain identifier", tb.Name, name)
				}
			}
			if seen[name] {
				t.Errorf("%s: column %q twice", tb.Name, name)
			}
			seen[name] = true
		}
		for _, c := range tb.ColumnDefs {
			if (c.Type == "") == (c.Fields == nil) {
				t.Errorf("%s.%s: want either a type or Nested fields", tb.Name, c.Name)
			}
			if c.LowCard && c.Type != "String" {
				t.Errorf("%s.%s: LowCard on %s", tb.Name, c.Name, c.Type)
			}
		}
		for _, ref := range []string{tb.Version, tb.TTLColumn} {
			if ref != "" && !seen[ref] {
				t.Errorf("%s: refers to missing column %q", tb.Name, ref)
			}
		}
		if !chconn.ValidIdent(tb.Name) {
			t.Errorf("table name %q", tb.Name)
		}
		if !tb.Everywhere && tb.ShardKey == "" {
			t.Errorf("%s: no shard key for cluster mode", tb.Name)
		}
	}
}

func TestInvalidNamesAreRefused(t *testing.T) {
	ctx := context.Background()
	for _, db := range []string{"", "settle-watch", "1db", "db; DROP TABLE x", "db.x", "`db`", "дб"} {
		if _, err := Statements(db, Dialect{}); err == nil {
			t.Errorf("Statements(%q) accepted", db)
		}
		if _, err := Script(db, Dialect{Modern: true}); err == nil {
			t.Errorf("Script(%q) accepted", db)
		}
		if _, err := Spans.CreateSQL(db, Dialect{}); err == nil {
			t.Errorf("CreateSQL(%q) accepted", db)
		}
		// Refused before the connection is touched, so nil is fine here.
		if _, err := Migrate(ctx, nil, db, Dialect{}, nil); err == nil || !strings.Contains(err.Error(), "database name") {
			t.Errorf("Migrate(%q) = %v, want a database name error", db, err)
		}
		if _, err := Status(ctx, nil, db); err == nil {
			t.Errorf("Status(%q) accepted", db)
		}
		if _, err := AddColumnIfMissing(ctx, nil, db, Dialect{}, Transactions, str("x"), ""); err == nil {
			t.Errorf("AddColumnIfMissing(%q) accepted", db)
		}
	}
	for _, d := range []Dialect{{Cluster: "a b"}, {Cluster: "c'"}, {RetentionDays: -1}} {
		if _, err := Statements("settlewatch", d); err == nil {
			t.Errorf("dialect %+v accepted", d)
		}
	}
}

func TestInsertSQLQuotesAnyName(t *testing.T) {
	got := RecentFactCounts.InsertSQL("x`; DROP DATABASE y; --")
	want := "INSERT INTO `x\\`; DROP DATABASE y; --`.`recent_fact_counts_by_hash` (`txn_hash`, `ingested_ns`, `facts`)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDialectFor(t *testing.T) {
	for _, tc := range []struct {
		v      chconn.Version
		modern bool
	}{
		{chconn.Version{Major: 18, Minor: 16, Patch: 1}, false},
		{chconn.Version{Major: 19, Minor: 17}, false},
		{chconn.Version{Major: 20, Minor: 3}, true},
		{chconn.Version{Major: 24, Minor: 8}, true},
		{chconn.Version{Major: 25, Minor: 3}, true},
	} {
		d := DialectFor(tc.v, "c1")
		if d.Modern != tc.modern || d.Cluster != "c1" {
			t.Errorf("DialectFor(%v) = %+v", tc.v, d)
		}
	}
}

func TestPortableDDLHasNoModernClauses(t *testing.T) {
	for _, d := range []Dialect{{}, {RetentionDays: 30}, {Cluster: "c", RetentionDays: 30}} {
		stmts, err := Statements("settlewatch", d)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			for _, bad := range []string{"LowCardinality", "CODEC", "TTL", "INDEX", "DateTime64", "Map("} {
				if strings.Contains(s, bad) {
					t.Errorf("portable DDL contains %s:\n%s", bad, s)
				}
			}
		}
	}
}

func TestModernDDL(t *testing.T) {
	sql, err := Spans.CreateSQL("db", Dialect{Modern: true, RetentionDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"service_name LowCardinality(String)",
		"start_ns UInt64 CODEC(Delta, ZSTD(1))",
		"`attributes.key` Array(String) CODEC(ZSTD(1))",
		"INDEX idx_txn_id txn_id TYPE bloom_filter(0.01) GRANULARITY 4",
		"TTL start_time + INTERVAL 7 DAY",
	} {
		if !strings.Contains(sql[0], want) {
			t.Errorf("modern spans DDL lacks %q:\n%s", want, sql[0])
		}
	}
	noTTL, _ := Spans.CreateSQL("db", Dialect{Modern: true})
	if strings.Contains(noTTL[0], "TTL") {
		t.Errorf("TTL without retention:\n%s", noTTL[0])
	}
}

func TestClusterDDL(t *testing.T) {
	sql, err := PaymentFacts.CreateSQL("db", Dialect{Cluster: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sql) != 2 {
		t.Fatalf("want local + distributed, got %d statements", len(sql))
	}
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS db.payment_facts_by_arrival_local ON CLUSTER c1",
		"ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/payment_facts_by_arrival', '{replica}', ingested_ns)",
	} {
		if !strings.Contains(sql[0], want) {
			t.Errorf("local DDL lacks %q:\n%s", want, sql[0])
		}
	}
	if want := "CREATE TABLE IF NOT EXISTS db.payment_facts_by_arrival ON CLUSTER c1 AS db.payment_facts_by_arrival_local\nENGINE = Distributed(c1, db, payment_facts_by_arrival_local, cityHash64(txn_id))"; sql[1] != want {
		t.Errorf("distributed DDL:\n%s\nwant\n%s", sql[1], want)
	}
	// The migrations table is replicated to every node, not distributed.
	m, _ := Migrations.CreateSQL("db", Dialect{Cluster: "c1"})
	if len(m) != 1 || !strings.Contains(m[0], "/clickhouse/tables/all/db/schema_migrations") {
		t.Errorf("migrations table in cluster mode:\n%s", strings.Join(m, "\n"))
	}
}

func TestMigrationsAreOrdered(t *testing.T) {
	all := AllMigrations()
	for i, m := range all {
		if m.Version != uint32(i+1) {
			t.Errorf("migration %d has version %d; versions must be 1, 2, 3, …", i, m.Version)
		}
		if m.Name == "" || m.Statements == nil {
			t.Errorf("migration %d: needs a name and statements", m.Version)
		}
	}
	if LatestVersion() != all[len(all)-1].Version {
		t.Error("LatestVersion")
	}
	// v1 makes the database itself, so it can run on an empty server.
	if s := all[0].Statements("db", Dialect{}); s[0] != "CREATE DATABASE IF NOT EXISTS db" {
		t.Errorf("v1 starts with %q", s[0])
	}
}

func TestChecksumDependsOnDialect(t *testing.T) {
	m := AllMigrations()[0]
	a := checksum(m, m.Statements("db", Dialect{}))
	b := checksum(m, m.Statements("db", Dialect{Modern: true}))
	if a == b || a != checksum(m, m.Statements("db", Dialect{})) {
		t.Error("checksum must be stable and differ between dialects")
	}
}
