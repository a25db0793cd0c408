// Command settlewatch administers a settlewatch database and answers
// analysts' questions about it.
//
//	settlewatch migrate                       apply schema migrations
//	settlewatch prune                         drop the days that fell out of recent_fact_counts_by_hash
//	settlewatch compact                       merge closed days of the facts and spans into one part each
//	settlewatch assemble -from T -to T        re-classify transactions with spans in a range
//	settlewatch sweep                         late facts rebuilt, pending sales past the window → unsettled
//	settlewatch summary [-since 24h]          transactions by outcome and by cause
//	settlewatch backfill -job J -from T -to T run an analytics job over a past range (progress bar)
//	settlewatch jobs                          recent analytics job runs
//
// Analyst commands (every one takes -format table|csv|json):
//
//	settlewatch causes [-by DIM] [-filter DIM=V] [-cause C] [-from T -to T | -since 7d]
//	settlewatch trend [-interval 5m|1h|1d] [-baseline-weeks 4] [filters, range]
//	settlewatch outcomes [-by DIM] [filters, range]
//	settlewatch series [-interval 1h] [-by DIM] [filters, range]
//	settlewatch unsettled [-aging] [-as-of T] [filters]
//	settlewatch incidents [-open] [-cause C] [-dimension D] [-value V] [range]
//	settlewatch txn ID
//	settlewatch timeouts [-gateway G] [-candidates 10,15,30] [-target 0.001] [range]
//
// Connection flags (-ch-addr, -ch-database, …) default to the SETTLEWATCH_CH_*
// environment variables, as in the collector's config. Exit status: 0 ok,
// 1 failure, 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// errUsage marks errors in what the user typed (exit status 2).
var errUsage = errors.New("usage")

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = []command{
	{"migrate", "apply schema migrations and print the schema version", runMigrate},
	{"prune", "drop the days that fell out of recent_fact_counts_by_hash (the collector does it when it may run DDL)", runPrune},
	{"compact", "merge closed days of the facts and spans into one part each, for faster lookups (the collector does it when it may run DDL)", runCompact},
	{"assemble", "re-classify every transaction with a span in [-from, -to)", runAssemble},
	{"sweep", "turn pending sales past the settlement window into unsettled", runSweep},
	{"summary", "print transactions by outcome and failures by cause", runSummary},
	{"causes", "failures by cause for a range, optionally -by a dimension", runCauses},
	{"trend", "failure rate per interval and cause, with change vs the same slot of previous weeks", runTrend},
	{"series", "transactions, failure rate and latency quantiles per interval (optionally -by a dimension)", runSeries},
	{"outcomes", "transactions and money by outcome", runOutcomes},
	{"unsettled", "unsettled sales (list, oldest first) and their aging", runUnsettled},
	{"incidents", "anomaly incidents (open and closed)", runIncidents},
	{"txn", "the whole story of one transaction: its spans in order, outcome and cause", runTxn},
	{"timeouts", "per gateway: timeouts each candidate terminal timeout would have produced, and advice", runTimeouts},
	{"backfill", "run an analytics job (rollup, incidents, timeouts, all) over [-from, -to)", runBackfill},
	{"jobs", "list recent analytics job runs", runJobs},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		usage(stderr)
		return 2
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
			fmt.Fprintf(stderr, "settlewatch %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "settlewatch %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "settlewatch: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: settlewatch COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nrun 'settlewatch COMMAND -h' for a command's flags")
}

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// parseTime accepts RFC 3339, "YYYY-MM-DD HH:MM[:SS]" (UTC) or a date
// (YYYY-MM-DD, UTC).
func parseTime(flagName, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			if t.Year() < 1970 || t.Year() > 2105 {
				break
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageErr("-%s %q: want RFC 3339 (2026-11-24T10:00:00Z), 'YYYY-MM-DD HH:MM' or a date (2026-11-24), UTC", flagName, clipArg(v))
}
