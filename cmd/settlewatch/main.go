// Command settlewatch administers a settlewatch database and answers the
// first questions about it.
//
//	settlewatch migrate                       apply schema migrations
//	settlewatch assemble -from T -to T        re-classify transactions with spans in a range
//	settlewatch sweep                         pending sales past the settlement window → unsettled
//	settlewatch summary [-since 24h]          transactions by outcome and by cause
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
	{"assemble", "re-classify every transaction with a span in [-from, -to)", runAssemble},
	{"sweep", "turn pending sales past the settlement window into unsettled", runSweep},
	{"summary", "print transactions by outcome and failures by cause", runSummary},
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

// parseTime accepts RFC 3339 or a date (YYYY-MM-DD, UTC).
func parseTime(flagName, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Time{}, usageErr("-%s %q: want RFC 3339 (2026-11-24T10:00:00Z) or a date (2026-11-24)", flagName, v)
}
