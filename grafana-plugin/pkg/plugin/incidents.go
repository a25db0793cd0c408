package plugin

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/domain"
)

// incidents lists the incidents open at some point in the range. The frame
// has the fields Grafana's annotations read (time, timeEnd, title, text,
// tags), so the same query drives an annotation layer and a table.
func (d *Datasource) incidents(ctx context.Context, r *request, st Store) (data.Frames, error) {
	iq := query.IncidentsQuery{Range: r.Range, OpenOnly: r.OpenOnly, Causes: r.Filters.Causes, Limit: r.limit(d.settings.MaxRows)}
	if r.IncidentDimension != "" {
		if r.IncidentDimension == model.All {
			iq.Dimension = model.All
		} else {
			dim, err := dimension(r.IncidentDimension)
			if err != nil {
				return nil, err
			}
			iq.Dimension = dim
		}
	}
	if r.IncidentValue != "" {
		if iq.Dimension == "" || iq.Dimension == model.All {
			return nil, bad("incidents: a value needs a dimension (incidentDimension)")
		}
		if err := model.ValidateValue(r.IncidentValue); err != nil {
			return nil, bad("incidents: %v", err)
		}
		iq.Value = r.IncidentValue
	}
	if r.Empty {
		f := incidentFrame(nil)
		f.AppendNotices(emptyNotice())
		return data.Frames{f}, nil
	}
	list, meta, err := st.Incidents(ctx, iq)
	if err != nil {
		return nil, err
	}
	// Dimension filters keep the incidents of the slices they allow.
	if len(r.Filters.Dims) > 0 {
		kept := list[:0]
		for _, in := range list {
			if vals, ok := r.Filters.Dims[in.Dimension]; ok && slices.Contains(vals, in.Value) {
				kept = append(kept, in)
			}
		}
		list = kept
	}
	f := incidentFrame(list)
	describe(f, "incidents", meta, iq.Limit)
	return data.Frames{f}, nil
}

func incidentFrame(list []query.Incident) *data.Frame {
	n := len(list)
	starts := make([]time.Time, n)
	// timeEnd is the annotation's end: when the incident ended, or, while
	// it is open, the last time the detector evaluated it (still open
	// then), so an open incident shows as a region; ended is the real end.
	regionEnds, ends := make([]*time.Time, n), make([]*time.Time, n)
	titles, texts, tags := make([]string, n), make([]string, n), make([]string, n)
	ids, statuses, causes, dims, values, kinds, sevs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	scores, base, obs, peak := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	fails, txns := make([]int64, n), make([]int64, n)
	for i, in := range list {
		starts[i] = in.Started
		if !in.Ended.IsZero() {
			e := in.Ended
			ends[i], regionEnds[i] = &e, &e
		} else if in.EvaluatedTo.After(in.Started) {
			e := in.EvaluatedTo
			regionEnds[i] = &e
		}
		slice := "all transactions"
		if in.Dimension != "" && in.Dimension != model.All {
			slice = in.Dimension + " " + in.Value
		}
		titles[i] = fmt.Sprintf("%s failures up on %s (%s)", title(in.Cause), slice, in.Severity)
		texts[i] = in.Summary
		tg := []string{"cause:" + in.Cause, "severity:" + in.Severity, "status:" + in.Status}
		if in.Dimension != "" && in.Dimension != model.All {
			tg = append(tg, in.Dimension+":"+in.Value)
		}
		tags[i] = strings.Join(tg, ",")
		ids[i], statuses[i], causes[i], dims[i], values[i], kinds[i], sevs[i] = in.ID, in.Status, in.Cause, in.Dimension, in.Value, in.Kind, in.Severity
		scores[i], base[i], obs[i], peak[i] = in.Score, in.Baseline, in.Observed, in.Peak
		fails[i], txns[i] = int64(in.Failures), int64(in.Transactions)
	}
	rate := func(name, display string, v []float64) *data.Field {
		f := data.NewField(name, nil, v)
		f.Config = &data.FieldConfig{DisplayNameFromDS: display, Unit: "percentunit"}
		return f
	}
	failures := data.NewField("failures", nil, fails)
	failures.Config = countConfig("Failures")
	transactions := data.NewField("transactions", nil, txns)
	transactions.Config = countConfig("Transactions")
	f := data.NewFrame("incidents",
		withDisplay(data.NewField("time", nil, starts), "Started"),
		withDisplay(data.NewField("timeEnd", nil, regionEnds), "Until"),
		withDisplay(data.NewField("title", nil, titles), "Title"),
		withDisplay(data.NewField("text", nil, texts), "Summary"),
		withDisplay(data.NewField("tags", nil, tags), "Tags"),
		withDisplay(data.NewField("incident_id", nil, ids), "Incident"),
		withDisplay(data.NewField("status", nil, statuses), "Status"),
		withDisplay(data.NewField("ended", nil, ends), "Ended"),
		withDisplay(data.NewField("cause", nil, causes), "Cause"),
		withDisplay(data.NewField("dimension", nil, dims), "Dimension"),
		withDisplay(data.NewField("value", nil, values), "Value"),
		withDisplay(data.NewField("kind", nil, kinds), "Kind"),
		withDisplay(data.NewField("severity", nil, sevs), "Severity"),
		withDisplay(data.NewField("score", nil, scores), "Score"),
		rate("baseline_rate", "Baseline rate", base),
		rate("observed_rate", "Observed rate", obs),
		rate("peak_rate", "Peak rate", peak),
		failures, transactions,
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}

// unsettledAging answers unsettled money by age bucket and cause: a
// numeric-long frame (bar chart, table, alert rule per bucket and cause).
func (d *Datasource) unsettledAging(ctx context.Context, r *request, st Store) (data.Frames, error) {
	res, ok, err := d.unsettledSummary(ctx, r, st)
	if err != nil {
		return nil, err
	}
	type key struct{ bucket, cause string }
	idx := map[key]int{}
	type row struct {
		key
		n   uint64
		amt map[string]int64
	}
	var rows []row
	for _, a := range res.Aging {
		k := key{a.AgeBucket, a.Cause}
		i, seen := idx[k]
		if !seen {
			i = len(rows)
			idx[k] = i
			rows = append(rows, row{key: k, amt: map[string]int64{}})
		}
		rows[i].n += a.Transactions
		rows[i].amt[a.Currency] += a.AmountMinor
	}
	order := map[string]int{}
	for i, b := range model.AgeBuckets {
		order[b] = i
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].bucket != rows[j].bucket {
			return order[rows[i].bucket] < order[rows[j].bucket]
		}
		if rows[i].n != rows[j].n {
			return rows[i].n > rows[j].n
		}
		return rows[i].cause < rows[j].cause
	})
	n := len(rows)
	buckets, causes, classes := make([]string, n), make([]string, n), make([]string, n)
	counts := make([]int64, n)
	m := newMoney(n)
	for i, rw := range rows {
		buckets[i], causes[i], classes[i], counts[i] = rw.bucket, rw.cause, causeClass(rw.cause), int64(rw.n)
		for c, a := range rw.amt {
			m.add(i, c, a)
		}
	}
	cnt := data.NewField("transactions", nil, counts)
	cnt.Config = countConfig("Unsettled transactions")
	f := data.NewFrame("unsettled_aging",
		withDisplay(data.NewField("age_bucket", nil, buckets), "Age"),
		withDisplay(data.NewField("cause", nil, causes), "Cause"),
		withDisplay(data.NewField("class", nil, classes), "Class"),
		cnt)
	f.Fields = append(f.Fields, m.fields("amount_minor", "Unsettled amount")...)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeNumericLong, TypeVersion: data.FrameTypeVersion{0, 1}}
	if !ok {
		f.AppendNotices(emptyNotice())
		return data.Frames{f}, nil
	}
	describe(f, fmt.Sprintf("unsettled money by age as of %s", res.AsOf.Format(time.RFC3339)), query.Meta{Source: res.Meta.Source}, d.settings.MaxRows)
	if l := d.links(r); l.ok() {
		q := map[string]any{"queryType": TypeTransactions, "status": string(domain.OutcomeUnsettled), "causes": []string{fieldRef("cause")}}
		if fl := filtersFor(r.Filters); len(fl) > 0 {
			q["filters"] = fl
		}
		cnt.Config.Links = []data.DataLink{l.to("Unsettled transactions of this cause", q)}
	}
	return data.Frames{f}, nil
}

// unsettledSummary runs the unsettled question for the range (ages measured
// at the end of the range, or now if earlier). ok is false when the filters
// leave nothing to ask.
func (d *Datasource) unsettledSummary(ctx context.Context, r *request, st Store) (query.UnsettledResult, bool, error) {
	f := r.Filters
	if len(f.Outcomes) > 0 {
		if !slices.Contains(f.Outcomes, string(domain.OutcomeUnsettled)) {
			return query.UnsettledResult{}, false, nil
		}
		f.Outcomes = nil
	}
	asOf := d.now()
	if r.Range.To.Before(asOf) {
		asOf = r.Range.To
	}
	if r.Empty {
		return query.UnsettledResult{AsOf: asOf}, false, nil
	}
	if !r.Range.From.Before(asOf) {
		// The range is in the future: nothing can be unsettled there yet.
		return query.UnsettledResult{AsOf: asOf, Meta: query.Meta{Source: string(query.SourceRaw)}}, true, nil
	}
	res, err := st.Unsettled(ctx, query.UnsettledQuery{Filters: f, AsOf: asOf, Lookback: asOf.Sub(r.Range.From), Limit: 1})
	return res, err == nil, err
}
