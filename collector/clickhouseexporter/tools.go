package clickhouseexporter

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
)

// TableRows is one table's rows as the exporter writes them.
type TableRows struct {
	Table chschema.Table
	Cols  chbatch.Columns
	N     int
}

// AllTableRows converts td into the rows of every table the exporter writes
// for a batch (spans, payment_facts, batch_closes), column by
// column. Benchmarks insert exactly these rows with the bare driver, as the
// baseline our pipeline is measured against.
func AllTableRows(td ptrace.Traces) ([]TableRows, error) {
	c := converter{maxValueBytes: createDefaultConfig().(*Config).MaxValueBytes, now: time.Now()}
	rs, err := c.convertTraces(td)
	if err != nil {
		return nil, err
	}
	var out []TableRows
	for _, w := range rs.writes() {
		if w.n > 0 {
			out = append(out, TableRows{Table: w.t, Cols: *w.cols, N: w.n})
		}
	}
	return out, nil
}

// convertTraces converts td encoded as the queue holds it.
func (c *converter) convertTraces(td ptrace.Traces) (*rowSet, error) {
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		return nil, fmt.Errorf("settlewatch exporter: encode traces: %w", err)
	}
	return c.convert([][]byte{b}, td.SpanCount()), nil
}
