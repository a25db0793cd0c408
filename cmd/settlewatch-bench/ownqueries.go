package main

import (
	"context"
	"fmt"
	"strconv"
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
// default, when ctx carries ownQueries; otherwise it returns ctx.
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

// cpu reads the server CPU (user and system, every thread) of the queries
// tagged so far from system.query_log, after flushing the server's logs.
func (o *ownQueries) cpu(ctx context.Context, conn driver.Conn) (ownCPU, error) {
	out := ownCPU{tagged: o.n.Load()}
	// 18.16 keeps a query's counters in the arrays ProfileEvents.Names and
	// ProfileEvents.Values; later servers in the map ProfileEvents.
	var arrays uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = 'system' AND table = 'query_log' AND name = 'ProfileEvents.Names'").Scan(&arrays); err != nil {
		return out, fmt.Errorf("read the form of system.query_log: %w", err)
	}
	event := func(name string) string { return "ProfileEvents['" + name + "']" }
	if arrays > 0 {
		event = func(name string) string {
			return "ProfileEvents.Values[indexOf(ProfileEvents.Names, '" + name + "')]"
		}
	}
	// type: 2 a query that finished, 4 one that failed while running (an
	// Enum8 of the same values on later servers). The server logs a query's
	// end after it has answered, so the last one can come after a flush:
	// flush and read again, for at most a few seconds.
	q := "SELECT count(), toUInt64(sum(" + event("UserTimeMicroseconds") + " + " + event("SystemTimeMicroseconds") +
		")) FROM system.query_log WHERE toUInt8(type) IN (2, 4) AND event_date >= yesterday() AND query_id LIKE ?"
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
