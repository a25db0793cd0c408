// Command settlewatch-analytics is the analytics daemon: it runs the rollup,
// settlement sweep, incidents and timeout-advice jobs on cron schedules from
// a config file (defaults when none; see analytics/config.example.yaml),
// records every run in job_runs, logs one structured line per window, serves
// its own metrics on /metrics (and /healthz), and on SIGINT/SIGTERM stops
// scheduling and waits for running jobs before it exits.
//
//	settlewatch-analytics [-config analytics.yaml] [-metrics-addr 127.0.0.1:9464] [-run-now] [-ch-addr …]
//
// Connection flags default to the SETTLEWATCH_CH_* environment variables, as
// in the collector's config. Several daemons may run against one ClickHouse:
// every job's writes are idempotent (see analytics/scheduler).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/scheduler"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, hooks{}))
}

// hooks let tests stop the daemon at a chosen point.
type hooks struct {
	// beforeHourRows is called by the rollup job between its 5-minute and hour writes.
	beforeHourRows func()
	// started is told the metrics address once serving.
	started func(metricsAddr string)
}

func run(ctx context.Context, args []string, stderr io.Writer, h hooks) int {
	fs := flag.NewFlagSet("settlewatch-analytics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := chconn.FromEnv(os.Getenv)
	s.RegisterFlags(fs)
	configPath := fs.String("config", os.Getenv("SETTLEWATCH_ANALYTICS_CONFIG"), "job schedule and settings (YAML); defaults when empty")
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:9464", "serve /metrics and /healthz here (empty: off)")
	runNow := fs.Bool("run-now", false, "run every enabled job once at start, then follow the schedule")
	migrate := fs.Bool("migrate", false, "apply schema migrations before starting")
	logFormat := fs.String("log-format", "json", "json or text")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "settlewatch-analytics: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "settlewatch-analytics: -log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	var handler slog.Handler
	switch *logFormat {
	case "json":
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	case "text":
		handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	default:
		fmt.Fprintf(stderr, "settlewatch-analytics: -log-format %q: want json or text\n", *logFormat)
		return 2
	}
	log := slog.New(handler)
	if err := s.Validate(); err != nil {
		log.Error("bad connection settings", "error", err)
		return 2
	}
	cfg, err := scheduler.LoadConfig(*configPath)
	if err != nil {
		log.Error("bad config", "error", err)
		return 2
	}
	entries, err := cfg.Build()
	if err != nil {
		log.Error("bad config", "error", err)
		return 2
	}
	for _, e := range entries {
		if r, ok := e.Job.(*rollup.Job); ok {
			r.BeforeHourRows = h.beforeHourRows
		}
	}
	if err := serve(ctx, log, s, cfg, entries, *metricsAddr, *runNow, *migrate, h); err != nil {
		log.Error("analytics daemon stopped", "error", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, log *slog.Logger, s chconn.Settings, cfg scheduler.Config, entries []scheduler.Entry,
	metricsAddr string, runNow, migrate bool, h hooks) error {
	if migrate {
		admin, err := chconn.OpenNoDatabase(ctx, s)
		if err != nil {
			return err
		}
		v, err := chconn.ServerVersion(ctx, admin)
		if err == nil {
			_, err = chschema.Migrate(ctx, admin, s.Database, chschema.DialectFor(v, ""), log)
		}
		_ = admin.Close()
		if err != nil {
			return err
		}
	}
	conn, err := chconn.Open(ctx, s)
	if err != nil {
		return err
	}
	defer conn.Close()
	if v, err := chschema.Status(ctx, conn, s.Database); err != nil {
		return err
	} else if v < 2 {
		return fmt.Errorf("database %s is at schema version %d; the analytics tables come with version 2: run settlewatch migrate (or -migrate)", s.Database, v)
	}
	metrics := scheduler.NewMetrics()
	runner := &jobs.Runner{Env: jobs.Env{Conn: conn, Session: chconn.Sessions(s), DB: s.Database, QueryTimeout: max(s.QueryTimeout, 5*time.Minute), Log: log}}
	sch := &scheduler.Scheduler{Runner: runner, Entries: entries, Log: log, Metrics: metrics}
	var srv *http.Server
	if metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
			pctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			defer cancel()
			if err := conn.Ping(pctx); err != nil {
				http.Error(w, "clickhouse: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		l, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(l) }()
		log.Info("serving metrics", "addr", l.Addr().String())
		if h.started != nil {
			h.started(l.Addr().String())
		}
	}
	if err := sch.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	log.Info("analytics daemon started", "database", s.Database, "settlement_window", cfg.SettlementWindow.D())
	if runNow {
		go sch.RunNow()
	}
	<-ctx.Done()
	grace := cfg.ShutdownGrace.D()
	log.Info("stopping: waiting for running jobs", "grace", grace)
	clean := sch.Stop(grace)
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	log.Info("analytics daemon stopped", "jobs_finished_in_grace", clean)
	return nil
}
