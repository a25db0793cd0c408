package query

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// Filters narrow a question. Dims maps a dimension name (model.Dimensions)
// to the values allowed; Causes and Outcomes are allow-lists of the domain's
// names; Currency is an ISO 4217 code.
type Filters struct {
	Dims     map[string][]string `json:"dims,omitempty"`
	Causes   []string            `json:"causes,omitempty"`
	Outcomes []string            `json:"outcomes,omitempty"`
	Currency string              `json:"currency,omitempty"`
}

// Validate checks every name and value against the allow-lists.
func (f Filters) Validate() error {
	for name, vals := range f.Dims {
		if _, err := model.LookupDimension(name); err != nil {
			return invalid("filter: %v", err)
		}
		if len(vals) == 0 {
			return invalid("filter %s: no value", name)
		}
		if len(vals) > 1000 {
			return invalid("filter %s: %d values, at most 1000", name, len(vals))
		}
		for _, v := range vals {
			if err := model.ValidateValue(v); err != nil {
				return invalid("filter %s: %v", name, err)
			}
		}
	}
	for _, c := range f.Causes {
		if cc := domain.Cause(c); !cc.Valid() {
			return invalid("unknown cause %q: want one of %s", clip(c), causeNames())
		}
	}
	for _, o := range f.Outcomes {
		if !slices.Contains(domain.Outcomes, domain.Outcome(o)) {
			return invalid("unknown outcome %q: want one of %s", clip(o), outcomeNames())
		}
	}
	if f.Currency != "" && !isCurrency(f.Currency) {
		return invalid("currency %q: want a 3-letter ISO 4217 code such as CNY", clip(f.Currency))
	}
	return nil
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func causeNames() string {
	var s []string
	for _, c := range domain.Causes {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}

func outcomeNames() string {
	var s []string
	for _, o := range domain.Outcomes {
		s = append(s, string(o))
	}
	return strings.Join(s, ", ")
}

// dimNames returns the filtered dimensions, sorted.
func (f Filters) dimNames() []string {
	var out []string
	for n := range f.Dims {
		d, _ := model.LookupDimension(n)
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// values of a dimension (by canonical name).
func (f Filters) values(name string) []string {
	var out []string
	for n, v := range f.Dims {
		if d, _ := model.LookupDimension(n); d.Name == name {
			out = append(out, v...)
		}
	}
	return out
}

func set(vals []string) clickhouse.GroupSet {
	v := make([]any, len(vals))
	for i, s := range vals {
		v[i] = s
	}
	return clickhouse.GroupSet{Value: v}
}

// where accumulates bound conditions; for raw questions it also holds the
// source they apply to (src, whose arguments come first in args).
type where struct {
	src   string
	conds []string
	args  []any
}

// from is "<source> WHERE <conditions>" of a raw question.
func (w *where) from() string { return w.src + " WHERE " + w.sql() }

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string { return strings.Join(w.conds, " AND ") }

// rawWhere is the source and condition on the transactions of database db
// for r and f (cause filters are applied by the caller when it needs the
// totals too). The source is the time-ordered copy, FINAL over the hours of r
// only (chschema.ByTimeSource); every other condition applies after FINAL
// has picked each transaction's latest version.
func rawWhere(db string, r Range, f Filters, withCauses bool) *where {
	w := &where{src: chschema.ByTimeSource(db, "txn_hour >= toDateTime(?) AND txn_hour < toDateTime(?)"),
		args: []any{r.From.Truncate(time.Hour).Unix(), r.To.Unix()}}
	w.add("txn_time >= toDateTime(?) AND txn_time < toDateTime(?)", r.From.Unix(), r.To.Unix())
	for _, name := range f.dimNames() {
		d, _ := model.LookupDimension(name)
		w.add(d.Column+" IN ?", set(f.values(name)))
	}
	if len(f.Outcomes) > 0 {
		w.add("outcome IN ?", set(f.Outcomes))
	}
	if withCauses && len(f.Causes) > 0 {
		w.add("cause IN ?", set(f.Causes))
	}
	if f.Currency != "" {
		w.add("currency = ?", f.Currency)
	}
	return w
}

// rollupWhere is the condition on rollups of granularity g and dimension dim
// (model.All for totals) for r and f, whose dimension filters must all be on dim.
func rollupWhere(g model.Granularity, dim string, r Range, f Filters, withCauses bool) *where {
	w := &where{}
	w.add("granularity = ? AND dimension = ? AND bucket >= toDateTime(?) AND bucket < toDateTime(?)", uint32(g), dim, r.From.Unix(), r.To.Unix())
	if vals := f.values(dim); dim != model.All && len(vals) > 0 {
		w.add("value IN ?", set(vals))
	}
	if len(f.Outcomes) > 0 {
		w.add("outcome IN ?", set(f.Outcomes))
	}
	if withCauses && len(f.Causes) > 0 {
		w.add("cause IN ?", set(f.Causes))
	}
	if f.Currency != "" {
		w.add("currency = ?", f.Currency)
	}
	return w
}

// Source picks where a question is answered from.
type Source string

// Sources.
const (
	SourceAuto   Source = "auto"
	SourceRollup Source = "rollup"
	SourceRaw    Source = "raw"
)

// ParseSource accepts auto, rollup, raw ("" is auto).
func ParseSource(s string) (Source, error) {
	switch Source(strings.ToLower(strings.TrimSpace(s))) {
	case "", SourceAuto:
		return SourceAuto, nil
	case SourceRollup, "rollups":
		return SourceRollup, nil
	case SourceRaw:
		return SourceRaw, nil
	}
	return "", invalid("source %q: want auto, rollup or raw", clip(s))
}

// plan is the source chosen for a question.
type plan struct {
	rollup bool
	g      model.Granularity
	dim    string // rollup dimension to read (model.All for totals)
}

func (p plan) meta() Meta {
	if !p.rollup {
		return Meta{Source: string(SourceRaw)}
	}
	return Meta{Source: string(SourceRollup), Granularity: p.g.String()}
}

// choose decides between rollups and raw tables. by is the dimension to
// group by ("" for none); fixed, if non-zero, is the only granularity that
// will do (a trend's interval); need is the range the rollups must cover.
func (q *Querier) choose(ctx context.Context, src Source, r Range, by string, f Filters, fixed model.Granularity, need Range) (plan, error) {
	if src == "" {
		src = SourceAuto
	}
	if src == SourceRaw {
		return plan{}, nil
	}
	reason := ""
	dim := model.All
	dims := f.dimNames()
	switch {
	case len(dims) > 1:
		reason = "filters on more than one dimension"
	case len(dims) == 1 && by != "" && dims[0] != by:
		reason = "a filter on a dimension other than the one grouped by"
	case len(dims) == 1:
		dim = dims[0]
	case by != "":
		dim = by
	}
	fine := true
	if dim != model.All {
		d, _ := model.LookupDimension(dim)
		fine = d.Fine
	}
	var g model.Granularity
	if reason == "" {
		cands := []model.Granularity{model.Day, model.Hour, model.FiveMinutes}
		if fixed != 0 {
			cands = []model.Granularity{fixed}
		}
		for _, c := range cands {
			if c == model.FiveMinutes && !fine {
				continue
			}
			if c == model.Day && r.To.After(q.now().Add(-DayRowsLag)) {
				continue // the last day has not ended: its day rows may lag
			}
			if c.Aligned(r.From) && c.Aligned(r.To) {
				g = c
				break
			}
		}
		if g == 0 {
			reason = "the range is not aligned to whole rollup buckets (5m for the fine dimensions, else hours)"
			if fixed != 0 {
				reason = fmt.Sprintf("the range is not aligned to the %s interval, or the dimension has no %s rollups", fixed, fixed)
			}
			if fixed == model.Day && r.To.After(q.now().Add(-DayRowsLag)) {
				reason = "day rollups are read only for days that have ended"
			}
		}
	}
	if src == SourceRollup {
		if reason != "" {
			return plan{}, invalid("cannot answer from rollups: %s", reason)
		}
		return plan{rollup: true, g: g, dim: dim}, nil
	}
	min := q.MinRollupRange
	if min <= 0 {
		min = 6 * time.Hour
	}
	if reason != "" || r.To.Sub(r.From) < min {
		return plan{}, nil
	}
	ok, err := jobs.Covered(ctx, q.env(), "rollup", need.From, need.To)
	if err != nil {
		return plan{}, err
	}
	if !ok {
		return plan{}, nil
	}
	return plan{rollup: true, g: g, dim: dim}, nil
}

func truncated(n, max int) bool { return n > max }

// DayRowsLag: day rollups are read only for ranges ending this long before
// now (the rollup job refreshes a running day's rows at most hourly).
const DayRowsLag = 2 * time.Hour

// bucketExpr is the raw-table bucket of txn_time for g.
func bucketExpr(g model.Granularity) string {
	switch g {
	case model.FiveMinutes:
		return "toStartOfFiveMinute(txn_time)"
	case model.Hour:
		return "toStartOfHour(txn_time)"
	}
	return "toStartOfDay(txn_time)"
}
