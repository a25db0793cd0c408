package chschema

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migrations 11 and 12 count the recent facts by a hash of the transaction
// id (RecentFactCounts) instead of the id itself (recentFactCountsV6).
//
// 11 creates the new table and its view from PaymentFacts, then (v11Fill, a
// Run step) copies the old table's counts into it. Facts stored between the
// view's creation and the copy are counted twice: a count above what a
// writer stored only sends its transaction to be read whole at ingest
// (assembly/known.go), never to a wrong row. A fact missing from the counts
// would: so the copy is part of the migration, which records version 11
// only once it is done, and of Repair, which runs 12's drops too. 12 drops
// the old view, then the old table. A
// collector from before these versions then finds its counts missing and
// lists the facts themselves until it is upgraded, at a higher cost but
// with the same transactions.

func v11(db string, d Dialect) []string {
	return append(RecentFactCounts.createSQL(db, d),
		viewSQL(db, d, RecentFactCountsView, RecentFactCounts, recentCountsSelect(db+"."+PaymentFacts.LocalName(d))))
}

// v11Fill copies recentFactCountsV6's counts into RecentFactCounts, when
// the old table exists (another migrator may have dropped it after its own
// copy: migration 12), through copyRetiring; both tables shard by the same
// hash of the id.
func v11Fill(ctx context.Context, conn driver.Conn, db string, d Dialect) error {
	exists, err := tableExists(ctx, conn, db, recentFactCountsV6.LocalName(d))
	if err != nil || !exists {
		return err
	}
	_, err = copyRetiring(ctx, conn, recentFactCountsV6, RecentFactCounts, time.Hour, RecentFactCounts.InsertSQL(db)+
		" SELECT cityHash64(txn_id), ingested_ns, facts FROM "+db+"."+recentFactCountsV6.Name)
	return err
}

func v12(db string, d Dialect) []string {
	return append([]string{dropView(db, d, recentCountsViewV9)}, dropSQL(db, d, recentFactCountsV6)...)
}
