package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/piechart"

	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

// opsVars are the ops dashboard's filters: every query filters on them.
var opsVars = []string{"gateway", "region"}

// Ops is the settlement operations dashboard: the numbers to watch now,
// failures by cause over time and by gateway, the merchants and terminals
// failing most, incidents (also as annotations), unsettled money by age,
// and the transactions behind them, each linked to its trace.
func Ops() (dashboard.Dashboard, error) {
	f := varFilters(opsVars...)
	q := func(p plugin.Query) plugin.Query { p.Filters = f; return p }
	kpis := func(names ...string) plugin.Query { return q(plugin.Query{QueryType: plugin.TypeKPIs, KPIs: names}) }

	b := base(UIDOps, "Settlement operations",
		"What to watch now: failure rate, approvals, unsettled money, open incidents; failures by cause and gateway; top merchants and terminals; unsettled money by age; failed and unsettled transactions linked to their traces.",
		"operations").
		Time("now-24h", "now").
		Refresh("1m").
		WithVariable(queryVar("gateway", "Gateway")).
		WithVariable(queryVar("region", "Region")).
		WithVariable(adhocVar()).
		Annotation(incidentsAnnotation(plugin.Query{Filters: f}))

	b = b.WithRow(row("Now")).
		WithPanel(queries(newStat(), kpis("failure_rate")).
			Title("Failure rate").
			Description("Declined, failed, settlement-rejected and unsettled transactions as a share of all transactions in the range.").
			Span(4).Height(5).
			ReduceOptions(reduce("lastNotNull", fFailureRate.statFields(), false)).
			Unit("percentunit").Decimals(2).
			Thresholds(thresholds("green", 0.02, "orange", 0.05, "red")).
			ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeNone)).
		WithPanel(queries(newStat(), kpis("failure_rate")).
			Title("Failures").
			Description("Transactions with a failure cause in the range (of all transactions: the failure rate).").
			Span(4).Height(5).
			ReduceOptions(reduce("lastNotNull", fFailures.statFields(), false)).
			Unit("short").Decimals(0).
			Thresholds(thresholds("blue")).
			ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeNone)).
		WithPanel(queries(newStat(), q(plugin.Query{
			QueryType: plugin.TypeTrend, By: "gateway", Metric: plugin.MetricTransactions, Interval: "5m", Outcomes: approvals,
		})).
			Title("Approvals/min (last hour)").
			Description("Transactions the issuer approved (outcomes approved, pending, settled, settlement_rejected, unsettled) per minute: 5-minute buckets of every gateway added up and divided by 5, averaged over the last hour (the current bucket is still filling).").
			Span(4).Height(5).
			TimeFrom("1h").
			HideTimeOverride(true).
			Transformations(approvalsPerMinute()).
			ReduceOptions(reduce("mean", "", false)).
			Unit("short").Decimals(1).
			Thresholds(thresholds("blue")).
			ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeArea)).
		WithPanel(queries(newStat(), kpis("unsettled")).
			Title("Unsettled transactions").
			Description("Approved sales without a settlement past the settlement window, as of the end of the range.").
			Span(4).Height(5).
			ReduceOptions(reduce("lastNotNull", fUnsettledTxns.statFields(), false)).
			Unit("short").Decimals(0).
			Thresholds(thresholds("green", 1, "red")).
			ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeNone)).
		WithPanel(queries(newStat(), kpis("unsettled")).
			Title("Unsettled amount").
			Description("Money of the unsettled transactions, per currency, in minor units (fen, cents): never added across currencies.").
			Span(4).Height(5).
			ReduceOptions(reduce("lastNotNull", "/^("+fUnsettledAmt.name+".*|"+fUnsettledAmt.display+".*)$/", false)).
			Thresholds(thresholds("green", 1, "red")).
			ColorMode(common.BigValueColorModeValue).GraphMode(common.BigValueGraphModeNone).
			TextMode(common.BigValueTextModeValueAndName)).
		WithPanel(queries(newStat(), kpis("open_incidents")).
			Title("Open incidents").
			Description("Incidents the anomaly job has opened and not yet closed.").
			Span(4).Height(5).
			ReduceOptions(reduce("lastNotNull", fOpenIncidents.statFields(), false)).
			Unit("short").Decimals(0).
			Thresholds(thresholds("green", 1, "red")).
			ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeNone))

	b = b.WithRow(row("Failures")).
		WithPanel(queries(newTimeseries(), q(plugin.Query{QueryType: plugin.TypeTrend, By: "cause", Metric: plugin.MetricFailures})).
			Title("Failures by cause").
			Description("Failed transactions per interval and cause. Click a series for its trends.").
			Span(16).Height(9).
			DrawStyle(common.GraphDrawStyleBars).FillOpacity(80).LineWidth(1).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
			Unit("short").Decimals(0).
			Legend(legendTable()).
			WithOverride(byType("number"), []dashboard.DynamicConfigValue{linksProp(
				linkTo("Trends of ${__field.labels.cause}", UIDTrends, set("cause", labelValue("cause"))))})).
		WithPanel(queries(newPie(), q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfCause})).
			Title("Failure causes").
			Description("Share of failures by cause over the range.").
			Span(8).Height(9).
			WithTransformation(hideFields(fClass)).
			ReduceOptions(reduce("lastNotNull", fTransactions.statFields(), true)).
			PieType(piechart.PieChartTypeDonut).
			DisplayLabels([]piechart.PieChartLabels{piechart.PieChartLabelsPercent}).
			Legend(piechart.NewPieChartLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementRight).
				ShowLegend(true).Values([]piechart.PieChartLegendValues{piechart.PieChartLegendValuesValue, piechart.PieChartLegendValuesPercent})).
			Unit("short").
			WithOverride(byField(fTransactions), []dashboard.DynamicConfigValue{linksProp(
				linkTo("Trends of ${__data.fields.cause}", UIDTrends, set("cause", rowValue(fCause))))}))

	gw := dimField("gateway")
	b = b.WithRow(row("Gateways")).
		WithPanel(queries(newTimeseries(), q(plugin.Query{QueryType: plugin.TypeTrend, By: "gateway", Metric: plugin.MetricFailureRate})).
			Title("Failure rate by gateway").
			Description("Failures over all transactions, per gateway and interval. Click a series for the gateway's health.").
			Span(12).Height(9).
			Unit("percentunit").
			Legend(legendTable()).
			WithOverride(byType("number"), []dashboard.DynamicConfigValue{linksProp(
				linkTo("Health of ${__field.labels.gateway}", UIDGateways, set("gateway", labelValue("gateway"))))})).
		WithPanel(queries(newTable(), q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfCause, By: "gateway"})).
			Title("Failures by gateway and cause").
			Description("Failures per gateway and cause: count, share of all failures, failure rate of the gateway, money per currency.").
			Span(12).Height(9).
			SortBy(sortDesc(fTransactions.display)).
			OverrideByName(fShareFailures.display, []dashboard.DynamicConfigValue{prop("unit", "percentunit")}).
			WithOverride(byField(gw), []dashboard.DynamicConfigValue{linksProp(
				linkTo("Health of this gateway", UIDGateways, set("gateway", cellValue)))}))

	merchant, terminal := dimField("merchant"), dimField("terminal")
	b = b.WithRow(row("Top merchants and terminals")).
		WithPanel(queries(newTable(), q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfCause, By: "merchant"})).
			Title("Top merchants by failures").
			Description("The ten merchants with the most failures (all causes). Click a merchant for its cause trends.").
			Span(12).Height(9).
			Transformations(topBy(merchant, fTransactions, 10)).
			WithOverride(byField(merchant), []dashboard.DynamicConfigValue{linksProp(
				linkTo("Cause trends of this merchant", UIDTrends, set("merchant", cellValue)))})).
		WithPanel(queries(newTable(), q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfCause, By: "terminal"})).
			Title("Top terminals by failures").
			Description("The ten terminals with the most failures (all causes). Click a terminal for its cause trends.").
			Span(12).Height(9).
			Transformations(topBy(terminal, fTransactions, 10)).
			WithOverride(byField(terminal), []dashboard.DynamicConfigValue{linksProp(
				linkTo("Cause trends of this terminal", UIDTrends, set("terminal", cellValue)))}))

	b = b.WithRow(row("Incidents and unsettled money")).
		WithPanel(queries(newTable(), q(plugin.Query{QueryType: plugin.TypeIncidents, Limit: 50})).
			Title("Incidents").
			Description("Incidents overlapping the range (also drawn as annotations). Click a cause for its trends.").
			Span(12).Height(9).
			WithTransformation(hideFields(fIncidentID)).
			WithOverride(byField(fCause), []dashboard.DynamicConfigValue{linksProp(
				linkTo("Trends of this cause", UIDTrends, set("cause", cellValue)))})).
		WithPanel(queries(newBarchart(), q(plugin.Query{QueryType: plugin.TypeUnsettledAging})).
			Title("Unsettled transactions by age and cause").
			Description("Unsettled transactions as of the end of the range, by age since the transaction and cause.").
			Span(12).Height(9).
			WithTransformation(matrix(fAgeBucket, fCause, fAgingTxns)).
			Stacking(common.StackingModeNormal).
			ShowValue(common.VisibilityModeAuto).
			Legend(legendList()).
			Unit("short").Decimals(0))

	b = b.WithRow(row("Transactions")).
		WithPanel(txnTable(q(plugin.Query{QueryType: plugin.TypeTransactions, Status: "failures", Limit: 200}),
			"Failed transactions (newest first)",
			"Declined, failed, settlement-rejected and unsettled transactions in the range. Click a transaction for its trace.")).
		WithPanel(txnTable(q(plugin.Query{QueryType: plugin.TypeTransactions, Status: "unsettled", Limit: 200}),
			"Unsettled transactions (oldest first)",
			"Approved sales past the settlement window without a settlement, oldest first, with the cause (the batch close's error). Click a transaction for its trace."))

	m, err := b.Build()
	if err != nil {
		return m, err
	}
	m.Links = []dashboard.DashboardLink{
		allDashboards(),
		dashLink("Transaction trace", UIDTrace, "Trace one transaction by its id", false),
	}
	return m, nil
}

// approvalsPerMinute adds up the per-gateway 5-minute series and divides by 5.
func approvalsPerMinute() []dashboard.DataTransformerConfig {
	return []dashboard.DataTransformerConfig{
		transformation("calculateField", map[string]any{
			"mode": "reduceRow", "reduce": map[string]any{"reducer": "sum"},
			"alias": "Approvals per 5 minutes", "replaceFields": true,
		}),
		transformation("calculateField", map[string]any{
			"mode": "binary",
			"binary": map[string]any{
				"left":     map[string]any{"matcher": map[string]any{"id": "byName", "options": "Approvals per 5 minutes"}},
				"operator": "/",
				"right":    map[string]any{"fixed": "5"},
			},
			"alias": "Approvals/min", "replaceFields": true,
		}),
	}
}

// txnTable lists transactions, each id linked to the trace dashboard.
func txnTable(q plugin.Query, titleText, description string) cog.Builder[dashboard.Panel] {
	return queries(newTable(), q).
		Title(titleText).
		Description(description).
		Span(24).Height(10).
		Filterable(true).
		WithOverride(byField(fTxnID), []dashboard.DynamicConfigValue{linksProp(
			linkTo("Trace of this transaction", UIDTrace, set("txn", cellValue)))})
}
