package chschema

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// dayPartitioned reports whether t's partitions are days (YYYYMMDD).
func dayPartitioned(t Table) bool { return strings.HasPrefix(t.PartitionBy, "toYYYYMMDD(") }

// dayNumber is the UTC day of at as a partition number (YYYYMMDD).
func dayNumber(at time.Time) int {
	y, m, d := at.UTC().Date()
	return y*10000 + int(m)*100 + d
}

// dayPartitions returns t's day partitions before cut (YYYYMMDD) that hold
// at least minParts active parts, oldest first.
func dayPartitions(ctx context.Context, conn driver.Conn, db string, d Dialect, t Table, cut, minParts int) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT partition, count() FROM system.parts WHERE database = ? AND table = ? AND active GROUP BY partition",
		db, t.LocalName(d))
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", t.Name, err)
	}
	defer rows.Close()
	var days []string
	for rows.Next() {
		var p string
		var parts uint64
		if err := rows.Scan(&p, &parts); err != nil {
			return nil, fmt.Errorf("list partitions of %s: %w", t.Name, err)
		}
		// Partition ids come from the server; only plain day numbers are
		// put into a statement.
		if n, err := strconv.Atoi(p); err == nil && n < cut && parts >= uint64(minParts) {
			days = append(days, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", t.Name, err)
	}
	slices.Sort(days)
	return days, nil
}
