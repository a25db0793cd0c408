package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/scheduler"
	"github.com/settlewatch/settlewatch/chconn"
)

// backfillOrder is the order "all" runs the jobs in: incidents read rollups.
var backfillOrder = []string{"rollup", "incidents", "timeouts"}

func runBackfill(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	s := connFlags(fs)
	jobName := fs.String("job", "rollup", "rollup, incidents, timeouts or all (in that order)")
	fromS := fs.String("from", "", "start of the range (RFC 3339, 'YYYY-MM-DD HH:MM' or a date, UTC)")
	toS := fs.String("to", "", "end of the range, exclusive")
	configPath := fs.String("config", os.Getenv("SETTLEWATCH_ANALYTICS_CONFIG"), "the daemon's config file, for job settings (defaults when empty)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	parallel := fs.Int("parallel", 2, "rollup windows (days) run at once, each on its own ClickHouse session holding its day in memory; 1 leaves the server more room")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *parallel < 1 || *parallel > 8 {
		return usageErr("-parallel %d: want 1 to 8", *parallel)
	}
	if *fromS == "" || *toS == "" {
		return usageErr("backfill needs -from and -to")
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
		return usageErr("-from %s is not before -to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if to.Sub(from) > 400*24*time.Hour {
		return usageErr("backfill range longer than 400 days; split it")
	}
	names := []string{*jobName}
	if *jobName == "all" {
		names = backfillOrder
	}
	cfg, err := scheduler.LoadConfig(*configPath)
	if err != nil {
		return usageErr("%v", err)
	}
	entries, err := cfg.Build()
	if err != nil {
		return usageErr("%v", err)
	}
	byName := map[string]jobs.Job{}
	for _, e := range entries {
		byName[e.Job.Name()] = e.Job
	}
	for _, n := range names {
		j, ok := byName[n]
		if !ok || j.Split(from, to) == nil {
			return usageErr("-job %q: want rollup, incidents, timeouts or all (the sweep works on the current state only: run settlewatch sweep)", n)
		}
	}
	if err := s.Validate(); err != nil {
		return usageErr("%v", err)
	}
	conn, err := chconn.Open(ctx, *s)
	if err != nil {
		return err
	}
	defer conn.Close()
	runner := &jobs.Runner{Env: jobs.Env{Conn: conn, Session: chconn.Sessions(*s), DB: s.Database, QueryTimeout: max(s.QueryTimeout, 5*time.Minute), Log: slog.Default()}, Parallel: *parallel}
	for _, n := range names {
		start := time.Now()
		bar := newProgress(os.Stderr, n, *quiet)
		rows, err := runner.Backfill(ctx, byName[n], from.UTC(), to.UTC(), bar.update)
		bar.finish()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: backfilled %s to %s, %d rows written in %s\n", n, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339),
			rows, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// progress draws a bar on a terminal line: [#####.....] 12/30 windows, ETA.
type progress struct {
	w     io.Writer
	job   string
	quiet bool
	start time.Time
	rows  int
	drawn bool
}

func newProgress(w io.Writer, job string, quiet bool) *progress {
	return &progress{w: w, job: job, quiet: quiet, start: time.Now()}
}

func (p *progress) update(done, total int, w jobs.Window, rows int) {
	p.rows += rows
	if p.quiet || total == 0 {
		return
	}
	const width = 30
	filled := width * done / total
	elapsed := time.Since(p.start)
	eta := time.Duration(0)
	if done > 0 {
		eta = elapsed * time.Duration(total-done) / time.Duration(done)
	}
	fmt.Fprintf(p.w, "\r%-9s [%s%s] %d/%d windows, %d rows, last ended %s, ETA %s   ", p.job,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, p.rows,
		w.To.UTC().Format("2006-01-02 15:04"), eta.Round(time.Second))
	p.drawn = true
}

func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func runJobs(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	s := connFlags(fs)
	job := fs.String("job", "", "only this job")
	limit := fs.Int("limit", 50, "at most this many windows, newest first")
	format := fs.String("format", formatTable, "table, csv or json")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	if *job != "" && !chconn.ValidIdent(*job) {
		return usageErr("-job %q: want a job name such as rollup", clipArg(*job))
	}
	if *limit < 1 || *limit > 100000 {
		return usageErr("-limit %d: want 1 to 100000", *limit)
	}
	conn, err := open(ctx, s)
	if err != nil {
		return err
	}
	defer conn.Close()
	runs, err := jobs.Runs(ctx, &jobs.Env{Conn: conn, DB: s.Database, QueryTimeout: s.QueryTimeout}, *job, *limit)
	if err != nil {
		return err
	}
	var recs []record
	for _, r := range runs {
		recs = append(recs, record{{"job", r.Job}, {"status", r.Status}, {"trigger", r.Trigger}, {"window_from", r.Window.From},
			{"window_to", r.Window.To}, {"rows", r.Rows}, {"started", r.Started}, {"finished", unixZero(r.Finished)},
			{"host", r.Host}, {"run_id", r.RunID}, {"error", r.Error}})
	}
	return writeRecords(stdout, *format, []string{"job", "status", "trigger", "window_from", "window_to", "rows", "started", "finished", "host", "run_id", "error"}, recs)
}

func unixZero(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t
}
