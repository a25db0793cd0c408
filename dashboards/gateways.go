package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/piechart"

	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

// gatewayVars are the gateway health dashboard's filters.
var gatewayVars = []string{"gateway", "issuer"}

// Gateways is the gateway health dashboard: latency quantiles per gateway,
// volume, timeout and error rates, the issuers' response mix, gateway
// incidents and the failed transactions.
func Gateways() (dashboard.Dashboard, error) {
	f := varFilters(gatewayVars...)
	q := func(p plugin.Query) plugin.Query { p.Filters = f; return p }
	perGateway := func(metric string, causes ...string) plugin.Query {
		return q(plugin.Query{QueryType: plugin.TypeTrend, By: "gateway", Metric: metric, Causes: causes})
	}
	toTrends := []dashboard.DynamicConfigValue{linksProp(
		linkTo("Cause trends of ${__field.labels.gateway}", UIDTrends, set("gateway", labelValue("gateway"))))}

	b := base(UIDGateways, "Gateway health",
		"Per payment gateway: latency quantiles, volume, timeout and error rates, the issuers' response mix, gateway incidents and failed transactions.",
		"gateways").
		Time("now-24h", "now").
		Refresh("1m").
		WithVariable(queryVar("gateway", "Gateway")).
		WithVariable(queryVar("issuer", "Issuer")).
		WithVariable(adhocVar()).
		Annotation(incidentsAnnotation(plugin.Query{IncidentDimension: "gateway", Filters: varFilters("gateway")}))

	b = b.WithRow(row("Latency")).
		WithPanel(queries(newTimeseries(),
			perGateway(plugin.MetricP50), perGateway(plugin.MetricP90), perGateway(plugin.MetricP99),
		).
			Title("Latency quantiles: $gateway").
			Description("p50, p90 and p99 of the transactions' duration (the terminal's pos.transaction span) per interval: one panel per selected gateway.").
			Span(8).Height(8).
			Repeat("gateway").RepeatDirection(dashboard.PanelRepeatDirectionH).MaxPerRow(3).
			Unit("ms").
			Legend(legendList()).
			WithOverride(byRefID("A"), []dashboard.DynamicConfigValue{prop("displayName", "p50")}).
			WithOverride(byRefID("B"), []dashboard.DynamicConfigValue{prop("displayName", "p90")}).
			WithOverride(byRefID("C"), []dashboard.DynamicConfigValue{prop("displayName", "p99")})).
		WithPanel(queries(newTimeseries(), perGateway(plugin.MetricP99)).
			Title("p99 latency by gateway").
			Description("The 99th percentile of the transactions' duration, gateways side by side. Click a series for its cause trends.").
			Span(12).Height(9).
			Unit("ms").
			Legend(legendTable()).
			WithOverride(byType("number"), toTrends)).
		WithPanel(queries(newTimeseries(), perGateway(plugin.MetricTransactions)).
			Title("Transactions by gateway").
			Description("Transactions per gateway and interval.").
			Span(12).Height(9).
			Unit("short").Decimals(0).
			Legend(legendTable()).
			WithOverride(byType("number"), toTrends))

	b = b.WithRow(row("Timeouts and errors")).
		WithPanel(queries(newTimeseries(), perGateway(plugin.MetricFailureRate, "timeout")).
			Title("Timeout rate by gateway").
			Description("Transactions failed with cause timeout over all transactions of the gateway.").
			Span(8).Height(9).
			Unit("percentunit").
			Legend(legendList()).
			WithOverride(byType("number"), toTrends)).
		WithPanel(queries(newTimeseries(), perGateway(plugin.MetricFailureRate, "network", "gateway", "system")).
			Title("Technical error rate by gateway").
			Description("Transactions failed with cause network, gateway or system over all transactions of the gateway.").
			Span(8).Height(9).
			Unit("percentunit").
			Legend(legendList()).
			WithOverride(byType("number"), toTrends)).
		WithPanel(queries(newTimeseries(), perGateway(plugin.MetricFailureRate)).
			Title("Failure rate by gateway (all causes)").
			Description("Every failure (declined, failed, settlement-rejected, unsettled) over all transactions of the gateway.").
			Span(8).Height(9).
			Unit("percentunit").
			Legend(legendList()).
			WithOverride(byType("number"), toTrends)).
		WithPanel(queries(newTable(), q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfCause, By: "gateway"})).
			Title("Failures by gateway and cause").
			Description("Count, share of all failures, failure rate of the gateway and money per currency. Click a gateway for its cause trends.").
			Span(12).Height(9).
			SortBy(sortDesc(fTransactions.display)).
			OverrideByName(fShareFailures.display, []dashboard.DynamicConfigValue{prop("unit", "percentunit")}).
			WithOverride(byField(dimField("gateway")), []dashboard.DynamicConfigValue{linksProp(
				linkTo("Cause trends of this gateway", UIDTrends, set("gateway", cellValue)))})).
		WithPanel(timeoutAdvice(12, 9))

	respCode, issuer := dimField("response_code"), dimField("issuer")
	b = b.WithRow(row("Issuer responses")).
		WithPanel(queries(newPie(), q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfOutcome, By: "response_code"})).
			Title("Response codes").
			Description("Transactions by the ISO 8583 response code they got (approvals included).").
			Span(8).Height(10).
			Transformations(topBy(respCode, fTransactions, 20)).
			ReduceOptions(reduce("lastNotNull", fTransactions.statFields(), true)).
			PieType(piechart.PieChartTypeDonut).
			DisplayLabels([]piechart.PieChartLabels{piechart.PieChartLabelsName}).
			Legend(piechart.NewPieChartLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementRight).
				ShowLegend(true).Values([]piechart.PieChartLegendValues{piechart.PieChartLegendValuesValue, piechart.PieChartLegendValuesPercent})).
			Unit("short")).
		WithPanel(queries(newTable(), q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfOutcome, By: "issuer"})).
			Title("Outcomes by issuer").
			Description("Transactions per issuer and outcome.").
			Span(16).Height(10).
			Filterable(true).
			WithTransformation(matrix(issuer, fOutcome, fTransactions))).
		WithPanel(queries(newTable(), q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfCause, By: "issuer"})).
			Title("Failures by issuer and cause").
			Description("Count, share of all failures, failure rate of the issuer and money per currency.").
			Span(12).Height(10).
			Filterable(true).
			SortBy(sortDesc(fTransactions.display)).
			OverrideByName(fShareFailures.display, []dashboard.DynamicConfigValue{prop("unit", "percentunit")})).
		WithPanel(queries(newTable(), q(plugin.Query{QueryType: plugin.TypeBreakdown, Of: plugin.OfCause, By: "response_code"})).
			Title("Failures by response code and cause").
			Description("Which response codes make which causes (the contract's code table), with their counts.").
			Span(12).Height(10).
			Filterable(true).
			SortBy(sortDesc(fTransactions.display)).
			OverrideByName(fShareFailures.display, []dashboard.DynamicConfigValue{prop("unit", "percentunit")}))

	b = b.WithRow(row("Incidents and transactions")).
		WithPanel(queries(newTable(), plugin.Query{QueryType: plugin.TypeIncidents, IncidentDimension: "gateway", Filters: varFilters("gateway"), Limit: 50}).
			Title("Gateway incidents").
			Description("Incidents of the selected gateways overlapping the range (also drawn as annotations); the issuer filter does not apply to them.").
			Span(24).Height(8).
			WithTransformation(hideFields(fIncidentID))).
		WithPanel(txnTable(q(plugin.Query{QueryType: plugin.TypeTransactions, Status: "failures", Limit: 200}),
			"Failed transactions (newest first)",
			"Declined, failed, settlement-rejected and unsettled transactions of the selected gateways and issuers. Click a transaction for its trace."))

	m, err := b.Build()
	if err != nil {
		return m, err
	}
	m.Links = []dashboard.DashboardLink{
		allDashboards(),
		dashLink("Failure cause trends", UIDTrends, "The same filters on the cause trends", true),
		dashLink("Transaction trace", UIDTrace, "Trace one transaction by its id", false),
	}
	return m, nil
}
