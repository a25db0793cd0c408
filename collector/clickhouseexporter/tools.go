package clickhouseexporter

import (
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chbatch"
)

// SpanColumns returns the rows the exporter would write to the spans table
// for td, column by column. Benchmarks use it to insert exactly the same rows
// with the bare driver, as the baseline our pipeline is measured against.
func SpanColumns(td ptrace.Traces) (chbatch.Columns, int) {
	c := converter{maxValueBytes: createDefaultConfig().(*Config).MaxValueBytes, now: time.Now()}
	rs := c.convert(td)
	return rs.spans, rs.nSpans
}
