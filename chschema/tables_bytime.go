package chschema

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
)

// TransactionsByTime holds the transactions, ordered by hour: the rollups and
// the raw time-range questions read a window at the cost of what the window
// holds, and a lookup by id reads the hours of the transaction's facts
// (PaymentFacts is ordered by txn_id), with txn_id, the key's second column,
// narrowing each hour to a granule.
//
// A transaction's time can move between versions (assembled first from a
// settlement span alone, then from its root span), and ReplacingMergeTree
// only collapses rows with the same key, here (txn_hour, txn_id). So every
// version is written at its own hour (deleted = 0) and, as a tombstone
// (deleted = 1), at every other hour one of its facts has: txn_time is always
// a fact's time, so those are all the hours an older version can sit at, and
// the newer tombstone outranks it there. Readers filter FINAL by the key's
// columns only and drop deleted rows after FINAL. The rows are written by the
// materialized view ByTimeView from every insert into Transactions, whoever
// makes it.
var TransactionsByTime = Table{
	Name:        "transactions_by_time",
	ColumnDefs:  byTimeColumns(),
	Version:     "version",
	PartitionBy: "toYYYYMM(txn_hour)",
	OrderBy:     "(txn_hour, txn_id)",
	TTLColumn:   "txn_hour",
	ShardKey:    "cityHash64(txn_id)",
}

// All lists every table of the schema, in creation order.
func All() []Table {
	return append(append(Tables(), AnalyticsTables()...), TransactionsByTime, RecentFactCounts, Transactions)
}

// ByTimeSource is a FROM source of the live transactions whose key matches
// keyCond, a condition on txn_hour and txn_id only (the sorting key: a
// condition on any other column could be applied before FINAL collapses the
// versions). db must be a validated name.
func ByTimeSource(db, keyCond string) string {
	return byTimeSource(quote(db)+"."+quote(TransactionsByTime.Name), keyCond)
}

// LatestTransactions is a FROM source of every transaction of the
// connection's database as a lookup by id sees it: its highest live version.
// It differs from a time window's rows only while a version written from part
// of a transaction's facts sits at an hour its complete version did not know
// (a late fact, until the sweep's Reconcile rebuilds the transaction). For
// tests and checks by hand; readers go through ByTimeSource.
func LatestTransactions() string {
	return "(SELECT * FROM " + byTimeSource(quote(TransactionsByTime.Name), "1") + " ORDER BY version DESC LIMIT 1 BY txn_id)"
}

func byTimeSource(table, keyCond string) string {
	return "(SELECT * FROM (SELECT * FROM " + table + " FINAL WHERE " + keyCond + ") WHERE deleted = 0)"
}

// TxnFacts is what one transaction's facts say about where the rest of it
// is stored.
type TxnFacts struct {
	// Traces are the ids (raw 16 bytes) of the traces its facts are in, at
	// most MaxTxnTraces of them.
	Traces []string
	// Hours are the hours its facts fall in, as Unix seconds: the hours
	// TransactionsByTime can hold its rows at (AtHours). None: no facts.
	Hours []uint32
	// First and Last are its facts' earliest and latest start times.
	First, Last time.Time
}

// MaxTxnTraces bounds TxnFacts.Traces: a client that reuses one id for
// every sale would otherwise hand a lookup every trace it ever sent.
const MaxTxnTraces = 1000

// ReadTxnFacts reads TxnFacts for one transaction in one query. PaymentFacts
// is ordered by txn_id within each arrival day, so it reads a granule per day
// and part.
func ReadTxnFacts(ctx context.Context, conn driver.Conn, db, txnID string) (TxnFacts, error) {
	var f TxnFacts
	err := conn.QueryRow(ctx, fmt.Sprintf("SELECT arraySlice(groupUniqArray(trace_id), 1, %d), groupUniqArray(toUInt32(toStartOfHour(start_time))),"+
		" min(start_time), max(start_time) FROM %s.%s WHERE txn_id = ?", MaxTxnTraces, quote(db), quote(PaymentFacts.Name)), txnID).
		Scan(&f.Traces, &f.Hours, &f.First, &f.Last)
	if err != nil {
		return TxnFacts{}, fmt.Errorf("facts of %s: %w", txnID, err)
	}
	f.First, f.Last = f.First.UTC(), f.Last.UTC()
	return f, nil
}

// AtHours is a ByTimeSource condition on txn_hour: its one argument is an
// array of hours as Unix seconds, not empty (TxnFacts.Hours). The set is built
// from the array on the server that was asked, and 18.16 uses it for the
// primary key, which it does not for a GLOBAL IN of a table's subquery (and
// a plain IN of one is refused when both tables are Distributed).
const AtHours = "txn_hour IN (SELECT toDateTime(arrayJoin(?), 'UTC'))"

func byTimeColumns() []Column {
	var out []Column
	for _, c := range Transactions.ColumnDefs {
		if c.Name != "fact_hours" {
			c.Since = 0
			out = append(out, c)
		}
	}
	return append(out, col("txn_hour", dateTimeUTC), col("deleted", "UInt8"))
}

// ByTimeView is the materialized view that feeds TransactionsByTime from
// Transactions.
const ByTimeView = "transaction_versions_mv"

// byTimeViewV4 fed TransactionsByTime from transactionsV1 until migration 8.
const byTimeViewV4 = "transactions_by_time_mv"

// byTimeViewSQL creates view, from inserts into src: one row per distinct
// hour of the row's own time and its fact_hours, deleted unless it is the
// row's own hour.
func byTimeViewSQL(db string, d Dialect, view string, src Table) string {
	return viewSQL(db, d, view, TransactionsByTime,
		"SELECT "+byTimeSelect("h AS txn_hour", "toUInt8(h != toStartOfHour(txn_time)) AS deleted")+
			"\nFROM "+db+"."+src.LocalName(d)+"\nARRAY JOIN arrayDistinct(arrayPushFront(fact_hours, toStartOfHour(txn_time))) AS h")
}

// byTimeSelect lists TransactionsByTime's columns taken from transactions,
// with the given expressions for txn_hour and deleted.
func byTimeSelect(hour, deleted string) string {
	var cols []string
	for _, c := range TransactionsByTime.Columns() {
		switch c {
		case "txn_hour":
			cols = append(cols, hour)
		case "deleted":
			cols = append(cols, deleted)
		default:
			cols = append(cols, c)
		}
	}
	return strings.Join(cols, ", ")
}

func noStatements(string, Dialect) []string { return nil }

// v3 adds transactions.fact_hours to databases created before it.
func v3(ctx context.Context, conn driver.Conn, db string, d Dialect) error {
	for _, c := range transactionsV1.ColumnDefs {
		if c.Since == 3 {
			if _, err := AddColumnIfMissing(ctx, conn, db, d, transactionsV1, c, "data_issues"); err != nil {
				return err
			}
		}
	}
	return nil
}

func v4(db string, d Dialect) []string {
	return append(TransactionsByTime.createSQL(db, d), byTimeViewSQL(db, d, byTimeViewV4, transactionsV1))
}

// v4Fill copies the transactions stored before the view existed (their
// latest versions; nothing older can need hiding because nothing older is
// copied). Rows the view writes meanwhile carry their own versions, so a copy
// racing with ingest, or made twice by two migrators, changes nothing.
func v4Fill(ctx context.Context, conn driver.Conn, db string, _ Dialect) error {
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Hour)
	defer cancel()
	q := TransactionsByTime.InsertSQL(db) + " SELECT " + byTimeSelect("toStartOfHour(txn_time)", "toUInt8(0)") + " FROM " + db + "." + transactionsV1.Name + " FINAL"
	if err := conn.Exec(qctx, q); err != nil {
		return fmt.Errorf("copy %s into %s: %w", transactionsV1.Name, TransactionsByTime.Name, err)
	}
	return nil
}
