// Package clickhouseexporter is settlewatch's collector exporter: it stores
// spans, payment facts, batch closes and the txn→trace index in ClickHouse in
// columnar batches, then assembles the transactions those spans touched.
package clickhouseexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/collector/spoolstorage"
	"github.com/settlewatch/settlewatch/domain"
)

// Type is the component type used in collector configuration.
var Type = component.MustNewType("settlewatch_clickhouse")

// NewFactory returns the exporter factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(Type, createDefaultConfig,
		exporter.WithTraces(createTraces, component.StabilityLevelAlpha))
}

func createDefaultConfig() component.Config {
	queue := exporterhelper.NewDefaultQueueConfig()
	// Batch by spans: ClickHouse wants few large inserts (10k–100k rows).
	queue.Sizer = exporterhelper.RequestSizerTypeItems
	queue.QueueSize = 1_000_000
	// One consumer writing its batch's tables side by side (store) stores
	// as fast as two did, and its batches, twice as large in the same
	// memory, make half the parts for the server to merge.
	queue.NumConsumers = 1
	// A full queue holds the request until there is room or the client's
	// deadline passes: refused, it would be decoded and masked again when
	// the client resends it (docs/benchmarks.md, "A full queue holds
	// requests").
	queue.BlockOnOverflow = true
	batch := exporterhelper.NewDefaultBatchConfig()
	batch.Sizer = exporterhelper.RequestSizerTypeItems
	batch.MinSize = 40_000
	batch.MaxSize = 80_000
	batch.FlushTimeout = time.Second
	queue.Batch = configoptional.Some(batch)
	retry := configretry.NewDefaultBackOffConfig()
	retry.MaxElapsedTime = 0 // keep retrying while ClickHouse is down; the queue bounds memory
	return &Config{
		TimeoutConfig:     exporterhelper.TimeoutConfig{Timeout: 30 * time.Second},
		BackOffConfig:     retry,
		QueueConfig:       configoptional.Some(queue),
		Endpoint:          "127.0.0.1:9000",
		Database:          "settlewatch",
		Username:          "default",
		DialTimeout:       10 * time.Second,
		Compression:       "lz4",
		CreateSchema:      true,
		CompactClosedDays: true,
		MaxValueBytes:     64 * 1024,
		Assembly: AssemblyConfig{
			Enabled:          true,
			SettlementWindow: domain.DefaultSettlementWindow,
		},
	}
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	e, err := newExporter(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return e.traces(ctx, set)
}

// traces wraps e in the exporter helper: queue, batches, timeout, retries.
// The queue and the batches hold requests as OTLP bytes (request.go).
func (e *chExporter) traces(ctx context.Context, set exporter.Settings) (exporter.Traces, error) {
	c := e.cfg
	persistent, owned := false, false
	if c.QueueConfig.HasValue() && c.QueueConfig.Get().StorageID != nil {
		persistent = true
		owned = c.QueueConfig.Get().StorageID.Type().String() == spoolstorage.TypeStr
	}
	return xexporterhelper.NewTracesRequest(ctx, set,
		func(_ context.Context, td ptrace.Traces) (xexporterhelper.Request, error) {
			r := &otlpRequest{td: td, n: td.SpanCount()}
			if !persistent {
				// Encoded now: the request outlives ConsumeTraces, and the
				// receiver's spans must not be held past it.
				if err := r.encode(); err != nil {
					return nil, err
				}
			}
			return r, nil
		},
		e.push,
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithRetry(c.BackOffConfig),
		xexporterhelper.WithQueueBatch(c.QueueConfig, xexporterhelper.QueueBatchSettings{Encoding: otlpEncoding{owned: owned}}),
	)
}
