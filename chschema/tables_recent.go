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
	rows, err := conn.Query(qctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active",
		db, RecentFacts.LocalName(d))
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", RecentFacts.Name, err)
	}
	var old []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list partitions of %s: %w", RecentFacts.Name, err)
		}
		// Partition ids come from the server; only plain day numbers are
		// put into the statement.
		if n, err := strconv.Atoi(p); err == nil && n < cut {
			old = append(old, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", RecentFacts.Name, err)
	}
	for _, p := range old {
		if err := conn.Exec(qctx, fmt.Sprintf("ALTER TABLE %s.%s%s DROP PARTITION %s", quote(db), quote(RecentFacts.LocalName(d)), d.onCluster(), p)); err != nil {
			return nil, fmt.Errorf("drop day %s of %s: %w", p, RecentFacts.Name, err)
		}
	}
	return old, nil
}
