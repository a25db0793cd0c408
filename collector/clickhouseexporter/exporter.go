package clickhouseexporter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.uber.org/zap"

	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

type chExporter struct {
	cfg      *Config
	settings chconn.Settings
	rules    *domain.Rules
	log      *zap.Logger
	tel      *telemetry

	mu     sync.Mutex // guards conn, asm and repair while (re)connecting
	conn   driver.Conn
	asm    *assembly.Assembler
	repair bool // a table was found missing: re-run the DDL on reconnect

	// The migrating exporter also drops the days that fell out of
	// recent_fact_counts_by_hash (chschema.PruneRecentFactCounts) and
	// compacts closed days (compactClosedDays), at most once an hour, in the
	// background: DDL ON CLUSTER can wait for a replica that is down.
	pruneMu  sync.Mutex
	dialect  *chschema.Dialect // set by migrate
	prunedAt time.Time
	pruning  sync.WaitGroup
	stop     context.Context // cancelled by shutdown
	cancel   context.CancelFunc
}

func newExporter(set exporter.Settings, cfg *Config) (*chExporter, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	rules, err := domain.LoadRules(cfg.Assembly.RulesFile)
	if err != nil {
		return nil, err
	}
	tel, err := newTelemetry(set.MeterProvider)
	if err != nil {
		return nil, fmt.Errorf("create exporter metrics: %w", err)
	}
	stop, cancel := context.WithCancel(context.Background())
	return &chExporter{cfg: cfg, settings: s, rules: rules, log: set.Logger, tel: tel, stop: stop, cancel: cancel}, nil
}

// start tries to connect and migrate, but a ClickHouse that is down must not
// stop the collector from accepting data: the queue holds it and push
// reconnects.
func (e *chExporter) start(ctx context.Context, _ component.Host) error {
	cctx, cancel := context.WithTimeout(ctx, e.settings.DialTimeout)
	defer cancel()
	if _, err := e.ready(cctx); err != nil {
		e.log.Warn("ClickHouse not reachable at start; data is queued and the exporter keeps retrying",
			zap.Strings("endpoint", e.settings.Addr), zap.Error(err))
	}
	return nil
}

func (e *chExporter) shutdown(context.Context) error {
	// Under pruneMu, so that no prune starts after the wait.
	e.pruneMu.Lock()
	e.cancel()
	e.pruneMu.Unlock()
	e.pruning.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		err := e.conn.Close()
		e.conn = nil
		return err
	}
	return nil
}

// ready returns a working connection, connecting and migrating if needed.
func (e *chExporter) ready(ctx context.Context) (driver.Conn, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		return e.conn, nil
	}
	if e.cfg.CreateSchema {
		if err := e.migrate(ctx); err != nil {
			return nil, err
		}
	}
	conn, err := chconn.Open(ctx, e.settings)
	if err != nil {
		return nil, err
	}
	e.conn = conn
	e.asm = &assembly.Assembler{
		Conn: conn, DB: e.settings.Database, Rules: e.rules,
		Window: e.cfg.Assembly.SettlementWindow, QueryTimeout: e.cfg.TimeoutConfig.Timeout,
		Log: slog.New(zapHandler{log: e.log}),
	}
	return conn, nil
}

func (e *chExporter) migrate(ctx context.Context) error {
	conn, err := chconn.OpenNoDatabase(ctx, e.settings)
	if err != nil {
		return err
	}
	defer conn.Close()
	v, err := chconn.ServerVersion(ctx, conn)
	if err != nil {
		return err
	}
	d := chschema.DialectFor(v, e.cfg.Cluster)
	d.RetentionDays = e.cfg.RetentionDays
	e.pruneMu.Lock()
	e.dialect = &d
	e.pruneMu.Unlock()
	applied, err := chschema.Migrate(ctx, conn, e.settings.Database, d, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if e.repair {
		// An insert found a table missing although the migrations are
		// recorded: an operator dropped it. Recreate it (all DDL is idempotent).
		if err := chschema.Repair(ctx, conn, e.settings.Database, d, slog.New(slog.DiscardHandler)); err != nil {
			return err
		}
		e.repair = false
		e.log.Warn("recreated missing ClickHouse tables", zap.String("database", e.settings.Database))
	}
	if len(applied) > 0 {
		e.log.Info("applied ClickHouse migrations", zap.String("server_version", v.String()),
			zap.String("database", e.settings.Database), zap.Any("versions", applied))
	}
	return nil
}

// push stores one batch. Its first attempt converts the batch's requests
// to rows and lets their bytes go; a retry (the helper hands the same
// request back) resumes from the rows: tables an earlier attempt stored are
// not written again, and every table is keyed by span id, so rows written
// twice collapse.
func (e *chExporter) push(ctx context.Context, req xexporterhelper.Request) error {
	r, ok := req.(*otlpRequest)
	if !ok {
		return consumererror.NewPermanent(fmt.Errorf("settlewatch exporter: cannot store a %T", req))
	}
	if r.rows == nil {
		if err := r.encode(); err != nil {
			return consumererror.NewPermanent(err)
		}
		conv := converter{maxValueBytes: e.cfg.MaxValueBytes, now: time.Now()}
		// convert lets each request's bytes go once it is converted.
		r.rows = conv.convert(r.parts, r.n)
		r.parts = nil
		e.tel.add(ctx, e.tel.spans, r.n, "", "")
		e.report(ctx, r.rows)
	}
	return e.store(ctx, r.rows)
}

// store writes what rs still holds: each table's columns are let go once
// stored, and a retry writes only the rest.
func (e *chExporter) store(ctx context.Context, rs *rowSet) error {
	conn, err := e.ready(ctx)
	if err != nil {
		e.tel.add(ctx, e.tel.failures, 1, "table", "connect")
		e.log.Warn("ClickHouse unreachable; the batch is kept and retried", zap.Int("spans", rs.nSpans), zap.Error(err))
		return fmt.Errorf("settlewatch exporter: %w", err)
	}
	qctx, cancel := chconn.WithQuerySettings(ctx, e.cfg.TimeoutConfig.Timeout)
	defer cancel()
	// The tables are written side by side, each INSERT on a connection of
	// its own: one INSERT keeps one server thread busy, and the collector
	// encodes one table's blocks while the server writes another's. With
	// one consumer and batches twice as large this stores as fast as two
	// consumers did, with a tenth less CPU per span on both sides
	// (docs/benchmarks.md, "Tables side by side, one consumer, larger
	// batches").
	writes := rs.writes()
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		if *w.cols == nil {
			continue // stored by an earlier attempt
		}
		wg.Go(func() { errs[i] = chbatch.Insert(qctx, conn, e.settings.Database, w.t, *w.cols, w.n) })
	}
	wg.Wait()
	var failed error
	for i, w := range writes {
		if *w.cols == nil {
			continue
		}
		if err := errs[i]; err != nil {
			e.tel.add(ctx, e.tel.failures, 1, "table", w.t.Name)
			e.log.Warn("ClickHouse insert failed; the batch is kept and retried",
				zap.String("table", w.t.Name), zap.Int("rows", w.n), zap.Error(err))
			e.dropConnIfBroken(err)
			if failed == nil {
				failed = fmt.Errorf("settlewatch exporter: %w", err)
			}
			continue
		}
		// A stored table's columns go; a retry writes only the others.
		*w.cols = nil
		e.tel.add(ctx, e.tel.rows, w.n, "table", w.t.Name)
	}
	if failed != nil {
		return failed
	}
	e.pruneRecent(conn)
	if !e.cfg.Assembly.Enabled || rs.keys.Empty() {
		return nil
	}
	if rs.factCols != nil {
		// The fact columns stay until assembly is done with them.
		rs.keys.Stored = rs.factCols
		rs.factCols = nil
	}
	left := len(rs.keys.TxnIDs)
	res, err := e.assemble(ctx, rs)
	// What was written is counted, also when a later piece failed.
	e.tel.add(ctx, e.tel.rows, res.Transactions, "table", chschema.Transactions.Name)
	e.tel.add(ctx, e.tel.sources, res.FromMemory, "source", "memory")
	e.tel.add(ctx, e.tel.sources, res.Transactions-res.FromMemory, "source", "clickhouse")
	for o, n := range res.ByOutcome {
		e.tel.add(ctx, e.tel.assembled, n, "outcome", string(o))
	}
	if err != nil {
		e.tel.add(ctx, e.tel.failures, 1, "table", chschema.Transactions.Name)
		e.log.Warn("transaction assembly failed; the batch is retried, a chunk of transactions at a time",
			zap.Int("transactions", left), zap.Int("left", len(rs.keys.TxnIDs)+len(rs.keys.Rebuild)), zap.Error(err))
		return fmt.Errorf("settlewatch exporter: %w", err)
	}
	return nil
}

// assemble assembles what rs touched. The first attempt does it in one call,
// which writes one part for the batch. Once that failed, the retries go a
// chunk at a time and keep their progress in rs.keys
// (assembly.AssembleInPieces). A batch of a client sending again what is
// stored must read most of its transactions back: here 21,643 of them took
// longer than the 30 s timeout at every attempt, and the queue filled
// behind them (docs/reliability.md).
func (e *chExporter) assemble(ctx context.Context, rs *rowSet) (assembly.Result, error) {
	if !rs.assemblyFailed {
		res, err := e.asm.Assemble(ctx, rs.keys)
		rs.assemblyFailed = err != nil
		return res, err
	}
	return e.asm.AssembleInPieces(ctx, &rs.keys)
}

// pruneRecent starts dropping old days of recent_fact_counts_by_hash when an hour has
// passed since the last time. A failure is logged and counted; the next hour
// tries again. Requests never wait for it.
func (e *chExporter) pruneRecent(conn driver.Conn) {
	e.pruneMu.Lock()
	defer e.pruneMu.Unlock()
	now := time.Now()
	if e.dialect == nil || now.Sub(e.prunedAt) < time.Hour || e.stop.Err() != nil {
		return
	}
	e.prunedAt = now
	d := *e.dialect
	e.pruning.Add(1)
	go func() {
		defer e.pruning.Done()
		ctx, cancel := context.WithTimeout(e.stop, time.Minute)
		defer cancel()
		dropped, err := chschema.PruneRecentFactCounts(ctx, conn, e.settings.Database, d, now)
		switch {
		case err != nil:
			e.tel.upkeepFailed(e.stop, chschema.RecentFactCounts.Name, "prune")
			e.log.Warn("could not drop old days of recent_fact_counts_by_hash; retrying in an hour", zap.Error(err))
		case len(dropped) > 0:
			e.log.Info("dropped old days of recent_fact_counts_by_hash", zap.Strings("days", dropped))
		}
		if e.cfg.CompactClosedDays {
			e.compactClosedDays(conn, d, now)
		}
	}()
}

// compactDaysPerHour bounds the closed days a table has rewritten an hour:
// a first start over months of history catches up over days instead of
// loading the server for hours at once.
const compactDaysPerHour = 2

// compactClosedDays merges the closed days of the tables a lookup by
// transaction id reads into one part each (chschema.CompactClosedDays). A
// failure is logged and counted; the next hour tries again.
func (e *chExporter) compactClosedDays(conn driver.Conn, d chschema.Dialect, now time.Time) {
	for _, t := range chschema.CompactedTables {
		ctx, cancel := context.WithTimeout(e.stop, 30*time.Minute)
		days, err := chschema.CompactClosedDays(ctx, conn, e.settings.Database, d, t, now, compactDaysPerHour)
		cancel()
		if len(days) > 0 {
			e.log.Info("compacted closed days", zap.String("table", t.Name), zap.Strings("days", days))
		}
		if err != nil {
			e.tel.upkeepFailed(e.stop, t.Name, "compact")
			e.log.Warn("could not compact closed days; retrying in an hour", zap.String("table", t.Name), zap.Error(err))
		}
	}
}

// report counts and logs what the request got wrong: one line per request,
// with a reason → count map and an example id per reason.
func (e *chExporter) report(ctx context.Context, rs *rowSet) {
	if len(rs.issues) == 0 {
		return
	}
	for reason, n := range rs.issues {
		e.tel.add(ctx, e.tel.rejected, n, "reason", reason)
	}
	if rs.malformed != nil {
		e.log.Error("a queued request could not be read to its end; stored the spans before the fault",
			zap.Error(rs.malformed))
	}
	e.log.Warn("spans broke the telemetry contract; stored what could be stored",
		zap.Any("reasons", rs.issues), zap.Any("example_ids", rs.examples))
}

// dropConnIfBroken forgets a connection after a failed insert so the next
// attempt reconnects and re-checks the schema; a missing table (ClickHouse
// error 60, UNKNOWN_TABLE) is recreated then.
func (e *chExporter) dropConnIfBroken(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if chconn.IsCode(err, chconn.CodeUnknownTable) {
		e.repair = true
	}
	if e.conn != nil {
		if perr := e.conn.Ping(context.Background()); perr != nil || e.cfg.CreateSchema {
			_ = e.conn.Close()
			e.conn = nil
		}
	}
}
