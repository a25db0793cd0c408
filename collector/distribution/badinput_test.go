package distribution

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chtest"
)

// counter sums a Prometheus counter's samples whose labels contain every
// given label=value pair.
func counter(metrics, name string, labels ...string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})? ([0-9.e+]+)$`)
	var sum float64
	for _, m := range re.FindAllStringSubmatch(metrics, -1) {
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(m[1], l)
		}
		if ok {
			v, _ := strconv.ParseFloat(m[2], 64)
			sum += v
		}
	}
	return sum
}

func TestBadInputIsStoredCountedAndNeverFatal(t *testing.T) {
	db := chtest.Migrated(t)
	rc := startCollector(t, db, nil)
	now := time.Now().UTC()

	td := ptrace.NewTraces()
	spans := scope(td, "pos-terminal", map[string]any{"pos.terminal.id": "T-BAD", "pos.merchant.id": "M-BAD"})
	// A pos.transaction without pos.txn.id: the span is kept, no transaction.
	addSpan(spans, spanSpec{trace: "bad-1", id: "bad-1/root", name: "pos.transaction", start: now, dur: time.Second,
		attrs: map[string]any{"pos.txn.type": "sale", "pos.response.code": "00"}})
	// A float amount: the transaction is classified, the amount is not trusted.
	addSpan(spans, spanSpec{trace: "bad-2", id: "bad-2/root", name: "pos.transaction", start: now, dur: time.Second,
		attrs: map[string]any{"pos.txn.id": "BAD-AMOUNT", "pos.txn.type": "refund", "pos.response.code": "00", "pos.amount.minor": 12.5}})
	// An unknown response code: declined, cause unknown.
	addSpan(spans, spanSpec{trace: "bad-3", id: "bad-3/root", name: "pos.transaction", start: now, dur: time.Second,
		attrs: map[string]any{"pos.txn.id": "BAD-CODE", "pos.txn.type": "sale", "pos.response.code": "Q9", "pos.amount.minor": 100}})
	// Invalid UTF-8 and a 1 MB attribute.
	junk := addSpan(spans, spanSpec{trace: "bad-3", id: "bad-3/junk", parent: "bad-3/root", name: "pos.card.read", start: now, dur: time.Millisecond,
		attrs: map[string]any{"pos.txn.id": "BAD-CODE", "note": "caf\xe9 \xff", "blob": strings.Repeat("x", 1<<20)}})
	junk.Status().SetMessage("bad \xfe bytes")
	// Timestamps in 1970 and next year.
	addSpan(spans, spanSpec{trace: "bad-4", id: "bad-4/root", name: "pos.transaction", start: time.Unix(0, 0), dur: time.Second,
		attrs: map[string]any{"pos.txn.id": "BAD-1970", "pos.txn.type": "refund", "pos.response.code": "00", "pos.amount.minor": 100}})
	addSpan(spans, spanSpec{trace: "bad-5", id: "bad-5/root", name: "pos.transaction", start: now.AddDate(1, 0, 0), dur: time.Second,
		attrs: map[string]any{"pos.txn.id": "BAD-FUTURE", "pos.txn.type": "refund", "pos.response.code": "00", "pos.amount.minor": 100}})
	// Empty ids are legal OTLP; a span with no trace id still must not crash anything.
	empty := spans.AppendEmpty()
	empty.SetName("no.ids")
	empty.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	empty.SetEndTimestamp(pcommon.NewTimestampFromTime(now))

	rc.sendGRPC(t, td)
	waitOutcomes(t, db, map[string]want{
		"BAD-AMOUNT": {"approved", "none"},
		"BAD-CODE":   {"declined", "unknown"},
		"BAD-1970":   {"approved", "none"},
		"BAD-FUTURE": {"approved", "none"},
	})
	waitFor(t, db, 7, "SELECT count() FROM spans")
	if got := db.Count(t, "SELECT count() FROM "+chtest.Txns+" WHERE txn_id = 'BAD-AMOUNT' AND has(data_issues, 'amount_not_integer') AND amount_minor = 0"); got != 1 {
		t.Error("float amount not flagged on the transaction")
	}
	if got := db.Count(t, "SELECT count() FROM spans WHERE name = 'pos.card.read' AND has(attributes.value, 'caf\uFFFD \uFFFD') AND status_message = 'bad \uFFFD bytes'"); got != 1 {
		t.Error("invalid UTF-8 not replaced")
	}
	if got := db.Count(t, "SELECT max(length(v)) FROM spans ARRAY JOIN attributes.value AS v"); got > 70000 {
		t.Errorf("a %d-byte value was stored; the cap is 64 KiB", got)
	}
	if got := db.Count(t, "SELECT count() FROM "+chtest.Txns+" WHERE txn_id = 'BAD-1970' AND txn_time = toDateTime(0)"); got != 1 {
		t.Error("1970 transaction not stored as sent")
	}

	var m string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m = rc.metrics(t)
		if counter(m, "settlewatch_exporter_rejected_total", `reason="timestamp_out_of_range"`) >= 2 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for reason, min := range map[string]float64{"missing_txn_id": 1, "amount_not_integer": 1, "invalid_utf8": 2,
		"value_truncated": 1, "timestamp_out_of_range": 2} {
		if got := counter(m, "settlewatch_exporter_rejected_total", `reason="`+reason+`"`); got < min {
			t.Errorf("metric settlewatch_exporter_rejected_total{reason=%q} = %v, want ≥ %v", reason, got, min)
		}
	}
	if got := counter(m, "settlewatch_exporter_spans_received_total"); got != 7 {
		t.Errorf("spans received metric %v, want 7", got)
	}
	if got := counter(m, "settlewatch_exporter_rows_written_total", `table="spans"`); got != 7 {
		t.Errorf("rows written to spans %v, want 7", got)
	}
}
