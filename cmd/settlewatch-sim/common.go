package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/settlewatch/settlewatch/simulator"
	"go.opentelemetry.io/otel"
)

// common are the flags every sending command has.
type common struct {
	fs          *flag.FlagSet
	endpoint    string
	protocol    string
	insecure    bool
	gzip        bool
	scenario    string
	seed        uint64
	truthDir    string
	window      time.Duration
	asOf        string
	resources   string
	queue       int
	batchSize   int
	batchTO     time.Duration
	dupRate     float64
	jsonOut     bool
	seedWasSet  bool
	stderr      io.Writer
	stdout      io.Writer
	description string
}

func newCommon(name, description string, stdout, stderr io.Writer) *common {
	c := &common{fs: flag.NewFlagSet(name, flag.ContinueOnError), stdout: stdout, stderr: stderr, description: description}
	fs := c.fs
	fs.SetOutput(stderr)
	fs.StringVar(&c.endpoint, "endpoint", "", "collector OTLP endpoint, host:port or URL (default 127.0.0.1:4317 for grpc, 127.0.0.1:4318 for http)")
	fs.StringVar(&c.protocol, "protocol", "grpc", "OTLP protocol: grpc or http")
	fs.BoolVar(&c.insecure, "insecure", true, "plaintext connection (no TLS)")
	fs.BoolVar(&c.gzip, "gzip", false, "gzip-compress export requests")
	fs.StringVar(&c.scenario, "scenario", "", "scenario file (YAML): seed, fleet, baseline, scenarios; default: the built-in baseline")
	fs.Uint64Var(&c.seed, "seed", 0, "random seed (overrides the scenario file's)")
	fs.StringVar(&c.truthDir, "truth", "", "write the ground truth of what was sent into this directory (truth.jsonl, totals.csv, totals.json, summary.json)")
	fs.DurationVar(&c.window, "settlement-window", simulator.DefaultSettlementWindow, "settlement window for the ground truth")
	fs.StringVar(&c.asOf, "as-of", "", "RFC 3339 time the ground truth is computed as of (default: the end of the run)")
	fs.StringVar(&c.resources, "resources", "terminal", "terminal resources: 'terminal' (one resource per terminal) or 'pooled' (per model and version, identity as span attributes)")
	fs.IntVar(&c.queue, "queue", 0, "batch span processor queue size (default 65536; load: 262144)")
	fs.IntVar(&c.batchSize, "batch-size", 2048, "batch span processor max export batch size")
	fs.DurationVar(&c.batchTO, "batch-timeout", 200*time.Millisecond, "batch span processor batch timeout")
	fs.Float64Var(&c.dupRate, "duplicate-rate", 0, "re-send this share of transactions with the same ids (tests the store's idempotency)")
	fs.BoolVar(&c.jsonOut, "json", false, "print the final report as JSON")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: settlewatch-sim %s [flags]\n\n%s\n\nFlags:\n", name, description)
		fs.PrintDefaults()
	}
	return c
}

func (c *common) parse(args []string) error {
	if err := c.fs.Parse(args); err != nil {
		return err
	}
	if c.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", c.fs.Arg(0))
	}
	c.fs.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			c.seedWasSet = true
		}
	})
	if c.protocol != "grpc" && c.protocol != "http" {
		return fmt.Errorf("-protocol must be grpc or http, got %q", c.protocol)
	}
	if c.resources != string(simulator.ResourcePerTerminal) && c.resources != string(simulator.ResourcePooled) {
		return fmt.Errorf("-resources must be terminal or pooled, got %q", c.resources)
	}
	if c.window <= 0 {
		return fmt.Errorf("-settlement-window must be above 0")
	}
	if c.dupRate < 0 || c.dupRate > 1 {
		return fmt.Errorf("-duplicate-rate must be between 0 and 1")
	}
	if c.batchSize <= 0 || c.queue < 0 || c.batchTO <= 0 {
		return fmt.Errorf("-batch-size, -queue and -batch-timeout must be positive")
	}
	return nil
}

func (c *common) config() (*simulator.Config, error) {
	var cfg *simulator.Config
	if c.scenario == "" {
		cfg = simulator.DefaultConfig()
	} else {
		var err error
		if cfg, err = simulator.LoadConfig(c.scenario); err != nil {
			return nil, err
		}
	}
	if c.seedWasSet {
		cfg.Seed = c.seed
	}
	return cfg, nil
}

func (c *common) asOfTime(def time.Time) (time.Time, error) {
	if c.asOf == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339Nano, c.asOf)
	if err != nil {
		return time.Time{}, fmt.Errorf("-as-of %q is not an RFC 3339 time", c.asOf)
	}
	return t, nil
}

func (c *common) emitter(ctx context.Context, blocking bool, defQueue int) (*simulator.Emitter, error) {
	comp := ""
	if c.gzip {
		comp = "gzip"
	}
	// Blocking runs (backfill) promise to lose nothing: a collector pushing
	// back (memory limiter, slow ClickHouse) is waited for, not given up on
	// after the SDK's default minute.
	var retry, exportTO time.Duration
	if blocking {
		retry, exportTO = 10*time.Minute, 11*time.Minute
	}
	exp, err := simulator.NewOTLPExporter(ctx, simulator.ExporterConfig{Protocol: c.protocol, Endpoint: c.endpoint,
		Insecure: c.insecure, Compression: comp, RetryMaxElapsed: retry})
	if err != nil {
		return nil, err
	}
	q := c.queue
	if q == 0 {
		q = defQueue
	}
	em := simulator.NewEmitter(exp, simulator.EmitterOptions{
		MaxExportBatchSize: c.batchSize, MaxQueueSize: q, BatchTimeout: c.batchTO, Blocking: blocking, ExportTimeout: exportTO,
		Resources: simulator.ResourceMode(c.resources), DuplicateRate: c.dupRate,
	})
	otel.SetErrorHandler(em.ErrorHandler())
	return em, nil
}

func (c *common) endpointName() string {
	if c.endpoint != "" {
		return c.endpoint
	}
	return simulator.DefaultEndpoint(c.protocol)
}

// finish flushes and shuts the emitter down, writes the ground truth and prints the report.
func (c *common) finish(mode string, em *simulator.Emitter, rec *simulator.TruthRecorder, asOf time.Time,
	started time.Time, extra map[string]any) (simulator.EmitStats, error) {
	sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, shutErr := em.Shutdown(sctx)
	elapsed := time.Since(started)
	rep := map[string]any{
		"mode": mode, "endpoint": c.endpointName(), "protocol": c.protocol, "elapsed_seconds": elapsed.Seconds(),
		"stats": st, "spans_per_second": float64(st.SpansExported) / elapsed.Seconds(),
		"txns_per_second": float64(st.Txns) / elapsed.Seconds(),
	}
	for k, v := range extra {
		rep[k] = v
	}
	var truthErr error
	if rec != nil && c.truthDir != "" {
		sum, err := rec.WriteDir(c.truthDir, asOf)
		truthErr = err
		rep["truth_dir"] = c.truthDir
		rep["truth"] = sum
	}
	if c.jsonOut {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		fmt.Fprintf(c.stdout, "%s: %s transactions, %s batch closes, %s settlement files in %s\n", mode,
			num(st.Txns), num(st.BatchCloses), num(st.SettlementFiles), elapsed.Round(time.Millisecond))
		fmt.Fprintf(c.stdout, "spans: %s sent, %s exported to %s (%s), %s failed, %s dropped; %s spans/s, %s tx/s\n",
			num(st.SpansEnded), num(st.SpansExported), c.endpointName(), c.protocol, num(st.SpansFailed), num(st.SpansDropped),
			num(int64(rep["spans_per_second"].(float64))), fmtRate(rep["txns_per_second"].(float64)))
		if st.ExportErrors > 0 || st.HandlerErrors > 0 {
			fmt.Fprintf(c.stdout, "export errors: %d (last: %s)\n", st.ExportErrors+st.HandlerErrors, st.LastError)
		}
		for _, k := range sortedKeys(extra) {
			v := extra[k]
			if f, ok := v.(float64); ok {
				v = fmtRate(f)
			}
			fmt.Fprintf(c.stdout, "%s: %v\n", strings.ReplaceAll(k, "_", " "), v)
		}
		if s, ok := rep["truth"].(simulator.TruthSummary); ok {
			fmt.Fprintf(c.stdout, "ground truth as of %s in %s: %v\n", s.AsOf.Format(time.RFC3339), c.truthDir, s.ByOutcome)
		}
	}
	return st, errors.Join(shutErr, truthErr)
}
