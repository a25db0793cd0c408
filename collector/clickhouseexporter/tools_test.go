package clickhouseexporter

import (
	"testing"

	"github.com/settlewatch/settlewatch/loadgen"
)

// AllTableRows gives the rows of every table a batch writes, as the exporter
// counts them: loadgen's transactions are five spans, each a fact; there is
// no batch close, so no such table.
func TestAllTableRowsCountsEveryTable(t *testing.T) {
	const txns = 12
	reqs := loadgen.Requests(txns, 20, 7)
	td := reqs[0]
	for _, r := range reqs[1:] {
		r.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	tables, err := AllTableRows(td)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, tr := range tables {
		got[tr.Table.Name] = tr.N
		if n := len(tr.Cols); n != len(tr.Table.Columns()) {
			t.Errorf("%s: %d columns, want the table's %d", tr.Table.Name, n, len(tr.Table.Columns()))
		}
	}
	want := map[string]int{"spans": txns * loadgen.SpansPerTxn, "payment_facts_by_arrival": txns * loadgen.SpansPerTxn}
	if len(got) != len(want) {
		t.Errorf("tables %v, want %v", got, want)
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d rows, want %d", name, got[name], n)
		}
	}
}
