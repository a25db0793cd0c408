package chschema

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
)

// ColumnExists reports whether db.table has a column named column.
func ColumnExists(ctx context.Context, conn driver.Conn, db, table, column string) (bool, error) {
	qctx, cancel := chconn.WithQuerySettings(ctx, 30*time.Second)
	defer cancel()
	var n uint64
	err := conn.QueryRow(qctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		db, table, column).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up column %s.%s.%s: %w", db, table, column, err)
	}
	return n > 0, nil
}

// AddColumnIfMissing adds c to table t of db (to both the local and the
// Distributed table in cluster mode) unless it is already there, placing it
// after column `after` ("" for last). 18.16 has no ADD COLUMN IF NOT EXISTS, so
// this is how a migration adds a column idempotently; it reports whether it
// added anything. c must not be Nested.
func AddColumnIfMissing(ctx context.Context, conn driver.Conn, db string, d Dialect, t Table, c Column, after string) (added bool, err error) {
	if err := check(db, d); err != nil {
		return false, fmt.Errorf("add column: %w", err)
	}
	for _, name := range []string{t.Name, after} {
		if name != "" && !chconn.ValidIdent(name) {
			return false, fmt.Errorf("add column: identifier %q is not valid", name)
		}
	}
	if !chconn.ValidIdent(c.Name) || c.Fields != nil || c.Type == "" {
		return false, fmt.Errorf("add column %q: want a plain (not Nested) column with a valid name and a type", c.Name)
	}
	targets := []string{t.LocalName(d)}
	if targets[0] != t.Name {
		targets = append(targets, t.Name)
	}
	decl := c.ddl(d)[0]
	if after != "" {
		decl += " AFTER " + after
	}
	for _, target := range targets {
		exists, err := ColumnExists(ctx, conn, db, target, c.Name)
		if err != nil {
			return added, err
		}
		if exists {
			continue
		}
		if target != t.LocalName(d) {
			// The Distributed table of a cluster: 18.16 refuses ALTER … ON
			// CLUSTER on a table that is not replicated when the cluster's
			// shards are ("isn't replicated, but shard #1 is"). It holds no
			// data, so it is re-created, AS the local table that has the
			// column now; inserts meanwhile fail and are retried.
			for _, stmt := range []string{
				fmt.Sprintf("DROP TABLE IF EXISTS %s.%s%s", db, target, d.onCluster()),
				t.createSQL(db, d)[1],
			} {
				if err := execDDL(ctx, conn, stmt, slog.New(slog.DiscardHandler)); err != nil {
					return added, fmt.Errorf("add column %s to %s.%s: %w", c.Name, db, target, err)
				}
			}
			added = true
			continue
		}
		stmt := fmt.Sprintf("ALTER TABLE %s.%s%s ADD COLUMN %s", db, target, d.onCluster(), decl)
		qctx, cancel := chconn.WithQuerySettings(ctx, ddlTimeout)
		err = conn.Exec(qctx, stmt)
		cancel()
		if err != nil {
			// A twin migrator may have added it between the check and the ALTER.
			if ok, cerr := ColumnExists(ctx, conn, db, target, c.Name); cerr == nil && ok {
				continue
			}
			return added, fmt.Errorf("add column %s to %s.%s: %w", c.Name, db, target, err)
		}
		added = true
	}
	return added, nil
}
