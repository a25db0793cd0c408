package chschema_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// A database from before migration 5 keeps every fact, once, in
// payment_facts_by_arrival after the upgrade (migrations 9 and 10 copy
// payment_facts and drop it and recent_facts). recent_fact_counts_by_hash
// counts the facts of the recent days: the view counts every insert,
// migration 9 drops the days of counts its copy made that are not recent,
// migration 11 copies the counts keyed by id into it (and 12 drops them),
// and PruneRecentFactCounts drops the days that fell out, leaving the
// facts.
func TestFactsStoredOnceCountedAndPruned(t *testing.T) {
	db := chtest.New(t)
	d := dialect(t, db)
	ctx := t.Context()
	createAsOf(t, db, d, 4)
	now := time.Now().UTC()
	insert := func(table, id, span string, arrived time.Time) {
		db.Exec(t, "INSERT INTO "+db.Name+"."+table+" (txn_id, span_id, start_time, ingested_ns) SELECT ?, ?, toDateTime(?), ?",
			id, span, arrived.Unix(), uint64(arrived.UnixNano()))
	}
	for id, age := range map[string]time.Duration{"today": 0, "two-days": 48 * time.Hour, "ten-days": 240 * time.Hour} {
		insert("payment_facts", id, id, now.Add(-age))
	}
	applied, err := chschema.Migrate(ctx, db.Conn, db.Name, d, chtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint32{5, 6, 9, 10, 11, 12} {
		if !slices.Contains(applied, v) {
			t.Fatalf("applied %v, want %d among them", applied, v)
		}
	}
	for _, gone := range retired {
		if n := db.Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db.Name, gone); n != 0 {
			t.Errorf("%s is still there after the upgrade", gone)
		}
	}
	facts := func(after, want string) {
		t.Helper()
		if got := db.Lines(t, "SELECT txn_id FROM "+db.Name+".payment_facts_by_arrival ORDER BY txn_id"); got != want {
			t.Errorf("after %s payment_facts_by_arrival holds %q, want %q", after, got, want)
		}
	}
	counts := func(after, want string) {
		t.Helper()
		if got := countsByID(t, db, "backfilled", "new", "ten-days", "today", "two-days"); got != want {
			t.Errorf("after %s recent_fact_counts_by_hash holds %q, want %q", after, got, want)
		}
	}
	facts("the upgrade", "ten-days\ntoday\ntwo-days")
	// The recent facts were counted when migration 6 filled the counts,
	// and again when migration 9 copied them: a count above what a writer
	// stored sends the transaction to be read whole, never to a wrong row.
	counts("the upgrade", "today=2\ntwo-days=2")

	insert("payment_facts_by_arrival", "new", "new", now)
	insert("payment_facts_by_arrival", "new", "new-gw", now.Add(time.Millisecond)) // another writer's fact of the same transaction
	insert("payment_facts_by_arrival", "backfilled", "b", now.Add(-240*time.Hour))
	facts("inserts", "backfilled\nnew\nnew\nten-days\ntoday\ntwo-days")
	counts("inserts", "backfilled=1\nnew=2\ntoday=2\ntwo-days=2")
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".recent_fact_counts_by_hash WHERE txn_hash = ?", chschema.TxnHash("new")); n != 2 {
		t.Errorf("%d rows of counts for the transaction stored by two writers, want one per stamp", n)
	}

	// Now the backfill's day falls out; two days on, the day of two-days.
	if dropped, err := chschema.PruneRecentFactCounts(ctx, db.Conn, db.Name, d, now); err != nil ||
		!slices.Equal(dropped, []string{now.Add(-240 * time.Hour).Format("20060102")}) {
		t.Fatalf("prune now: dropped %v, %v; want the backfill's day", dropped, err)
	}
	dropped, err := chschema.PruneRecentFactCounts(ctx, db.Conn, db.Name, d, now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{now.Add(-48 * time.Hour).Format("20060102")}; !slices.Equal(dropped, want) {
		t.Errorf("dropped days %v, want %v", dropped, want)
	}
	counts("pruning", "new=2\ntoday=2")
	facts("pruning (it only touches the counts)", "backfilled\nnew\nnew\nten-days\ntoday\ntwo-days")
	if _, err := strconv.Atoi(dropped[0]); err != nil {
		t.Errorf("dropped partition %q is not a day number", dropped[0])
	}
}

// retired are the tables and views an upgrade drops.
var retired = []string{"payment_facts", "recent_facts", "recent_facts_mv", "recent_fact_counts_mv", "payment_facts_by_arrival_mv",
	"recent_fact_counts", "recent_fact_counts_by_arrival_mv"}

// countsByID is recent_fact_counts_by_hash's sum of facts for each of ids
// that it counts, as "id=sum" lines in the order of ids: the hashes are
// told apart by chschema.TxnHash, so the view's cityHash64 and the
// collector's must agree.
func countsByID(t *testing.T, db *chtest.DB, ids ...string) string {
	t.Helper()
	sums := map[uint64]uint64{}
	rows, err := db.Conn.Query(t.Context(), "SELECT txn_hash, sum(facts) FROM "+db.Name+".recent_fact_counts_by_hash GROUP BY txn_hash")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var h, n uint64
		if err := rows.Scan(&h, &n); err != nil {
			t.Fatal(err)
		}
		sums[h] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, id := range ids {
		if n, ok := sums[chschema.TxnHash(id)]; ok {
			lines = append(lines, id+"="+strconv.FormatUint(n, 10))
			delete(sums, chschema.TxnHash(id))
		}
	}
	if len(sums) > 0 {
		t.Errorf("counts of hashes of none of %q: %v", ids, sums)
	}
	return strings.Join(lines, "\n")
}

// TxnHash is the server's cityHash64 of the id, for ids of every length
// the hash treats apart (0–16, 17–32, 33–64 bytes and longer) and bytes
// that are not ASCII.
func TestTxnHashIsTheServersCityHash64(t *testing.T) {
	db := chtest.New(t)
	var ids []string
	for n := range 140 {
		ids = append(ids, strings.Repeat("x", n%7)+strings.Repeat("TXN-9", n/5)+strconv.Itoa(n))
	}
	ids = append(ids, "", "Zahlung-ü-€-支付", string([]byte{0, 255, 1, 128}))
	for _, id := range ids {
		var got uint64
		if err := db.Conn.QueryRow(t.Context(), "SELECT cityHash64(?)", id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := chschema.TxnHash(id); got != want {
			t.Errorf("cityHash64(%q) = %d on the server, TxnHash = %d", id, got, want)
		}
	}
}

// What an older collector allowed to create the schema does after the
// upgrade: its repair makes payment_facts, recent_facts and their views
// again and writes its facts there. Repair of this version copies them into
// payment_facts_by_arrival before it drops those tables again, so nothing
// it wrote is lost.
func TestRepairMovesAnOlderCollectorsFacts(t *testing.T) {
	db := chtest.New(t)
	d := dialect(t, db)
	ctx := t.Context()
	if _, err := chschema.Migrate(ctx, db.Conn, db.Name, d, chtest.Logger(t)); err != nil {
		t.Fatal(err)
	}
	createAsOf(t, db, d, 8) // the older collector's repair: migrations 1 to 8 again
	now := time.Now().UTC()
	db.Exec(t, "INSERT INTO "+db.Name+".payment_facts (txn_id, span_id, start_time, ingested_ns) SELECT 'old-writer', 's', toDateTime(?), ?",
		now.Unix(), uint64(now.UnixNano()))
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".recent_facts"); n != 1 {
		t.Fatalf("the older collector's recent_facts holds %d rows, want 1 (its views are back)", n)
	}
	if err := chschema.Repair(ctx, db.Conn, db.Name, d, chtest.Logger(t)); err != nil {
		t.Fatal(err)
	}
	if got := db.Lines(t, "SELECT txn_id FROM "+db.Name+".payment_facts_by_arrival"); got != "old-writer" {
		t.Errorf("payment_facts_by_arrival holds %q after the repair, want the older collector's fact", got)
	}
	for _, gone := range retired {
		if n := db.Count(t, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db.Name, gone); n != 0 {
			t.Errorf("%s is still there after the repair", gone)
		}
	}
}
