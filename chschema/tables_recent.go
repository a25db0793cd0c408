package chschema

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/go-faster/city"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
)

// RecentDays is how many whole days of arrivals, besides today's, assembly
// reads at ingest and RecentFactCounts keeps. A transaction's facts arrive
// within seconds of each other, its settlement a day later (the contract's
// window is 36 h), so at ingest its facts are all among the recent ones; the
// settlement sweep completes the rare transaction that has older facts
// (assembly.Reconcile).
const RecentDays = 3

// RecentFactCounts counts PaymentFacts' rows of the recent days by
// transaction (TxnHash of its id) and ingested_ns: each collector batch
// stamps its rows with one ingested_ns, so this says which writers stored
// facts of a transaction and how many, in about a row per transaction where
// PaymentFacts has one per fact. Assembly at ingest lists a batch's
// transactions here (assembly/known.go). A few thousand scattered hashes
// touch every granule of the recent days, so the listing's cost is the rows
// those days hold, and a hash is half as costly to read and test as the id
// was (recentFactCountsV6, until migration 12). Granules of 1024 rows, not
// 8192, bound what a listing reads by the ids it asks for once the days
// hold more granules than a batch has transactions, as they do in
// production (docs/benchmarks.md, "Recent fact counts", "Counts by
// transaction hash"). The hash is cityHash64 of the id, the Distributed
// tables' sharding key of the facts, so a shard counts its own facts.
// Filled by RecentFactCountsView from every insert into PaymentFacts;
// counts of one transaction and stamp add up (a batch's insert can reach
// the view in several blocks); days older than RecentDays are dropped
// (PruneRecentFactCounts, or TTL).
var RecentFactCounts = Table{
	Name: "recent_fact_counts_by_hash",
	ColumnDefs: []Column{
		col("txn_hash", "UInt64"),
		col("ingested_ns", "UInt64"),
		col("facts", "UInt64"),
	},
	Sum:              "facts",
	PartitionBy:      PaymentFacts.PartitionBy,
	OrderBy:          "(txn_hash, ingested_ns)",
	ShardKey:         "txn_hash",
	TTLColumn:        arrivalTime,
	KeepDays:         RecentDays + 1,
	IndexGranularity: 1024,
}

// RecentFactCountsView is the materialized view that feeds RecentFactCounts
// from PaymentFacts.
const RecentFactCountsView = "recent_fact_counts_by_hash_mv"

// TxnHash is a transaction id's key in RecentFactCounts: ClickHouse's
// cityHash64 of it, computed here the same way (chschema tests compare the
// two on a server).
func TxnHash(txnID string) uint64 {
	return city.CH64(unsafe.Slice(unsafe.StringData(txnID), len(txnID)))
}

// recentCountsSelect counts the facts of src by transaction hash and stamp.
func recentCountsSelect(src string) string {
	return countsSelect(src, "cityHash64(txn_id) AS txn_hash", "txn_hash")
}

// countsSelect counts the facts of src by key (keyExpr selects it) and
// stamp; facts without a transaction id (a failed span found by its trace)
// are not listed by id, so they are not counted.
func countsSelect(src, keyExpr, key string) string {
	return "SELECT " + keyExpr + ", ingested_ns, count() AS facts FROM " + src +
		" WHERE txn_id != '' GROUP BY " + key + ", ingested_ns"
}

// viewSQL creates view, which writes what sel selects from each insert
// into to's local table.
func viewSQL(db string, d Dialect, view string, to Table, sel string) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s.%s AS\n%s",
		db, view, d.onCluster(), db, to.LocalName(d), sel)
}

func v6(db string, d Dialect) []string {
	return append(recentFactCountsV6.createSQL(db, d),
		viewSQL(db, d, recentCountsViewV6, recentFactCountsV6, recentCountsSelectV6(db+"."+paymentFactsV1.LocalName(d))))
}

// v6Fill counts the facts recentFactsV5 held before the view existed. Facts
// stored between the view's creation and this copy are counted twice; a
// count above what a writer stored only sends its transaction to be read
// whole (assembly), never to a wrong row.
func v6Fill(ctx context.Context, conn driver.Conn, db string, d Dialect) error {
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Hour)
	defer cancel()
	q := recentFactCountsV6.InsertSQL(db) + " " + recentCountsSelectV6(db+"."+recentFactsV5.Name)
	if err := conn.Exec(qctx, q); err != nil {
		return fmt.Errorf("count recent facts into %s: %w", recentFactCountsV6.Name, err)
	}
	return nil
}

// ClockSlack is how far ahead of the collector's a client's clock may run:
// a fact arrives after it starts, less this (ArrivedSince).
const ClockSlack = 24 * time.Hour

// ArrivedSince is the ingested_ns bound that takes in every fact that
// started at or after start: PaymentFacts is partitioned by arrival day, so
// a reader by start time that also gives this bound leaves the older days'
// parts unread.
func ArrivedSince(start time.Time) uint64 {
	return uint64(max(start.Add(-ClockSlack).UnixNano(), 0))
}

// RecentCutoff is the start of the oldest arrival day assembly reads at
// ingest at now, and RecentFactCounts keeps.
func RecentCutoff(now time.Time) time.Time {
	y, m, day := now.UTC().Date()
	return time.Date(y, m, day-RecentDays, 0, 0, 0, 0, time.UTC)
}

// PruneRecentFactCounts drops the days of RecentFactCounts older than
// RecentDays before now's day and returns them. Modern servers drop them by
// TTL as well; dropping is the only way on 18.16. It is DDL: the user needs
// ALTER on the table (allow_ddl), as the migrating collector has. db must be
// validated.
func PruneRecentFactCounts(ctx context.Context, conn driver.Conn, db string, d Dialect, now time.Time) ([]string, error) {
	return pruneRecentDays(ctx, conn, db, d, RecentFactCounts, now)
}

// pruneRecentDays drops the days of t older than RecentDays before now's
// day and returns them.
func pruneRecentDays(ctx context.Context, conn driver.Conn, db string, d Dialect, t Table, now time.Time) ([]string, error) {
	if err := check(db, d); err != nil {
		return nil, fmt.Errorf("prune %s: %w", t.Name, err)
	}
	cut := dayNumber(RecentCutoff(now))
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Minute)
	defer cancel()
	return dropDaysBefore(qctx, conn, db, d, t, cut)
}

// dropDaysBefore drops t's day partitions before cut (YYYYMMDD) and returns
// them.
func dropDaysBefore(ctx context.Context, conn driver.Conn, db string, d Dialect, t Table, cut int) ([]string, error) {
	old, err := dayPartitions(ctx, conn, db, d, t, cut, 1)
	if err != nil {
		return nil, err
	}
	for _, p := range old {
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s%s DROP PARTITION %s", quote(db), quote(t.LocalName(d)), d.onCluster(), p)); err != nil {
			return nil, fmt.Errorf("drop day %s of %s: %w", p, t.Name, err)
		}
	}
	return old, nil
}
