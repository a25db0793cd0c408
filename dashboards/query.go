package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"

	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

// DatasourceUID is the uid every provisioning file gives the settlewatch
// data source (deploy/compose, deploy/kubernetes, grafana-plugin/provisioning;
// a test reads them). The dashboards name it directly, so they work as
// provisioned with no data source picker.
const DatasourceUID = "settlewatch"

// Datasource is the reference every panel, target, variable and annotation
// carries.
func Datasource() common.DataSourceRef {
	t, u := plugin.PluginID, DatasourceUID
	return common.DataSourceRef{Type: &t, Uid: &u}
}

// Query is one settlewatch target as a dashboard stores it: what Grafana
// puts around every query (refId, datasource, hide) and the plugin's own
// query model, plugin.Query, embedded so that its fields (queryType, by,
// metric, filters, adhocFilters, txnId, …) are flattened into the same JSON
// object under exactly the names the backend reads: they cannot drift.
//
// Query implements the foundation SDK's variants.Dataquery, so it goes into
// panels and annotations like any SDK query, and cog.Builder, so a Query
// value can be passed where the SDK wants a query builder.
type Query struct {
	RefID      string                `json:"refId"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	Hide       bool                  `json:"hide,omitempty"`
	plugin.Query
}

var (
	_ variants.Dataquery              = Query{}
	_ cog.Builder[variants.Dataquery] = Query{}
	_ cog.Builder[variants.Dataquery] = (*Query)(nil)
	_ json.Unmarshaler                = (*strictQuery)(nil)
)

// ImplementsDataqueryVariant marks Query as a data query.
func (Query) ImplementsDataqueryVariant() {}

// DataqueryType is the plugin id.
func (Query) DataqueryType() string { return plugin.PluginID }

// Equals compares two queries field by field.
func (q Query) Equals(other variants.Dataquery) bool {
	switch o := other.(type) {
	case Query:
		return reflect.DeepEqual(q, o)
	case *Query:
		return o != nil && reflect.DeepEqual(q, *o)
	}
	return false
}

// Validate checks what can be checked without the dashboard around the
// query: a refId, the settlewatch data source, a query type the plugin
// knows. Whether the backend accepts the whole query (once the dashboard's
// template variables are replaced) is checked by the tests with the
// plugin's own validation.
func (q Query) Validate() error {
	var errs []error
	if q.RefID == "" {
		errs = append(errs, errors.New("refId is empty"))
	}
	if q.Datasource != nil && (q.Datasource.Type == nil || *q.Datasource.Type != plugin.PluginID) {
		errs = append(errs, fmt.Errorf("datasource type is not %s", plugin.PluginID))
	}
	if !slices.Contains(plugin.QueryTypes, q.QueryType) {
		errs = append(errs, fmt.Errorf("query type %q: want one of %v", q.QueryType, plugin.QueryTypes))
	}
	return errors.Join(errs...)
}

// Build makes Query a cog.Builder: the query itself, once valid.
func (q Query) Build() (variants.Dataquery, error) {
	if err := q.Validate(); err != nil {
		return nil, cog.MakeBuildErrors("settlewatch.query", err)
	}
	return q, nil
}

// strictQuery decodes a Query refusing keys the model does not have.
type strictQuery Query

func (s *strictQuery) UnmarshalJSON(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var q Query
	if err := dec.Decode(&q); err != nil {
		return err
	}
	*s = strictQuery(q)
	return nil
}

// VariantConfig registers Query with the SDK's runtime (cog.NewRuntime().
// RegisterDataqueryVariant), so that dashboards read back with the SDK
// decode settlewatch targets into Query.
func VariantConfig() variants.DataqueryConfig {
	return variants.DataqueryConfig{
		Identifier: plugin.PluginID,
		DataqueryUnmarshaler: func(raw []byte) (variants.Dataquery, error) {
			var q Query
			if err := json.Unmarshal(raw, &q); err != nil {
				return nil, err
			}
			return q, nil
		},
		StrictDataqueryUnmarshaler: func(raw []byte) (variants.Dataquery, error) {
			var q strictQuery
			if err := json.Unmarshal(raw, &q); err != nil {
				return nil, err
			}
			return Query(q), nil
		},
	}
}

// VariableQuery is a template variable's query: the values of one key (a
// dimension, cause, outcome or currency) seen in the dashboard's time range,
// as the plugin's variable editor saves it (VariableQuery in
// grafana-plugin/src/types.ts; a test keeps the two equal).
type VariableQuery struct {
	RefID  string `json:"refId"`
	Key    string `json:"key"`
	Prefix string `json:"prefix,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

// asMap is the query as the SDK's variable model holds it.
func (v VariableQuery) asMap() map[string]any {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	return m
}
