package simulator

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ResourceMode says how terminal spans get their terminal identity.
type ResourceMode string

const (
	// ResourcePerTerminal gives every terminal its own TracerProvider whose
	// resource carries pos.terminal.id, pos.terminal.model, pos.merchant.id and
	// pos.merchant.region, as the contract describes. The providers all feed
	// one shared batch span processor and exporter, so a provider costs a few
	// hundred bytes and no connection.
	ResourcePerTerminal ResourceMode = "terminal"
	// ResourcePooled shares one provider per terminal model and app version
	// (resource: service.name, service.version, pos.terminal.model) and puts
	// pos.terminal.id, pos.merchant.id and pos.merchant.region on every
	// terminal span instead (a span attribute overrides the resource's).
	ResourcePooled ResourceMode = "pooled"
)

// EmitterOptions tune the SDK's batch span processor and the emission.
type EmitterOptions struct {
	MaxExportBatchSize int           // default 2048
	MaxQueueSize       int           // default 65536
	BatchTimeout       time.Duration // default 200ms
	ExportTimeout      time.Duration // default 30s
	// Blocking makes span ends wait for room in the queue instead of dropping
	// spans when it is full (backfill: nothing is lost, the run slows down).
	Blocking bool
	// Resources: ResourcePerTerminal (default) or ResourcePooled.
	Resources ResourceMode
	// DuplicateRate re-sends this share of transactions with the same ids
	// (the store must keep one copy).
	DuplicateRate float64
	// Synchronous exports every span as it ends (SimpleSpanProcessor); for tests.
	Synchronous bool
}

// EmitStats counts what was emitted and what became of it.
type EmitStats struct {
	Txns            int64 `json:"txns"`
	BatchCloses     int64 `json:"batch_closes"`
	SettlementFiles int64 `json:"settlement_files"`
	SpansEnded      int64 `json:"spans_ended"`    // handed to the SDK
	SpansExported   int64 `json:"spans_exported"` // accepted by the collector
	SpansFailed     int64 `json:"spans_failed"`   // in export requests that failed (after retries)
	// SpansQueued are ended spans not yet exported nor failed; after Shutdown
	// they are SpansDropped: lost in the SDK (queue full or not flushed in time).
	SpansQueued   int64  `json:"spans_queued"`
	SpansDropped  int64  `json:"spans_dropped"`
	ExportCalls   int64  `json:"export_calls"`
	ExportErrors  int64  `json:"export_errors"`
	HandlerErrors int64  `json:"handler_errors"` // errors reported through the OTel error handler
	LastError     string `json:"last_error,omitempty"`
}

// Emitter turns plans into OpenTelemetry SDK spans. It is safe for concurrent use.
type Emitter struct {
	opts  EmitterOptions
	exp   *countingExporter
	proc  sdktrace.SpanProcessor // the real (shared) processor
	share sdktrace.SpanProcessor
	prop  propagation.TraceContext

	mu        sync.Mutex
	terminals map[string]trace.Tracer
	gateways  map[string]trace.Tracer
	settle    trace.Tracer
	providers []*sdktrace.TracerProvider

	txns, closes, files, ended atomic.Int64
	handlerErrs                atomic.Int64
	lastHandlerErr             atomic.Value
	closed                     atomic.Bool
	final                      *EmitStats
}

// NewEmitter makes an emitter that sends through exp (see NewOTLPExporter;
// tests can pass tracetest.NewInMemoryExporter()).
func NewEmitter(exp sdktrace.SpanExporter, opts EmitterOptions) *Emitter {
	if opts.MaxExportBatchSize <= 0 {
		opts.MaxExportBatchSize = 2048
	}
	if opts.MaxQueueSize <= 0 {
		opts.MaxQueueSize = 65536
	}
	if opts.MaxQueueSize < opts.MaxExportBatchSize {
		opts.MaxQueueSize = opts.MaxExportBatchSize
	}
	if opts.BatchTimeout <= 0 {
		opts.BatchTimeout = 200 * time.Millisecond
	}
	if opts.ExportTimeout <= 0 {
		opts.ExportTimeout = 30 * time.Second
	}
	if opts.Resources == "" {
		opts.Resources = ResourcePerTerminal
	}
	e := &Emitter{opts: opts, exp: &countingExporter{inner: exp},
		terminals: map[string]trace.Tracer{}, gateways: map[string]trace.Tracer{}}
	if opts.Synchronous {
		e.proc = sdktrace.NewSimpleSpanProcessor(e.exp)
	} else {
		bo := []sdktrace.BatchSpanProcessorOption{
			sdktrace.WithMaxExportBatchSize(opts.MaxExportBatchSize),
			sdktrace.WithMaxQueueSize(opts.MaxQueueSize),
			sdktrace.WithBatchTimeout(opts.BatchTimeout),
			sdktrace.WithExportTimeout(opts.ExportTimeout),
		}
		if opts.Blocking {
			bo = append(bo, sdktrace.WithBlocking())
		}
		e.proc = sdktrace.NewBatchSpanProcessor(e.exp, bo...)
	}
	e.share = sharedProcessor{e.proc}
	return e
}

// HandleError counts an error reported by the SDK; install it with
// otel.SetErrorHandler(otel.ErrorHandlerFunc(em.HandleError)).
func (e *Emitter) HandleError(err error) {
	if err == nil {
		return
	}
	e.handlerErrs.Add(1)
	e.lastHandlerErr.Store(err.Error())
}

// ErrorHandler returns HandleError as an otel.ErrorHandler.
func (e *Emitter) ErrorHandler() otel.ErrorHandler { return otel.ErrorHandlerFunc(e.HandleError) }

func (e *Emitter) provider(attrs ...attribute.KeyValue) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSpanProcessor(e.share),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	e.providers = append(e.providers, tp)
	return tp
}

func tracerOf(tp *sdktrace.TracerProvider) trace.Tracer {
	return tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version))
}

func (e *Emitter) terminalTracer(t *Terminal) trace.Tracer {
	key := t.ID
	if e.opts.Resources == ResourcePooled {
		key = t.Model + "|" + t.AppVersion
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if tr, ok := e.terminals[key]; ok {
		return tr
	}
	attrs := []attribute.KeyValue{
		attribute.String("service.name", ServiceTerminal.ServiceName()),
		attribute.String("service.version", t.AppVersion),
		attribute.String("pos.terminal.model", t.Model),
	}
	if e.opts.Resources != ResourcePooled {
		attrs = append(attrs,
			attribute.String("pos.terminal.id", t.ID),
			attribute.String("pos.merchant.id", t.Merchant.ID),
			attribute.String("pos.merchant.region", t.Merchant.Region.Name))
	}
	tr := tracerOf(e.provider(attrs...))
	e.terminals[key] = tr
	return tr
}

func (e *Emitter) gatewayTracer(g *Gateway) trace.Tracer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if tr, ok := e.gateways[g.ID]; ok {
		return tr
	}
	tr := tracerOf(e.provider(
		attribute.String("service.name", ServiceGateway.ServiceName()),
		attribute.String("service.version", g.Version),
		attribute.String("pos.gateway.id", g.ID)))
	e.gateways[g.ID] = tr
	return tr
}

func (e *Emitter) settlementTracer() trace.Tracer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.settle == nil {
		e.settle = tracerOf(e.provider(
			attribute.String("service.name", ServiceSettlement.ServiceName()),
			attribute.String("service.version", "1.8.2")))
	}
	return e.settle
}

// identity are the terminal attributes put on terminal spans in pooled mode.
func (e *Emitter) identity(t *Terminal) []attribute.KeyValue {
	if e.opts.Resources != ResourcePooled {
		return nil
	}
	return []attribute.KeyValue{
		attribute.String("pos.terminal.id", t.ID),
		attribute.String("pos.merchant.id", t.Merchant.ID),
		attribute.String("pos.merchant.region", t.Merchant.Region.Name),
	}
}

// ErrClosed is returned by Emit after Shutdown.
var ErrClosed = errors.New("simulator: emitter is shut down")

// Emit sends one event's spans to the SDK (they are exported in batches).
func (e *Emitter) Emit(ev Event) error {
	if e.closed.Load() {
		return ErrClosed
	}
	switch ev.Kind {
	case EventTxn:
		e.emitTxn(ev.Txn)
		e.txns.Add(1)
		if e.opts.DuplicateRate > 0 && float64(hashString(ev.Txn.ID)>>11)/(1<<53) < e.opts.DuplicateRate {
			e.emitTxn(ev.Txn)
		}
	case EventBatchClose:
		e.emitClose(ev.Close)
		e.closes.Add(1)
	case EventSettlement:
		e.emitFile(ev.File)
		e.files.Add(1)
	}
	return nil
}

func planAttrs(sp *SpanPlan, extra []attribute.KeyValue) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, len(sp.Attrs)+len(extra)+3)
	attrs = append(attrs, sp.Attrs...)
	attrs = append(attrs, extra...)
	if sp.Code != "" {
		attrs = append(attrs, attribute.String(AttrResponseCode, sp.Code))
	}
	if sp.Source != "" {
		attrs = append(attrs, attribute.String(AttrResponseSource, sp.Source))
	}
	if sp.ErrType != "" {
		attrs = append(attrs, attribute.String(AttrErrorType, sp.ErrType))
	}
	return attrs
}

func (e *Emitter) emitTxn(t *Txn) {
	n := len(t.Spans)
	ctxs := make([]context.Context, n)
	spans := make([]trace.Span, n)
	term := e.terminalTracer(t.Terminal)
	var gw trace.Tracer
	ident := e.identity(t.Terminal)
	for i := range t.Spans {
		sp := &t.Spans[i]
		parent := context.Background()
		if sp.Parent >= 0 {
			parent = ctxs[sp.Parent]
			if t.Spans[sp.Parent].Service != sp.Service {
				// Another process: the parent's context travels as a W3C
				// traceparent header, as it would on the wire.
				carrier := propagation.MapCarrier{}
				e.prop.Inject(parent, carrier)
				parent = e.prop.Extract(context.Background(), carrier)
			}
		}
		parent = withPlannedIDs(parent, t.TraceID, sp.SpanID)
		tr := term
		var extra []attribute.KeyValue
		if sp.Service == ServiceGateway {
			if gw == nil {
				gw = e.gatewayTracer(t.Gateway)
			}
			tr = gw
		} else {
			extra = ident
		}
		ctxs[i], spans[i] = tr.Start(parent, sp.Name, trace.WithSpanKind(sp.Kind), trace.WithTimestamp(sp.Start),
			trace.WithAttributes(planAttrs(sp, extra)...))
	}
	for i := n - 1; i >= 0; i-- {
		if t.Spans[i].Error {
			spans[i].SetStatus(codes.Error, t.Spans[i].Message)
		}
		spans[i].End(trace.WithTimestamp(t.Spans[i].End))
	}
	e.ended.Add(int64(n))
}

func (e *Emitter) emitClose(b *BatchClose) {
	tr := e.terminalTracer(b.Terminal)
	attrs := append(b.attrs(), e.identity(b.Terminal)...)
	if b.ErrType != "" {
		attrs = append(attrs, attribute.String(AttrErrorType, b.ErrType))
	}
	ctx := withPlannedIDs(context.Background(), b.TraceID, b.SpanID)
	_, sp := tr.Start(ctx, SpanBatchClose, trace.WithSpanKind(trace.SpanKindInternal), trace.WithTimestamp(b.Start),
		trace.WithAttributes(attrs...))
	if b.Failed() {
		sp.SetStatus(codes.Error, b.Message)
	}
	sp.End(trace.WithTimestamp(b.End))
	e.ended.Add(1)
}

func (e *Emitter) emitFile(f *SettlementFile) {
	tr := e.settlementTracer()
	m := f.Terminal.Merchant
	var rootCtx context.Context
	var root trace.Span
	for k := range f.Items {
		it := &f.Items[k]
		attrs := []attribute.KeyValue{
			attribute.String(AttrTxnID, it.TxnID),
			attribute.String("pos.txn.type", it.TxnType),
			attribute.Int64("pos.amount.minor", it.AmountMinor),
			attribute.String("pos.currency", it.Currency),
			attribute.String("pos.batch.number", f.BatchNumber),
			attribute.String("pos.settlement.status", it.Status),
			attribute.String("pos.settlement.date", f.Date),
			attribute.String("pos.terminal.id", f.Terminal.ID),
			attribute.String("pos.merchant.id", m.ID),
			attribute.String("pos.acquirer.id", f.Acquirer.ID),
		}
		if it.Code != "" {
			attrs = append(attrs, attribute.String(AttrResponseCode, it.Code))
		}
		if it.ErrType != "" {
			attrs = append(attrs, attribute.String(AttrErrorType, it.ErrType))
		}
		parent := context.Background()
		if f.PerFile && k > 0 {
			parent = rootCtx
		}
		parent = withPlannedIDs(parent, it.TraceID, it.SpanID)
		ctx, sp := tr.Start(parent, SpanSettlementTxn, trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithTimestamp(it.Start), trace.WithAttributes(attrs...))
		if it.ErrType != "" {
			sp.SetStatus(codes.Error, "settlement rejected: "+it.ErrType)
		}
		if f.PerFile && k == 0 {
			rootCtx, root = ctx, sp
			continue // the file's root ends last
		}
		sp.End(trace.WithTimestamp(it.End))
	}
	if root != nil {
		end := f.Items[0].End
		for _, it := range f.Items {
			if it.End.After(end) {
				end = it.End
			}
		}
		root.End(trace.WithTimestamp(end))
	}
	e.ended.Add(int64(len(f.Items)))
}

// Stats returns the counts so far (after Shutdown, the final counts).
func (e *Emitter) Stats() EmitStats {
	e.mu.Lock()
	final := e.final
	e.mu.Unlock()
	if final != nil {
		return *final
	}
	return e.snapshot()
}

func (e *Emitter) snapshot() EmitStats {
	s := EmitStats{
		Txns: e.txns.Load(), BatchCloses: e.closes.Load(), SettlementFiles: e.files.Load(),
		SpansEnded: e.ended.Load(), SpansExported: e.exp.exported.Load(), SpansFailed: e.exp.failed.Load(),
		ExportCalls: e.exp.calls.Load(), ExportErrors: e.exp.errs.Load(), HandlerErrors: e.handlerErrs.Load(),
	}
	s.SpansQueued = max(0, s.SpansEnded-s.SpansExported-s.SpansFailed)
	if v, ok := e.exp.lastErr.Load().(string); ok {
		s.LastError = v
	} else if v, ok := e.lastHandlerErr.Load().(string); ok {
		s.LastError = v
	}
	return s
}

// ForceFlush exports everything ended so far.
func (e *Emitter) ForceFlush(ctx context.Context) error { return e.proc.ForceFlush(ctx) }

// Shutdown flushes the queue, shuts the exporter down and returns the final
// counts: after it, spans ended but neither exported nor failed are dropped.
// Emit returns ErrClosed afterwards.
func (e *Emitter) Shutdown(ctx context.Context) (EmitStats, error) {
	if e.closed.Swap(true) {
		return e.Stats(), nil
	}
	err := e.proc.ForceFlush(ctx)
	err = errors.Join(err, e.proc.Shutdown(ctx))
	e.mu.Lock()
	providers := e.providers
	e.mu.Unlock()
	for _, tp := range providers {
		_ = tp.Shutdown(ctx)
	}
	s := e.snapshot()
	s.SpansDropped, s.SpansQueued = s.SpansQueued, 0
	e.mu.Lock()
	e.final = &s
	e.mu.Unlock()
	return s, err
}
