package clickhouseexporter

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const scopeName = "github.com/settlewatch/settlewatch/collector/clickhouseexporter"

// telemetry is the exporter's own metrics, exposed with the collector's.
type telemetry struct {
	spans     metric.Int64Counter
	rows      metric.Int64Counter
	rejected  metric.Int64Counter
	failures  metric.Int64Counter
	upkeep    metric.Int64Counter
	assembled metric.Int64Counter
	sources   metric.Int64Counter
}

func newTelemetry(mp metric.MeterProvider) (*telemetry, error) {
	m := mp.Meter(scopeName)
	var t telemetry
	var err error
	if t.spans, err = m.Int64Counter("settlewatch_exporter_spans_received_total",
		metric.WithDescription("Spans handed to the exporter."), metric.WithUnit("{span}")); err != nil {
		return nil, err
	}
	if t.rows, err = m.Int64Counter("settlewatch_exporter_rows_written_total",
		metric.WithDescription("Rows stored in ClickHouse, by table."), metric.WithUnit("{row}")); err != nil {
		return nil, err
	}
	if t.rejected, err = m.Int64Counter("settlewatch_exporter_rejected_total",
		metric.WithDescription("Values fixed or rows not derived because the input broke the contract, by reason."), metric.WithUnit("{item}")); err != nil {
		return nil, err
	}
	if t.failures, err = m.Int64Counter("settlewatch_exporter_write_failures_total",
		metric.WithDescription("Failed inserts or assemblies (the batch is retried), by table."), metric.WithUnit("{failure}")); err != nil {
		return nil, err
	}
	if t.upkeep, err = m.Int64Counter("settlewatch_exporter_upkeep_failures_total",
		metric.WithDescription("Failed hourly upkeep of the schema (dropping old days of counts, compacting closed days; retried the next hour), by table and task."), metric.WithUnit("{failure}")); err != nil {
		return nil, err
	}
	if t.assembled, err = m.Int64Counter("settlewatch_exporter_transactions_assembled_total",
		metric.WithDescription("Transaction rows written by assembly, by outcome."), metric.WithUnit("{transaction}")); err != nil {
		return nil, err
	}
	if t.sources, err = m.Int64Counter("settlewatch_exporter_assembly_sources_total",
		metric.WithDescription("Transactions assembled, by where their facts came from: memory (all stored rows were this request's) or clickhouse (some were read back: another writer's rows, or a transaction found through a batch close or a trace)."),
		metric.WithUnit("{transaction}")); err != nil {
		return nil, err
	}
	return &t, nil
}

func (t *telemetry) add(ctx context.Context, c metric.Int64Counter, n int, key, value string) {
	if n == 0 {
		return
	}
	if key == "" {
		c.Add(ctx, int64(n))
		return
	}
	c.Add(ctx, int64(n), metric.WithAttributes(attribute.String(key, value)))
}

// upkeepFailed counts a failed upkeep task on table.
func (t *telemetry) upkeepFailed(ctx context.Context, table, task string) {
	t.upkeep.Add(ctx, 1, metric.WithAttributes(attribute.String("table", table), attribute.String("task", task)))
}
