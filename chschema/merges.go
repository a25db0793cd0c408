package chschema

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Merges picks the server's running merges to wait for: every field left
// empty matches all.
type Merges struct {
	Database, Table, Partition string
}

// WaitMerges polls system.merges until no merge that m picks has run for
// quiet (0: until none runs), and returns how long it waited; after limit it
// gives up with an error. The server decides by itself which parts to
// merge; nothing is forced.
func WaitMerges(ctx context.Context, conn driver.Conn, m Merges, quiet, limit time.Duration) (time.Duration, error) {
	query, args := "SELECT count() FROM system.merges", []any{}
	var conds []string
	for col, v := range map[string]string{"database": m.Database, "table": m.Table, "partition_id": m.Partition} {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	start := time.Now()
	var idleSince time.Time
	for {
		var n uint64
		if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			return time.Since(start), fmt.Errorf("list running merges: %w", err)
		}
		now := time.Now()
		switch {
		case n > 0:
			idleSince = time.Time{}
		case idleSince.IsZero():
			idleSince = now
		}
		if !idleSince.IsZero() && now.Sub(idleSince) >= quiet {
			return now.Sub(start), nil
		}
		if now.Sub(start) > limit {
			return now.Sub(start), fmt.Errorf("merges still running after %s", limit)
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
