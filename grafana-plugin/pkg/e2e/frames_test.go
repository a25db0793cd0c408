package e2e

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Helpers that read frames the way a panel would: by field name.

func one(t *testing.T, resp *backend.QueryDataResponse, ref string) backend.DataResponse {
	t.Helper()
	dr, ok := resp.Responses[ref]
	if !ok {
		t.Fatalf("no response for %s", ref)
	}
	if dr.Error != nil {
		t.Fatalf("%s: %v", ref, dr.Error)
	}
	return dr
}

func frameOf(t *testing.T, resp *backend.QueryDataResponse, ref string) *data.Frame {
	t.Helper()
	dr := one(t, resp, ref)
	if len(dr.Frames) != 1 {
		t.Fatalf("%s: %d frames, want 1", ref, len(dr.Frames))
	}
	return dr.Frames[0]
}

func field(t *testing.T, f *data.Frame, name string) *data.Field {
	t.Helper()
	for _, fl := range f.Fields {
		if fl.Name == name {
			return fl
		}
	}
	names := []string{}
	for _, fl := range f.Fields {
		names = append(names, fl.Name)
	}
	t.Fatalf("frame %s has no field %s (fields %v)", f.Name, name, names)
	return nil
}

func str(t *testing.T, f *data.Frame, name string, i int) string {
	t.Helper()
	return field(t, f, name).At(i).(string)
}

func i64(t *testing.T, f *data.Frame, name string, i int) int64 {
	t.Helper()
	switch v := field(t, f, name).At(i).(type) {
	case int64:
		return v
	case *int64:
		if v == nil {
			return 0
		}
		return *v
	default:
		t.Fatalf("field %s is %T, want int64", name, v)
	}
	return 0
}

func f64(t *testing.T, f *data.Frame, name string, i int) float64 {
	t.Helper()
	v, ok := field(t, f, name).At(i).(float64)
	if !ok {
		t.Fatalf("field %s is %T, want float64", name, field(t, f, name).At(i))
	}
	return v
}

func tm(t *testing.T, f *data.Frame, name string, i int) time.Time {
	t.Helper()
	switch v := field(t, f, name).At(i).(type) {
	case time.Time:
		return v
	case *time.Time:
		if v == nil {
			return time.Time{}
		}
		return *v
	}
	t.Fatalf("field %s is not a time", name)
	return time.Time{}
}

// amounts reads the per-currency amount fields of row i (prefix_<CUR>):
// money must be int64, never float.
func amounts(t *testing.T, f *data.Frame, prefix string, i int) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, fl := range f.Fields {
		if len(fl.Name) <= len(prefix)+1 || fl.Name[:len(prefix)+1] != prefix+"_" {
			continue
		}
		cur := fl.Name[len(prefix)+1:]
		if fl.Type() != data.FieldTypeNullableInt64 && fl.Type() != data.FieldTypeInt64 {
			t.Fatalf("money field %s is %s, want int64", fl.Name, fl.Type())
		}
		if fl.Config == nil || fl.Config.Unit == "" {
			t.Fatalf("money field %s has no unit", fl.Name)
		}
		switch v := fl.At(i).(type) {
		case int64:
			out[cur] += v
		case *int64:
			if v != nil {
				out[cur] += *v
			}
		}
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

type tag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func tagsOf(t *testing.T, f *data.Frame, name string, i int) map[string]any {
	t.Helper()
	raw, ok := field(t, f, name).At(i).(json.RawMessage)
	if !ok {
		t.Fatalf("field %s is %T, want JSON", name, field(t, f, name).At(i))
	}
	var kvs []tag
	if err := json.Unmarshal(raw, &kvs); err != nil {
		t.Fatalf("%s: %v: %s", name, err, raw)
	}
	out := map[string]any{}
	for _, kv := range kvs {
		out[kv.Key] = kv.Value
	}
	return out
}
