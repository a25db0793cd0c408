package chschema

import "fmt"

// txnTraces mapped a transaction id to every trace that carried it, one row
// per (txn_id, trace_id) the collector saw. Every such pair is also a row of
// PaymentFacts, which is ordered by the same key and partitioned the same
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
	return []Table{Migrations, Spans, PaymentFacts, BatchCloses, txnTraces, transactionsV1}
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
	return append(out, fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, byTimeViewV4, d.onCluster()))
}
