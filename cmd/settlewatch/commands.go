package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// connFlags registers the connection flags on fs and returns the settings
// they fill (defaults from the environment).
func connFlags(fs *flag.FlagSet) *chconn.Settings {
	s := chconn.FromEnv(os.Getenv)
	s.RegisterFlags(fs)
	return &s
}

func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageErr("%v", err)
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func open(ctx context.Context, s *chconn.Settings) (driver.Conn, error) {
	if err := s.Validate(); err != nil {
		return nil, usageErr("%v", err)
	}
	return chconn.Open(ctx, *s)
}

func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	s := connFlags(fs)
	cluster := fs.String("cluster", "", "create Replicated + Distributed tables ON CLUSTER this cluster")
	retention := fs.Int("retention-days", 0, "TTL in days on servers that support it (0: keep)")
	if err := parse(fs, args); err != nil {
		return err
	}
	conn, v, d, err := openForDDL(ctx, s, *cluster)
	if err != nil {
		return err
	}
	defer conn.Close()
	d.RetentionDays = *retention
	applied, err := chschema.Migrate(ctx, conn, s.Database, d, slog.Default())
	if err != nil {
		return err
	}
	ver, err := chschema.Status(ctx, conn, s.Database)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "server %s, database %s: schema version %d (%d migration(s) applied now)\n", v, s.Database, ver, len(applied))
	return nil
}

// runPrune drops the days that fell out of recent_fact_counts_by_hash: what a collector
// with create_schema does hourly, for deployments whose collector may not
// run DDL (run it from cron as the schema owner).
func runPrune(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	s := connFlags(fs)
	cluster := fs.String("cluster", "", "the cluster the schema was migrated ON")
	if err := parse(fs, args); err != nil {
		return err
	}
	conn, _, d, err := openForDDL(ctx, s, *cluster)
	if err != nil {
		return err
	}
	defer conn.Close()
	dropped, err := chschema.PruneRecentFactCounts(ctx, conn, s.Database, d, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s: dropped %d old day(s) of %s %v\n", s.Database, len(dropped), chschema.RecentFactCounts.Name, dropped)
	return nil
}

// runCompact merges closed days of the tables a lookup by transaction id
// reads into one part each: what a collector with create_schema does
// hourly, a few days at a time, for deployments whose collector may not run
// DDL (run it from cron as the schema owner; -days bounds the days a table
// has rewritten per run).
func runCompact(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("compact", flag.ContinueOnError)
	s := connFlags(fs)
	cluster := fs.String("cluster", "", "the cluster the schema was migrated ON")
	days := fs.Int("days", 2, "most closed days compacted per table, newest first")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *days < 1 {
		return usageErr("-days %d: want at least 1", *days)
	}
	conn, _, d, err := openForDDL(ctx, s, *cluster)
	if err != nil {
		return err
	}
	defer conn.Close()
	now := time.Now()
	for _, t := range chschema.CompactedTables {
		done, err := chschema.CompactClosedDays(ctx, conn, s.Database, d, t, now, *days)
		fmt.Fprintf(stdout, "database %s: compacted %d closed day(s) of %s %v\n", s.Database, len(done), t.Name, done)
		if err != nil {
			return err
		}
	}
	return nil
}

// openForDDL connects without a database (it may not exist yet) and gives
// the server's version and dialect.
func openForDDL(ctx context.Context, s *chconn.Settings, cluster string) (driver.Conn, chconn.Version, chschema.Dialect, error) {
	if err := errors.Join(s.Validate(), chschema.Dialect{Cluster: cluster}.Validate()); err != nil {
		return nil, chconn.Version{}, chschema.Dialect{}, usageErr("%v", err)
	}
	conn, err := chconn.OpenNoDatabase(ctx, *s)
	if err != nil {
		return nil, chconn.Version{}, chschema.Dialect{}, err
	}
	v, err := chconn.ServerVersion(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, chconn.Version{}, chschema.Dialect{}, err
	}
	return conn, v, chschema.DialectFor(v, cluster), nil
}

// assemblyFlags are shared by assemble and sweep.
func assemblyFlags(fs *flag.FlagSet) (*string, *time.Duration) {
	rules := fs.String("rules", os.Getenv("SETTLEWATCH_RULES_FILE"), "rules file extending the contract's cause table")
	window := fs.Duration("settlement-window", domain.DefaultSettlementWindow, "how long an approved sale may wait for settlement")
	return rules, window
}

func newAssembler(conn driver.Conn, s *chconn.Settings, rulesPath string, window time.Duration) (*assembly.Assembler, error) {
	if window <= 0 {
		return nil, usageErr("-settlement-window must be positive")
	}
	rules, err := domain.LoadRules(rulesPath)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return &assembly.Assembler{Conn: conn, DB: s.Database, Rules: rules, Window: window, QueryTimeout: s.QueryTimeout, Log: slog.Default()}, nil
}

func runAssemble(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("assemble", flag.ContinueOnError)
	s := connFlags(fs)
	rules, window := assemblyFlags(fs)
	fromS := fs.String("from", "", "start of the range (RFC 3339 or YYYY-MM-DD)")
	toS := fs.String("to", "", "end of the range, exclusive")
	if err := parse(fs, args); err != nil {
		return err
	}
	from, err := parseTime("from", *fromS)
	if err != nil {
		return err
	}
	to, err := parseTime("to", *toS)
	if err != nil {
		return err
	}
	if !from.Before(to) {
		return usageErr("-from must be before -to")
	}
	conn, err := open(ctx, s)
	if err != nil {
		return err
	}
	defer conn.Close()
	a, err := newAssembler(conn, s, *rules, *window)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := a.Reassemble(ctx, from, to, func(done, total int) {
		fmt.Fprintf(os.Stderr, "\rassembled %d/%d transactions", done, total)
	})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "re-classified %d transactions in %s\n", res.Transactions, time.Since(start).Round(time.Millisecond))
	return nil
}

func runSweep(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	s := connFlags(fs)
	rules, window := assemblyFlags(fs)
	lateSince := fs.Duration("late-since", 75*time.Minute,
		"first rebuild the transactions that got facts this recently and have facts that arrived before the recent days assembly reads at ingest (the daemon's sweep does it every run; 0: skip)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *lateSince < 0 {
		return usageErr("-late-since must not be negative")
	}
	conn, err := open(ctx, s)
	if err != nil {
		return err
	}
	defer conn.Close()
	a, err := newAssembler(conn, s, *rules, *window)
	if err != nil {
		return err
	}
	if *lateSince > 0 {
		late, err := a.Reconcile(ctx, time.Now().Add(-*lateSince))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rebuilt %d transactions with facts older than the recent days\n", late.Transactions)
	}
	res, err := a.Sweep(ctx, time.Time{})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "swept %d pending transactions past the window: %d now unsettled\n", res.Transactions, res.ByOutcome[domain.OutcomeUnsettled])
	return nil
}

func runSummary(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	s := connFlags(fs)
	since := fs.Duration("since", 30*24*time.Hour, "how far back from now")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *since <= 0 {
		return usageErr("-since must be positive")
	}
	conn, err := open(ctx, s)
	if err != nil {
		return err
	}
	defer conn.Close()
	q := &query.Querier{Conn: conn, DB: s.Database, Timeout: s.QueryTimeout}
	now := time.Now()
	r := query.Range{From: now.Add(-*since), To: now.Add(time.Hour)}
	outcomes, err := q.Outcomes(ctx, r)
	if err != nil {
		return err
	}
	causes, err := q.Causes(ctx, r)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(stdout, "Transactions by outcome (last %s)\n", *since)
	fmt.Fprintln(w, "outcome\ttransactions\tamount (minor units)\tcurrency\t")
	var total uint64
	for _, o := range outcomes {
		total += o.Transactions
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t\n", o.Outcome, o.Transactions, o.AmountMinor, o.Currency)
	}
	fmt.Fprintf(w, "total\t%d\t\t\t\n", total)
	w.Flush()
	fmt.Fprintln(stdout, "\nFailures by cause")
	fmt.Fprintln(w, "cause\tclass\ttransactions\tamount (minor units)\tcurrency\tshare\t")
	for _, c := range causes {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%.1f%%\t\n", c.Cause, c.Class, c.Transactions, c.AmountMinor, c.Currency, 100*c.Share)
	}
	return w.Flush()
}
