package clickhouseexporter

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/loadgen"
)

// A stored batch's columns are filled again by the next batch, and what the
// next batch stores is what an exporter with fresh columns stores: no value
// of the first batch shows through, in any table, and every transaction is
// assembled from its own facts. The second batch is smaller and carries
// other ids, so a column that kept a stale row or byte would show.
func TestNextBatchRefillsTheStoredColumns(t *testing.T) {
	batches := []ptrace.Traces{loadgen.Requests(300, 1500, 11)[0], loadgen.Requests(120, 600, 12)[0]}
	reused, fresh := chtest.Migrated(t), chtest.Migrated(t)

	e := newTestExporter(t, reused)
	var first columnSet
	for i, td := range batches {
		if err := e.push(context.Background(), &otlpRequest{td: td, n: td.SpanCount()}); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		kept := e.columns.spare
		if kept.sp == nil || kept.fc == nil {
			t.Fatalf("batch %d: its columns were not kept for the next", i)
		}
		if i == 0 {
			first = kept
		} else if kept.sp.attrKeys != first.sp.attrKeys || kept.fc.terminalID != first.fc.terminalID {
			t.Fatal("the second batch did not fill the first batch's columns")
		}
	}
	for _, td := range batches {
		// A new exporter per batch: every column allocated anew.
		if err := newTestExporter(t, fresh).push(context.Background(), &otlpRequest{td: td, n: td.SpanCount()}); err != nil {
			t.Fatal(err)
		}
	}

	for _, table := range []string{"spans", "payment_facts_by_arrival"} {
		got, want := everyValue(t, reused, table), everyValue(t, fresh, table)
		if n := strings.Count(want, "\n") + 1; n != 2100 {
			t.Fatalf("%s: %d rows with fresh columns, want 2100", table, n)
		}
		if got != want {
			t.Errorf("%s differs with reused columns:\n%s", table, firstDiff(got, want))
		}
	}
	txns := "SELECT concat(txn_id, '|', toString(outcome), '|', toString(cause), '|', toString(amount_minor), '|', terminal_id, '|', toString(span_count)) FROM " + chtest.Txns + " ORDER BY txn_id"
	if got, want := reused.Lines(t, txns), fresh.Lines(t, txns); got != want || strings.Count(want, "\n")+1 != 420 {
		t.Errorf("transactions differ with reused columns (%d lines, want 420):\n%s", strings.Count(want, "\n")+1, firstDiff(got, want))
	}
}

func newTestExporter(t *testing.T, db *chtest.DB) *chExporter {
	t.Helper()
	e, err := newExporter(exportertest.NewNopSettings(Type), testConfig(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.shutdown(context.Background()) })
	return e
}

// everyValue is every row of table, every column but when it was stored,
// as text in a fixed order.
func everyValue(t *testing.T, db *chtest.DB, table string) string {
	t.Helper()
	var cols []string
	for _, line := range strings.Split(db.Lines(t, "SELECT concat(name, ' ', type) FROM system.columns WHERE database = ? AND table = ? AND name != 'ingested_ns' ORDER BY name", db.Name, table), "\n") {
		name, typ, _ := strings.Cut(line, " ")
		switch {
		case strings.HasPrefix(typ, "FixedString"):
			cols = append(cols, "hex(`"+name+"`)")
		case strings.HasPrefix(typ, "Array("):
			cols = append(cols, "arrayStringConcat(arrayMap(x -> toString(x), `"+name+"`), ',')")
		default:
			cols = append(cols, "toString(`"+name+"`)")
		}
	}
	return db.Lines(t, "SELECT arrayStringConcat(["+strings.Join(cols, ", ")+"], '|') AS row FROM `"+table+"` ORDER BY row")
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return "reused: " + g[i] + "\nfresh:  " + w[i]
		}
	}
	return fmt.Sprintf("reused has %d rows, fresh %d", len(g), len(w))
}
