// Command settlewatch-collector is the settlewatch OpenTelemetry Collector
// distribution. Run it with --config collector/config.yaml.
package main

import (
	"log"
	"os"

	"go.opentelemetry.io/collector/otelcol"

	"github.com/settlewatch/settlewatch/collector/distribution"
	"github.com/settlewatch/settlewatch/gcpercent"
)

// gcPercent is the collector's garbage-collection target unless the
// operator sets GOGC. At Go's default of 100 the collector spent about a
// tenth of its CPU collecting; at 150 it stores 3–6 % more spans a second
// on two cores, for a peak RSS of 204–228 MiB instead of 176–186 under
// sustained load (docs/benchmarks.md, "OTLP read in place").
const gcPercent = 150

func main() {
	gcpercent.SetDefault(gcPercent, os.Getenv)
	cmd := otelcol.NewCommand(distribution.Settings(nil))
	if err := cmd.Execute(); err != nil {
		log.Fatalf("settlewatch-collector: %v", err)
	}
}
