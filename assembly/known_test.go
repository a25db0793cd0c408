package assembly

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/domain"
)

// A transaction whose stored rows are all the caller's is classified from
// the caller's facts; one with a row the caller did not write (another
// writer's fact, a re-sent span's other copy) has those rows read back. Either
// way the rows written are those of reading every fact back.
func TestKnownFactsClassifyAsReadingBack(t *testing.T) {
	type txn struct {
		id string
		// earlier: stored by another writer before this request (age ago).
		earlier, request []domain.Fact
		age              time.Duration
	}
	aRoot, aGw := sale("TXN-ALL-MINE")
	bRoot, bGw := sale("TXN-GATEWAY-EARLIER")
	cRoot, cGw := sale("TXN-RESENT")
	dRoot, _ := sale("TXN-ROOT-ONLY")
	// A settlement a day after its sale: the sale's rows are in another
	// ranged read than the rows stored moments before.
	eRoot, eGw := sale("TXN-SETTLED-NEXT-DAY")
	eSettle := domain.Fact{TxnID: eRoot.TxnID, TraceID: strings.Repeat("\x04", 16), SpanID: "settle02", Name: domain.SpanSettlement,
		Service: "settlement-service", StartNs: saleStart() + 20*int64(time.Hour), SettlementStatus: domain.SettlementSettled,
		ResponseCode: "00", AmountMinor: 1250, Amount: domain.AmountOK}
	txns := []txn{
		{id: aRoot.TxnID, request: []domain.Fact{aRoot, aGw}},
		{id: bRoot.TxnID, earlier: []domain.Fact{bGw}, request: []domain.Fact{bRoot}},
		{id: cRoot.TxnID, earlier: []domain.Fact{cRoot}, request: []domain.Fact{cRoot, cGw}},
		{id: dRoot.TxnID, request: []domain.Fact{dRoot}},
		{id: eRoot.TxnID, earlier: []domain.Fact{eRoot, eGw}, age: 24 * time.Hour, request: []domain.Fact{eSettle}},
	}
	rows := map[bool]map[string]stored{}
	whole := map[bool]string{}
	for _, withKnown := range []bool{true, false} {
		db := chtest.Migrated(t)
		a := newAssembler(db)
		keys := Keys{}
		var request []domain.Fact
		for _, x := range txns {
			if len(x.earlier) > 0 {
				saved := ingested
				ingested -= uint64(x.age)
				insertFacts(t, db, x.earlier...)
				ingested = saved
			}
			request = append(request, x.request...)
			keys.TxnIDs = append(keys.TxnIDs, x.id)
		}
		known := insertFacts(t, db, request...)
		if withKnown {
			keys.Stored = KnownFacts(known)
			// Three chunks: the counts are still listed once for all.
			a.ChunkSize = 2
		}
		res, err := a.Assemble(context.Background(), keys)
		if err != nil {
			t.Fatal(err)
		}
		wantMem := 0
		if withKnown {
			wantMem = 2 // all mine, root only
		}
		if res.Transactions != len(txns) || res.FromMemory != wantMem {
			t.Fatalf("known facts %v: %d transactions, %d from memory; want %d, %d", withKnown, res.Transactions, res.FromMemory, len(txns), wantMem)
		}
		if withKnown {
			// Every other writer's row was had by a ranged read: none of
			// the transactions was read whole.
			db.Exec(t, "SYSTEM FLUSH LOGS")
			if n := wholeReads(t, db); n != 0 {
				t.Errorf("%d whole reads with known facts, want 0", n)
			}
			// The listing reads the counts, not the facts they count, once
			// for the call's chunks together.
			counted := db.Count(t, "SELECT count() FROM system.query_log WHERE type = 2 AND query LIKE ?",
				"SELECT txn_hash, ingested_ns, sum(facts) FROM `"+db.Name+"`.`recent_fact_counts_by_hash` WHERE ingested_ns >= % AND txn_hash IN%")
			listedFacts := db.Count(t, "SELECT count() FROM system.query_log WHERE type = 2 AND query LIKE ?",
				"SELECT txn_id, ingested_ns, count() FROM `"+db.Name+"`.`payment_facts_by_arrival`%")
			if counted != 1 || listedFacts != 0 {
				t.Errorf("listings: %d of recent_fact_counts_by_hash, %d of the facts; want 1 and 0", counted, listedFacts)
			}
		}
		rows[withKnown] = map[string]stored{}
		for _, x := range txns {
			rows[withKnown][x.id] = current(t, db, x.id)
		}
		whole[withKnown] = everyColumn(t, db)
	}
	if n := strings.Count(whole[false], "\n") + 1; n != len(txns) || !strings.Contains(whole[false], "TXN-RESENT|") {
		t.Fatalf("%d rows read, want %d:\n%s", n, len(txns), whole[false])
	}
	if whole[true] != whole[false] {
		t.Errorf("rows differ:\nwith known facts:\n%s\nread back:\n%s", whole[true], whole[false])
	}
	for _, x := range txns {
		if rows[true][x.id] != rows[false][x.id] {
			t.Errorf("%s: with known facts %+v, read back %+v", x.id, rows[true][x.id], rows[false][x.id])
		}
	}
	if got := rows[true][eRoot.TxnID]; got.version.Facts != 3 || got.outcome != string(domain.OutcomeSettled) {
		t.Errorf("%s: %+v, want settled with 3 facts", eRoot.TxnID, got)
	}
	// The other writer's gateway span counts although the caller never held it.
	if got := rows[true][bRoot.TxnID]; got.version.Facts != 2 {
		t.Errorf("%s: %+v, want 2 facts", bRoot.TxnID, got)
	}
	if got := rows[true][cRoot.TxnID]; got.version.Facts != 2 {
		t.Errorf("%s: %+v, want the re-sent root counted once (2 facts)", cRoot.TxnID, got)
	}
}

// sale is a sale's root and gateway span of transaction id.
func sale(id string) (root, gateway domain.Fact) {
	root, gateway = saleRoot(), saleGateway()
	root.TxnID, gateway.TxnID = id, id
	return root, gateway
}

// everyColumn is every live transaction, every column but when it was
// assembled, as text.
func everyColumn(t *testing.T, db *chtest.DB) string {
	t.Helper()
	var cols []string
	for _, c := range chschema.TransactionsByTime.ColumnDefs {
		switch {
		case c.Name == "assembled_at":
		case strings.HasPrefix(c.Type, "Array("):
			cols = append(cols, "arrayStringConcat(arrayMap(x -> toString(x), "+c.Name+"), ',')")
		default:
			cols = append(cols, "toString("+c.Name+")")
		}
	}
	return db.Lines(t, "SELECT arrayStringConcat(["+strings.Join(cols, ", ")+"], '|') FROM "+chtest.Txns+" ORDER BY txn_id")
}

// A row listed as another writer's can be merged away before it is read (a
// re-sent span's older copy, collapsed by ReplacingMergeTree into the
// caller's copy): the ranged read misses it, and the caller's copy, held in
// memory, stands for it. The transaction is not read whole, as a client
// sending stored transactions again made every one of them be.
func TestRowMergedAwayAfterListingIsCoveredByItsReplacement(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	root, gw := sale("TXN-MERGED")
	insertFacts(t, db, root) // the first copy of the root, another writer's
	known := insertFacts(t, db, root, gw)
	merged := false
	a.afterList = func() {
		db.Exec(t, "OPTIMIZE TABLE payment_facts_by_arrival FINAL")
		merged = true
	}
	res, err := a.Assemble(context.Background(), Keys{TxnIDs: []string{root.TxnID}, Stored: KnownFacts(known)})
	if err != nil {
		t.Fatal(err)
	}
	if !merged || res.Transactions != 1 || res.FromMemory != 0 {
		t.Fatalf("merged %v; %d transactions, %d from memory; want the ranged read", merged, res.Transactions, res.FromMemory)
	}
	if got := current(t, db, root.TxnID); got.version.Facts != 2 || got.outcome != string(domain.OutcomeUnsettled) {
		t.Errorf("%+v, want unsettled with 2 facts (the root counted once)", got)
	}
	db.Exec(t, "SYSTEM FLUSH LOGS")
	if whole := wholeReads(t, db); whole != 0 {
		t.Errorf("%d whole reads of the transaction, want 0: the merged row's replacement is the caller's", whole)
	}
}

// A listed row can also be replaced, after the listing, by a third
// writer's copy with a later stamp than any listed. The caller's ranged
// read misses that fact, and its row counts one fact fewer. The third
// writer assembles after storing, as every writer does, from every row:
// its row counts both facts, so its version wins, although it is written
// first here.
func TestRowReplacedAfterListingByALaterWriter(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	root, gw := sale("TXN-REPLACED")
	insertFacts(t, db, gw) // another writer's gateway span
	known := insertFacts(t, db, root)
	var third []Known
	a.afterList = func() {
		third = insertFacts(t, db, gw) // a third writer sends it again, stamped later than the caller's root
		db.Exec(t, "OPTIMIZE TABLE payment_facts_by_arrival FINAL")
		if _, err := newAssembler(db).Assemble(context.Background(), Keys{TxnIDs: []string{gw.TxnID}, Stored: KnownFacts(third)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := a.Assemble(context.Background(), Keys{TxnIDs: []string{root.TxnID}, Stored: KnownFacts(known)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transactions != 1 || third == nil {
		t.Fatalf("%d transactions, third writer ran %v; want 1, true", res.Transactions, third != nil)
	}
	if n := db.Count(t, "SELECT count() FROM payment_facts_by_arrival WHERE txn_id = ?", root.TxnID); n != 2 {
		t.Fatalf("%d facts stored after the merge, want 2 (the first gateway copy replaced)", n)
	}
	if got := current(t, db, root.TxnID); got.version.Facts != 2 {
		t.Errorf("%+v, want the third writer's row with both facts", got)
	}
	db.Exec(t, "SYSTEM FLUSH LOGS")
	if whole := wholeReads(t, db); whole != 0 {
		t.Errorf("%d whole reads, want 0", whole)
	}
}

// wholeReads counts the reads of transactions' facts by id among the recent
// days (not within a range of ingested_ns a writer stamped) in db.
func wholeReads(t *testing.T, db *chtest.DB) uint64 {
	t.Helper()
	return db.Count(t, "SELECT count() FROM system.query_log WHERE type = 2 AND query LIKE ? AND query NOT LIKE '%ingested_ns <=%'",
		"SELECT txn_id, trace_id, span_id, parent_span_id%`"+db.Name+"`.`payment_facts_by_arrival` WHERE ingested_ns >= % AND txn_id IN%")
}

// A database not yet migrated to recent_fact_counts_by_hash (a collector that may
// not run DDL, upgraded before `settlewatch migrate`) still gets its
// transactions: the listing counts the facts themselves, and says so.
func TestListingWithoutCountsCountsTheFacts(t *testing.T) {
	db := chtest.Migrated(t)
	db.Exec(t, "DROP TABLE recent_fact_counts_by_hash_mv")
	db.Exec(t, "DROP TABLE recent_fact_counts_by_hash")
	a := newAssembler(db)
	var logged strings.Builder
	a.Log = slog.New(slog.NewTextHandler(&logged, nil))
	root, gw := sale("TXN-NO-COUNTS")
	insertFacts(t, db, gw) // another writer's half, stored first
	known := insertFacts(t, db, root)
	res, err := a.Assemble(context.Background(), Keys{TxnIDs: []string{root.TxnID}, Stored: KnownFacts(known)})
	if err != nil {
		t.Fatal(err)
	}
	if got := current(t, db, root.TxnID); res.Transactions != 1 || got.version.Facts != 2 {
		t.Errorf("%d transactions, row %+v; want 1 with both facts", res.Transactions, got)
	}
	if !strings.Contains(logged.String(), "recent_fact_counts_by_hash is missing") {
		t.Errorf("no warning logged: %q", logged.String())
	}
	db.Exec(t, "SYSTEM FLUSH LOGS")
	if n := db.Count(t, "SELECT count() FROM system.query_log WHERE type = 2 AND query LIKE ?",
		"SELECT txn_id, ingested_ns, count() FROM `"+db.Name+"`.`payment_facts_by_arrival` WHERE ingested_ns >= %"); n != 1 {
		t.Errorf("%d listings of the recent facts, want 1", n)
	}
}

// Two transactions whose ids share a hash each get every count of it
// (recent_fact_counts_by_hash is keyed by the hash): each sees the other's
// rows as another writer's, so both are read by id, never classified from
// another's counts, and each row counts its own facts. (The rows counted
// under the hash that the read by id does not return are the other id's;
// they are fewer read than listed, as rows merged away are.)
func TestIdsSharingAHashAreReadByID(t *testing.T) {
	db := chtest.Migrated(t)
	a := newAssembler(db)
	aRoot, aGw := sale("TXN-HASH-A")
	bRoot := saleRoot()
	bRoot.TxnID, bRoot.SpanID, bRoot.TraceID = "TXN-HASH-B", "rootbbbb", strings.Repeat("\x0b", 16)
	shared := chschema.TxnHash(aRoot.TxnID)
	a.txnHash = func(id string) uint64 {
		if id == bRoot.TxnID {
			return shared
		}
		return chschema.TxnHash(id)
	}
	known := insertFacts(t, db, aRoot, aGw, bRoot)
	// What the view would have stored had cityHash64 given B's id A's hash:
	// B's counts under it, summed with A's.
	db.Exec(t, "INSERT INTO recent_fact_counts_by_hash (txn_hash, ingested_ns, facts) SELECT ?, ingested_ns, facts FROM recent_fact_counts_by_hash WHERE txn_hash = ?",
		shared, chschema.TxnHash(bRoot.TxnID))
	if n := db.Count(t, "SELECT sum(facts) FROM recent_fact_counts_by_hash WHERE txn_hash = ?", shared); n != 3 {
		t.Fatalf("the shared hash counts %d facts, want 3 (A's two and B's one)", n)
	}
	res, err := a.Assemble(context.Background(), Keys{TxnIDs: []string{aRoot.TxnID, bRoot.TxnID}, Stored: KnownFacts(known)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transactions != 2 || res.FromMemory != 0 {
		t.Fatalf("%d transactions, %d from memory; want both, read by id", res.Transactions, res.FromMemory)
	}
	for id, facts := range map[string]int{aRoot.TxnID: 2, bRoot.TxnID: 1} {
		if got := current(t, db, id); got.version.Facts != facts || got.outcome != string(domain.OutcomeUnsettled) {
			t.Errorf("%s: %+v, want unsettled with %d facts", id, got, facts)
		}
	}
	db.Exec(t, "SYSTEM FLUSH LOGS")
	if n := db.Count(t, "SELECT count() FROM system.query_log WHERE type = 2 AND query LIKE ?",
		"SELECT txn_id, trace_id, span_id, parent_span_id%`"+db.Name+"`.`payment_facts_by_arrival` WHERE %txn_id IN sw_txn_ids%"); n == 0 {
		t.Errorf("no read of the facts by id")
	}
}
