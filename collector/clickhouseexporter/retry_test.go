package clickhouseexporter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/loadgen"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// testConfig points the exporter at db, without a queue (ConsumeTraces
// pushes and retries in the caller) and with short pauses between retries.
func testConfig(db *chtest.DB) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = strings.Join(db.Settings.Addr, ",")
	cfg.Database = db.Name
	cfg.Username = db.Settings.Username
	cfg.Password = configopaque.String(db.Settings.Password)
	cfg.Compression = "none"
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.BackOffConfig.InitialInterval = 20 * time.Millisecond
	cfg.BackOffConfig.MaxInterval = 100 * time.Millisecond
	return cfg
}

// A request whose inserts fail midway is retried by the real exporter helper
// from the rows the exporter kept, its spans let go after the conversion:
// the tables the first attempt stored are not written again, and every row
// of the others lands.
func TestRetryResumesFromKeptRows(t *testing.T) {
	db := chtest.Migrated(t)
	ctx := context.Background()
	set := exportertest.NewNopSettings(Type)
	e, err := newExporter(set, testConfig(db))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := e.traces(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })

	// An operator drops txn_traces, the last table a request is written to
	// before assembly: the spans, facts and batch closes land, then the
	// insert fails, and the next attempt recreates the table.
	db.Exec(t, "DROP TABLE "+db.Name+".txn_traces")
	td := loadgen.Requests(400, 2000, 7)[0]
	spans := td.SpanCount()
	if spans != 400*loadgen.SpansPerTxn {
		t.Fatalf("the request holds %d spans, want %d", spans, 400*loadgen.SpansPerTxn)
	}
	if err := exp.ConsumeTraces(ctx, td); err != nil {
		t.Fatalf("ConsumeTraces: %v", err)
	}
	if n := td.SpanCount(); n != 0 {
		t.Errorf("the converted request still holds %d spans", n)
	}
	if got := db.Count(t, "SELECT count() FROM spans"); got != uint64(spans) {
		t.Errorf("spans: %d rows, want %d", got, spans)
	}
	// The spans were inserted once: the retry did not write the stored table
	// again. Rows of the parts inserts made (level 0, merged away or not), not
	// block numbers: an insert whose spans straddle midnight writes a part
	// per day, each with a block number of its own.
	if got := db.Count(t, "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = 'spans' AND level = 0", db.Name); got != uint64(spans) {
		t.Errorf("spans received %d rows in all, want %d (inserted once)", got, spans)
	}
	if got := db.Count(t, "SELECT count() FROM payment_facts"); got != uint64(spans) {
		t.Errorf("payment_facts: %d rows, want %d", got, spans)
	}
	if got := db.Count(t, "SELECT count() FROM txn_traces"); got != 400 {
		t.Errorf("txn_traces (recreated, written by the retry): %d rows, want 400", got)
	}
	if got := db.Count(t, "SELECT count() FROM transactions FINAL"); got != 400 {
		t.Errorf("transactions assembled: %d, want 400", got)
	}
	if n := len(e.retries.kept); n != 0 {
		t.Errorf("%d row sets still kept after the request was stored", n)
	}
}

// A token whose rows are gone (only a bug can do it) fails for good, loudly,
// instead of being retried forever or stored as an empty request.
func TestTokenWithoutRowsIsAPermanentError(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	e, err := newExporter(exportertest.NewNopSettings(Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok := e.retries.put(&rowSet{}, time.Now())
	e.retries.clear()
	err = e.push(context.Background(), tok)
	if err == nil || !consumererror.IsPermanent(err) {
		t.Fatalf("push(token without rows) = %v, want a permanent error", err)
	}
	if !strings.Contains(err.Error(), "no longer held") {
		t.Errorf("the error does not say what happened: %v", err)
	}
}

// With ClickHouse unreachable, every attempt hands the helper a new token for
// the same kept rows, and the request itself is emptied at the first; with
// retries off nothing is kept.
func TestUnreachableClickHouseKeepsRowsAcrossAttempts(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = "127.0.0.1:1" // nothing listens there
	cfg.DialTimeout = 200 * time.Millisecond
	e, err := newExporter(exportertest.NewNopSettings(Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	td := loadgen.Requests(20, 100, 3)[0]
	err = e.push(context.Background(), td)
	var left consumererror.Traces
	if !errors.As(err, &left) {
		t.Fatalf("push with ClickHouse down = %v, want the part left to send (consumererror.Traces)", err)
	}
	if td.SpanCount() != 0 || left.Data().SpanCount() != 0 {
		t.Fatalf("spans still held: request %d, retry %d", td.SpanCount(), left.Data().SpanCount())
	}
	first := e.retries.kept
	var rows *rowSet
	for _, k := range first {
		rows = k.rows
	}
	if len(first) != 1 || rows == nil || rows.nSpans != 100 {
		t.Fatalf("kept %d row sets (%v), want one of 100 spans", len(first), rows)
	}
	err = e.push(context.Background(), left.Data())
	var again consumererror.Traces
	if !errors.As(err, &again) {
		t.Fatalf("retry with ClickHouse down = %v, want a new token", err)
	}
	if n := len(e.retries.kept); n != 1 {
		t.Fatalf("%d row sets kept after the second attempt, want 1", n)
	}
	for _, k := range e.retries.kept {
		if k.rows != rows {
			t.Fatal("the second attempt kept other rows than the first")
		}
	}

	cfg.BackOffConfig.Enabled = false
	off, err := newExporter(exportertest.NewNopSettings(Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = off.push(context.Background(), loadgen.Requests(20, 100, 4)[0])
	if err == nil || errors.As(err, &left) {
		t.Fatalf("push with retries off = %v, want a plain error", err)
	}
	if n := len(off.retries.kept); n != 0 {
		t.Fatalf("retries off, yet %d row sets kept", n)
	}
}
