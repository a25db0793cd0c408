package clickhouseexporter

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/collector/otlpwire"
	"github.com/settlewatch/settlewatch/domain"
	"github.com/settlewatch/settlewatch/loadgen"
)

func newSpan(td ptrace.Traces, service string) ptrace.Span {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	rs.Resource().Attributes().PutStr("pos.terminal.id", "T-res")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1, 2, 3})
	sp.SetSpanID(pcommon.SpanID{byte(td.SpanCount()), 9})
	now := time.Now()
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Second)))
	return sp
}

// stringsOf is a String column's values, whatever form it is held in.
func stringsOf(v any) []string {
	if c, ok := v.(chbatch.Column); ok {
		return append([]string(nil), c.Block(0, c.Len()).([]string)...)
	}
	return v.([]string)
}

// arraysOf is an Array(String) column's rows.
func arraysOf(v any) [][]string {
	if c, ok := v.(chbatch.Column); ok {
		var out [][]string
		for _, row := range c.Block(0, c.Len()).([][]string) {
			out = append(out, append([]string(nil), row...))
		}
		return out
	}
	return v.([][]string)
}

func convertOne(t *testing.T, td ptrace.Traces) *rowSet {
	t.Helper()
	c := converter{maxValueBytes: 1024, now: time.Now()}
	rs, err := c.convertTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	if rs.malformed != nil {
		t.Fatalf("pdata's own encoding read as malformed: %v", rs.malformed)
	}
	return rs
}

func TestSpanAttributeOverridesResource(t *testing.T) {
	td := ptrace.NewTraces()
	sp := newSpan(td, "pos-terminal")
	sp.SetName("pos.transaction")
	sp.Attributes().PutStr("pos.txn.id", "X1")
	sp.Attributes().PutStr("pos.terminal.id", "T-span")
	sp.Attributes().PutStr("pos.response.code", " 5c ")
	sp.Attributes().PutInt("pos.amount.minor", 1250)
	rs := convertOne(t, td)
	if rs.nSpans != 1 || rs.nFacts != 1 || len(rs.keys.TxnIDs) != 1 {
		t.Fatalf("rows: spans %d facts %d, transaction keys %d", rs.nSpans, rs.nFacts, len(rs.keys.TxnIDs))
	}
	if got := stringsOf(rs.facts["terminal_id"])[0]; got != "T-span" {
		t.Errorf("terminal %q: the span attribute must win", got)
	}
	if got := stringsOf(rs.facts["response_code"])[0]; got != "5C" {
		t.Errorf("response code %q", got)
	}
	if got := rs.facts["amount_minor"].([]int64)[0]; got != 1250 {
		t.Errorf("amount %d", got)
	}
	if len(rs.keys.TxnIDs) != 1 || rs.keys.TxnIDs[0] != "X1" {
		t.Errorf("keys %v", rs.keys.TxnIDs)
	}
}

func TestBadInputIsCountedNotFatal(t *testing.T) {
	td := ptrace.NewTraces()
	// pos.transaction without pos.txn.id: span kept, no fact.
	noID := newSpan(td, "pos-terminal")
	noID.SetName("pos.transaction")
	// Non-integer amount.
	amt := newSpan(td, "pos-terminal")
	amt.SetName("pos.transaction")
	amt.Attributes().PutStr("pos.txn.id", "X2")
	amt.Attributes().PutDouble("pos.amount.minor", 12.5)
	// Invalid UTF-8 and a 1 MB value.
	junk := newSpan(td, "pos-terminal")
	junk.SetName("pos.card.read\xff")
	junk.Attributes().PutStr("pos.txn.id", "X2")
	junk.Attributes().PutStr("blob", strings.Repeat("é", 512*1024))
	// Timestamps in 1970 and next year.
	old := newSpan(td, "pos-terminal")
	old.SetStartTimestamp(0)
	old.SetEndTimestamp(0)
	future := newSpan(td, "pos-terminal")
	future.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Now().AddDate(1, 0, 0)))
	future.SetEndTimestamp(pcommon.NewTimestampFromTime(time.Now().AddDate(1, 0, 0)))
	// End before start, batch close without keys, PAN that slipped through.
	back := newSpan(td, "pos-terminal")
	back.SetEndTimestamp(back.StartTimestamp() - 1)
	bc := newSpan(td, "pos-terminal")
	bc.SetName("pos.batch.close")
	bc.Attributes().PutStr("note", "card 4111111111111111 here")

	rs := convertOne(t, td)
	if rs.nSpans != 7 {
		t.Errorf("spans %d, want all 7 kept", rs.nSpans)
	}
	want := map[string]int{reasonMissingTxnID: 1, reasonAmountNotInteger: 1, reasonInvalidUTF8: 1, reasonValueTruncated: 1,
		reasonTimestampRange: 2, reasonEndBeforeStart: 1, reasonBatchCloseKeys: 1, reasonPANAtExport: 1}
	for reason, n := range want {
		if rs.issues[reason] != n {
			t.Errorf("%s counted %d, want %d (all: %v)", reason, rs.issues[reason], n, rs.issues)
		}
	}
	if rs.nFacts != 2 || rs.nBatches != 0 {
		t.Errorf("facts %d batches %d", rs.nFacts, rs.nBatches)
	}
	if got := rs.facts["amount_ok"].([]uint8)[0]; got != uint8(domain.AmountInvalid) {
		t.Errorf("amount state %d", got)
	}
	for _, v := range arraysOf(rs.spans["attributes.value"]) {
		for _, s := range v {
			if len(s) > 1024+len("…[truncated]") {
				t.Errorf("value of %d bytes stored", len(s))
			}
			if strings.Contains(s, "4111111111111111") {
				t.Error("PAN stored")
			}
		}
	}
	if got := stringsOf(rs.spans["name"])[2]; got != "pos.card.read\uFFFD" {
		t.Errorf("name %q", got)
	}
}

func TestFailedSpanWithoutTxnIDBecomesTraceKey(t *testing.T) {
	td := ptrace.NewTraces()
	sp := newSpan(td, "payment-gateway")
	sp.SetName("db.query")
	sp.SetParentSpanID(pcommon.SpanID{7})
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Attributes().PutStr("error.type", "DATABASE_ERROR")
	rs := convertOne(t, td)
	if rs.nFacts != 1 || len(rs.keys.TraceIDs) != 1 || len(rs.keys.TxnIDs) != 0 {
		t.Fatalf("facts %d trace keys %d txn keys %d", rs.nFacts, len(rs.keys.TraceIDs), len(rs.keys.TxnIDs))
	}
	if got := stringsOf(rs.facts["error_type"])[0]; got != "database_error" {
		t.Errorf("error.type %q", got)
	}
}

// wireValue is v as the exporter reads it: an attribute of an encoded span.
func wireValue(t *testing.T, v pcommon.Value) otlpwire.Value {
	t.Helper()
	td := ptrace.NewTraces()
	v.CopyTo(newSpan(td, "svc").Attributes().PutEmpty("v"))
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	for rs := range otlpwire.NewTraces(b).ResourceSpans() {
		for ss := range rs.ScopeSpans() {
			for sp := range ss.Spans() {
				if got, ok := sp.Attributes().Get("v"); ok {
					return got
				}
			}
		}
	}
	t.Fatal("the attribute was not read back")
	return otlpwire.Value{}
}

func TestIntValue(t *testing.T) {
	cases := []struct {
		v    pcommon.Value
		n    int64
		want domain.AmountState
	}{
		{pcommon.NewValueInt(5), 5, domain.AmountOK},
		{pcommon.NewValueDouble(1200), 1200, domain.AmountOK},
		{pcommon.NewValueStr(" 42 "), 42, domain.AmountOK},
		{pcommon.NewValueDouble(12.5), 0, domain.AmountInvalid},
		{pcommon.NewValueStr("12.50"), 0, domain.AmountInvalid},
		{pcommon.NewValueStr("abc"), 0, domain.AmountInvalid},
		{pcommon.NewValueBool(true), 0, domain.AmountInvalid},
		{pcommon.NewValueDouble(1e300), 0, domain.AmountInvalid},
	}
	for _, c := range cases {
		n, st := intValue(wireValue(t, c.v))
		if n != c.n || st != c.want {
			t.Errorf("%v: %d/%d, want %d/%d", c.v.AsString(), n, st, c.n, c.want)
		}
	}
}

// A span's attributes are cleaned once for both the attribute arrays and
// the payment columns: a card number in a pos.* value is masked in both
// and counted once; the arrays keep the value as sent (spaces and case),
// the columns get it normalised.
func TestPaymentAttributeCleanedOnceForBothUses(t *testing.T) {
	td := ptrace.NewTraces()
	sp := newSpan(td, "pos-terminal")
	sp.SetName("pos.transaction")
	sp.Attributes().PutStr("pos.txn.id", "X9")
	sp.Attributes().PutStr("pos.merchant.id", " M-4111111111111111 ")
	sp.Attributes().PutStr("pos.currency", " cny ")
	rs := convertOne(t, td)
	if rs.issues[reasonPANAtExport] != 1 {
		t.Errorf("PAN counted %d times, want once (all: %v)", rs.issues[reasonPANAtExport], rs.issues)
	}
	merchant := stringsOf(rs.facts["merchant_id"])[0]
	if strings.Contains(merchant, "4111111111111111") || !strings.HasPrefix(merchant, "M-411111") || strings.HasPrefix(merchant, " ") {
		t.Errorf("merchant column %q: want trimmed, the PAN masked", merchant)
	}
	if got := stringsOf(rs.facts["currency"])[0]; got != "CNY" {
		t.Errorf("currency column %q, want CNY", got)
	}
	keys, vals := arraysOf(rs.spans["attributes.key"])[0], arraysOf(rs.spans["attributes.value"])[0]
	got := map[string]string{}
	for i, k := range keys {
		got[k] = vals[i]
	}
	if v := got["pos.merchant.id"]; v != " "+merchant+" " {
		t.Errorf("attribute value %q, want the column's value as sent, spaces kept: %q", v, " "+merchant+" ")
	}
	if v := got["pos.currency"]; v != " cny " {
		t.Errorf("attribute value %q, want it as sent", v)
	}
}

// A request's bytes go once it is converted (convert), and a queue may reuse
// its buffer: nothing the rows, keys or issues hold may view them.
// Overwriting the bytes after conversion must change nothing.
func TestRowsOutliveTheRequestBytes(t *testing.T) {
	td := loadgen.Requests(20, 100, 5)[0]
	// Besides sales: a batch close, a span with events and links, a failed
	// span without a transaction id, and an issue with an example id.
	bc := newSpan(td, "pos-terminal")
	bc.SetName(domain.SpanBatchClose)
	bc.Attributes().PutStr("pos.terminal.id", "T-77")
	bc.Attributes().PutStr("pos.batch.number", "B-12")
	bc.Attributes().PutStr("pos.batch.result", "accepted")
	ev := newSpan(td, "pos-gateway")
	ev.SetName("gateway.authorize")
	ev.Attributes().PutStr("pos.txn.id", "TX-events")
	e := ev.Events().AppendEmpty()
	e.SetName("retry")
	e.Attributes().PutStr("attempt", "2")
	ev.Links().AppendEmpty().SetTraceID(pcommon.TraceID{7})
	failed := newSpan(td, "pos-gateway")
	failed.SetName("gateway.issuer.request")
	failed.Status().SetCode(ptrace.StatusCodeError)
	bad := newSpan(td, "pos-terminal")
	bad.SetName("pos.card.read\xff") // counted with its transaction's id as the example
	bad.Attributes().PutStr("pos.txn.id", "TX-bad")

	enc, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	convert := func(b []byte) *rowSet {
		c := converter{maxValueBytes: 1024, now: time.Now()}
		return c.convert([][]byte{b}, td.SpanCount())
	}
	reused := append([]byte(nil), enc...)
	got := convert(reused)
	for i := range reused {
		reused[i] = 'x'
	}
	want := convert(append([]byte(nil), enc...))

	if got.nSpans != td.SpanCount() || got.nBatches != 1 || len(got.keys.TraceIDs) != 1 || got.issues[reasonInvalidUTF8] != 1 {
		t.Fatalf("converted %d spans, %d batch closes, %d trace keys, issues %v", got.nSpans, got.nBatches, len(got.keys.TraceIDs), got.issues)
	}
	for table, cols := range map[string][2]chbatch.Columns{
		"spans": {got.spans, want.spans}, "payment_facts_by_arrival": {got.facts, want.facts},
		"batch_closes": {got.batches, want.batches},
	} {
		for name, v := range cols[0] {
			if name == "ingested_ns" {
				continue // each conversion's own time
			}
			if a, b := valuesOf(v), valuesOf(cols[1][name]); !reflect.DeepEqual(a, b) {
				t.Errorf("%s.%s changed with the request's bytes:\n%v\nwant\n%v", table, name, a, b)
			}
		}
	}
	if !reflect.DeepEqual(got.keys.TxnIDs, want.keys.TxnIDs) || !reflect.DeepEqual(got.keys.TraceIDs, want.keys.TraceIDs) ||
		!reflect.DeepEqual(got.keys.Batches, want.keys.Batches) {
		t.Errorf("assembly's keys changed with the request's bytes: %+v\nwant %+v", got.keys, want.keys)
	}
	if got.examples[reasonInvalidUTF8] != "TX-bad" || !reflect.DeepEqual(got.examples, want.examples) {
		t.Errorf("issue examples changed with the request's bytes: %v, want %v", got.examples, want.examples)
	}
}

// valuesOf is a column's values as plain Go values, whatever form it is
// held in.
func valuesOf(v any) any {
	if c, ok := v.(chbatch.Column); ok {
		switch c.Block(0, 0).(type) {
		case []string:
			return stringsOf(c)
		case [][]string:
			return arraysOf(c)
		}
	}
	return v
}
