package dashboards

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/barchart"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/piechart"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

// Field names of the plugin's frames that panels refer to, each with the
// display name the backend gives it (DisplayNameFromDS). Grafana's
// transformations and matchers see the display name; overrides here match
// either, so a renamed display name does not silently break them. A test
// checks both against the plugin's golden frames.
type field struct{ name, display string }

var (
	fTxnID         = field{"txn_id", "Transaction"}
	fTransactions  = field{"transactions", "Transactions"}
	fCause         = field{"cause", "Cause"}
	fClass         = field{"class", "Class"}
	fOutcome       = field{"outcome", "Outcome"}
	fShareFailures = field{"share", "Share of failures"}
	fFailureRate   = field{"failure_rate", "Failure rate"}
	fFailures      = field{"failures", "Failures"}
	fUnsettledTxns = field{"unsettled_transactions", "Unsettled transactions"}
	fUnsettledAmt  = field{"unsettled_amount_minor_", "Unsettled amount"} // a prefix: one field per currency
	fOpenIncidents = field{"open_incidents", "Open incidents"}
	fAgeBucket     = field{"age_bucket", "Age"}
	fAgingTxns     = field{"transactions", "Unsettled transactions"}
	fIncidentID    = field{"incident_id", "Incident"}
)

// dimField is the field of a dimension in breakdown and transaction frames.
func dimField(dim string) field { return field{dim, title(dim)} }

// regex matches the field by name or display name (Grafana anchors it).
func (f field) regex() string { return "(" + f.name + "|" + f.display + ")" }

// statFields is a stat panel's field selection for f.
func (f field) statFields() string { return "/^" + f.regex() + "$/" }

// title is how the plugin titles a key: "card_scheme" → "Card scheme".
func title(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Dimensions are the plugin's dimensions, in its order.
func Dimensions() []string { return model.DimensionNames() }

// approvals are the outcomes of transactions the issuer approved.
var approvals = []string{"approved", "pending", "settled", "settlement_rejected", "unsettled"}

// ref is a template variable reference as the plugin's frontend expands it.
func ref(name string) string { return "$" + name }

// varFilters filters each key on the variable of the same name.
func varFilters(names ...string) map[string][]string {
	f := make(map[string][]string, len(names))
	for _, n := range names {
		f[n] = []string{ref(n)}
	}
	return f
}

// targeted is what every SDK panel builder offers.
type targeted[B any] interface {
	cog.Builder[dashboard.Panel]
	WithTarget(cog.Builder[variants.Dataquery]) B
	Datasource(common.DataSourceRef) B
}

// queries puts the settlewatch data source on a panel and its queries,
// with refIds A, B, C….
func queries[B targeted[B]](b B, qs ...plugin.Query) B {
	ds := Datasource()
	b = b.Datasource(ds)
	for i, q := range qs {
		b = b.WithTarget(Query{RefID: string(rune('A' + i)), Datasource: &ds, Query: q})
	}
	return b
}

// DataLink is a panel data link (Grafana's DataLink: title and url).
type DataLink struct {
	Title       string `json:"title"`
	URL         string `json:"url"`
	TargetBlank bool   `json:"targetBlank,omitempty"`
}

// linkTo is a data link to another dashboard keeping the time range, each
// variable set to a value expression (${__value.raw}, ${__field.labels.x}…).
func linkTo(title, uid string, vars ...[2]string) DataLink {
	var q []string
	for _, v := range vars {
		q = append(q, "var-"+url.QueryEscape(v[0])+"="+v[1])
	}
	q = append(q, "${__url_time_range}")
	return DataLink{Title: title, URL: "/d/" + uid + "?" + strings.Join(q, "&")}
}

func set(name, expr string) [2]string { return [2]string{name, expr} }

// Value expressions of data links.
const (
	cellValue = "${__value.raw}"
)

func labelValue(label string) string { return "${__field.labels." + label + "}" }
func rowValue(f field) string        { return "${__data.fields." + f.name + "}" }

// linksProp is the field config property holding data links.
func linksProp(links ...DataLink) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "links", Value: links}
}

func prop(id string, v any) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: id, Value: v}
}

func byField(f field) dashboard.MatcherConfig {
	return dashboard.MatcherConfig{Id: "byRegexp", Options: f.regex()}
}

func byRefID(refID string) dashboard.MatcherConfig {
	return dashboard.MatcherConfig{Id: "byFrameRefID", Options: refID}
}

func byType(t string) dashboard.MatcherConfig {
	return dashboard.MatcherConfig{Id: "byType", Options: t}
}

// transformation is one of Grafana's data transformations.
func transformation(id string, options any) dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{Id: id, Options: options}
}

// hideFields removes fields from a table (by name and display name).
func hideFields(fs ...field) dashboard.DataTransformerConfig {
	ex := map[string]bool{}
	for _, f := range fs {
		ex[f.name], ex[f.display] = true, true
	}
	return transformation("organize", map[string]any{"excludeByName": ex})
}

// topBy sums a number per value of a key field and keeps the n largest.
func topBy(key, number field, n int) []dashboard.DataTransformerConfig {
	sum := number.display + " (sum)"
	return []dashboard.DataTransformerConfig{
		transformation("groupBy", map[string]any{"fields": map[string]any{
			key.display:    map[string]any{"operation": "groupby"},
			number.display: map[string]any{"operation": "aggregate", "aggregations": []string{"sum"}},
		}}),
		transformation("sortBy", map[string]any{"sort": []map[string]any{{"field": sum, "desc": true}}}),
		transformation("limit", map[string]any{"limitField": n}),
		transformation("organize", map[string]any{"renameByName": map[string]string{sum: number.display}}),
	}
}

// matrix turns a numeric-long frame into rows × columns of one number.
func matrix(row, column, value field) dashboard.DataTransformerConfig {
	return transformation("groupingToMatrix", map[string]any{
		"rowField": row.display, "columnField": column.display, "valueField": value.display, "emptyValue": "zero",
	})
}

func sortDesc(display string) []cog.Builder[common.TableSortByFieldState] {
	return []cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName(display).Desc(true)}
}

func reduce(calc string, fields string, values bool) *common.ReduceDataOptionsBuilder {
	b := common.NewReduceDataOptionsBuilder().Calcs([]string{calc}).Values(values)
	if fields != "" {
		b = b.Fields(fields)
	}
	return b
}

func thresholds(base string, steps ...any) *dashboard.ThresholdsConfigBuilder {
	ts := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(steps); i += 2 {
		v := toFloat(steps[i])
		ts = append(ts, dashboard.Threshold{Value: &v, Color: steps[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(ts)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("threshold %v", v))
}

func legendTable() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeTable).Placement(common.LegendPlacementRight).
		ShowLegend(true).Calcs([]string{"mean", "max", "lastNotNull"}).SortBy("Mean").SortDesc(true)
}

func legendList() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom).ShowLegend(true)
}

func tooltipAll() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)
}

func tooltipOne() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeSingle).Sort(common.SortOrderNone)
}

// row is a row header; the panels after it belong to it.
func row(title string) *dashboard.RowBuilder { return dashboard.NewRowBuilder(title) }

// Variables.

// queryVar is a multi-value variable with All over the values of a key in
// the dashboard's time range, through the plugin's variable query model.
// "All" is sent to the backend as $__all: no filter.
func queryVar(key, label string) *dashboard.QueryVariableBuilder {
	vq := VariableQuery{RefID: "variable", Key: key}
	return dashboard.NewQueryVariableBuilder(key).
		Label(label).
		Datasource(Datasource()).
		Query(dashboard.StringOrMap{Map: vq.asMap()}).
		Definition("values of " + key).
		Multi(true).
		IncludeAll(true).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Current(allOption())
}

func allOption() dashboard.VariableOption {
	t := true
	return dashboard.VariableOption{
		Selected: &t,
		Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
		Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
	}
}

func option(text, value string, selected bool) dashboard.VariableOption {
	return dashboard.VariableOption{
		Selected: &selected,
		Text:     dashboard.StringOrArrayOfString{String: &text},
		Value:    dashboard.StringOrArrayOfString{String: &value},
	}
}

// dimensionVars are query variables for every dimension, named after it.
func dimensionVars() []cog.Builder[dashboard.VariableModel] {
	var vs []cog.Builder[dashboard.VariableModel]
	for _, d := range Dimensions() {
		vs = append(vs, queryVar(d, title(d)))
	}
	return vs
}

// adhocVar is the ad-hoc filter variable: keys and values from the plugin's
// resources; the frontend copies the filters into every query, where the
// backend applies them.
func adhocVar() *dashboard.AdHocVariableBuilder {
	return dashboard.NewAdHocVariableBuilder("filters").Label("Filters").Datasource(Datasource())
}

// customVar is a single-value variable over fixed values.
func customVar(name, label string, values []string, current string) *dashboard.CustomVariableBuilder {
	var opts []dashboard.VariableOption
	for _, v := range values {
		opts = append(opts, option(v, v, v == current))
	}
	return dashboard.NewCustomVariableBuilder(name).
		Label(label).
		Values(dashboard.StringOrMap{String: ptr(strings.Join(values, ","))}).
		Current(option(current, current, true)).
		Options(opts).
		Multi(false).
		IncludeAll(false)
}

// incidentsAnnotation draws incidents (queryType incidents) on the time
// series: the frame's time, timeEnd, title, text and tags.
func incidentsAnnotation(q plugin.Query) *dashboard.AnnotationQueryBuilder {
	ds := Datasource()
	q.QueryType = plugin.TypeIncidents
	return dashboard.NewAnnotationQueryBuilder().
		Name("Incidents").
		Datasource(ds).
		Enable(true).
		IconColor("red").
		Target(Query{RefID: "Incidents", Datasource: &ds, Query: q})
}

// Dashboard links.

func dashLink(title, uid, tooltip string, includeVars bool) dashboard.DashboardLink {
	return dashboard.DashboardLink{
		Title:       title,
		Type:        dashboard.DashboardLinkTypeLink,
		Icon:        "dashboard",
		Tooltip:     tooltip,
		Url:         ptr("/d/" + uid),
		Tags:        []string{},
		KeepTime:    true,
		IncludeVars: includeVars,
	}
}

// allDashboards is the drop-down of every settlewatch dashboard.
func allDashboards() dashboard.DashboardLink {
	return dashboard.DashboardLink{
		Title:      "settlewatch",
		Type:       dashboard.DashboardLinkTypeDashboards,
		Icon:       "external link",
		Tags:       []string{Tag},
		AsDropdown: true,
		KeepTime:   true,
	}
}

func ptr[T any](v T) *T { return &v }

func markdown(lines ...string) string { return strings.Join(lines, "\n") }

// Panel builders with the options every panel of a kind shares.

func newTimeseries() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().Tooltip(tooltipAll())
}

func newBarchart() *barchart.PanelBuilder {
	return barchart.NewPanelBuilder().Tooltip(tooltipAll())
}

func newPie() *piechart.PanelBuilder {
	return piechart.NewPanelBuilder().Tooltip(tooltipOne())
}

func newStat() *stat.PanelBuilder {
	return stat.NewPanelBuilder().Orientation(common.VizOrientationAuto)
}

func newTable() *table.PanelBuilder {
	return table.NewPanelBuilder().
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}).CountRows(false))
}
