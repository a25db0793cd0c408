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
// the days it keeps (not older ones); the view copies every later insert
// into payment_facts; PruneRecentFacts drops the days that fell out.
func TestRecentFactsFilledCopiedAndPruned(t *testing.T) {
	db := chtest.New(t)
	d := dialect(t, db)
	ctx := t.Context()
	createAsOf(t, db, d, 4)
	now := time.Now().UTC()
	fact := func(id string, arrived time.Time) {
		db.Exec(t, "INSERT INTO "+db.Name+".payment_facts (txn_id, span_id, start_time, ingested_ns) SELECT ?, ?, toDateTime(?), ?",
			id, id, arrived.Unix(), uint64(arrived.UnixNano()))
	}
	fact("today", now)
	fact("two-days", now.Add(-48*time.Hour))
	fact("ten-days", now.Add(-240*time.Hour))
	applied, err := chschema.Migrate(ctx, db.Conn, db.Name, d, chtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(applied, 5) {
		t.Fatalf("applied %v, want 5 among them", applied)
	}
	recent := func() string {
		return db.Lines(t, "SELECT txn_id FROM "+db.Name+".recent_facts ORDER BY txn_id")
	}
	if got := recent(); got != "today\ntwo-days" {
		t.Errorf("after the upgrade recent_facts holds %q, want today and two-days", got)
	}
	fact("new", now)
	if got := recent(); got != "new\ntoday\ntwo-days" {
		t.Errorf("after an insert recent_facts holds %q, want new, today, two-days", got)
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
	if got := recent(); got != "new\ntoday" {
		t.Errorf("after pruning recent_facts holds %q, want new and today", got)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".payment_facts"); n != 4 {
		t.Errorf("payment_facts has %d rows, want all 4 (pruning only touches recent_facts)", n)
	}
	if _, err := strconv.Atoi(dropped[0]); err != nil {
		t.Errorf("dropped partition %q is not a day number", dropped[0])
	}
}
