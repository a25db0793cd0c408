package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/text"

	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

// baselineWeeks is how many previous weeks the baseline takes the median of.
const baselineWeeks = 4

// Trends is the failure cause trends dashboard for analysts: failure rate
// per cause against its baseline, cause × dimension trends, a Pareto of
// causes, week-over-week change, timeouts per gateway (with where to find
// the timeout advice), and the failed transactions behind the numbers.
// Every dimension is a multi-value variable with All, there is a cause
// variable, a "break down by" dimension, and ad-hoc filters.
func Trends() (dashboard.Dashboard, error) {
	dims := Dimensions()
	f := varFilters(dims...)
	q := func(p plugin.Query) plugin.Query {
		p.Filters = f
		if p.Causes == nil {
			p.Causes = []string{ref("cause")}
		}
		return p
	}

	b := base(UIDTrends, "Failure cause trends",
		"For analysts: failure causes over time against their baseline, by any dimension, Pareto, week-over-week change, timeouts; every dimension is a filter.",
		"analysis").
		Time("now-7d", "now").
		WithVariable(customVar("dimension", "Break down by", dims, "gateway")).
		WithVariable(queryVar("cause", "Cause"))
	for _, v := range dimensionVars() {
		b = b.WithVariable(v)
	}
	b = b.WithVariable(adhocVar()).
		Annotation(incidentsAnnotation(plugin.Query{Filters: f, Causes: []string{ref("cause")}}))

	b = b.WithRow(row("Causes against their baseline")).
		WithPanel(queries(newTimeseries(),
			q(plugin.Query{QueryType: plugin.TypeTrend, By: "cause", Metric: plugin.MetricFailureRate, BaselineWeeks: baselineWeeks}),
			q(plugin.Query{QueryType: plugin.TypeTrend, By: "cause", Metric: plugin.MetricBaseline, BaselineWeeks: baselineWeeks}),
		).
			Title("Failure rate per cause against its baseline").
			Description("Solid: the failure rate of each cause per interval. Dashed: its baseline, the median rate of the same hour of the week over the previous 4 weeks.").
			Span(12).Height(10).
			Unit("percentunit").
			Legend(legendTable()).
			WithOverride(byRefID("B"), []dashboard.DynamicConfigValue{
				prop("displayName", "${__field.labels.cause} baseline"),
				prop("custom.lineStyle", map[string]any{"fill": "dash", "dash": []int{10, 10}}),
			})).
		WithPanel(queries(newTimeseries(),
			q(plugin.Query{QueryType: plugin.TypeTrend, By: "cause", Metric: plugin.MetricChange, BaselineWeeks: baselineWeeks}),
		).
			Title("Change against the baseline per cause").
			Description("Failure rate minus its baseline (the median of the same hour of the week over the previous 4 weeks): above zero, a cause is worse than usual.").
			Span(12).Height(10).
			Unit("percentunit").
			Legend(legendTable()).
			ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine)).
			Thresholds(thresholds("transparent", 0, "red")))

	b = b.WithRow(row("Cause × $dimension")).
		WithPanel(queries(newTimeseries(),
			q(plugin.Query{QueryType: plugin.TypeTrend, By: ref("dimension"), Metric: plugin.MetricFailureRate}),
		).
			Title("$cause by $dimension").
			Description("Failures of this cause over all transactions, per value of the chosen dimension and interval: one panel per selected cause.").
			Span(8).Height(9).
			Repeat("cause").RepeatDirection(dashboard.PanelRepeatDirectionH).MaxPerRow(3).
			Unit("percentunit").
			Legend(legendList())).
		WithPanel(queries(newTable(),
			q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfCause, By: ref("dimension")}),
		).
			Title("Failures by $dimension and cause").
			Description("Count, share of all failures, failure rate of the value and money per currency, for every value of the chosen dimension and cause.").
			Span(24).Height(10).
			Filterable(true).
			SortBy(sortDesc(fTransactions.display)))

	b = b.WithRow(row("Pareto and week over week")).
		WithPanel(queries(newBarchart(),
			q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfCause}),
		).
			Title("Pareto of failure causes").
			Description("Failures per cause, largest first, with the cumulative share of all failures (right axis): the few causes behind most failures.").
			Span(12).Height(10).
			Transformations(pareto()).
			XField(fCause.display).
			ShowValue(common.VisibilityModeAuto).
			Legend(legendList()).
			OverrideByName("Cumulative share", []dashboard.DynamicConfigValue{
				prop("unit", "percentunit"), prop("min", 0), prop("max", 1),
				prop("custom.axisPlacement", "right"),
			})).
		WithPanel(causeBars("Failures by cause, last 7 days", "The last 7 days, whatever the dashboard's range.", "")).
		WithPanel(causeBars("Failures by cause, the 7 days before", "The 7 days before the last 7: compare with the panel on its left.", "7d")).
		WithPanel(queries(newTimeseries(),
			q(plugin.Query{QueryType: plugin.TypeTrend, By: "cause", Metric: plugin.MetricChange, BaselineWeeks: 1}),
		).
			Title("Week-over-week change in failure rate per cause").
			Description("Failure rate of each cause minus its rate in the same hour one week earlier.").
			Span(24).Height(9).
			Unit("percentunit").
			Legend(legendTable()))

	b = b.WithRow(row("Timeouts")).
		WithPanel(queries(newTimeseries(),
			q(plugin.Query{QueryType: plugin.TypeTrend, By: "gateway", Metric: plugin.MetricFailureRate, Causes: []string{"timeout"}}),
		).
			Title("Timeout rate by gateway").
			Description("Transactions failed with cause timeout over all transactions, per gateway and interval.").
			Span(12).Height(9).
			Unit("percentunit").
			Legend(legendTable())).
		WithPanel(timeoutAdvice(12, 9))

	b = b.WithRow(row("Transactions")).
		WithPanel(txnTable(q(plugin.Query{QueryType: plugin.TypeTransactions, Status: "failures", Limit: 500}),
			"Failed transactions (newest first)",
			"Declined, failed, settlement-rejected and unsettled transactions matching the filters. Click a transaction for its trace."))

	m, err := b.Build()
	if err != nil {
		return m, err
	}
	m.Links = []dashboard.DashboardLink{
		allDashboards(),
		dashLink("Gateway health", UIDGateways, "The same filters on gateway health", true),
		dashLink("Transaction trace", UIDTrace, "Trace one transaction by its id", false),
	}
	return m, nil
}

// pareto sorts causes by failures and adds their cumulative share.
func pareto() []dashboard.DataTransformerConfig {
	return []dashboard.DataTransformerConfig{
		transformation("sortBy", map[string]any{"sort": []map[string]any{{"field": fTransactions.display, "desc": true}}}),
		transformation("calculateField", map[string]any{
			"mode":       "cumulativeFunctions",
			"cumulative": map[string]any{"field": fShareFailures.display, "reducer": "sum"},
			"alias":      "Cumulative share",
		}),
		transformation("filterFieldsByName", map[string]any{"include": map[string]any{
			"names": []string{fCause.display, fTransactions.display, "Cumulative share"},
		}}),
	}
}

// causeBars is failures by cause over the last 7 days, shifted by shift.
func causeBars(titleText, description, shift string) *bargauge.PanelBuilder {
	b := queries(bargauge.NewPanelBuilder(), plugin.Query{
		QueryType: plugin.TypeBreakdown, Of: plugin.OfCause,
		Filters: varFilters(Dimensions()...), Causes: []string{ref("cause")},
	}).
		Title(titleText).
		Description(description).
		Span(6).Height(10).
		TimeFrom("7d").
		WithTransformation(hideFields(fClass)).
		ReduceOptions(reduce("lastNotNull", fTransactions.statFields(), true)).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		Unit("short").Decimals(0).
		Thresholds(thresholds("blue"))
	if shift != "" {
		b = b.TimeShift(shift)
	}
	return b
}

// timeoutAdvice says where the timeout advice is: the data source has no
// query type for it.
func timeoutAdvice(w, h uint32) *text.PanelBuilder {
	return text.NewPanelBuilder().
		Title("Timeout advice").
		Span(w).Height(h).
		Mode(text.TextModeMarkdown).
		Content(markdown(
			"The data source has **no timeout advice query** (its query types are breakdown, trend, transactions, trace, incidents, unsettled_aging and kpis), so the advice is not drawn here.",
			"",
			"The analytics daemon's `timeouts` job writes it every hour (per gateway: the latency histogram of `pos.host.request`, the timeouts terminals reported, and for each candidate terminal timeout the authorizations that would time out). Read it with the CLI:",
			"",
			"```sh",
			"settlewatch timeouts -since 7d -gateway gw-1 -candidates 10,15,30 -target 0.001",
			"```",
			"",
			"`-format json` gives `recommended_ms` and the candidates per gateway. The latency quantiles per gateway are on the *Gateway health* dashboard.",
		))
}
