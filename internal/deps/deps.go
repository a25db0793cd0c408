//go:build tools

// Package deps pins modules the project is about to use so that `go mod tidy`
// keeps them while the code that imports them is being written.
package deps

import (
	_ "github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	_ "github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	_ "go.opentelemetry.io/collector/confmap/provider/envprovider"
	_ "go.opentelemetry.io/collector/confmap/provider/fileprovider"
	_ "go.opentelemetry.io/collector/exporter/debugexporter"
	_ "go.opentelemetry.io/collector/exporter/exporterhelper"
	_ "go.opentelemetry.io/collector/exporter/nopexporter"
	_ "go.opentelemetry.io/collector/otelcol"
	_ "go.opentelemetry.io/collector/otelcol/otelcoltest"
	_ "go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	_ "go.opentelemetry.io/collector/processor/processorhelper"
	_ "go.opentelemetry.io/collector/receiver/otlpreceiver"
	_ "go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	_ "go.opentelemetry.io/otel/sdk/trace"
	_ "gopkg.in/yaml.v3"
)
