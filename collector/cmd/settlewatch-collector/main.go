// Command settlewatch-collector is the settlewatch OpenTelemetry Collector
// distribution. Run it with --config collector/config.yaml.
package main

import (
	"log"

	"go.opentelemetry.io/collector/otelcol"

	"github.com/settlewatch/settlewatch/collector/distribution"
)

func main() {
	cmd := otelcol.NewCommand(distribution.Settings(nil))
	if err := cmd.Execute(); err != nil {
		log.Fatalf("settlewatch-collector: %v", err)
	}
}
