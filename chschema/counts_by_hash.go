package chschema

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
)

// Migrations 11 and 12 count the recent facts by a hash of the transaction
// id (RecentFactCounts) instead of the id itself (recentFactCountsV6).
//
// 11 creates the new table and its view from PaymentFacts, then (v11Fill,
// once) copies the old table's counts into it. Facts stored between the
// view's creation and the copy are counted twice: a count above what a
// writer stored only sends its transaction to be read whole at ingest
// (assembly/known.go), never to a wrong row. A fact missing from the counts
// would: so the copy is part of the migration, which records version 11
// only once it is done. 12 drops the old view, then the old table. A
// collector from before these versions then finds its counts missing and
// lists the facts themselves until it is upgraded, at a higher cost but
// with the same transactions.

func v11(db string, d Dialect) []string {
	return append(RecentFactCounts.createSQL(db, d),
		recentCountsViewSQL(db, d, RecentFactCountsView, RecentFactCounts, recentCountsSelect(db+"."+PaymentFacts.LocalName(d))))
}

// v11Fill copies recentFactCountsV6's counts into RecentFactCounts, when
// the old table exists (another migrator may have dropped it after its own
// copy: migration 12). In a cluster the copy goes through the Distributed
// tables, synchronously, so that it is stored before 12 drops the old
// table; both tables shard by the same hash of the id.
func v11Fill(ctx context.Context, conn driver.Conn, db string, d Dialect) error {
	exists, err := tableExists(ctx, conn, db, recentFactCountsV6.LocalName(d))
	if err != nil || !exists {
		return err
	}
	qctx, cancel := chconn.WithQuerySettings(ctx, time.Hour, chconn.BoolSetting("insert_distributed_sync", true))
	defer cancel()
	err = conn.Exec(qctx, RecentFactCounts.InsertSQL(db)+
		" SELECT cityHash64(txn_id), ingested_ns, facts FROM "+db+"."+recentFactCountsV6.Name)
	if chconn.IsCode(err, chconn.CodeUnknownTable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy %s into %s: %w", recentFactCountsV6.Name, RecentFactCounts.Name, err)
	}
	return nil
}

func v12(db string, d Dialect) []string {
	return append([]string{dropView(db, d, recentCountsViewV9)}, dropSQL(db, d, recentFactCountsV6)...)
}
