package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ownQueries tags the queries the bench itself sends to the server while a
// run is measured (its polls, its exact counts, the comparison with the
// simulator's truth) with query ids of one prefix. The server's process CPU
// counts them with the pipeline's work: the exact count of a run's spans
// alone took 2.2 s of the server's 32.6 s in a 4M-span run. Their CPU is
// read back from system.query_log and taken out of the server's figure.
type ownQueries struct {
	prefix string
	n      atomic.Uint64
}

func newOwnQueries() *ownQueries {
	return &ownQueries{prefix: "settlewatch-bench-" + strconv.FormatInt(time.Now().UnixNano(), 10) + "-"}
}

type ownQueriesKey struct{}

// withOwnQueries makes the queries run under ctx through tagged count as o's.
func withOwnQueries(ctx context.Context, o *ownQueries) context.Context {
	return context.WithValue(ctx, ownQueriesKey{}, o)
}

// ownFrom is the ownQueries ctx carries, or nil.
func ownFrom(ctx context.Context) *ownQueries {
	o, _ := ctx.Value(ownQueriesKey{}).(*ownQueries)
	return o
}

// tagged gives one query its own id, and logs it whatever the server's
// default, when ctx carries ownQueries; otherwise it returns ctx. The
// settings given replace any that ctx carries: the bench's carry none.
func tagged(ctx context.Context) context.Context {
	o := ownFrom(ctx)
	if o == nil {
		return ctx
	}
	id := o.prefix + strconv.FormatUint(o.n.Add(1), 10)
	return clickhouse.Context(ctx, clickhouse.WithQueryID(id), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
}

// ownCPU is what the server logged of o's queries.
type ownCPU struct {
	seconds        float64
	logged, tagged uint64
}

// cpu reads the server CPU of the queries tagged so far from
// system.query_log (cpu: queryCPU's expression), after flushing the
// server's logs.
func (o *ownQueries) cpu(ctx context.Context, conn driver.Conn, cpu string) (ownCPU, error) {
	out := ownCPU{tagged: o.n.Load()}
	// type: 2 a query that finished, 4 one that failed while running (an
	// Enum8 of the same values on later servers). The server logs a query's
	// end after it has answered, so the last one can come after a flush:
	// flush and read again, for at most a few seconds.
	q := "SELECT count(), toUInt64(sum(" + cpu + ")) FROM system.query_log WHERE toUInt8(type) IN (2, 4) AND event_date >= yesterday() AND query_id LIKE ?"
	for try := 0; ; try++ {
		if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
			return out, fmt.Errorf("flush the server's logs: %w", err)
		}
		var micros uint64
		if err := conn.QueryRow(ctx, q, o.prefix+"%").Scan(&out.logged, &micros); err != nil {
			return out, fmt.Errorf("read the bench's own queries from system.query_log: %w", err)
		}
		out.seconds = float64(micros) / 1e6
		if out.logged >= out.tagged || try == 30 {
			return out, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// queryCPU is the SQL of a system.query_log row's CPU in microseconds (user
// and system, every thread of the query). 18.16 keeps a query's counters in
// the arrays ProfileEvents.Names and ProfileEvents.Values; later servers in
// the map ProfileEvents.
func queryCPU(ctx context.Context, conn driver.Conn) (string, error) {
	var arrays uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = 'system' AND table = 'query_log' AND name = 'ProfileEvents.Names'").Scan(&arrays); err != nil {
		return "", fmt.Errorf("read the form of system.query_log: %w", err)
	}
	if arrays > 0 {
		return "ProfileEvents.Values[indexOf(ProfileEvents.Names, 'UserTimeMicroseconds')] + ProfileEvents.Values[indexOf(ProfileEvents.Names, 'SystemTimeMicroseconds')]", nil
	}
	return "ProfileEvents['UserTimeMicroseconds'] + ProfileEvents['SystemTimeMicroseconds']", nil
}

// pipelineQueries splits the server's CPU of a run (serverCPU seconds, the
// bench's own queries already taken out) into the pipeline's queries on db
// since start, from system.query_log (cpu: queryCPU's expression; own.cpu
// has just flushed the log): its
// INSERTs by table, each with the views it feeds, and its SELECTs
// (assembly reading facts back); the rest is the server's background
// merges and its own work, which no query logs. The collector's migrations
// can fall in the run's first second (event_time has seconds): their
// DDL and schema_migrations rows are left out.
func pipelineQueries(ctx context.Context, conn driver.Conn, cpu string, own *ownQueries, db string, start time.Time, serverCPU float64) string {
	const label = "  of which the collector's: "
	rows, err := conn.Query(ctx, "SELECT if(query LIKE 'INSERT INTO%', extract(query, 'INSERT INTO [^ .]*[.]`?([A-Za-z0-9_]+)'), '') AS t, count(), toUInt64(sum("+cpu+")) AS s"+
		" FROM system.query_log WHERE toUInt8(type) IN (2, 4) AND event_date >= yesterday() AND event_time >= toDateTime(?)"+
		" AND (query LIKE 'INSERT INTO%' OR query LIKE 'SELECT%') AND query NOT LIKE 'INSERT INTO%schema_migrations%'"+
		" AND query LIKE ? AND query_id NOT LIKE ? GROUP BY t ORDER BY t = '', s DESC",
		start.Unix(), "%`"+db+"`.%", own.prefix+"%")
	if err != nil {
		return label + "not read (" + err.Error() + ")\n"
	}
	defer rows.Close()
	var inserts []string
	var total, reads float64
	var nReads uint64
	for rows.Next() {
		var table string
		var n, micros uint64
		if err := rows.Scan(&table, &n, &micros); err != nil {
			return label + "not read (" + err.Error() + ")\n"
		}
		sec := float64(micros) / 1e6
		total += sec
		if table == "" {
			reads, nReads = sec, n
			continue
		}
		if sec >= 0.01 { // not a migration's copy of a few rows
			inserts = append(inserts, fmt.Sprintf("%s %.2f s", table, sec))
		}
	}
	if err := rows.Err(); err != nil {
		return label + "not read (" + err.Error() + ")\n"
	}
	return fmt.Sprintf("%s%.2f s: INSERTs (each with its views) %s; %d reads %.2f s\n  the rest, merges and the server's own: %.2f s\n",
		label, total, strings.Join(inserts, ", "), nReads, reads, serverCPU-total)
}

// serverShare is the report's lines of the server's CPU over a run of total
// spans into db since start: its whole, less the bench's own queries (those
// tagged under ctx), and split by the pipeline's queries; or the whole and
// why it could not be split.
func serverShare(ctx context.Context, conn driver.Conn, server meter, db string, start time.Time, total int) string {
	const label, what = "ClickHouse CPU:             ", "its inserts, views and merges"
	used, err := server.used()
	if err != nil {
		return fmt.Sprintf("%snot measured (%v)\n", label, err)
	}
	line := func(note string) string {
		return fmt.Sprintf("%s%.2f s → %.2f µs/span (pid %d, %s%s)\n", label, used, used/float64(total)*1e6, server.pid, what, note)
	}
	own := ownFrom(ctx)
	if own == nil {
		return line("")
	}
	cpu, err := queryCPU(ctx, conn)
	if err != nil {
		return line("; the bench's own queries not taken out: " + err.Error())
	}
	c, err := own.cpu(ctx, conn, cpu)
	switch {
	case err != nil:
		return line("; the bench's own queries not taken out: " + err.Error())
	case c.logged < c.tagged:
		return line(fmt.Sprintf("; the bench's own queries not taken out: %d of %d in system.query_log", c.logged, c.tagged))
	}
	gross := used
	used -= c.seconds
	return line(fmt.Sprintf("; the bench's own %d queries, %.2f s, taken out of %.2f s", c.tagged, c.seconds, gross)) +
		pipelineQueries(ctx, conn, cpu, own, db, start, used)
}
