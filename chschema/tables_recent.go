package chschema

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
)

// RecentDays is how many whole days of arrivals RecentFacts keeps besides
// today's. A transaction's facts arrive within seconds of each other, its
// settlement a day later (the contract's window is 36 h), so at ingest its
// facts are all among the recent ones; the settlement sweep completes the
// rare transaction that has older facts (assembly.Reconcile).
const RecentDays = 3

// RecentFacts is payment_facts partitioned by the day the collector stored
// each row (ingested_ns). Assembly at ingest reads a transaction's facts
// here: payment_facts is ordered by txn_id over whole months, so a few
// thousand scattered ids touch most of its granules, and ingest slowed as
// history grew (docs/benchmarks.md). Here the same lookup costs what the
// last few days hold. It is filled by the materialized view RecentFactsView
// from every insert into payment_facts, whoever makes it; old days are
// dropped by PruneRecentFacts (18.16) or by TTL (modern servers).
var RecentFacts = Table{
	Name:        "recent_facts",
	ColumnDefs:  PaymentFacts.ColumnDefs,
	Version:     "ingested_ns",
	PartitionBy: "toYYYYMMDD(" + recentDayTime + ")",
	OrderBy:     PaymentFacts.OrderBy,
	ShardKey:    PaymentFacts.ShardKey,
	TTLColumn:   recentDayTime,
	KeepDays:    RecentDays + 1,
}

const recentDayTime = "toDateTime(intDiv(ingested_ns, 1000000000), 'UTC')"

// RecentFactCounts counts RecentFacts' rows by transaction and ingested_ns:
// each collector batch stamps its rows with one ingested_ns, so this says
// which writers stored facts of a transaction and how many, in about a row
// per transaction where RecentFacts has one per fact. Assembly at ingest
// lists a batch's transactions here (assembly/known.go): a few thousand
// scattered ids touch every granule of the recent days, so the listing's
// cost is the rows those days hold (docs/benchmarks.md, "Recent fact
// counts"). Filled by RecentFactCountsView from every insert into
// payment_facts; counts of one transaction and stamp add up (a batch's
// insert can reach the view in several blocks); dropped with RecentFacts'
// days.
var RecentFactCounts = Table{
	Name: "recent_fact_counts",
	ColumnDefs: []Column{
		str("txn_id"),
		col("ingested_ns", "UInt64"),
		col("facts", "UInt64"),
	},
	Sum:         "facts",
	PartitionBy: RecentFacts.PartitionBy,
	OrderBy:     "(txn_id, ingested_ns)",
	ShardKey:    PaymentFacts.ShardKey,
	TTLColumn:   recentDayTime,
	KeepDays:    RecentDays + 1,
}

// RecentFactCountsView is the materialized view that feeds RecentFactCounts.
const RecentFactCountsView = "recent_fact_counts_mv"

// recentCountsSelect counts the facts of src by transaction and stamp; facts
// without a transaction id (a failed span found by its trace) are not listed
// by id, so they are not counted.
func recentCountsSelect(src string) string {
	return "SELECT txn_id, ingested_ns, count() AS facts FROM " + src + " WHERE txn_id != '' GROUP BY txn_id, ingested_ns"
}

func recentCountsViewSQL(db string, d Dialect) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s.%s AS\n%s",
		db, RecentFactCountsView, d.onCluster(), db, RecentFactCounts.LocalName(d), recentCountsSelect(db+"."+PaymentFacts.LocalName(d)))
}

func v6(db string, d Dialect) []string {
	return append(RecentFactCounts.createSQL(db, d), recentCountsViewSQL(db, d))
}

// v6Fill counts the facts RecentFacts held before the view existed. Facts
// stored between the view's creation and this copy are counted twice; a
// count above what a writer stored only sends its transaction to be read
// whole (assembly), never to a wrong row.
func v6Fill(ctx context.Context, conn driver.Conn, db string, d Dialect) error {
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Hour)
	defer cancel()
	q := RecentFactCounts.InsertSQL(db) + " " + recentCountsSelect(db+"."+RecentFacts.Name)
	if err := conn.Exec(qctx, q); err != nil {
		return fmt.Errorf("count recent facts into %s: %w", RecentFactCounts.Name, err)
	}
	return nil
}

// RecentFactsView is the materialized view that feeds RecentFacts.
const RecentFactsView = "recent_facts_mv"

func recentViewSQL(db string, d Dialect) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s.%s AS\nSELECT %s\nFROM %s.%s",
		db, RecentFactsView, d.onCluster(), db, RecentFacts.LocalName(d), strings.Join(RecentFacts.Columns(), ", "), db, PaymentFacts.LocalName(d))
}

func v5(db string, d Dialect) []string {
	return append(RecentFacts.createSQL(db, d), recentViewSQL(db, d))
}

// v5Fill copies the facts stored in the days RecentFacts keeps before the
// view existed, so that assembly at ingest sees them from the start. Rows the
// view writes meanwhile have the same key and version: a copy racing with
// ingest, or made twice, changes nothing.
func v5Fill(ctx context.Context, conn driver.Conn, db string, _ Dialect) error {
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Hour)
	defer cancel()
	from := recentCutoff(time.Now())
	q := RecentFacts.InsertSQL(db) + " SELECT " + strings.Join(RecentFacts.Columns(), ", ") + " FROM " + db + "." + PaymentFacts.Name +
		" WHERE ingested_ns >= ?"
	if err := conn.Exec(qctx, q, uint64(from.UnixNano())); err != nil {
		return fmt.Errorf("copy recent facts into %s: %w", RecentFacts.Name, err)
	}
	return nil
}

// recentCutoff is the start of the oldest day RecentFacts keeps at now.
func recentCutoff(now time.Time) time.Time {
	y, m, day := now.UTC().Date()
	return time.Date(y, m, day-RecentDays, 0, 0, 0, 0, time.UTC)
}

// PruneRecentFacts drops the days of RecentFacts older than RecentDays
// before now's day and returns them. Modern servers drop them by TTL as well;
// dropping is the only way on 18.16. It is DDL: the user needs ALTER on the
// table (allow_ddl), as the migrating collector has. db must be validated.
func PruneRecentFacts(ctx context.Context, conn driver.Conn, db string, d Dialect, now time.Time) ([]string, error) {
	if err := check(db, d); err != nil {
		return nil, fmt.Errorf("prune %s: %w", RecentFacts.Name, err)
	}
	cut, err := strconv.Atoi(recentCutoff(now).Format("20060102"))
	if err != nil {
		return nil, err
	}
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Minute)
	defer cancel()
	old, err := dropDaysBefore(qctx, conn, db, d, RecentFacts, cut)
	if err != nil {
		return nil, err
	}
	// The counts go with the facts they count (a database not yet at
	// migration 6 has no such table: nothing to drop).
	if _, err := dropDaysBefore(qctx, conn, db, d, RecentFactCounts, cut); err != nil {
		return old, err
	}
	return old, nil
}

// dropDaysBefore drops t's day partitions before cut (YYYYMMDD) and returns
// them.
func dropDaysBefore(ctx context.Context, conn driver.Conn, db string, d Dialect, t Table, cut int) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active",
		db, t.LocalName(d))
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", t.Name, err)
	}
	var old []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list partitions of %s: %w", t.Name, err)
		}
		// Partition ids come from the server; only plain day numbers are
		// put into the statement.
		if n, err := strconv.Atoi(p); err == nil && n < cut {
			old = append(old, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", t.Name, err)
	}
	for _, p := range old {
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s%s DROP PARTITION %s", quote(db), quote(t.LocalName(d)), d.onCluster(), p)); err != nil {
			return nil, fmt.Errorf("drop day %s of %s: %w", p, t.Name, err)
		}
	}
	return old, nil
}
