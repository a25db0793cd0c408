package chschema

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
)

// txnTraces mapped a transaction id to every trace that carried it, one row
// per (txn_id, trace_id) the collector saw. Every such pair is also a row of
// paymentFactsV1, which was ordered by the same key and partitioned the same
// way, so the table was a second copy of part of the facts: one more part per
// collector batch to write and merge (3.5 % of the server's CPU per span at
// ingest, docs/benchmarks.md, "txn_traces dropped"). Migration 1 still
// creates it, so that its recorded checksum stays valid; migration 7 drops
// it.
var txnTraces = Table{
	Name: "txn_traces",
	ColumnDefs: []Column{
		str("txn_id"),
		traceID("trace_id"),
		col("start_time", dateTimeUTC),
		nanos("ingested_ns"),
	},
	Version:     "ingested_ns",
	PartitionBy: "toYYYYMM(start_time)",
	OrderBy:     "(txn_id, trace_id)",
	TTLColumn:   "start_time",
	ShardKey:    "cityHash64(txn_id)",
}

// transactionsV1 kept every version of a transaction, ordered by txn_id, and
// its view (byTimeViewV4) copied each into TransactionsByTime, which every
// reader has read since: the lookup by id finds a transaction's hours among
// its facts. So it was a second copy of the transactions, one more part per
// collector batch to write and merge. Migrations 1, 3 and 4 still create,
// widen and read it, so that their recorded checksums stay valid; migration 8
// drops it, and the versions go to the Null table Transactions instead.
var transactionsV1 = Table{
	Name:        "transactions",
	ColumnDefs:  transactionColumns(),
	Version:     "version",
	PartitionBy: "toYYYYMM(txn_time)",
	OrderBy:     "txn_id",
	TTLColumn:   "txn_time",
	ShardKey:    "cityHash64(txn_id)",
}

// v1Tables are the tables migration 1 creates, as it always has.
func v1Tables() []Table {
	return []Table{Migrations, Spans, paymentFactsV1, BatchCloses, txnTraces, transactionsV1}
}

// v7 drops txn_traces: in a cluster the Distributed table first, then the
// local one that holds the rows.
func v7(db string, d Dialect) []string {
	return dropSQL(db, d, txnTraces)
}

// dropSQL returns the DROP TABLE IF EXISTS statements of t for d.
func dropSQL(db string, d Dialect, t Table) []string {
	var out []string
	if local := t.LocalName(d); local != t.Name {
		out = append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, t.Name, d.onCluster()))
	}
	return append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, t.LocalName(d), d.onCluster()))
}

// v8 makes the transactions a Null table's inserts: Transactions and its view
// into TransactionsByTime first, so that a collector of this version can
// write as soon as they exist; then the old table, before its view, so that
// no insert into it can be stored there without reaching TransactionsByTime
// (once the table is gone, an older collector's insert fails and is retried,
// deploy/README.md, "Upgrading the schema").
func v8(db string, d Dialect) []string {
	out := append(Transactions.createSQL(db, d), byTimeViewSQL(db, d, ByTimeView, Transactions))
	out = append(out, dropSQL(db, d, transactionsV1)...)
	return append(out, dropView(db, d, byTimeViewV4))
}

// paymentFactsV1 held the facts by month of start time, ordered by txn_id,
// and its view (recentFactsViewV5) copied each into recentFactsV5, by
// arrival day, for assembly at ingest: every fact stored twice, the second
// copy about a quarter of the server's CPU at ingest (docs/benchmarks.md,
// "Facts stored once"). Migrations 1, 5 and 6 still create and read them, so
// that their recorded checksums stay valid; migration 9 copies the facts into
// PaymentFacts, and migration 10 drops both tables and their views.
var paymentFactsV1 = Table{
	Name:        "payment_facts",
	ColumnDefs:  paymentFactColumns(),
	Version:     "ingested_ns",
	PartitionBy: "toYYYYMM(start_time)",
	OrderBy:     "(txn_id, trace_id, span_id)",
	TTLColumn:   "start_time",
	ShardKey:    "cityHash64(txn_id)",
}

// recentFactsV5 was paymentFactsV1 by arrival day, keeping RecentDays + 1
// days: PaymentFacts' layout, for the recent days only.
var recentFactsV5 = Table{
	Name:        "recent_facts",
	ColumnDefs:  paymentFactColumns(),
	Version:     "ingested_ns",
	PartitionBy: "toYYYYMMDD(" + arrivalTime + ")",
	OrderBy:     paymentFactsV1.OrderBy,
	ShardKey:    paymentFactsV1.ShardKey,
	TTLColumn:   arrivalTime,
	KeepDays:    RecentDays + 1,
}

// recentFactsViewV5 fed recentFactsV5 from every insert into paymentFactsV1.
const recentFactsViewV5 = "recent_facts_mv"

func v5(db string, d Dialect) []string {
	return append(recentFactsV5.createSQL(db, d), copyViewSQL(db, d, recentFactsViewV5, paymentFactsV1, recentFactsV5))
}

// copyViewSQL creates view, which copies every insert into from's local
// table into to's: two tables of the same columns.
func copyViewSQL(db string, d Dialect, view string, from, to Table) string {
	return viewSQL(db, d, view, to, "SELECT "+strings.Join(to.Columns(), ", ")+"\nFROM "+db+"."+from.LocalName(d))
}

// copyRowsSQL copies from's rows into to (through the Distributed tables
// in a cluster): two tables of the same columns.
func copyRowsSQL(db string, from, to Table) string {
	return to.InsertSQL(db) + " SELECT " + strings.Join(to.Columns(), ", ") + " FROM " + db + "." + from.Name
}

// v5Fill copied the facts stored in the days recentFactsV5 kept before the
// view existed, so that assembly at ingest saw them from the start. Rows the
// view wrote meanwhile had the same key and version: a copy racing with
// ingest, or made twice, changed nothing.
func v5Fill(ctx context.Context, conn driver.Conn, db string, _ Dialect) error {
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Hour)
	defer cancel()
	from := RecentCutoff(time.Now())
	q := copyRowsSQL(db, paymentFactsV1, recentFactsV5) + " WHERE ingested_ns >= ?"
	if err := conn.Exec(qctx, q, uint64(from.UnixNano())); err != nil {
		return fmt.Errorf("copy recent facts into %s: %w", recentFactsV5.Name, err)
	}
	return nil
}

// recentCountsViewV6 fed recentFactCountsV6 from every insert into
// paymentFactsV1, until migration 10.
const recentCountsViewV6 = "recent_fact_counts_mv"

// recentFactCountsV6 counted the recent facts by transaction id and stamp,
// from migration 6 until migration 12 (RecentFactCounts counts them by a
// hash of the id).
var recentFactCountsV6 = Table{
	Name: "recent_fact_counts",
	ColumnDefs: []Column{
		str("txn_id"),
		col("ingested_ns", "UInt64"),
		col("facts", "UInt64"),
	},
	Sum:         "facts",
	PartitionBy: PaymentFacts.PartitionBy,
	OrderBy:     "(txn_id, ingested_ns)",
	ShardKey:    PaymentFacts.ShardKey,
	TTLColumn:   arrivalTime,
	KeepDays:    RecentDays + 1,
}

// recentCountsViewV9 fed recentFactCountsV6 from every insert into
// PaymentFacts, from migration 9 until migration 12.
const recentCountsViewV9 = "recent_fact_counts_by_arrival_mv"

// recentCountsSelectV6 counted the facts of src by transaction id and
// stamp, for recentFactCountsV6.
func recentCountsSelectV6(src string) string { return countsSelect(src, "txn_id", "txn_id") }
