package chschema

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
)

// Migrations 9 and 10 store every fact once, in PaymentFacts, where
// paymentFactsV1 and recentFactsV5 held each twice.
//
// 9 creates PaymentFacts and the view counting its recent rows; then
// (v9Copy) a view copying what is still written into paymentFactsV1 (by a
// collector from before this version) into it, and copies paymentFactsV1's
// rows into it. Rows copied twice, or both copied and carried by the view, have
// the same key and version: ReplacingMergeTree keeps one, and assembly drops
// a span's duplicates (domain.SortFacts). 10 drops the old tables and their
// views, the old facts table first, so that no insert into it is stored
// without reaching PaymentFacts.
//
// Repair runs both again: an older collector allowed to create the schema
// may have made paymentFactsV1 again and written into it, and v9Copy moves
// what it wrote before 10 drops it.

// factsCopyView carries inserts into paymentFactsV1 into PaymentFacts
// between migrations 9 and 10.
const factsCopyView = "payment_facts_by_arrival_mv"

func v9(db string, d Dialect) []string {
	return append(PaymentFacts.createSQL(db, d),
		viewSQL(db, d, recentCountsViewV9, recentFactCountsV6, recentCountsSelectV6(db+"."+PaymentFacts.LocalName(d))))
}

// v9Copy, when paymentFactsV1 exists, creates factsCopyView, copies the
// table's rows into PaymentFacts, and drops the days of counts the copy made
// that are not recent. The view is made here, not among v9's statements,
// because 18.16 refuses a view of a missing table, and another migrator may
// have dropped it already (migration 10): then its facts are in PaymentFacts
// and there is nothing to do. Facts of the recent days are counted again by
// the counts view: a count above what a writer stored only sends its
// transaction to be read whole at ingest (assembly/known.go), never to a
// wrong row. In a cluster the copy goes through the Distributed tables,
// synchronously, so that it is stored before 10 drops the old table.
func v9Copy(ctx context.Context, conn driver.Conn, db string, d Dialect) error {
	exists, err := tableExists(ctx, conn, db, paymentFactsV1.LocalName(d))
	if err != nil || !exists {
		return err
	}
	err = execDDL(ctx, conn, copyViewSQL(db, d, factsCopyView, paymentFactsV1, PaymentFacts), slog.New(slog.DiscardHandler))
	if chconn.IsCode(err, chconn.CodeUnknownTable) {
		return nil // dropped meanwhile, as copyRetiring reports
	}
	if err != nil {
		return fmt.Errorf("copy %s into %s: %w", paymentFactsV1.Name, PaymentFacts.Name, err)
	}
	copied, err := copyRetiring(ctx, conn, paymentFactsV1, PaymentFacts, 6*time.Hour, copyRowsSQL(db, paymentFactsV1, PaymentFacts))
	if err != nil || !copied {
		return err
	}
	if _, err := pruneRecentDays(ctx, conn, db, d, recentFactCountsV6, time.Now()); err != nil {
		return fmt.Errorf("after copying %s: %w", paymentFactsV1.Name, err)
	}
	return nil
}

// copyRetiring runs insert, which copies from's rows into to, in a cluster
// through the Distributed tables and synchronously, so that the rows are
// stored before a later migration drops from. It reports false when from is
// gone, before the copy or during it: another migrator copied it and
// dropped it (migrations 10 and 12), so its rows are in to already.
// (TestMigrateConcurrently once saw the drop land in the middle of the copy.)
func copyRetiring(ctx context.Context, conn driver.Conn, from, to Table, timeout time.Duration, insert string) (bool, error) {
	qctx, cancel := chconn.WithQuerySettings(ctx, timeout, chconn.BoolSetting("insert_distributed_sync", true))
	defer cancel()
	err := conn.Exec(qctx, insert)
	if chconn.IsCode(err, chconn.CodeUnknownTable) || chconn.IsCode(err, chconn.CodeTableIsDropped) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("copy %s into %s: %w", from.Name, to.Name, err)
	}
	return true, nil
}

func v10(db string, d Dialect) []string {
	out := dropSQL(db, d, paymentFactsV1)
	out = append(out, dropView(db, d, factsCopyView), dropView(db, d, recentFactsViewV5))
	out = append(out, dropSQL(db, d, recentFactsV5)...)
	return append(out, dropView(db, d, recentCountsViewV6))
}

func dropView(db string, d Dialect, view string) string {
	return fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, view, d.onCluster())
}
