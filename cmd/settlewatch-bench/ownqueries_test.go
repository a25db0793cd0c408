package main

import (
	"context"
	"testing"

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
	got, err := own.cpu(ctx, db.Conn)
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
