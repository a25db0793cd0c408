package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Output formats.
const (
	formatTable = "table"
	formatCSV   = "csv"
	formatJSON  = "json"
)

func checkFormat(f string) error {
	switch f {
	case formatTable, formatCSV, formatJSON:
		return nil
	}
	return usageErr("-format %q: want table, csv or json", f)
}

// field is one named value of a record; records keep their keys in order so
// JSON objects and CSV columns are stable.
type field struct {
	key string
	val any
}

type record []field

// MarshalJSON writes the fields as an object in order.
func (r record) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(jsonValue(f.val))
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return nil
		}
		return x.UTC().Format(time.RFC3339)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
		return roundF(x)
	}
	return v
}

func roundF(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 10, 64), 64)
	return v
}

// text renders a value for tables and CSV.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.UTC().Format(time.RFC3339)
	case float64:
		return strconv.FormatFloat(roundF(x), 'f', -1, 64)
	case pct:
		return fmt.Sprintf("%.2f%%", 100*float64(x))
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// pct is a fraction shown as a percentage in tables (a plain number in CSV/JSON).
type pct float64

func plain(v any) any {
	if p, ok := v.(pct); ok {
		return roundF(float64(p))
	}
	return v
}

// writeRecords prints records in the format; an empty result prints the
// header (table, CSV) or [] (JSON). keys is the header when recs is empty.
func writeRecords(w io.Writer, format string, keys []string, recs []record) error {
	if len(recs) > 0 {
		keys = keys[:0]
		for _, f := range recs[0] {
			keys = append(keys, f.key)
		}
	}
	switch format {
	case formatJSON:
		out := make([]record, len(recs))
		for i, r := range recs {
			out[i] = plainRecord(r)
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case formatCSV:
		cw := csv.NewWriter(w)
		_ = cw.Write(keys)
		for _, r := range recs {
			row := make([]string, len(r))
			for i, f := range r {
				row[i] = text(plain(f.val))
			}
			_ = cw.Write(row)
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(keys, "\t"))
	for _, r := range recs {
		row := make([]string, len(r))
		for i, f := range r {
			row[i] = text(f.val)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func plainRecord(r record) record {
	out := make(record, len(r))
	for i, f := range r {
		out[i] = field{f.key, plain(f.val)}
		if sub, ok := f.val.([]record); ok {
			ps := make([]record, len(sub))
			for j, s := range sub {
				ps[j] = plainRecord(s)
			}
			out[i].val = ps
		}
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
