package plugin

import (
	"context"
	"sort"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/domain"
)

// Breakdown of: failures by cause, or all transactions by outcome.
const (
	OfCause   = "cause"
	OfOutcome = "outcome"
)

// breakdown answers failures by cause (or transactions by outcome),
// optionally per value of one dimension: one numeric-long frame (a table; a
// bar gauge or pie chart per row; in an alert rule one number per row and
// numeric field, labelled by the string fields).
func (d *Datasource) breakdown(ctx context.Context, r *request, st Store) (data.Frames, error) {
	by := ""
	if r.By != "" {
		var err error
		if by, err = dimension(r.By); err != nil {
			return nil, err
		}
	}
	src, _ := query.ParseSource(r.Source)
	of := r.Of
	if of == "" {
		of = OfCause
	}
	switch of {
	case OfCause:
		if r.Empty {
			return data.Frames{emptyBreakdown(by, of)}, nil
		}
		res, err := st.CauseBreakdown(ctx, query.CausesQuery{Range: r.Range, By: by, Filters: r.Filters, Source: src})
		if err != nil {
			return nil, err
		}
		return data.Frames{d.causeFrame(r, by, res)}, nil
	case OfOutcome:
		if r.Empty {
			return data.Frames{emptyBreakdown(by, of)}, nil
		}
		res, err := st.OutcomeBreakdown(ctx, query.OutcomesQuery{Range: r.Range, By: by, Filters: r.Filters, Source: src})
		if err != nil {
			return nil, err
		}
		return data.Frames{d.outcomeFrame(r, by, res)}, nil
	}
	return nil, bad("breakdown of %q: want cause or outcome", clip(of))
}

type breakdownRow struct {
	value, key, class string
	n                 uint64
	share, rate       float64
	amounts           amounts
}

// amounts are money per currency: a row rarely has more than two, so a
// slice, not a map (thousands of rows by merchant or terminal).
type amounts []curAmount

type curAmount struct {
	cur string
	amt int64
}

func (a *amounts) add(cur string, amt int64) {
	for i := range *a {
		if (*a)[i].cur == cur {
			(*a)[i].amt += amt
			return
		}
	}
	*a = append(*a, curAmount{cur, amt})
}

// mergeCurrencies folds the query layer's per-currency rows into one row per
// (value, key): counts, shares and rates add up exactly across currencies;
// money stays per currency.
func mergeCurrencies(rows []breakdownRow) []breakdownRow {
	idx := make(map[[2]string]int, len(rows))
	out := make([]breakdownRow, 0, len(rows))
	for _, r := range rows {
		k := [2]string{r.value, r.key}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, breakdownRow{value: r.value, key: r.key, class: r.class})
		}
		o := &out[i]
		o.n += r.n
		o.share += r.share
		o.rate += r.rate
		for _, a := range r.amounts {
			o.amounts.add(a.cur, a.amt)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.value != b.value {
			return a.value < b.value
		}
		if a.n != b.n {
			return a.n > b.n
		}
		return a.key < b.key
	})
	return out
}

func (d *Datasource) causeFrame(r *request, by string, res query.CausesResult) *data.Frame {
	rows := make([]breakdownRow, 0, len(res.Rows))
	for _, c := range res.Rows {
		rows = append(rows, breakdownRow{value: c.Value, key: c.Cause, class: c.Class, n: c.Transactions, share: c.Share, rate: c.FailureRate,
			amounts: amounts{{c.Currency, c.AmountMinor}}})
	}
	rows = mergeCurrencies(rows)
	// Shares (and, without a dimension, rates) from the merged counts, so
	// they are exact rather than sums of per-currency fractions.
	for i := range rows {
		if res.Failures > 0 {
			rows[i].share = float64(rows[i].n) / float64(res.Failures)
		}
		if by == "" && res.Transactions > 0 {
			rows[i].rate = float64(rows[i].n) / float64(res.Transactions)
		}
	}
	f := breakdownFrame(by, OfCause, rows, true)
	if l := d.links(r); l.ok() {
		q := map[string]any{"queryType": TypeTransactions, "status": "failures", "causes": []string{fieldRef("cause")}}
		filters := filtersFor(r.Filters)
		if by != "" {
			filters[by] = []string{fieldRef(by)}
		}
		if len(filters) > 0 {
			q["filters"] = filters
		}
		f.Fields[fieldIndex(f, "transactions")].Config.Links = []data.DataLink{l.to("Failed transactions of this cause", q)}
	}
	what := "failures by cause"
	if by != "" {
		what += " and " + by
	}
	describe(f, what, res.Meta, d.settings.MaxRows)
	f.Meta.Custom.(map[string]any)["failures"] = res.Failures
	f.Meta.Custom.(map[string]any)["transactions"] = res.Transactions
	return f
}

func (d *Datasource) outcomeFrame(r *request, by string, res query.OutcomeResult) *data.Frame {
	var total uint64
	for _, o := range res.Rows {
		total += o.Transactions
	}
	rows := make([]breakdownRow, 0, len(res.Rows))
	for i, o := range res.Rows {
		v := ""
		if i < len(res.Values) {
			v = res.Values[i]
		}
		share := 0.0
		if total > 0 {
			share = float64(o.Transactions) / float64(total)
		}
		rows = append(rows, breakdownRow{value: v, key: o.Outcome, n: o.Transactions, share: share, amounts: amounts{{o.Currency, o.AmountMinor}}})
	}
	rows = mergeCurrencies(rows)
	f := breakdownFrame(by, OfOutcome, rows, false)
	if l := d.links(r); l.ok() {
		q := map[string]any{"queryType": TypeTransactions, "status": fieldRef("outcome")}
		filters := filtersFor(r.Filters)
		if by != "" {
			filters[by] = []string{fieldRef(by)}
		}
		if len(filters) > 0 {
			q["filters"] = filters
		}
		f.Fields[fieldIndex(f, "transactions")].Config.Links = []data.DataLink{l.to("Transactions with this outcome", q)}
	}
	what := "transactions by outcome"
	if by != "" {
		what += " and " + by
	}
	describe(f, what, res.Meta, d.settings.MaxRows)
	return f
}

func breakdownFrame(by, of string, rows []breakdownRow, causes bool) *data.Frame {
	n := len(rows)
	values, keys, classes := make([]string, n), make([]string, n), make([]string, n)
	counts := make([]int64, n)
	shares, rates := make([]float64, n), make([]float64, n)
	m := newMoney(n)
	for i, r := range rows {
		values[i], keys[i], classes[i] = r.value, r.key, r.class
		counts[i] = int64(r.n)
		shares[i], rates[i] = r.share, r.rate
		for _, a := range r.amounts {
			m.add(i, a.cur, a.amt)
		}
	}
	f := data.NewFrame("breakdown")
	if by != "" {
		f.Fields = append(f.Fields, withDisplay(data.NewField(by, nil, values), title(by)))
	}
	f.Fields = append(f.Fields, withDisplay(data.NewField(of, nil, keys), title(of)))
	if causes {
		f.Fields = append(f.Fields, withDisplay(data.NewField("class", nil, classes), "Class"))
	}
	cnt := data.NewField("transactions", nil, counts)
	cnt.Config = countConfig("Transactions")
	f.Fields = append(f.Fields, cnt)
	share := data.NewField("share", nil, shares)
	if causes {
		share.Config = rateConfig("Share of failures")
	} else {
		share.Config = rateConfig("Share of transactions")
	}
	f.Fields = append(f.Fields, share)
	if causes {
		rate := data.NewField("failure_rate", nil, rates)
		rate.Config = rateConfig("Failure rate")
		f.Fields = append(f.Fields, rate)
	}
	f.Fields = append(f.Fields, m.fields("amount_minor", "Amount")...)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeNumericLong, TypeVersion: data.FrameTypeVersion{0, 1}}
	return f
}

func emptyBreakdown(by, of string) *data.Frame {
	f := breakdownFrame(by, of, nil, of == OfCause)
	f.AppendNotices(emptyNotice())
	return f
}

func fieldIndex(f *data.Frame, name string) int {
	for i, fl := range f.Fields {
		if fl.Name == name {
			return i
		}
	}
	return -1
}

// causeClass is the class of a cause name ("" for none).
func causeClass(c string) string {
	cl := domain.DefaultRules().ClassOf(domain.Cause(c))
	if cl == domain.ClassNone {
		return ""
	}
	return string(cl)
}
