package clickhouseexporter

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chbatch"
)

// SpanColumns returns the rows the exporter would write to the spans table
// for td, column by column. Benchmarks use it to insert exactly the same rows
// with the bare driver, as the baseline our pipeline is measured against.
func SpanColumns(td ptrace.Traces) (chbatch.Columns, int, error) {
	c := converter{maxValueBytes: createDefaultConfig().(*Config).MaxValueBytes, now: time.Now()}
	rs, err := c.convertTraces(td)
	if err != nil {
		return nil, 0, err
	}
	return rs.spans, rs.nSpans, nil
}

// convertTraces converts td encoded as the queue holds it.
func (c *converter) convertTraces(td ptrace.Traces) (*rowSet, error) {
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		return nil, fmt.Errorf("settlewatch exporter: encode traces: %w", err)
	}
	return c.convert([][]byte{b}, td.SpanCount()), nil
}
