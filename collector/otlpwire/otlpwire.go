// Package otlpwire reads OTLP trace data (a TracesData or an
// ExportTraceServiceRequest, which share their first field) in place, from
// its protobuf bytes, without building pdata's objects.
//
// The exporter's persistent queue holds requests as OTLP bytes. Decoding
// them into pdata a second time on their way out of the queue, only to copy
// every value into columns, was the largest single item in the collector's
// profile (docs/benchmarks.md, "OTLP read in place"). Here a span's fields
// are read where they lie: strings are views of the request's bytes, valid
// while those bytes are, which must never change afterwards.
//
// The accessors are named as pdata's, and a value's text (Value.AsString) is
// pdata's to the byte, so a span read here gives the same rows as one read
// through pdata. Malformed input never panics: reading stops at the first
// fault, which Traces.Err reports.
package otlpwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// ErrMalformed is wrapped by every fault in the bytes.
var ErrMalformed = errors.New("malformed OTLP protobuf")

// sink keeps the first fault met while reading one request.
type sink struct{ err error }

func (s *sink) failf(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

// field is one field of a message as it lies on the wire.
type field struct {
	num protowire.Number
	typ protowire.Type
	val []byte // a length-delimited field's payload
	u   uint64 // a varint or fixed field's value
	// start and end are the field's offsets in its message, tag included.
	start, end int
}

// fields yields msg's fields in wire order. It stops at the first fault,
// which it records in s.
func fields(msg []byte, s *sink) iter.Seq[field] {
	return func(yield func(field) bool) {
		for i := 0; i < len(msg); {
			var f field
			j := next(msg, i, &f)
			if j < 0 {
				s.failf("the field at byte %d of a %d-byte message is cut short or invalid", i, len(msg))
				return
			}
			f.start, f.end, i = i, j, j
			if !yield(f) {
				return
			}
		}
	}
}

// next reads the field at b[i:] into f and returns the offset after it, or
// -1. Tags, lengths and small numbers of one byte, nearly all of them, are
// read inline.
func next(b []byte, i int, f *field) int {
	t, i := varint(b, i)
	if i < 0 || t>>3 == 0 || t>>3 > uint64(protowire.MaxValidNumber) {
		return -1
	}
	f.num, f.typ = protowire.Number(t>>3), protowire.Type(t&7)
	switch f.typ {
	case protowire.BytesType:
		var l uint64
		if l, i = varint(b, i); i < 0 || l > uint64(len(b)-i) {
			return -1
		}
		f.val = b[i : i+int(l)]
		return i + int(l)
	case protowire.VarintType:
		f.u, i = varint(b, i)
		return i
	case protowire.Fixed64Type:
		if len(b)-i < 8 {
			return -1
		}
		f.u = binary.LittleEndian.Uint64(b[i:])
		return i + 8
	case protowire.Fixed32Type:
		if len(b)-i < 4 {
			return -1
		}
		f.u = uint64(binary.LittleEndian.Uint32(b[i:]))
		return i + 4
	}
	n := protowire.ConsumeFieldValue(f.num, f.typ, b[i:]) // groups
	if n < 0 {
		return -1
	}
	return i + n
}

// varint reads the varint at b[i:] and returns it and the offset after it,
// or -1.
func varint(b []byte, i int) (uint64, int) {
	if i < len(b) && b[i] < 0x80 {
		return uint64(b[i]), i + 1
	}
	if i >= len(b) {
		return 0, -1
	}
	v, n := protowire.ConsumeVarint(b[i:])
	if n < 0 {
		return 0, -1
	}
	return v, i + n
}

// messages yields the payloads of msg's length-delimited fields numbered
// num: a repeated message field, or the occurrences of a singular one
// (which protobuf merges).
func messages(msg []byte, num protowire.Number, s *sink) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for f := range fields(msg, s) {
			if f.num != num {
				continue
			}
			if f.typ != protowire.BytesType {
				s.failf("field %d has wire type %d, not a message", num, f.typ)
				return
			}
			if !yield(f.val) {
				return
			}
		}
	}
}

// str views b as a string without copying it.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Traces is one request's trace data.
type Traces struct {
	b []byte
	s *sink
}

// NewTraces reads b, an encoded TracesData or ExportTraceServiceRequest.
func NewTraces(b []byte) Traces { return Traces{b: b, s: &sink{}} }

// Err is the first fault met so far while reading t, or nil.
func (t Traces) Err() error { return t.s.err }

// ResourceSpans yields t's resources with their spans.
func (t Traces) ResourceSpans() iter.Seq[ResourceSpans] {
	return func(yield func(ResourceSpans) bool) {
		for b := range messages(t.b, 1, t.s) {
			if !yield(ResourceSpans{b: b, s: t.s}) {
				return
			}
		}
	}
}

// CountSpans counts b's spans, checking the framing of the levels above
// them: what a request read back from the queue is sized by.
func CountSpans(b []byte) (int, error) {
	t := NewTraces(b)
	n := 0
	for rs := range t.ResourceSpans() {
		for ss := range messages(rs.b, 2, t.s) {
			for range messages(ss, 2, t.s) {
				n++
			}
		}
	}
	return n, t.Err()
}

// ResourceSpans is a resource and its scopes' spans.
type ResourceSpans struct {
	b []byte
	s *sink
}

// Attributes are the resource's attributes.
func (r ResourceSpans) Attributes() Map {
	return Map{msg: r.b, outer: 1, num: 1, s: r.s}
}

// ScopeSpans yields the resource's scopes with their spans.
func (r ResourceSpans) ScopeSpans() iter.Seq[ScopeSpans] {
	return func(yield func(ScopeSpans) bool) {
		for b := range messages(r.b, 2, r.s) {
			if !yield(ScopeSpans{b: b, s: r.s}) {
				return
			}
		}
	}
}

// ScopeSpans is an instrumentation scope and its spans.
type ScopeSpans struct {
	b []byte
	s *sink
}

// ScopeName is the scope's name (the last one sent, as protobuf merges).
func (ss ScopeSpans) ScopeName() string {
	name := ""
	for scope := range messages(ss.b, 1, ss.s) {
		for f := range fields(scope, ss.s) {
			if f.num == 1 && f.typ == protowire.BytesType {
				name = str(f.val)
			}
		}
	}
	return name
}

// Spans yields the scope's spans, each read in one pass.
func (ss ScopeSpans) Spans() iter.Seq[*Span] {
	return func(yield func(*Span) bool) {
		var sp Span
		for b := range messages(ss.b, 2, ss.s) {
			sp.read(b, ss.s)
			if ss.s.err != nil || !yield(&sp) {
				return
			}
		}
	}
}

// Span is one span's fields. Spans reuses one Span for all of a scope's
// spans: copy what must outlive the loop's step.
type Span struct {
	b         []byte
	s         *sink
	traceID   [16]byte
	spanID    [8]byte
	parentID  [8]byte
	name      string
	kind      ptrace.SpanKind
	start     uint64
	end       uint64
	statusMsg string
	status    ptrace.StatusCode
	// Where the attributes, events and links lie in b: a protobuf writer
	// sends a repeated field's items together, so reading them later scans
	// these spans of bytes, not the whole span again.
	attrs, events, links window
}

// window is the bytes from the first to the last occurrence of a field.
type window struct{ lo, hi int }

func (w *window) add(f field) {
	if w.hi == 0 {
		w.lo = f.start
	}
	w.hi = f.end
}

func (sp *Span) read(b []byte, s *sink) {
	*sp = Span{b: b, s: s}
	for f := range fields(b, s) {
		switch f.num {
		case 9:
			sp.attrs.add(f)
		case 11:
			sp.events.add(f)
		case 13:
			sp.links.add(f)
		case 1:
			id(f, sp.traceID[:], s, "trace_id")
		case 2:
			id(f, sp.spanID[:], s, "span_id")
		case 4:
			id(f, sp.parentID[:], s, "parent_span_id")
		case 5:
			sp.name = text(f, s, "name")
		case 6:
			sp.kind = ptrace.SpanKind(int32(scalar(f, protowire.VarintType, s, "kind")))
		case 7:
			sp.start = scalar(f, protowire.Fixed64Type, s, "start_time_unix_nano")
		case 8:
			sp.end = scalar(f, protowire.Fixed64Type, s, "end_time_unix_nano")
		case 15:
			if f.typ != protowire.BytesType {
				s.failf("status has wire type %d", f.typ)
				continue
			}
			for g := range fields(f.val, s) {
				switch g.num {
				case 2:
					sp.statusMsg = text(g, s, "status.message")
				case 3:
					sp.status = ptrace.StatusCode(int32(scalar(g, protowire.VarintType, s, "status.code")))
				}
			}
		}
	}
}

// id copies an id field of len(dst) bytes; an empty one stays zero.
func id(f field, dst []byte, s *sink, what string) {
	switch {
	case f.typ != protowire.BytesType:
		s.failf("%s has wire type %d", what, f.typ)
	case len(f.val) == len(dst):
		copy(dst, f.val)
	case len(f.val) != 0:
		s.failf("%s is %d bytes, not %d", what, len(f.val), len(dst))
	}
}

func text(f field, s *sink, what string) string {
	if f.typ != protowire.BytesType {
		s.failf("%s has wire type %d", what, f.typ)
		return ""
	}
	return str(f.val)
}

func scalar(f field, typ protowire.Type, s *sink, what string) uint64 {
	if f.typ != typ {
		s.failf("%s has wire type %d, not %d", what, f.typ, typ)
		return 0
	}
	return f.u
}

func (sp *Span) TraceID() [16]byte             { return sp.traceID }
func (sp *Span) SpanID() [8]byte               { return sp.spanID }
func (sp *Span) ParentSpanID() [8]byte         { return sp.parentID }
func (sp *Span) Name() string                  { return sp.name }
func (sp *Span) Kind() ptrace.SpanKind         { return sp.kind }
func (sp *Span) StartTimestamp() uint64        { return sp.start }
func (sp *Span) EndTimestamp() uint64          { return sp.end }
func (sp *Span) StatusCode() ptrace.StatusCode { return sp.status }
func (sp *Span) StatusMessage() string         { return sp.statusMsg }
func (sp *Span) Attributes() Map               { return Map{msg: sp.in(sp.attrs), num: 9, s: sp.s} }
func (sp *Span) HasEventsOrLinks() bool        { return sp.events.hi > 0 || sp.links.hi > 0 }

func (sp *Span) in(w window) []byte { return sp.b[w.lo:w.hi] }

// Events yields the span's events.
func (sp *Span) Events() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for b := range messages(sp.in(sp.events), 11, sp.s) {
			e := Event{s: sp.s, b: b}
			for f := range fields(b, sp.s) {
				switch f.num {
				case 1:
					e.Timestamp = scalar(f, protowire.Fixed64Type, sp.s, "event.time_unix_nano")
				case 2:
					e.Name = text(f, sp.s, "event.name")
				}
			}
			if sp.s.err != nil || !yield(e) {
				return
			}
		}
	}
}

// Event is one span event.
type Event struct {
	Timestamp uint64
	Name      string
	b         []byte
	s         *sink
}

// Attributes are the event's attributes.
func (e Event) Attributes() Map { return Map{msg: e.b, num: 3, s: e.s} }

// Links yields the span's links.
func (sp *Span) Links() iter.Seq[Link] {
	return func(yield func(Link) bool) {
		for b := range messages(sp.in(sp.links), 13, sp.s) {
			var l Link
			for f := range fields(b, sp.s) {
				switch f.num {
				case 1:
					id(f, l.TraceID[:], sp.s, "link.trace_id")
				case 2:
					id(f, l.SpanID[:], sp.s, "link.span_id")
				}
			}
			if sp.s.err != nil || !yield(l) {
				return
			}
		}
	}
}

// Link is one span link.
type Link struct {
	TraceID [16]byte
	SpanID  [8]byte
}
