package chschema

import (
	"context"
	"fmt"
	"strconv"
	"time"

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
// transaction and ingested_ns: each collector batch stamps its rows with one
// ingested_ns, so this says which writers stored facts of a transaction and
// how many, in about a row per transaction where PaymentFacts has one per
// fact. Assembly at ingest lists a batch's transactions here
// (assembly/known.go): a few thousand scattered ids touch every granule of
// the recent days, so the listing's cost is the rows those days hold
// (docs/benchmarks.md, "Recent fact counts"). Filled by RecentFactCountsView from every insert into
// PaymentFacts; counts of one transaction and stamp add up (a batch's insert
// can reach the view in several blocks); days older than RecentDays are
// dropped (PruneRecentFactCounts, or TTL).
var RecentFactCounts = Table{
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

// RecentFactCountsView is the materialized view that feeds RecentFactCounts
// from PaymentFacts (recentCountsViewV6 fed it from paymentFactsV1).
const RecentFactCountsView = "recent_fact_counts_by_arrival_mv"

// recentCountsSelect counts the facts of src by transaction and stamp; facts
// without a transaction id (a failed span found by its trace) are not listed
// by id, so they are not counted.
func recentCountsSelect(src string) string {
	return "SELECT txn_id, ingested_ns, count() AS facts FROM " + src + " WHERE txn_id != '' GROUP BY txn_id, ingested_ns"
}

func recentCountsViewSQL(db string, d Dialect, view, sel string) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s.%s%s TO %s.%s AS\n%s",
		db, view, d.onCluster(), db, RecentFactCounts.LocalName(d), sel)
}

func v6(db string, d Dialect) []string {
	return append(RecentFactCounts.createSQL(db, d),
		recentCountsViewSQL(db, d, recentCountsViewV6, recentCountsSelect(db+"."+paymentFactsV1.LocalName(d))))
}

// v6Fill counts the facts recentFactsV5 held before the view existed. Facts
// stored between the view's creation and this copy are counted twice; a
// count above what a writer stored only sends its transaction to be read
// whole (assembly), never to a wrong row.
func v6Fill(ctx context.Context, conn driver.Conn, db string, d Dialect) error {
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Hour)
	defer cancel()
	q := RecentFactCounts.InsertSQL(db) + " " + recentCountsSelect(db+"."+recentFactsV5.Name)
	if err := conn.Exec(qctx, q); err != nil {
		return fmt.Errorf("count recent facts into %s: %w", RecentFactCounts.Name, err)
	}
	return nil
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
	if err := check(db, d); err != nil {
		return nil, fmt.Errorf("prune %s: %w", RecentFactCounts.Name, err)
	}
	cut, err := strconv.Atoi(RecentCutoff(now).Format("20060102"))
	if err != nil {
		return nil, err
	}
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Minute)
	defer cancel()
	return dropDaysBefore(qctx, conn, db, d, RecentFactCounts, cut)
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
