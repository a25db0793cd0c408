package otlpwire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	pdatareq "go.opentelemetry.io/collector/pdata/xpdata/request"
	"google.golang.org/protobuf/encoding/protowire"
)

// sample builds traces with every kind of value and field the exporter reads.
func sample() ptrace.Traces {
	td := ptrace.NewTraces()
	for r := range 2 {
		rs := td.ResourceSpans().AppendEmpty()
		ra := rs.Resource().Attributes()
		ra.PutStr("service.name", fmt.Sprintf("gateway-%d", r))
		ra.PutInt("pos.amount.minor", -12345)
		ra.PutDouble("ratio", 0.25)
		for s := range 2 {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(fmt.Sprintf("scope-%d-%d", r, s))
			for k := range 3 {
				sp := ss.Spans().AppendEmpty()
				sp.SetTraceID(pcommon.TraceID{byte(r), byte(s), byte(k), 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
				sp.SetSpanID(pcommon.SpanID{byte(k + 1), 2, 3, 4, 5, 6, 7, 8})
				if k > 0 {
					sp.SetParentSpanID(pcommon.SpanID{9, 9, 9, 9, 9, 9, 9, byte(k)})
				}
				sp.SetName(fmt.Sprintf("pos.transaction %d", k))
				sp.SetKind(ptrace.SpanKind(k + 1))
				sp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + k))
				sp.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_500_000_000 + k))
				sp.Status().SetCode(ptrace.StatusCode(k % 3))
				sp.Status().SetMessage(strings.Repeat("declined ", k))
				a := sp.Attributes()
				a.PutStr("pos.txn.id", fmt.Sprintf("txn-%d-%d-%d", r, s, k))
				a.PutStr("html", "<a & b>")
				a.PutStr("bad utf8", "a\xffb")
				a.PutBool("flag", k == 1)
				a.PutInt("int", math.MinInt64+int64(k))
				for i, d := range []float64{0, -0.5, 1e21, 1.5e-7, 123456789.125, math.Inf(1), math.NaN(), 1e-6} {
					a.PutDouble(fmt.Sprintf("double %d", i), d)
				}
				a.PutEmptyBytes("bytes").FromRaw([]byte{0, 1, 2, 250})
				a.PutEmpty("empty")
				a.PutStr(strings.Repeat("long key ", 20), strings.Repeat("a long value ", 30))
				sl := a.PutEmptySlice("slice")
				sl.AppendEmpty().SetStr("x<y")
				sl.AppendEmpty().SetInt(7)
				sl.AppendEmpty().SetDouble(2.5)
				sl.AppendEmpty()
				sl.AppendEmpty().SetEmptyBytes().FromRaw([]byte("hi"))
				m := a.PutEmptyMap("map")
				m.PutStr("z", "last")
				m.PutEmptyMap("nested").PutBool("ok", true)
				m.PutEmptySlice("list")
				nan := a.PutEmptyMap("map with NaN")
				nan.PutDouble("d", math.NaN())
				if k == 2 {
					e := sp.Events().AppendEmpty()
					e.SetName("retry")
					e.SetTimestamp(42)
					e.Attributes().PutStr("attempt", "2")
					e.Attributes().PutInt("n", 3)
					sp.Events().AppendEmpty().SetName("no attributes")
					l := sp.Links().AppendEmpty()
					l.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
					l.SetSpanID(pcommon.SpanID{8, 7, 6, 5, 4, 3, 2, 1})
				}
			}
		}
	}
	return td
}

func encode(t testing.TB, td ptrace.Traces) []byte {
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flatMap is a map's attributes in order, each as its text.
func flatMap(m interface {
	Range(func(string, pcommon.Value) bool)
}) []string {
	var out []string
	m.Range(func(k string, v pcommon.Value) bool {
		out = append(out, k+"="+v.Type().String()+":"+v.AsString())
		return true
	})
	return out
}

func flatWire(m Map) []string {
	var out []string
	m.Range(func(k string, v Value) bool {
		out = append(out, k+"="+v.Type().String()+":"+v.AsString())
		return true
	})
	return out
}

// TestMatchesPdata reads every field the exporter uses both ways.
func TestMatchesPdata(t *testing.T) {
	td := sample()
	tr := NewTraces(encode(t, td))
	var got, want []string
	for rs := range tr.ResourceSpans() {
		got = append(got, flatWire(rs.Attributes())...)
		for ss := range rs.ScopeSpans() {
			got = append(got, "scope "+ss.ScopeName())
			for sp := range ss.Spans() {
				got = append(got, fmt.Sprintf("span %x %x %x %q %v %d %d %v %q", sp.TraceID(), sp.SpanID(), sp.ParentSpanID(),
					sp.Name(), sp.Kind(), sp.StartTimestamp(), sp.EndTimestamp(), sp.StatusCode(), sp.StatusMessage()))
				got = append(got, flatWire(sp.Attributes())...)
				for e := range sp.Events() {
					got = append(got, fmt.Sprintf("event %d %q", e.Timestamp, e.Name))
					got = append(got, flatWire(e.Attributes())...)
				}
				for l := range sp.Links() {
					got = append(got, fmt.Sprintf("link %x %x", l.TraceID, l.SpanID))
				}
				got = append(got, fmt.Sprint("events or links ", sp.HasEventsOrLinks()))
			}
		}
	}
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		want = append(want, flatMap(rs.Resource().Attributes())...)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			want = append(want, "scope "+ss.Scope().Name())
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ss.Spans().At(k)
				tid, sid, pid := sp.TraceID(), sp.SpanID(), sp.ParentSpanID()
				want = append(want, fmt.Sprintf("span %x %x %x %q %v %d %d %v %q", tid[:], sid[:], pid[:],
					sp.Name(), sp.Kind(), sp.StartTimestamp(), sp.EndTimestamp(), sp.Status().Code(), sp.Status().Message()))
				want = append(want, flatMap(sp.Attributes())...)
				for e := 0; e < sp.Events().Len(); e++ {
					ev := sp.Events().At(e)
					want = append(want, fmt.Sprintf("event %d %q", ev.Timestamp(), ev.Name()))
					want = append(want, flatMap(ev.Attributes())...)
				}
				for l := 0; l < sp.Links().Len(); l++ {
					ln := sp.Links().At(l)
					lt, ls := ln.TraceID(), ln.SpanID()
					want = append(want, fmt.Sprintf("link %x %x", lt[:], ls[:]))
				}
				want = append(want, fmt.Sprint("events or links ", sp.Events().Len()+sp.Links().Len() > 0))
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d items, pdata %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("item %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	if n, err := CountSpans(encode(t, td)); err != nil || n != td.SpanCount() {
		t.Errorf("CountSpans = %d, %v; want %d", n, err, td.SpanCount())
	}
}

// TestFieldsInAnyOrder reads a span written by hand with its attribute's
// value before its key and a oneof sent twice (the last counts), which no
// pdata writer does but protobuf allows.
func TestFieldsInAnyOrder(t *testing.T) {
	var v1, v2, kv, span, scope, rs, td []byte
	v1 = protowire.AppendTag(v1, 1, protowire.BytesType)
	v1 = protowire.AppendString(v1, "first")
	v2 = protowire.AppendTag(v2, 3, protowire.VarintType)
	v2 = protowire.AppendVarint(v2, 42)
	kv = protowire.AppendTag(kv, 2, protowire.BytesType)
	kv = protowire.AppendBytes(kv, append(v1, v2...))
	kv = protowire.AppendTag(kv, 1, protowire.BytesType)
	kv = protowire.AppendString(kv, "pos.amount.minor")
	span = protowire.AppendTag(span, 9, protowire.BytesType)
	span = protowire.AppendBytes(span, kv)
	span = protowire.AppendTag(span, 5, protowire.BytesType)
	span = protowire.AppendString(span, "late name")
	scope = protowire.AppendTag(scope, 2, protowire.BytesType)
	scope = protowire.AppendBytes(scope, span)
	rs = protowire.AppendTag(rs, 2, protowire.BytesType)
	rs = protowire.AppendBytes(rs, scope)
	td = protowire.AppendTag(td, 1, protowire.BytesType)
	td = protowire.AppendBytes(td, rs)

	want, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	wsp := want.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	tr := NewTraces(td)
	n := 0
	for r := range tr.ResourceSpans() {
		for ss := range r.ScopeSpans() {
			for sp := range ss.Spans() {
				n++
				if sp.Name() != wsp.Name() {
					t.Errorf("name %q, pdata %q", sp.Name(), wsp.Name())
				}
				got, want := flatWire(sp.Attributes()), flatMap(wsp.Attributes())
				if strings.Join(got, ";") != strings.Join(want, ";") || len(got) != 1 {
					t.Errorf("attributes %v, pdata %v", got, want)
				}
			}
		}
	}
	if n != 1 || tr.Err() != nil {
		t.Fatalf("%d spans, %v", n, tr.Err())
	}
}

func TestGetIsTheFirstOfAKey(t *testing.T) {
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.Attributes().PutStr("k", "only")
	tr := NewTraces(encode(t, td))
	for rs := range tr.ResourceSpans() {
		if _, ok := rs.Attributes().Get("service.name"); ok {
			t.Error("an absent key was found")
		}
		for ss := range rs.ScopeSpans() {
			for s := range ss.Spans() {
				if v, ok := s.Attributes().Get("k"); !ok || v.Str() != "only" || v.Int() != 0 {
					t.Errorf("Get(k) = %v, %v", v.AsString(), ok)
				}
			}
		}
	}
}

// TestMalformedNeverPanics cuts a request at every length and flips bytes:
// reading must stop with an error or read a valid prefix, never panic.
func TestMalformedNeverPanics(t *testing.T) {
	b := encode(t, sample())
	faults := 0
	for cut := 1; cut < len(b); cut++ {
		if err := readAll(b[:cut]); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("cut at %d: %v does not wrap ErrMalformed", cut, err)
			}
			faults++
		}
	}
	if faults < len(b)/2 {
		t.Errorf("only %d of %d cuts were found malformed", faults, len(b))
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0xff
		_ = readAll(c)
	}
	if _, err := CountSpans([]byte{0x0a, 0x05, 0x12}); !errors.Is(err, ErrMalformed) {
		t.Errorf("CountSpans of a cut request: %v", err)
	}
}

func readAll(b []byte) error {
	tr := NewTraces(b)
	for rs := range tr.ResourceSpans() {
		flatWire(rs.Attributes())
		for ss := range rs.ScopeSpans() {
			_ = ss.ScopeName()
			for sp := range ss.Spans() {
				flatWire(sp.Attributes())
				for e := range sp.Events() {
					flatWire(e.Attributes())
				}
				for range sp.Links() {
				}
			}
		}
	}
	return tr.Err()
}

func FuzzRead(f *testing.F) {
	f.Add(encode(f, sample()))
	f.Add([]byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := readAll(b)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatal(err)
		}
	})
}

// An envelope written here reads back as pdata's decoder reads it, a bare
// TracesData is returned whole, and a cut envelope is an error.
func TestEnvelope(t *testing.T) {
	td := encode(t, sample())
	env := AppendEnvelope(nil, [][]byte{td[:len(td)/2], td[len(td)/2:]}, nil)
	got, reqCtx, err := Envelope(env)
	if err != nil || !bytes.Equal(got, td) || reqCtx != nil {
		t.Fatalf("Envelope = %d bytes, context %v, %v; want the %d bytes written", len(got), reqCtx, err, len(td))
	}
	if _, stock, err := pdatareq.UnmarshalTraces(env); err != nil || stock.SpanCount() != sample().SpanCount() {
		t.Fatalf("pdata reads the envelope as %v, %v", stock.SpanCount(), err)
	}
	if got, _, err := Envelope(td); err != nil || !bytes.Equal(got, td) {
		t.Errorf("a bare TracesData: %d bytes, %v", len(got), err)
	}
	if _, _, err := Envelope(env[:len(env)-3]); !errors.Is(err, ErrMalformed) {
		t.Errorf("a cut envelope: %v", err)
	}
}
