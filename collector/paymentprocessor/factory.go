// Package paymentprocessor is the settlewatch_payment collector processor.
//
// For every span of every resource and scope it
//
//   - masks card numbers (PANs: 13–19 digits passing the Luhn check, optionally
//     grouped by single spaces or dashes) in every string value it can find:
//     resource, scope, span, event and link attribute values (including strings
//     and bytes nested in arrays and maps), span names, event names and status
//     messages, keeping at most the first 6 and last 4 digits (package panmask).
//     Attribute keys are names, not data, and are left alone;
//   - cleans the pos.* payment attributes of the telemetry contract (on spans
//     and resources): trims spaces, upper-cases pos.response.code and
//     pos.currency, lower-cases the enum-like values, turns integral amounts and
//     counts sent as strings or doubles into ints, and flags values it cannot
//     clean in the string-slice attribute settlewatch.invalid (the span is
//     always kept);
//   - counts what it did in its own metrics (see metrics.go).
//
// It never promotes, drops or reorders anything: resource vs span precedence is
// the exporter's business.
package paymentprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
)

// TypeStr is the component type used in collector configuration files.
const TypeStr = "settlewatch_payment"

const stability = component.StabilityLevelAlpha

var componentType = component.MustNewType(TypeStr)

// NewFactory returns the factory of the settlewatch_payment processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		componentType,
		func() component.Config { return createDefaultConfig() },
		processor.WithTraces(createTraces, stability),
	)
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newPaymentProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}))
}
