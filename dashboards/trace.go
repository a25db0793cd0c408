package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/text"

	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

// Trace is the transaction trace dashboard for on-call: one transaction by
// its id (the txn variable, which every transaction table of the other
// dashboards links to), its outcome and cause, the trace view (terminal and
// gateway spans plus the settlement span and batch close joined from their
// own traces) and the spans as a table.
func Trace() (dashboard.Dashboard, error) {
	trace := plugin.Query{QueryType: plugin.TypeTrace, TxnID: ref("txn")}

	b := base(UIDTrace, "Transaction trace",
		"One transaction by its pos.txn.id: outcome and cause, the trace (with the settlement span and the batch close joined from their own traces) and its spans.",
		"on-call").
		Time("now-7d", "now").
		WithVariable(dashboard.NewTextBoxVariableBuilder("txn").
			Label("Transaction id (pos.txn.id)").
			Description("The transaction's pos.txn.id; the transaction tables of the other settlewatch dashboards link here with it.").
			DefaultValue(dashboard.StringOrMap{String: ptr("")}).
			Current(option("", "", true)))

	b = b.WithPanel(text.NewPanelBuilder().
		Title("").
		Span(24).Height(3).
		Transparent(true).
		Mode(text.TextModeMarkdown).
		Content(markdown(
			"Type a transaction id (`pos.txn.id`) in the box above, or click a transaction in the *Settlement operations*, *Failure cause trends* or *Gateway health* dashboards.",
			"The trace does not depend on the time range: the settlement span and the terminal's batch close, which live in other traces, are shown under the root span, tagged `settlewatch.joined_by`.",
		)))

	b = b.WithPanel(queries(newTable(), trace).
		Title("Outcome and cause").
		Description("The transaction's root span: its settlewatch.outcome and settlewatch.cause tags (with the cause class, source and code, amount, currency, gateway and batch).").
		Span(24).Height(6).
		Transformations([]dashboard.DataTransformerConfig{
			transformation("filterByValue", map[string]any{
				"type":    "include",
				"match":   "all",
				"filters": []map[string]any{{"fieldName": "parentSpanID", "config": map[string]any{"id": "equal", "options": map[string]any{"value": ""}}}},
			}),
			transformation("organize", map[string]any{
				"includeByName": map[string]bool{"operationName": true, "serviceName": true, "statusMessage": true, "tags": true},
				"indexByName":   map[string]int{"operationName": 0, "serviceName": 1, "statusMessage": 2, "tags": 3},
				"renameByName":  map[string]string{"operationName": "Span", "serviceName": "Service", "statusMessage": "Status message", "tags": "Tags"},
			}),
		}).
		CellHeight(common.TableCellHeightLg).
		OverrideByName("Tags", []dashboard.DynamicConfigValue{prop("custom.cellOptions", map[string]any{"type": "json-view"})}))

	b = b.WithPanel(queries(dashboard.NewPanelBuilder().Type("traces"), trace).
		Title("Trace").
		Description("Every span of the transaction's trace with its parent; failed spans carry an error log, the root a classified log with the outcome and cause.").
		Span(24).Height(16))

	b = b.WithPanel(queries(newTable(), trace).
		Title("Spans").
		Description("The same spans as a table: service, span, start, duration, status.").
		Span(24).Height(10).
		Filterable(true).
		Transformations([]dashboard.DataTransformerConfig{
			transformation("organize", map[string]any{
				"excludeByName": map[string]bool{"traceID": true, "serviceTags": true, "tags": true, "logs": true, "references": true},
				"indexByName": map[string]int{
					"startTime": 0, "serviceName": 1, "operationName": 2, "kind": 3, "duration": 4, "statusCode": 5,
					"statusMessage": 6, "spanID": 7, "parentSpanID": 8,
				},
				"renameByName": map[string]string{
					"startTime": "Start", "serviceName": "Service", "operationName": "Span", "kind": "Kind", "duration": "Duration",
					"statusCode": "Status", "statusMessage": "Status message", "spanID": "Span id", "parentSpanID": "Parent span id",
				},
			}),
		}).
		SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("Start")}).
		OverrideByName("Start", []dashboard.DynamicConfigValue{prop("unit", "dateTimeAsIso")}).
		OverrideByName("Duration", []dashboard.DynamicConfigValue{prop("unit", "ms")}).
		OverrideByName("Status", []dashboard.DynamicConfigValue{
			prop("mappings", []map[string]any{{
				"type": "value",
				"options": map[string]any{
					"0": map[string]any{"text": "unset", "index": 0},
					"1": map[string]any{"text": "ok", "color": "green", "index": 1},
					"2": map[string]any{"text": "error", "color": "red", "index": 2},
				},
			}}),
			prop("custom.cellOptions", map[string]any{"type": "color-text"}),
		}))

	m, err := b.Build()
	if err != nil {
		return m, err
	}
	m.Links = []dashboard.DashboardLink{
		allDashboards(),
		dashLink("Settlement operations", UIDOps, "Back to the operations dashboard", false),
	}
	return m, nil
}
