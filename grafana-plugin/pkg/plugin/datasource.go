// Package plugin is the backend of the settlewatch Grafana data source: it
// turns Grafana's typed queries into questions to the settlewatch query
// layer (analytics/query) and its answers into data frames that Grafana's
// panels, Explore's trace view, annotations and alert rules read natively.
//
// Nothing here writes SQL: the query layer binds every value and takes
// identifiers from allow-lists. What users type is validated here first so
// that hostile or mistaken input gets a clear per-query error.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/chconn"
)

// PluginID is the id in plugin.json.
const PluginID = "settlewatch-settlement-datasource"

// maxParallel bounds the queries of one request run at once.
const maxParallel = 4

// Datasource is one configured data source instance.
type Datasource struct {
	settings    Settings
	settingsErr error
	uid, name   string
	logger      log.Logger

	mu    sync.Mutex
	conn  driver.Conn
	store Store // set by tests (NewWithStore) or on first use

	values *valueCache
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// NewDatasource is the instance factory Grafana's instance manager calls
// when a data source is created or its settings change. It never fails:
// settings that do not validate are kept and reported by the health check
// and by every query, with the field to fix. It does not connect: the
// first query or health check does.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	d := &Datasource{uid: s.UID, name: s.Name, logger: log.DefaultLogger.With("datasource", s.Name, "uid", s.UID), values: newValueCache(256, time.Minute)}
	set, err := ParseSettings(s)
	if err == nil {
		err = set.Validate()
	}
	d.settings, d.settingsErr = set, err
	if err != nil {
		d.logger.Warn("data source settings are invalid", "error", err)
	} else {
		d.logger.Debug("data source configured", "settings", set.String())
	}
	return d, nil
}

// NewWithStore makes an instance over a given store (tests of the frames).
func NewWithStore(s Settings, st Store, uid string) *Datasource {
	if s.MaxRows == 0 {
		s.MaxRows = DefaultMaxRows
	}
	return &Datasource{settings: s, store: st, uid: uid, name: "settlewatch", logger: log.DefaultLogger, values: newValueCache(256, time.Minute)}
}

// Dispose closes the connection when Grafana replaces the instance.
func (d *Datasource) Dispose() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		_ = d.conn.Close()
		d.conn = nil
	}
}

func (d *Datasource) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// connect returns the ClickHouse connection, opening it on first use (and
// again after a failure).
func (d *Datasource) connect(ctx context.Context) (driver.Conn, error) {
	if d.settingsErr != nil {
		return nil, settingsError{d.settingsErr}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		return d.conn, nil
	}
	conn, err := chconn.Open(ctx, d.settings.Conn())
	if err != nil {
		return nil, unreachable{fmt.Errorf("cannot reach ClickHouse: %w", err)}
	}
	d.conn = conn
	return conn, nil
}

// storeFor is the query layer over the connection.
func (d *Datasource) storeFor(ctx context.Context) (Store, error) {
	if d.store != nil {
		return d.store, nil
	}
	conn, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	return &query.Querier{Conn: conn, DB: d.settings.Database, Timeout: d.settings.QueryTimeout(), MaxRows: d.settings.MaxRows, Now: d.Now}, nil
}

type settingsError struct{ err error }

func (e settingsError) Error() string { return "data source settings: " + e.err.Error() }

type unreachable struct{ err error }

func (e unreachable) Error() string { return e.err.Error() }
func (e unreachable) Unwrap() error { return e.err }

// QueryData answers every query of the request, each on its own: one bad
// query gets its error and the others still get their frames.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	if len(req.Queries) == 0 {
		return resp, nil
	}
	st, err := d.storeFor(ctx)
	if err != nil {
		for _, q := range req.Queries {
			resp.Responses[q.RefID] = errorResponse(err)
		}
		return resp, nil
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallel)
	for _, q := range req.Queries {
		wg.Add(1)
		go func(q backend.DataQuery) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			dr := d.runQuery(ctx, q, st)
			mu.Lock()
			resp.Responses[q.RefID] = dr
			mu.Unlock()
		}(q)
	}
	wg.Wait()
	return resp, nil
}

// runQuery answers one query; a panic becomes that query's error.
func (d *Datasource) runQuery(ctx context.Context, dq backend.DataQuery, st Store) (dr backend.DataResponse) {
	defer func() {
		if p := recover(); p != nil {
			d.logger.Error("query panicked", "refId", dq.RefID, "queryType", dq.QueryType, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			dr = backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, "internal error in the settlewatch data source (logged); the query was not answered")
		}
	}()
	if err := ctx.Err(); err != nil {
		return errorResponse(err)
	}
	r, err := parseQuery(dq)
	if err != nil {
		return errorResponse(err)
	}
	frames, err := d.answer(ctx, r, st)
	if err != nil {
		if !isBadRequest(err) {
			d.logger.Warn("query failed", "refId", dq.RefID, "queryType", r.QueryType, "error", err)
		}
		return errorResponse(err)
	}
	for _, f := range frames {
		f.RefID = dq.RefID
	}
	return backend.DataResponse{Frames: frames}
}

func (d *Datasource) answer(ctx context.Context, r *request, st Store) (data.Frames, error) {
	switch r.QueryType {
	case TypeBreakdown:
		return d.breakdown(ctx, r, st)
	case TypeTrend:
		return d.trend(ctx, r, st)
	case TypeTransactions:
		return d.transactions(ctx, r, st)
	case TypeTrace:
		return d.trace(ctx, r, st)
	case TypeIncidents:
		return d.incidents(ctx, r, st)
	case TypeUnsettledAging:
		return d.unsettledAging(ctx, r, st)
	case TypeKPIs:
		return d.kpis(ctx, r, st)
	}
	return nil, bad("unknown query type %q", clip(r.QueryType))
}

func (d *Datasource) links(r *request) links {
	return links{uid: d.uid, name: d.name}
}

// errorResponse turns an error into the query's error with a status and
// who is at fault (the request or ClickHouse: downstream; this code: plugin).
func errorResponse(err error) backend.DataResponse {
	var se settingsError
	var un unreachable
	var ex *clickhouse.Exception
	switch {
	case errors.As(err, &se):
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, se.Error())
	case errors.As(err, &un):
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, un.Error())
	case isBadRequest(err):
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	case errors.Is(err, query.ErrNotFound):
		return backend.ErrDataResponseWithSource(backend.StatusNotFound, backend.ErrorSourceDownstream, err.Error())
	case errors.Is(err, ErrNeedsQueryLayer):
		return backend.ErrDataResponseWithSource(backend.StatusNotImplemented, backend.ErrorSourcePlugin, err.Error())
	case errors.Is(err, context.Canceled):
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, "the request was cancelled")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		// The driver reports a passed deadline as an i/o timeout on its
		// connection (wrapping os.ErrDeadlineExceeded); it has cancelled
		// the server-side query (analytics/query TestDeadlineCancelsTheServerQuery).
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream,
			"the query ran out of time (the request deadline or the data source's query timeout): narrow the time range or the filters")
	case errors.As(err, &ex) && ex.Code == 159: // TIMEOUT_EXCEEDED: max_execution_time
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream,
			"ClickHouse stopped the query at max_execution_time: narrow the time range or the filters")
	case errors.As(err, &ex):
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, fmt.Sprintf("ClickHouse error %d: %s", ex.Code, clip(ex.Message)))
	}
	return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourceDownstream, err.Error())
}
