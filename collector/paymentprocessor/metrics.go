package paymentprocessor

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const meterName = "github.com/settlewatch/settlewatch/collector/paymentprocessor"

// Metric names. Counters are added to once per batch, never per value.
const (
	// MetricPANsMasked counts card numbers masked, by location: resource
	// (attributes, schema URL), scope (attributes, name, version, schema URL),
	// span_name, span_attribute, span_status, event (name, attributes), link
	// (attributes), trace_state (of spans and links).
	MetricPANsMasked = "settlewatch_processor_pans_masked_total"
	// MetricSpans counts spans processed, with pan_masked = "true" for the
	// spans in which at least one PAN was masked (name, attributes, status,
	// events or links) and "false" for the others.
	MetricSpans = "settlewatch_processor_spans_total"
	// MetricRejected counts payment attributes flagged invalid (the span is
	// kept), by reason (amount_not_integer, currency_invalid) and field.
	MetricRejected = "settlewatch_processor_rejected_total"
)

// Where a PAN was found.
type location int

const (
	locResource location = iota
	locScope
	locSpanName
	locSpanAttribute
	locSpanStatus
	locEvent
	locLink
	locTraceState
	numLocations
)

var locationNames = [numLocations]string{
	locResource:      "resource",
	locScope:         "scope",
	locSpanName:      "span_name",
	locSpanAttribute: "span_attribute",
	locSpanStatus:    "span_status",
	locEvent:         "event",
	locLink:          "link",
	locTraceState:    "trace_state",
}

type telemetry struct {
	pansMasked metric.Int64Counter
	spans      metric.Int64Counter
	rejected   metric.Int64Counter

	// Attribute sets are built once, so recording a batch allocates little.
	locationOpts [numLocations]metric.AddOption
	maskedOpt    metric.AddOption
	cleanOpt     metric.AddOption
	rejectOpts   [numChecked]metric.AddOption
}

func newTelemetry(mp metric.MeterProvider) (*telemetry, error) {
	m := mp.Meter(meterName)
	t := &telemetry{}
	var err error
	if t.pansMasked, err = m.Int64Counter(MetricPANsMasked,
		metric.WithDescription("Card numbers (PANs) masked by the settlewatch_payment processor."),
		metric.WithUnit("{pan}")); err != nil {
		return nil, err
	}
	if t.spans, err = m.Int64Counter(MetricSpans,
		metric.WithDescription("Spans processed by the settlewatch_payment processor; pan_masked tells whether a PAN was masked in the span."),
		metric.WithUnit("{span}")); err != nil {
		return nil, err
	}
	if t.rejected, err = m.Int64Counter(MetricRejected,
		metric.WithDescription("Payment attributes flagged invalid in settlewatch.invalid (spans are kept), by reason and field."),
		metric.WithUnit("{attribute}")); err != nil {
		return nil, err
	}
	for l := range numLocations {
		t.locationOpts[l] = metric.WithAttributeSet(attribute.NewSet(attribute.String("location", locationNames[l])))
	}
	t.maskedOpt = metric.WithAttributeSet(attribute.NewSet(attribute.String("pan_masked", "true")))
	t.cleanOpt = metric.WithAttributeSet(attribute.NewSet(attribute.String("pan_masked", "false")))
	for f := range numChecked {
		t.rejectOpts[f] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("reason", checkedFields[f].reason),
			attribute.String("field", checkedFields[f].key),
		))
	}
	return t, nil
}

// record adds one batch's counts.
func (t *telemetry) record(ctx context.Context, st *batchStats) {
	for l, n := range st.pans {
		if n > 0 {
			t.pansMasked.Add(ctx, n, t.locationOpts[l])
		}
	}
	if st.spansMasked > 0 {
		t.spans.Add(ctx, st.spansMasked, t.maskedOpt)
	}
	if clean := st.spans - st.spansMasked; clean > 0 {
		t.spans.Add(ctx, clean, t.cleanOpt)
	}
	for f, n := range st.rejected {
		if n > 0 {
			t.rejected.Add(ctx, n, t.rejectOpts[f])
		}
	}
}
