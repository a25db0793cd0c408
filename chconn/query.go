package chconn

import (
	"context"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Setting is one ClickHouse query setting passed through the context. Only
// integer and boolean values can be encoded for 18.16 servers, so the only
// constructors are IntSetting and BoolSetting; string settings belong in the
// SQL SETTINGS clause.
type Setting struct {
	name  string
	value any
}

// IntSetting is an integer query setting such as max_threads.
func IntSetting(name string, v int) Setting { return Setting{name, v} }

// BoolSetting is a boolean query setting.
func BoolSetting(name string, v bool) Setting { return Setting{name, v} }

// WithQuerySettings returns ctx with a deadline timeout from now (or the
// parent's, if earlier) and the ClickHouse setting max_execution_time for the
// same time, so the server stops the query when the client gives up on it
// (a deadline alone leaves it running). timeout is rounded up to whole seconds,
// at least 1. The settings replace any ClickHouse settings already in ctx.
//
// When more than a second remains, clickhouse-go itself raises
// max_execution_time to the remaining time + 5 s; the value set here still
// covers the short deadlines it leaves alone.
func WithQuerySettings(ctx context.Context, timeout time.Duration, extra ...Setting) (context.Context, context.CancelFunc) {
	if timeout < time.Second {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	remaining := timeout
	if d, ok := ctx.Deadline(); ok {
		remaining = time.Until(d)
	}
	secs := max(1, int(math.Ceil(remaining.Seconds())))
	settings := clickhouse.Settings{"max_execution_time": secs}
	for _, s := range extra {
		settings[s.name] = s.value
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(settings)), cancel
}
