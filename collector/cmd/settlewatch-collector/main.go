// Command settlewatch-collector is the settlewatch OpenTelemetry Collector
// distribution. Run it with --config collector/config.yaml.
package main

import (
	"log"
	"os"

	"go.opentelemetry.io/collector/otelcol"

	"github.com/settlewatch/settlewatch/collector/distribution"
	"github.com/settlewatch/settlewatch/gctarget"
)

// gcPercent is the collector's garbage-collection target unless the
// operator sets GOGC. At Go's default of 100 the collector spent about a
// tenth of its CPU collecting; at 150 it stores 3–6 % more spans a second
// on two cores, for a peak RSS of 204–228 MiB instead of 176–186 under
// sustained load (docs/benchmarks.md, "OTLP read in place").
const gcPercent = 150

// memoryLimit is the collector's soft memory limit unless the operator sets
// GOMEMLIMIT. The shipped batches (collector/config.yaml, 100k–200k spans)
// hold a live heap of about 100 MiB, which GOGC alone would let grow to
// 250 MiB before collecting; under this limit the collector stays near
// 235 MiB of RSS. Larger batches make fewer parts, which leaves the server
// less to merge: 8 % more spans a second than batches of 40k–80k without a
// limit (docs/benchmarks.md, "Larger batches under a memory limit"). A
// deployment that raises the batches or the memory_limiter's limit raises
// GOMEMLIMIT with them: past the limit the runtime collects more often
// instead of growing.
const memoryLimit = 200 << 20

func main() {
	gctarget.SetPercent(gcPercent, os.Getenv)
	gctarget.SetMemoryLimit(memoryLimit, os.Getenv)
	cmd := otelcol.NewCommand(distribution.Settings(nil))
	if err := cmd.Execute(); err != nil {
		log.Fatalf("settlewatch-collector: %v", err)
	}
}
