// Package distribution is the component set of the settlewatch collector:
// the stock OTLP receiver and memory limiter, our payment processor and
// ClickHouse exporter, health check, the spool storage of the persistent
// queue (and the stock file storage, for those who prefer it),
// bearer-token authentication for the receivers (config.production.yaml),
// and pprof for profiling under load (config.pprof.yaml; off unless added).
package distribution

import (
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/pprofextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/nopexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/settlewatch/settlewatch/collector/clickhouseexporter"
	"github.com/settlewatch/settlewatch/collector/paymentprocessor"
	"github.com/settlewatch/settlewatch/collector/spoolstorage"
)

// Version is the distribution's version, set at build time with -ldflags.
var Version = "0.1.0-dev"

// BuildInfo describes the distribution.
func BuildInfo() component.BuildInfo {
	return component.BuildInfo{
		Command:     "settlewatch-collector",
		Description: "settlewatch OpenTelemetry Collector: POS settlement traces into ClickHouse",
		Version:     Version,
	}
}

// Components returns the factories of every component in the distribution.
func Components() (otelcol.Factories, error) {
	var f otelcol.Factories
	var err error
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		return f, err
	}
	if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		memorylimiterprocessor.NewFactory(), paymentprocessor.NewFactory()); err != nil {
		return f, err
	}
	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		clickhouseexporter.NewFactory(), debugexporter.NewFactory(), nopexporter.NewFactory()); err != nil {
		return f, err
	}
	if f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](
		healthcheckextension.NewFactory(), spoolstorage.NewFactory(), filestorage.NewFactory(),
		bearertokenauthextension.NewFactory(), pprofextension.NewFactory()); err != nil {
		return f, err
	}
	f.Telemetry = otelconftelemetry.NewFactory()
	return f, nil
}

// Settings are the collector settings for the given config URIs (file paths
// or `env:`/`file:` URIs), with the file and env providers.
func Settings(configURIs []string) otelcol.CollectorSettings {
	return otelcol.CollectorSettings{
		BuildInfo: BuildInfo(),
		Factories: Components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				URIs: configURIs,
				ProviderFactories: []confmap.ProviderFactory{
					fileprovider.NewFactory(), envprovider.NewFactory(),
				},
				DefaultScheme: "env",
			},
		},
	}
}
