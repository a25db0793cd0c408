package plugin

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/query"
)

// kpis answers the stat-panel numbers in one numeric-wide frame (one row):
// failure rate, transactions and failures; the top cause (its failures,
// labelled with the cause, and its share); unsettled transactions and money
// per currency; open incidents. Each KPI runs only when asked for.
func (d *Datasource) kpis(ctx context.Context, r *request, st Store) (data.Frames, error) {
	want := r.KPIs
	if len(want) == 0 {
		want = KPINames
	}
	for _, k := range want {
		if !slices.Contains(KPINames, k) {
			return nil, bad("kpis: unknown KPI %q: want any of %s", clip(k), strings.Join(KPINames, ", "))
		}
	}
	src, _ := query.ParseSource(r.Source)
	f := data.NewFrame("kpis")
	f.Meta = &data.FrameMeta{Type: data.FrameTypeNumericWide, TypeVersion: data.FrameTypeVersion{0, 1}}
	var metas []query.Meta
	if slices.Contains(want, "failure_rate") || slices.Contains(want, "top_cause") {
		var res query.CausesResult
		if !r.Empty {
			var err error
			res, err = st.CauseBreakdown(ctx, query.CausesQuery{Range: r.Range, Filters: r.Filters, Source: src})
			if err != nil {
				return nil, err
			}
			metas = append(metas, res.Meta)
		}
		if slices.Contains(want, "failure_rate") {
			rate := 0.0
			if res.Transactions > 0 {
				rate = float64(res.Failures) / float64(res.Transactions)
			}
			fr := data.NewField("failure_rate", nil, []float64{rate})
			fr.Config = rateConfig("Failure rate")
			tx := data.NewField("transactions", nil, []int64{int64(res.Transactions)})
			tx.Config = countConfig("Transactions")
			fl := data.NewField("failures", nil, []int64{int64(res.Failures)})
			fl.Config = countConfig("Failures")
			f.Fields = append(f.Fields, fr, tx, fl)
		}
		if slices.Contains(want, "top_cause") {
			cause, n := topCause(res.Rows)
			top := data.NewField("top_cause_failures", data.Labels{"cause": cause}, []int64{int64(n)})
			top.Config = countConfig("Top cause: " + cause)
			share := 0.0
			if res.Failures > 0 {
				share = float64(n) / float64(res.Failures)
			}
			sh := data.NewField("top_cause_share", data.Labels{"cause": cause}, []float64{share})
			sh.Config = rateConfig("Top cause share: " + cause)
			f.Fields = append(f.Fields, top, sh)
		}
	}
	if slices.Contains(want, "unsettled") {
		res, _, err := d.unsettledSummary(ctx, r, st)
		if err != nil {
			return nil, err
		}
		var n uint64
		amounts := map[string]int64{}
		for _, a := range res.Aging {
			n += a.Transactions
			amounts[a.Currency] += a.AmountMinor
		}
		cnt := data.NewField("unsettled_transactions", nil, []int64{int64(n)})
		cnt.Config = countConfig("Unsettled transactions")
		f.Fields = append(f.Fields, cnt)
		curs := make([]string, 0, len(amounts))
		for c := range amounts {
			curs = append(curs, c)
		}
		sort.Strings(curs)
		for _, c := range curs {
			a := data.NewField("unsettled_amount_minor_"+c, data.Labels{"currency": c}, []int64{amounts[c]})
			a.Config = amountConfig("Unsettled amount", c)
			f.Fields = append(f.Fields, a)
		}
	}
	if slices.Contains(want, "open_incidents") {
		var n int
		if !r.Empty {
			list, meta, err := st.Incidents(ctx, query.IncidentsQuery{OpenOnly: true, Causes: r.Filters.Causes, Limit: d.settings.MaxRows})
			if err != nil {
				return nil, err
			}
			n = len(list)
			metas = append(metas, meta)
		}
		oi := data.NewField("open_incidents", nil, []int64{int64(n)})
		oi.Config = countConfig("Open incidents")
		f.Fields = append(f.Fields, oi)
	}
	meta := query.Meta{}
	for _, m := range metas {
		if m.Source == "rollup" || meta.Source == "" {
			meta.Source, meta.Granularity = m.Source, m.Granularity
		}
		meta.Truncated = meta.Truncated || m.Truncated
	}
	describe(f, "KPIs: "+strings.Join(want, ", "), meta, d.settings.MaxRows)
	if r.Empty {
		f.AppendNotices(emptyNotice())
	}
	return data.Frames{f}, nil
}

// topCause is the cause with the most failures (all currencies).
func topCause(rows []query.CauseRow) (string, uint64) {
	byCause := map[string]uint64{}
	for _, r := range rows {
		byCause[r.Cause] += r.Transactions
	}
	best, n := "none", uint64(0)
	for c, v := range byCause {
		if v > n || v == n && n > 0 && c < best {
			best, n = c, v
		}
	}
	return best, n
}
