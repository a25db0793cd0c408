package assembly

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/chtest"
)

// A set of ids sent beside the query selects exactly its rows, through the
// primary key as a literal list did; an empty set selects none.
func TestIDSetsSelectTheirRows(t *testing.T) {
	db := chtest.Migrated(t)
	ctx := context.Background()
	row := func(txn, trace, span string, ingested int) string {
		return "SELECT '" + txn + "', toFixedString('" + trace + "', 16), toFixedString('" + span + "', 8), toUInt64(" +
			strconv.Itoa(ingested) + "), now()"
	}
	db.Exec(t, "INSERT INTO payment_facts_by_arrival (txn_id, trace_id, span_id, ingested_ns, start_time) "+strings.Join([]string{
		row("T-1", "aaaaaaaaaaaaaaaa", "span0001", 1), row("T-2", "bbbbbbbbbbbbbbbb", "span0002", 2),
		row("T-3", "cccccccccccccccc", "span0003", 3), row("", "bbbbbbbbbbbbbbbb", "span0004", 4),
	}, " UNION ALL "))
	a := &Assembler{Conn: db.Conn, DB: db.Name, QueryTimeout: time.Minute}
	for _, c := range []struct {
		name  string
		where string
		set   idSet
		want  []string
	}{
		{"transactions", "txn_id IN sw_txn_ids", txnSet([]string{"T-1", "T-3", "T-9"}), []string{"span0001", "span0003"}},
		{"traces without a transaction", "txn_id = '' AND trace_id IN sw_trace_ids", traceSet([]string{"bbbbbbbbbbbbbbbb", "zzzzzzzzzzzzzzzz"}), []string{"span0004"}},
		{"an id with quotes and a backslash", "txn_id IN sw_txn_ids", txnSet([]string{`T-1' OR '1'='1`, `T-2\`}), nil},
		{"an empty set", "txn_id IN sw_txn_ids", txnSet(nil), nil},
	} {
		ids, err := a.selectIDs(ctx, "SELECT span_id FROM "+a.facts()+" WHERE "+c.where+" ORDER BY span_id", []idSet{c.set})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(ids) != len(c.want) {
			t.Fatalf("%s: spans %q, want %q", c.name, ids, c.want)
		}
		for i := range ids {
			if ids[i] != c.want[i] {
				t.Errorf("%s: spans %q, want %q", c.name, ids, c.want)
			}
		}
	}
	// A trace id longer than the column is refused, not truncated into
	// another trace's.
	if _, err := a.selectIDs(ctx, "SELECT span_id FROM "+a.facts()+" WHERE trace_id IN sw_trace_ids",
		[]idSet{traceSet([]string{"bbbbbbbbbbbbbbbbEXTRA"})}); err == nil {
		t.Error("a 21-byte trace id was accepted for FixedString(16)")
	}
}
