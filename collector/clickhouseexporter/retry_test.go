package clickhouseexporter

import (
	"context"
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
// from the rows its first attempt converted: the tables that attempt stored
// are not written again, every row of the others lands, and both attempts
// stamp their rows alike.
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

	// An operator drops spans, one of the tables a batch is written to side
	// by side before assembly: the facts land, its insert fails, and the
	// next attempt recreates the table.
	db.Exec(t, "DROP TABLE "+db.Name+".spans")
	td := loadgen.Requests(400, 2000, 7)[0]
	spans := td.SpanCount()
	if spans != 400*loadgen.SpansPerTxn {
		t.Fatalf("the request holds %d spans, want %d", spans, 400*loadgen.SpansPerTxn)
	}
	if err := exp.ConsumeTraces(ctx, td); err != nil {
		t.Fatalf("ConsumeTraces: %v", err)
	}
	if n := td.SpanCount(); n != spans {
		t.Errorf("the receiver's request was changed: %d spans, was %d", n, spans)
	}
	if got := db.Count(t, "SELECT count() FROM payment_facts_by_arrival"); got != uint64(spans) {
		t.Errorf("payment_facts_by_arrival: %d rows, want %d", got, spans)
	}
	// The facts were inserted once: the retry did not write the stored table
	// again. Rows of the parts inserts made (level 0, merged away or not), not
	// block numbers: an insert whose facts straddle a day writes a part per
	// day, each with a block number of its own.
	if got := db.Count(t, "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = 'payment_facts_by_arrival' AND level = 0", db.Name); got != uint64(spans) {
		t.Errorf("payment_facts_by_arrival received %d rows in all, want %d (inserted once)", got, spans)
	}
	if got := db.Count(t, "SELECT count() FROM spans"); got != uint64(spans) {
		t.Errorf("spans (recreated, written by the retry): %d rows, want %d", got, spans)
	}
	if got := db.Count(t, "SELECT count() FROM "+chtest.Txns); got != 400 {
		t.Errorf("transactions assembled: %d, want 400", got)
	}
	if got := db.Count(t, "SELECT uniqExact(ingested_ns) FROM (SELECT ingested_ns FROM spans UNION ALL SELECT ingested_ns FROM payment_facts_by_arrival)"); got != 1 {
		t.Errorf("the rows carry %d ingested_ns, want the one of the first attempt", got)
	}
}

// With ClickHouse unreachable, every attempt keeps the batch's rows for the
// next, and its bytes are let go at the first; a request of another type is
// refused for good.
func TestUnreachableClickHouseKeepsRowsAcrossAttempts(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Endpoint = "127.0.0.1:1" // nothing listens there
	cfg.DialTimeout = 200 * time.Millisecond
	e, err := newExporter(exportertest.NewNopSettings(Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	td := loadgen.Requests(20, 100, 3)[0]
	r := &otlpRequest{td: td, n: td.SpanCount()}
	if err := e.push(context.Background(), r); err == nil || consumererror.IsPermanent(err) {
		t.Fatalf("push with ClickHouse down = %v, want an error to retry", err)
	}
	rows := r.rows
	if rows == nil || rows.nSpans != 100 || r.parts != nil {
		t.Fatalf("after a failed attempt: rows %v, parts held %v", rows, r.parts != nil)
	}
	if err := e.push(context.Background(), r); err == nil {
		t.Fatal("the second attempt succeeded with ClickHouse down")
	}
	if r.rows != rows || rows.spans == nil {
		t.Fatal("the second attempt converted the batch again or dropped its rows")
	}
	if err := e.push(context.Background(), &struct{ *otlpRequest }{r}); !consumererror.IsPermanent(err) {
		t.Errorf("push of a foreign request = %v, want a permanent error", err)
	}
}

// A batch whose assembly failed is assembled a chunk at a time on the next
// attempt, each chunk's transactions written before the next is read: a
// batch too slow to assemble within the timeout (a client sending again what
// is stored) then makes progress at every attempt instead of failing whole
// each time while the queue fills behind it.
func TestFailedAssemblyIsRetriedAChunkAtATime(t *testing.T) {
	db := chtest.Migrated(t)
	e, err := newExporter(exportertest.NewNopSettings(Type), testConfig(db))
	if err != nil {
		t.Fatal(err)
	}
	td := loadgen.Requests(400, 2000, 11)[0]
	r := &otlpRequest{td: td, n: td.SpanCount()}
	// The transactions' table is out of reach for the first attempt: its
	// rows of spans and facts land, its assembly fails.
	db.Exec(t, "RENAME TABLE "+db.Name+".transaction_versions TO "+db.Name+".tv_away")
	if err := e.push(context.Background(), r); err == nil {
		t.Fatal("the first attempt succeeded without the transactions' table")
	}
	if r.rows == nil || !r.rows.assemblyFailed || len(r.rows.keys.TxnIDs) != 400 {
		t.Fatalf("after the failed assembly: rows kept %v, assembly failed %v", r.rows != nil, r.rows != nil && r.rows.assemblyFailed)
	}
	db.Exec(t, "RENAME TABLE "+db.Name+".tv_away TO "+db.Name+".transaction_versions")
	db.Exec(t, "SYSTEM STOP MERGES "+db.Name+".transactions_by_time")
	e.asm.ChunkSize = 100
	if err := e.push(context.Background(), r); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if got := db.Count(t, "SELECT count() FROM "+chtest.Txns); got != 400 {
		t.Errorf("transactions assembled: %d, want 400", got)
	}
	if got := db.Count(t, "SELECT count() FROM system.parts WHERE database = ? AND table = 'transactions_by_time' AND active", db.Name); got != 4 {
		t.Errorf("transactions_by_time holds %d parts, want 4: a chunk of 100 at a time", got)
	}
	if got := db.Count(t, "SELECT sum(rows) FROM system.parts WHERE database = ? AND table = 'payment_facts_by_arrival' AND active", db.Name); got != uint64(r.n) {
		t.Errorf("payment_facts_by_arrival: %d rows, want %d (written once)", got, r.n)
	}
}
