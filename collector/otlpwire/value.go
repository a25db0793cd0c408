package otlpwire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"google.golang.org/protobuf/encoding/protowire"
)

// Map is a list of attributes (KeyValue messages) as sent.
type Map struct {
	msg []byte
	// The attributes are msg's fields numbered num or, when outer is not 0,
	// those of the messages in msg's fields numbered outer.
	outer, num protowire.Number
	s          *sink
}

// Range calls fn for each attribute in wire order, a key sent twice twice,
// as pdata's Map.Range does, until fn returns false.
func (m Map) Range(fn func(k string, v Value) bool) {
	if m.outer == 0 {
		m.rangeIn(m.msg, fn)
		return
	}
	for b := range messages(m.msg, m.outer, m.s) {
		if !m.rangeIn(b, fn) {
			return
		}
	}
}

func (m Map) rangeIn(msg []byte, fn func(string, Value) bool) bool {
	for kv := range messages(msg, m.num, m.s) {
		k, v := keyValue(kv, m.s)
		if m.s.err != nil || !fn(k, v) {
			return false
		}
	}
	return true
}

// Get returns the first attribute named key, as pdata's Map.Get does.
func (m Map) Get(key string) (Value, bool) {
	var found Value
	ok := false
	m.Range(func(k string, v Value) bool {
		if k == key {
			found, ok = v, true
		}
		return !ok
	})
	return found, ok
}

func keyValue(kv []byte, s *sink) (string, Value) {
	var k string
	v := Value{s: s}
	for f := range fields(kv, s) {
		switch f.num {
		case 1:
			k = text(f, s, "attribute key")
		case 2:
			if f.typ != protowire.BytesType {
				s.failf("attribute %q's value has wire type %d", k, f.typ)
				continue
			}
			v = readValue(f.val, s)
		}
	}
	return k, v
}

// Value is an attribute's value (an AnyValue message).
type Value struct {
	typ pcommon.ValueType
	u   uint64 // an int, a double's bits or a bool
	b   []byte // a string's, bytes', array's or kvlist's payload
	s   *sink
}

// readValue reads an AnyValue; of a oneof sent twice the last counts, as in
// protobuf.
func readValue(msg []byte, s *sink) Value {
	v := Value{s: s}
	for f := range fields(msg, s) {
		want := protowire.BytesType
		var typ pcommon.ValueType
		switch f.num {
		case 1:
			typ = pcommon.ValueTypeStr
		case 2:
			typ, want = pcommon.ValueTypeBool, protowire.VarintType
		case 3:
			typ, want = pcommon.ValueTypeInt, protowire.VarintType
		case 4:
			typ, want = pcommon.ValueTypeDouble, protowire.Fixed64Type
		case 5:
			typ = pcommon.ValueTypeSlice
		case 6:
			typ = pcommon.ValueTypeMap
		case 7:
			typ = pcommon.ValueTypeBytes
		default:
			continue
		}
		if f.typ != want {
			s.failf("value field %d has wire type %d", f.num, f.typ)
			return Value{s: s}
		}
		v.typ, v.u, v.b = typ, f.u, f.val
	}
	return v
}

func (v Value) Type() pcommon.ValueType { return v.typ }

// Str is a string value, else "".
func (v Value) Str() string {
	if v.typ != pcommon.ValueTypeStr {
		return ""
	}
	return str(v.b)
}

// Int is an int value, else 0.
func (v Value) Int() int64 {
	if v.typ != pcommon.ValueTypeInt {
		return 0
	}
	return int64(v.u)
}

// Double is a double value, else 0.
func (v Value) Double() float64 {
	if v.typ != pcommon.ValueTypeDouble {
		return 0
	}
	return math.Float64frombits(v.u)
}

// Bool is a bool value, else false.
func (v Value) Bool() bool { return v.typ == pcommon.ValueTypeBool && v.u != 0 }

// AsString is v as text, as pdata's Value.AsString gives it: numbers as
// JSON writes them, bytes in base64, arrays and maps as JSON.
func (v Value) AsString() string {
	switch v.typ {
	case pcommon.ValueTypeStr:
		return str(v.b)
	case pcommon.ValueTypeBool:
		return strconv.FormatBool(v.Bool())
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return doubleText(v.Double())
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.b)
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		// A NaN or an infinity cannot be JSON: the text is then empty, as
		// pdata's is.
		_ = enc.Encode(v.AsRaw())
		return strings.TrimSuffix(buf.String(), "\n")
	}
	return ""
}

// doubleText writes f as ECMAScript's Number.prototype.toString does, which
// is what pdata gives for a double.
func doubleText(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		t := strconv.FormatFloat(f, 'e', -1, 64)
		// Go pads the exponent to two digits (1e-07); ECMAScript does not.
		if i := strings.Index(t, "e"); i >= 0 && len(t) == i+4 && t[i+2] == '0' {
			t = t[:i+2] + t[i+3:]
		}
		return t
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// AsRaw is v as a Go value, as pdata's Value.AsRaw gives it.
func (v Value) AsRaw() any {
	switch v.typ {
	case pcommon.ValueTypeStr:
		return strings.Clone(str(v.b))
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return v.Double()
	case pcommon.ValueTypeBytes:
		return bytes.Clone(v.b)
	case pcommon.ValueTypeSlice:
		out := []any{}
		for b := range messages(v.b, 1, v.s) {
			out = append(out, readValue(b, v.s).AsRaw())
		}
		return out
	case pcommon.ValueTypeMap:
		out := map[string]any{}
		Map{msg: v.b, num: 1, s: v.s}.Range(func(k string, e Value) bool {
			out[strings.Clone(k)] = e.AsRaw() // a key sent twice: the last counts
			return true
		})
		return out
	}
	return nil
}
