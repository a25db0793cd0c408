package chschema_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// A database from before migration 5 gets recent_facts with the facts of
// the days it keeps (not older ones), and recent_fact_counts counting them
// (migration 6); the views copy and count every later insert into
// payment_facts; PruneRecentFacts drops the days that fell out of both.
func TestRecentFactsFilledCopiedAndPruned(t *testing.T) {
	db := chtest.New(t)
	d := dialect(t, db)
	ctx := t.Context()
	createAsOf(t, db, d, 4)
	now := time.Now().UTC()
	factOf := func(id, span string, arrived time.Time) {
		db.Exec(t, "INSERT INTO "+db.Name+".payment_facts (txn_id, span_id, start_time, ingested_ns) SELECT ?, ?, toDateTime(?), ?",
			id, span, arrived.Unix(), uint64(arrived.UnixNano()))
	}
	fact := func(id string, arrived time.Time) { factOf(id, id, arrived) }
	fact("today", now)
	fact("two-days", now.Add(-48*time.Hour))
	fact("ten-days", now.Add(-240*time.Hour))
	applied, err := chschema.Migrate(ctx, db.Conn, db.Name, d, chtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(applied, 5) || !slices.Contains(applied, 6) {
		t.Fatalf("applied %v, want 5 and 6 among them", applied)
	}
	// holds checks the transactions of recent_facts (a line per fact) and
	// recent_fact_counts (facts per transaction) after what happened.
	holds := func(after, wantFacts, wantCounts string) {
		t.Helper()
		if got := db.Lines(t, "SELECT txn_id FROM "+db.Name+".recent_facts ORDER BY txn_id"); got != wantFacts {
			t.Errorf("after %s recent_facts holds %q, want %q", after, got, wantFacts)
		}
		if got := db.Lines(t, "SELECT concat(txn_id, '=', toString(sum(facts))) FROM "+db.Name+".recent_fact_counts GROUP BY txn_id ORDER BY txn_id"); got != wantCounts {
			t.Errorf("after %s recent_fact_counts holds %q, want %q", after, got, wantCounts)
		}
	}
	holds("the upgrade", "today\ntwo-days", "today=1\ntwo-days=1")
	fact("new", now)
	factOf("new", "new-gw", now.Add(time.Millisecond)) // another writer's fact of the same transaction
	holds("inserts", "new\nnew\ntoday\ntwo-days", "new=2\ntoday=1\ntwo-days=1")
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".recent_fact_counts WHERE txn_id = 'new'"); n != 2 {
		t.Errorf("%d rows of counts for the transaction stored by two writers, want one per stamp", n)
	}

	// Nothing is old yet; two days on, the day of two-days falls out.
	if dropped, err := chschema.PruneRecentFacts(ctx, db.Conn, db.Name, d, now); err != nil || len(dropped) != 0 {
		t.Fatalf("prune now: dropped %v, %v; want nothing", dropped, err)
	}
	later := now.Add(48 * time.Hour)
	dropped, err := chschema.PruneRecentFacts(ctx, db.Conn, db.Name, d, later)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{now.Add(-48 * time.Hour).Format("20060102")}; !slices.Equal(dropped, want) {
		t.Errorf("dropped days %v, want %v", dropped, want)
	}
	holds("pruning", "new\nnew\ntoday", "new=2\ntoday=1")
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".payment_facts"); n != 5 {
		t.Errorf("payment_facts has %d rows, want all 5 (pruning only touches recent_facts)", n)
	}
	if _, err := strconv.Atoi(dropped[0]); err != nil {
		t.Errorf("dropped partition %q is not a day number", dropped[0])
	}
}
