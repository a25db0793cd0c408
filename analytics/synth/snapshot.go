package synth

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RollupSnapshot reads every non-empty rollup row's values (not its version)
// keyed by what identifies it, so tests can compare two runs for equality.
func RollupSnapshot(ctx context.Context, conn driver.Conn, db string) (map[string]string, error) {
	rows, err := conn.Query(ctx, "SELECT granularity, dimension, bucket, value, toString(outcome), toString(cause), currency,"+
		" transactions, amount_minor, latency_sum_ms, latency_hist FROM `"+db+"`.rollups FINAL WHERE transactions > 0")
	if err != nil {
		return nil, fmt.Errorf("rollup snapshot: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var g uint32
		var dim, val, o, c, cur string
		var b time.Time
		var n, lat uint64
		var amt int64
		var h []uint64
		if err := rows.Scan(&g, &dim, &b, &val, &o, &c, &cur, &n, &amt, &lat, &h); err != nil {
			return nil, fmt.Errorf("rollup snapshot: %w", err)
		}
		out[fmt.Sprint(g, dim, b.Unix(), val, o, c, cur)] = fmt.Sprint(n, amt, lat, h)
	}
	return out, rows.Err()
}
