package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chtest"
)

// The bench's own queries are found in system.query_log by their ids, and
// only they: an untagged query run at the same time is not counted, and a
// query tagged under another run's prefix is not either.
func TestOwnQueriesCountsOnlyTheTaggedQueries(t *testing.T) {
	db := chtest.New(t)
	ctx := context.Background()
	own := newOwnQueries()
	other := newOwnQueries()
	other.prefix += "other-"
	const heavy = "SELECT count() FROM (SELECT number % 1000 AS k FROM system.numbers LIMIT 20000000) WHERE k = 7"
	for range 3 {
		n, err := countRows(withOwnQueries(ctx, own), db.Conn, heavy)
		if err != nil {
			t.Fatal(err)
		}
		if n != 20000 {
			t.Fatalf("count %d, want 20000", n)
		}
	}
	if _, err := countRows(ctx, db.Conn, heavy); err != nil {
		t.Fatal(err)
	}
	if _, err := countRows(withOwnQueries(ctx, other), db.Conn, heavy); err != nil {
		t.Fatal(err)
	}
	cpu, err := queryCPU(ctx, db.Conn)
	if err != nil {
		t.Fatal(err)
	}
	got, err := own.cpu(ctx, db.Conn, cpu)
	if err != nil {
		t.Fatal(err)
	}
	if got.tagged != 3 || got.logged != 3 {
		t.Errorf("tagged %d, logged %d; want 3 and 3", got.tagged, got.logged)
	}
	if got.seconds <= 0 {
		t.Errorf("the tagged queries took %.3f s of server CPU, want more than 0", got.seconds)
	}
}

// The pipeline's queries on the run's database are split into its INSERTs,
// by table, and its reads; the bench's own are not among them.
func TestPipelineQueriesSplitsInsertsByTable(t *testing.T) {
	db := chtest.New(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Second)
	if err := db.Conn.Exec(ctx, "CREATE TABLE `"+db.Name+"`.`wide_rows` (n UInt64, s String) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	if err := db.Conn.Exec(ctx, "INSERT INTO `"+db.Name+"`.`wide_rows` (n, s) SELECT number, toString(cityHash64(number)) FROM system.numbers LIMIT 3000000"); err != nil {
		t.Fatal(err)
	}
	if n, err := countRows(ctx, db.Conn, "SELECT count() FROM `"+db.Name+"`.`wide_rows`"); err != nil || n != 3000000 {
		t.Fatalf("count %d (%v), want 3000000", n, err)
	}
	own := newOwnQueries()
	if _, err := countRows(withOwnQueries(ctx, own), db.Conn, "SELECT count() FROM `"+db.Name+"`.`wide_rows` WHERE n % 7 = 1"); err != nil {
		t.Fatal(err)
	}
	cpu, err := queryCPU(ctx, db.Conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := own.cpu(ctx, db.Conn, cpu); err != nil {
		t.Fatal(err)
	}
	got := pipelineQueries(ctx, db.Conn, cpu, own, db.Name, start, 100)
	for _, want := range []string{"INSERTs (each with its views) wide_rows ", "; 1 reads "} {
		if !strings.Contains(got, want) {
			t.Errorf("got %q, want it to hold %q", got, want)
		}
	}
}
