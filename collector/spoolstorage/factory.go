// Package spoolstorage is the settlewatch_spool collector extension: storage
// for the exporter's persistent sending queue that keeps every value in a
// file of its own.
//
// The contrib file_storage keeps the queue in one bbolt file. The queue
// writes its small metadata key on every put, read and done, and bbolt
// rewrites the whole leaf page holding that key, which also holds the
// newest queued requests: under load each request of 2,000 spans
// (≈250 KB) cost ≈3.8 MB of page writes and allocations, and the file,
// mapped into memory, counted up to 350 MiB in the collector's RSS
// (docs/benchmarks.md, "The queue's storage"). Here a request is written
// once, read once with read(2), and deleted with unlink(2).
//
// A batch of operations is atomic: its new values go to temporary files, a
// journal naming them is renamed into place (the commit), then they are
// renamed over their keys. A client opened after a crash finishes a
// committed journal and removes what was never committed.
package spoolstorage

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
)

// TypeStr is the component type used in collector configuration files.
const TypeStr = "settlewatch_spool"

const stability = component.StabilityLevelAlpha

var componentType = component.MustNewType(TypeStr)

// NewFactory returns the factory of the settlewatch_spool extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(
		componentType,
		func() component.Config { return createDefaultConfig() },
		func(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
			return newSpool(set, cfg.(*Config)), nil
		},
		stability,
	)
}
