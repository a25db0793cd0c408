package paymentprocessor

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// ---- an independent PAN checker for the output ----

func luhnOK(d []byte) bool {
	sum := 0
	for i := range d {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			if n *= 2; n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

func isDig(c byte) bool { return '0' <= c && c <= '9' }

// panRuns returns every Luhn-valid 13–19 digit run in s, where a run is made of
// whole digit groups joined by one space or dash.
func panRuns(s string) []string {
	var found []string
	for start := 0; start < len(s); start++ {
		if !isDig(s[start]) || (start > 0 && isDig(s[start-1])) {
			continue
		}
		var digits []byte
		for i := start; i <= len(s); i++ {
			if i < len(s) && isDig(s[i]) {
				digits = append(digits, s[i])
				continue
			}
			// end of a group
			if len(digits) > 19 {
				break
			}
			if len(digits) >= 13 && luhnOK(digits) {
				found = append(found, string(digits))
			}
			if i+1 < len(s) && (s[i] == ' ' || s[i] == '-') && isDig(s[i+1]) {
				continue
			}
			break
		}
	}
	return found
}

// allStrings lists every string in td (keys excluded), bytes included as text.
func allStrings(td ptrace.Traces) []string {
	var out []string
	var value func(v pcommon.Value)
	attrs := func(m pcommon.Map) {
		m.Range(func(_ string, v pcommon.Value) bool { value(v); return true })
	}
	value = func(v pcommon.Value) {
		switch v.Type() {
		case pcommon.ValueTypeStr:
			out = append(out, v.Str())
		case pcommon.ValueTypeBytes:
			out = append(out, string(v.Bytes().AsRaw()))
		case pcommon.ValueTypeMap:
			attrs(v.Map())
		case pcommon.ValueTypeSlice:
			for i := 0; i < v.Slice().Len(); i++ {
				value(v.Slice().At(i))
			}
		}
	}
	for _, rs := range td.ResourceSpans().All() {
		attrs(rs.Resource().Attributes())
		out = append(out, rs.SchemaUrl())
		for _, ss := range rs.ScopeSpans().All() {
			out = append(out, ss.Scope().Name(), ss.Scope().Version(), ss.SchemaUrl())
			attrs(ss.Scope().Attributes())
			for _, sp := range ss.Spans().All() {
				out = append(out, sp.Name(), sp.Status().Message(), sp.TraceState().AsRaw())
				attrs(sp.Attributes())
				for _, ev := range sp.Events().All() {
					out = append(out, ev.Name())
					attrs(ev.Attributes())
				}
				for _, l := range sp.Links().All() {
					out = append(out, l.TraceState().AsRaw())
					attrs(l.Attributes())
				}
			}
		}
	}
	return out
}

func assertNoPAN(t *testing.T, td ptrace.Traces) {
	t.Helper()
	for _, s := range allStrings(td) {
		if runs := panRuns(s); len(runs) > 0 {
			t.Errorf("card number %s survived in %q", runs[0], s)
		}
	}
}

// withCheck appends the Luhn check digit.
func withCheck(body string) string {
	for c := byte('0'); c <= '9'; c++ {
		if luhnOK([]byte(body + string(c))) {
			return body + string(c)
		}
	}
	panic("unreachable")
}

// testPAN returns a Luhn-valid PAN of n digits.
func testPAN(n int) string { return withCheck("6212345678901234567"[:n-1]) }

func grouped(pan string, sep string) string {
	var b strings.Builder
	for i := 0; i < len(pan); i += 4 {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(pan[i:min(i+4, len(pan))])
	}
	return b.String()
}

func maskedForm(pan string, kf, kl int) string {
	return pan[:kf] + strings.Repeat("*", len(pan)-kf-kl) + pan[len(pan)-kl:]
}

// ---- harness ----

type harness struct {
	proc processor.Traces
	sink *consumertest.TracesSink
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
}

func newHarness(t *testing.T, cfg *Config) *harness {
	t.Helper()
	h := &harness{sink: new(consumertest.TracesSink), tel: componenttest.NewTelemetry()}
	set := processortest.NewNopSettings(componentType)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	core, logs := observer.New(zapcore.InfoLevel)
	set.Logger = zap.New(core)
	h.logs = logs
	if cfg == nil {
		cfg = createDefaultConfig()
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	proc, err := NewFactory().CreateTraces(context.Background(), set, cfg, h.sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := proc.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		_ = h.tel.Shutdown(context.Background())
	})
	h.proc = proc
	return h
}

// run processes td and returns what reached the next consumer.
func (h *harness) run(t *testing.T, td ptrace.Traces) ptrace.Traces {
	t.Helper()
	before := td.SpanCount()
	h.sink.Reset()
	if err := h.proc.ConsumeTraces(context.Background(), td); err != nil {
		t.Fatal(err)
	}
	all := h.sink.AllTraces()
	if len(all) != 1 {
		t.Fatalf("next consumer got %d batches, want 1", len(all))
	}
	if got := all[0].SpanCount(); got != before {
		t.Fatalf("next consumer got %d spans, want %d", got, before)
	}
	return all[0]
}

// counter sums the data points of a counter whose attributes include match.
func (h *harness) counter(t *testing.T, name string, match ...attribute.KeyValue) int64 {
	t.Helper()
	m, err := h.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T, want a Sum[int64]", name, m.Data)
	}
	var total int64
	for _, dp := range sum.DataPoints {
		all := true
		for _, kv := range match {
			if v, ok := dp.Attributes.Value(kv.Key); !ok || v != kv.Value {
				all = false
			}
		}
		if all {
			total += dp.Value
		}
	}
	return total
}

// ---- tests ----

func TestFactory(t *testing.T) {
	f := NewFactory()
	if f.Type().String() != "settlewatch_payment" {
		t.Fatalf("type = %s", f.Type())
	}
	if f.TracesStability() != component.StabilityLevelAlpha {
		t.Fatalf("stability = %v", f.TracesStability())
	}
	h := newHarness(t, nil)
	if !h.proc.Capabilities().MutatesData {
		t.Fatal("the processor mutates data and must say so")
	}
}

// everywhere builds one batch with pan planted in every string place.
func everywhere(pan string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.PutStr("service.name", "pos-terminal")
	ra.PutStr("note", "resource "+pan)
	ra.PutEmptySlice("cards").AppendEmpty().SetStr(pan)
	rs.SetSchemaUrl("https://example.com/" + pan)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("pos")
	ss.Scope().SetVersion("v" + pan)
	ss.Scope().Attributes().PutStr("scope.note", pan)
	sp := ss.Spans().AppendEmpty()
	sp.SetName("charge " + pan)
	sp.TraceState().FromRaw("vendor=" + pan)
	a := sp.Attributes()
	a.PutStr("pos.txn.id", "RRN1")
	a.PutStr("card", pan)
	sl := a.PutEmptySlice("list")
	sl.AppendEmpty().SetStr("first")
	sl.AppendEmpty().SetStr("then " + pan)
	sl.AppendEmpty().SetInt(4111111111111111)
	deep := a.PutEmptyMap("nested").PutEmptyMap("deeper")
	deep.PutEmptySlice("arr").AppendEmpty().SetStr(pan + " end")
	deep.PutStr("s", pan)
	a.PutEmptyBytes("raw").FromRaw([]byte("b:" + pan))
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("declined for card " + pan)
	ev := sp.Events().AppendEmpty()
	ev.SetName("read " + pan)
	ev.Attributes().PutStr("track2", pan+"=2512101")
	l := sp.Links().AppendEmpty()
	l.Attributes().PutStr("link.pan", pan)
	l.TraceState().FromRaw("v=" + pan)
	return td
}

func TestMasksEveryStringPlace(t *testing.T) {
	for n := 13; n <= 19; n++ {
		pan := testPAN(n)
		for _, form := range []struct{ name, text, want string }{
			{"plain", pan, maskedForm(pan, 6, 4)},
			{"spaces", grouped(pan, " "), ""},
			{"dashes", grouped(pan, "-"), ""},
		} {
			t.Run(fmt.Sprintf("%d_%s", n, form.name), func(t *testing.T) {
				h := newHarness(t, nil)
				out := h.run(t, everywhere(form.text))
				assertNoPAN(t, out)

				// first 6 and last 4 are kept
				sp := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
				card, _ := sp.Attributes().Get("card")
				digits := strings.NewReplacer(" ", "", "-", "").Replace(card.Str())
				if want := maskedForm(pan, 6, 4); digits != want {
					t.Fatalf("card = %q, want %q", card.Str(), want)
				}
				if form.want != "" && sp.Name() != "charge "+form.want {
					t.Fatalf("name = %q", sp.Name())
				}
				// an int attribute is not a string: left alone
				list, _ := sp.Attributes().Get("list")
				if list.Slice().At(2).Int() != 4111111111111111 {
					t.Fatal("int value changed")
				}
				// 17 places: resource 3, scope 2, name 1, attributes 5, status 1,
				// event 2, link 1, trace state 2
				if got := h.counter(t, MetricPANsMasked); got != 17 {
					t.Fatalf("pans masked = %d, want 17", got)
				}
				for loc, want := range map[string]int64{"resource": 3, "scope": 2, "span_name": 1,
					"span_attribute": 5, "span_status": 1, "event": 2, "link": 1, "trace_state": 2} {
					if got := h.counter(t, MetricPANsMasked, attribute.String("location", loc)); got != want {
						t.Errorf("pans masked at %s = %d, want %d", loc, got, want)
					}
				}
				if got := h.counter(t, MetricSpans, attribute.String("pan_masked", "true")); got != 1 {
					t.Fatalf("spans with a PAN = %d, want 1", got)
				}
			})
		}
	}
}

func TestMaskKeepsConfiguredDigits(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.KeepFirst, cfg.KeepLast = 0, 4
	h := newHarness(t, cfg)
	out := h.run(t, everywhere("4111111111111111"))
	assertNoPAN(t, out)
	v, _ := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get("card")
	if v.Str() != "************1111" {
		t.Fatalf("card = %q", v.Str())
	}
}

func TestAttributeKeysAreNotMasked(t *testing.T) {
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.Attributes().PutStr("4111111111111111", "key is a name, not data")
	out := newHarness(t, nil).run(t, td)
	if _, ok := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get("4111111111111111"); !ok {
		t.Fatal("attribute key was changed")
	}
}

func TestUnmaskedWhenDeliberatelyDisabled(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.MaskPANs, cfg.AllowUnmaskedPANs = false, true
	h := newHarness(t, cfg)
	out := h.run(t, everywhere("4111111111111111"))
	v, _ := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get("card")
	if v.Str() != "4111111111111111" {
		t.Fatalf("card = %q, want it untouched", v.Str())
	}
	if got := h.counter(t, MetricPANsMasked); got != 0 {
		t.Fatalf("pans masked = %d", got)
	}
}

func TestCleanSpanPassesUnchanged(t *testing.T) {
	td := benchTraces(3, 10)
	want := ptrace.NewTraces()
	td.CopyTo(want)
	h := newHarness(t, nil)
	out := h.run(t, td)
	if !out.ResourceSpans().At(0).Resource().Attributes().Equal(want.ResourceSpans().At(0).Resource().Attributes()) {
		t.Fatal("clean resource changed")
	}
	for i := 0; i < 3; i++ {
		g := out.ResourceSpans().At(i).ScopeSpans().At(0).Spans()
		w := want.ResourceSpans().At(i).ScopeSpans().At(0).Spans()
		for j := 0; j < g.Len(); j++ {
			if !g.At(j).Attributes().Equal(w.At(j).Attributes()) || g.At(j).Name() != w.At(j).Name() {
				t.Fatalf("clean span %d/%d changed", i, j)
			}
		}
	}
	if got := h.counter(t, MetricSpans, attribute.String("pan_masked", "false")); got != 30 {
		t.Fatalf("clean spans = %d, want 30", got)
	}
	if got := h.counter(t, MetricPANsMasked) + h.counter(t, MetricRejected); got != 0 {
		t.Fatalf("masked+rejected = %d, want 0", got)
	}
}

func TestNormalize(t *testing.T) {
	type want struct {
		value   any // string, int64, float64 or bool, as pcommon would hold it
		invalid []string
	}
	tests := []struct {
		key string
		in  any
		want
	}{
		{"pos.amount.minor", "1250", want{int64(1250), nil}},
		{"pos.amount.minor", " 1250 ", want{int64(1250), nil}},
		{"pos.amount.minor", "-300", want{int64(-300), nil}},
		{"pos.amount.minor", 1250.0, want{int64(1250), nil}},
		{"pos.amount.minor", int64(99), want{int64(99), nil}},
		{"pos.amount.minor", "12.50", want{"12.50", []string{"pos.amount.minor"}}},
		{"pos.amount.minor", 12.5, want{12.5, []string{"pos.amount.minor"}}},
		{"pos.amount.minor", "abc", want{"abc", []string{"pos.amount.minor"}}},
		{"pos.amount.minor", "", want{"", []string{"pos.amount.minor"}}},
		{"pos.amount.minor", "1e3", want{"1e3", []string{"pos.amount.minor"}}},
		{"pos.amount.minor", "99999999999999999999", want{"99999999999999999999", []string{"pos.amount.minor"}}},
		{"pos.amount.minor", 1e300, want{1e300, []string{"pos.amount.minor"}}},
		{"pos.amount.minor", true, want{true, []string{"pos.amount.minor"}}},
		{"pos.batch.amount.minor", "100000", want{int64(100000), nil}},
		{"pos.batch.amount.minor", 10.01, want{10.01, []string{"pos.batch.amount.minor"}}},
		{"pos.batch.txn_count", "12", want{int64(12), nil}},
		{"pos.batch.txn_count", "1.5", want{"1.5", []string{"pos.batch.txn_count"}}},
		{"pos.response.code", "5c", want{"5C", nil}},
		{"pos.response.code", " 00 ", want{"00", nil}},
		{"pos.response.code", "y1", want{"Y1", nil}},
		{"pos.currency", "cny", want{"CNY", nil}},
		{"pos.currency", " usd ", want{"USD", nil}},
		{"pos.currency", "RMB1", want{"RMB1", []string{"pos.currency"}}},
		{"pos.currency", "", want{"", []string{"pos.currency"}}},
		{"pos.currency", "€", want{"€", []string{"pos.currency"}}},
		{"pos.currency", int64(156), want{int64(156), []string{"pos.currency"}}},
		{"pos.txn.type", "SALE", want{"sale", nil}},
		{"pos.card.scheme", " UnionPay ", want{"unionpay", nil}},
		{"pos.card.funding", "Credit", want{"credit", nil}},
		{"pos.card.entry_mode", "CONTACTLESS", want{"contactless", nil}},
		{"pos.response.source", "Stand_In", want{"stand_in", nil}},
		{"pos.batch.result", "BALANCED", want{"balanced", nil}},
		{"pos.settlement.status", "Settled ", want{"settled", nil}},
		{"pos.txn.id", " RRN-Ab12 ", want{"RRN-Ab12", nil}},
		{"pos.settlement.date", "2024-05-01\n", want{"2024-05-01", nil}},
		{"pos.card.scheme", int64(3), want{int64(3), nil}},
		{"error.type", " timeout ", want{" timeout ", nil}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s=%#v", tc.key, tc.in), func(t *testing.T) {
			td := ptrace.NewTraces()
			sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			if err := sp.Attributes().PutEmpty(tc.key).FromRaw(tc.in); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, nil)
			out := h.run(t, td)
			attrs := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
			v, _ := attrs.Get(tc.key)
			if got := v.AsRaw(); got != tc.value {
				t.Errorf("value = %#v, want %#v", got, tc.value)
			}
			inv, ok := attrs.Get(InvalidAttribute)
			var gotInvalid []string
			if ok {
				for _, e := range inv.Slice().AsRaw() {
					gotInvalid = append(gotInvalid, e.(string))
				}
			}
			if fmt.Sprint(gotInvalid) != fmt.Sprint(tc.invalid) {
				t.Errorf("%s = %v, want %v", InvalidAttribute, gotInvalid, tc.invalid)
			}
			if got := h.counter(t, MetricRejected); got != int64(len(tc.invalid)) {
				t.Errorf("rejected = %d, want %d", got, len(tc.invalid))
			}
		})
	}
}

func TestNormalizeResourceAttributes(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("pos.merchant.id", " M-88001 ")
	rs.Resource().Attributes().PutStr("pos.terminal.id", "T-1")
	rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("pos.transaction")
	out := newHarness(t, nil).run(t, td)
	v, _ := out.ResourceSpans().At(0).Resource().Attributes().Get("pos.merchant.id")
	if v.Str() != "M-88001" {
		t.Fatalf("pos.merchant.id = %q", v.Str())
	}
	if out.ResourceSpans().At(0).Resource().Attributes().Len() != 2 {
		t.Fatal("resource attributes added or removed")
	}
}

func TestNormalizeDisabled(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Normalize = false
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.Attributes().PutStr("pos.amount.minor", "12.50")
	sp.Attributes().PutStr("pos.response.code", "5c")
	sp.Attributes().PutStr("pos.card.number", "4111111111111111")
	h := newHarness(t, cfg)
	out := h.run(t, td)
	attrs := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes()
	want := map[string]any{"pos.amount.minor": "12.50", "pos.response.code": "5c", "pos.card.number": "411111******1111"}
	if got := attrs.AsRaw(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("attributes = %v, want %v", got, want)
	}
}

func TestInvalidFlagIsMergedAndNotDuplicated(t *testing.T) {
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.Attributes().PutEmptySlice(InvalidAttribute).AppendEmpty().SetStr("upstream.field")
	sp.Attributes().PutStr("pos.amount.minor", "12.50")
	sp.Attributes().PutStr("pos.currency", "yuan")
	h := newHarness(t, nil)
	out := h.run(t, td)
	out = h.run(t, out) // processing twice must not duplicate the flags
	v, _ := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get(InvalidAttribute)
	want := "[upstream.field pos.amount.minor pos.currency]"
	if got := fmt.Sprint(v.Slice().AsRaw()); got != want {
		t.Fatalf("%s = %s, want %s", InvalidAttribute, got, want)
	}
}

func TestRejectionsCountedAndLoggedOncePerBatch(t *testing.T) {
	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	for i := range 5 {
		sp := spans.AppendEmpty()
		sp.Attributes().PutStr("pos.txn.id", fmt.Sprintf("RRN%d", i))
		switch i {
		case 1, 2, 4:
			sp.Attributes().PutStr("pos.amount.minor", "12.50")
		default:
			sp.Attributes().PutStr("pos.amount.minor", "1250")
		}
		if i == 4 {
			sp.Attributes().PutStr("pos.currency", "C1")
		}
	}
	h := newHarness(t, nil)
	h.run(t, td)

	if got := h.counter(t, MetricRejected, attribute.String("reason", ReasonAmountNotInteger)); got != 3 {
		t.Errorf("amount_not_integer = %d, want 3", got)
	}
	if got := h.counter(t, MetricRejected, attribute.String("reason", ReasonCurrencyInvalid),
		attribute.String("field", "pos.currency")); got != 1 {
		t.Errorf("currency_invalid = %d, want 1", got)
	}
	if got := h.counter(t, MetricSpans); got != 5 {
		t.Errorf("spans = %d, want 5", got)
	}
	entries := h.logs.FilterLevelExact(zapcore.WarnLevel).All()
	if len(entries) != 1 {
		t.Fatalf("%d warnings, want one per batch", len(entries))
	}
	f := entries[0].ContextMap()
	if f["txn_id"] != "RRN1" || f["reason"] != ReasonAmountNotInteger || f["field"] != "pos.amount.minor" ||
		f["value"] != "12.50" || f["rejected_in_batch"] != int64(4) {
		t.Fatalf("warning fields = %v", f)
	}

	// A clean batch logs nothing.
	h.logs.TakeAll()
	h.run(t, benchTraces(1, 5))
	if n := h.logs.Len(); n != 0 {
		t.Fatalf("clean batch logged %d entries", n)
	}
}

func TestLoggedValueIsMasked(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.MaskPANs, cfg.AllowUnmaskedPANs = false, true
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.Attributes().PutStr("pos.amount.minor", "4111111111111111 cents")
	h := newHarness(t, cfg)
	h.run(t, td)
	entries := h.logs.All()
	if len(entries) != 1 || entries[0].ContextMap()["value"] != "411111******1111 cents" {
		t.Fatalf("log = %v", entries)
	}
}

func TestEmptyBatch(t *testing.T) {
	h := newHarness(t, nil)
	h.run(t, ptrace.NewTraces())
}

func TestNextConsumerErrorIsReturned(t *testing.T) {
	set := processortest.NewNopSettings(componentType)
	want := fmt.Errorf("downstream full")
	proc, err := NewFactory().CreateTraces(context.Background(), set, createDefaultConfig(), consumertest.NewErr(want))
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.ConsumeTraces(context.Background(), everywhere("4111111111111111")); err != want {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

// ---- benchmark ----

// benchTraces builds a realistic batch: resources (terminals) × spans each,
// 8–12 contract attributes per span and one event, already clean and with no PAN.
func benchTraces(resources, spansPerResource int) ptrace.Traces {
	td := ptrace.NewTraces()
	names := []string{"pos.transaction", "pos.card.read", "pos.host.request", "gateway.authorize"}
	for r := range resources {
		rs := td.ResourceSpans().AppendEmpty()
		ra := rs.Resource().Attributes()
		ra.PutStr("service.name", "pos-terminal")
		ra.PutStr("service.version", "4.2.1")
		ra.PutStr("pos.terminal.id", fmt.Sprintf("T-%06d", r))
		ra.PutStr("pos.terminal.model", "PAX A920")
		ra.PutStr("pos.merchant.id", fmt.Sprintf("M-%05d", r%97))
		ra.PutStr("pos.merchant.region", "cn-east")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("settlewatch-terminal")
		for s := range spansPerResource {
			sp := ss.Spans().AppendEmpty()
			sp.SetName(names[s%len(names)])
			sp.SetKind(ptrace.SpanKindInternal)
			a := sp.Attributes()
			a.PutStr("pos.txn.id", fmt.Sprintf("RRN%09d", r*spansPerResource+s))
			a.PutStr("pos.txn.type", "sale")
			a.PutInt("pos.amount.minor", int64(1000+s))
			a.PutStr("pos.currency", "CNY")
			a.PutStr("pos.card.scheme", "unionpay")
			a.PutStr("pos.card.funding", "debit")
			a.PutStr("pos.card.entry_mode", "contactless")
			a.PutStr("pos.card.bin", "621234")
			a.PutStr("pos.batch.number", "000123")
			a.PutStr("pos.response.code", "00")
			if s%2 == 0 {
				a.PutStr("pos.response.source", "issuer")
				a.PutStr("server.address", "gw-3.example.internal")
			}
			ev := sp.Events().AppendEmpty()
			ev.SetName("card.read")
			ev.Attributes().PutStr("pos.card.entry_mode", "contactless")
			ev.Attributes().PutInt("attempt", 1)
		}
	}
	return td
}

func BenchmarkProcessTraces(b *testing.B) {
	const resources, perResource = 20, 50 // 1000 spans
	for _, bc := range []struct {
		name  string
		dirty bool
	}{{"clean", false}, {"dirty_1pct_pans_and_strings", true}} {
		b.Run(bc.name, func(b *testing.B) {
			set := processortest.NewNopSettings(componentType)
			proc, err := NewFactory().CreateTraces(context.Background(), set, createDefaultConfig(), consumertest.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			src := benchTraces(resources, perResource)
			if bc.dirty {
				// every 100th span has a PAN; every 10th has amounts and codes to fix
				i := 0
				for _, rs := range src.ResourceSpans().All() {
					for _, sp := range rs.ScopeSpans().At(0).Spans().All() {
						if i%100 == 0 {
							sp.Attributes().PutStr("note", "card 4111 1111 1111 1111 declined")
						}
						if i%10 == 0 {
							sp.Attributes().PutStr("pos.amount.minor", "1250")
							sp.Attributes().PutStr("pos.response.code", "5c")
							sp.Attributes().PutStr("pos.card.scheme", "UnionPay")
						}
						i++
					}
				}
			}
			td := ptrace.NewTraces()
			src.CopyTo(td)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if bc.dirty {
					b.StopTimer()
					src.CopyTo(td)
					b.StartTimer()
				}
				if err := proc.ConsumeTraces(ctx, td); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*resources*perResource), "ns/span")
		})
	}
}
