package plugin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/query"
)

// Money in frames: one int64 field per currency, in minor units (fen,
// cents), with the currency as the field's unit and in its display name.
// Money is never a float and never added across currencies; a row without
// money in a currency has null there.
type money struct {
	n    int
	cols map[string][]*int64
}

func newMoney(rows int) *money { return &money{n: rows, cols: map[string][]*int64{}} }

func (m *money) add(row int, currency string, amount int64) {
	if currency == "" {
		currency = "XXX" // ISO 4217: no currency
	}
	col, ok := m.cols[currency]
	if !ok {
		col = make([]*int64, m.n)
		m.cols[currency] = col
	}
	if col[row] == nil {
		v := amount
		col[row] = &v
		return
	}
	*col[row] += amount
}

func (m *money) currencies() []string {
	out := make([]string, 0, len(m.cols))
	for c := range m.cols {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// fields returns the amount fields, named prefix_<CUR>, sorted by currency.
func (m *money) fields(prefix, display string) []*data.Field {
	var out []*data.Field
	for _, c := range m.currencies() {
		f := data.NewField(prefix+"_"+c, nil, m.cols[c])
		f.Config = amountConfig(display, c)
		out = append(out, f)
	}
	return out
}

// amountConfig is the field config of an amount in minor units of cur.
func amountConfig(display, cur string) *data.FieldConfig {
	zero := uint16(0)
	return &data.FieldConfig{
		DisplayNameFromDS: fmt.Sprintf("%s (%s, minor units)", display, cur),
		Unit:              MinorUnit(cur),
		Decimals:          &zero,
		Description:       fmt.Sprintf("Amount in minor units of %s (e.g. fen or cents), an exact integer; never summed across currencies.", cur),
	}
}

// MinorUnit is the Grafana unit of an amount in minor units of cur: a
// suffix, because Grafana's currency units would show minor units as major.
func MinorUnit(cur string) string { return "suffix: " + cur + " minor" }

func countConfig(display string) *data.FieldConfig {
	zero := uint16(0)
	return &data.FieldConfig{DisplayNameFromDS: display, Unit: "short", Decimals: &zero}
}

func rateConfig(display string) *data.FieldConfig {
	return &data.FieldConfig{DisplayNameFromDS: display, Unit: "percentunit", Min: ptrConfFloat(0), Max: ptrConfFloat(1)}
}

func ptrConfFloat(v float64) *data.ConfFloat64 { c := data.ConfFloat64(v); return &c }

func withDisplay(f *data.Field, display string) *data.Field {
	f.Config = &data.FieldConfig{DisplayNameFromDS: display}
	return f
}

// describe sets how the answer was produced (never SQL text) and the row
// cap notice.
func describe(f *data.Frame, what string, meta query.Meta, cap int) {
	if f.Meta == nil {
		f.Meta = &data.FrameMeta{}
	}
	src := meta.Source
	if meta.Granularity != "" {
		src += " " + meta.Granularity
	}
	if src != "" {
		what += " (from " + src + ")"
	}
	f.Meta.ExecutedQueryString = what
	custom := map[string]any{"source": meta.Source}
	if meta.Granularity != "" {
		custom["granularity"] = meta.Granularity
	}
	f.Meta.Custom = custom
	if meta.Truncated {
		f.AppendNotices(truncatedNotice(cap))
	}
}

func truncatedNotice(cap int) data.Notice {
	return data.Notice{
		Severity: data.NoticeSeverityWarning,
		Text:     fmt.Sprintf("Result cut at the row cap (%d rows): narrow the time range or the filters, or raise the data source's row cap.", cap),
	}
}

// links builds internal data links back to this data source.
type links struct {
	uid, name string
}

func (l links) ok() bool { return l.uid != "" }

// to makes a link that opens q in Explore over the panel's time range.
func (l links) to(title string, q map[string]any) data.DataLink {
	return data.DataLink{
		Title: title,
		Internal: &data.InternalDataLink{
			DatasourceUID:  l.uid,
			DatasourceName: l.name,
			Query:          q,
		},
	}
}

// fieldRef is Grafana's data-link variable for a field of the same row.
func fieldRef(name string) string { return "${__data.fields[\"" + name + "\"]}" }

// filtersFor copies a request's filters into a linked query's filters.
func filtersFor(f query.Filters) map[string][]string {
	out := map[string][]string{}
	for k, v := range f.Dims {
		out[k] = append([]string(nil), v...)
	}
	if f.Currency != "" {
		out[keyCurrency] = []string{f.Currency}
	}
	return out
}

// emptyNotice explains an answer left empty because filters exclude each other.
func emptyNotice() data.Notice {
	return data.Notice{Severity: data.NoticeSeverityInfo, Text: "The filters exclude each other (no value is allowed by all of them on one key), so nothing matches."}
}

func title(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
