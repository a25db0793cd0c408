package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/domain"
)

// The query types. Each produces frames that Grafana panels render natively;
// every type that returns numbers also works in an alert rule, because the
// whole query (filters and ad-hoc filters included) is read here, in the
// backend, never shaped in the browser.
const (
	TypeBreakdown      = "breakdown"
	TypeTrend          = "trend"
	TypeTransactions   = "transactions"
	TypeTrace          = "trace"
	TypeIncidents      = "incidents"
	TypeUnsettledAging = "unsettled_aging"
	TypeKPIs           = "kpis"
)

// QueryTypes lists the query types, in the editor's order.
var QueryTypes = []string{TypeBreakdown, TypeTrend, TypeTransactions, TypeTrace, TypeIncidents, TypeUnsettledAging, TypeKPIs}

// Query is the typed query model the frontend saves (and alert rules keep).
// Grafana adds refId, datasource, intervalMs, maxDataPoints, hide and more
// to the same JSON object; unknown keys are ignored.
type Query struct {
	QueryType string `json:"queryType,omitempty"`

	// Breakdown: Of is "cause" (default) or "outcome"; By is a dimension.
	// Trend: By is "cause" (default: one series per cause) or a dimension
	// (one series per value).
	Of string `json:"of,omitempty"`
	By string `json:"by,omitempty"`
	// Trend metric: failures, failure_rate, baseline, change (per cause);
	// failures, failure_rate, transactions, p50_ms, p90_ms, p99_ms (per value).
	Metric string `json:"metric,omitempty"`
	// Interval: auto (from Grafana's interval and max data points), 5m, 1h, 1d.
	Interval      string `json:"interval,omitempty"`
	BaselineWeeks int    `json:"baselineWeeks,omitempty"`
	// Source: auto (rollups when they cover the range), rollup, raw.
	Source string `json:"source,omitempty"`

	// Filters maps a dimension name, or cause, outcome, currency, to the
	// values allowed (after Grafana replaced the template variables; a value
	// of $__all means no filter).
	Filters  map[string][]string `json:"filters,omitempty"`
	Causes   []string            `json:"causes,omitempty"`
	Outcomes []string            `json:"outcomes,omitempty"`
	Currency string              `json:"currency,omitempty"`
	// AdhocFilters are the dashboard's ad-hoc filters, copied into the query
	// by the frontend so that they are applied here (and in alert rules).
	AdhocFilters []AdhocFilter `json:"adhocFilters,omitempty"`

	// Transactions: Status is failures (declined, failed,
	// settlement_rejected, unsettled), failed, declined, settlement_rejected
	// or unsettled.
	Status string `json:"status,omitempty"`
	// Trace: one transaction by pos.txn.id, or by trace id.
	TxnID   string `json:"txnId,omitempty"`
	TraceID string `json:"traceId,omitempty"`
	// Incidents.
	OpenOnly          bool   `json:"openOnly,omitempty"`
	IncidentDimension string `json:"incidentDimension,omitempty"`
	IncidentValue     string `json:"incidentValue,omitempty"`
	// KPIs to compute (default all): failure_rate, top_cause, unsettled,
	// open_incidents.
	KPIs []string `json:"kpis,omitempty"`
	// Limit of listed rows (0: the row cap).
	Limit int `json:"limit,omitempty"`
}

// AdhocFilter is one of Grafana's ad-hoc filters.
type AdhocFilter struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Value    string   `json:"value"`
	Values   []string `json:"values,omitempty"`
}

// Metrics.
const (
	MetricFailures     = "failures"
	MetricFailureRate  = "failure_rate"
	MetricBaseline     = "baseline"
	MetricChange       = "change"
	MetricTransactions = "transactions"
	MetricP50          = "p50_ms"
	MetricP90          = "p90_ms"
	MetricP99          = "p99_ms"
)

var (
	causeMetrics = []string{MetricFailures, MetricFailureRate, MetricBaseline, MetricChange}
	valueMetrics = []string{MetricFailures, MetricFailureRate, MetricTransactions, MetricP50, MetricP90, MetricP99}
	// TxnStatuses for the transactions list.
	TxnStatuses = []string{"failures", "failed", "declined", "settlement_rejected", "unsettled"}
	// KPINames in display order.
	KPINames = []string{"failure_rate", "top_cause", "unsettled", "open_incidents"}
)

// AllValue is what Grafana's "All" of a multi-value variable becomes when
// the frontend passes it through; it means "no filter".
const AllValue = "$__all"

// badRequest is an error in the query itself.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func bad(format string, a ...any) error { return badRequest{fmt.Sprintf(format, a...)} }

func isBadRequest(err error) bool {
	var b badRequest
	return errors.As(err, &b) || errors.Is(err, query.ErrInvalid)
}

// request is a parsed, validated query with what Grafana sent around it.
type request struct {
	Query
	RefID         string
	Range         query.Range
	Interval      time.Duration
	MaxDataPoints int64
	Filters       query.Filters
	// Empty is set when the filters exclude each other (two constraints on one
	// key with no value in common): the answer is empty without asking.
	Empty bool
}

// parseQuery reads and validates one query. Nothing it returns has been
// near SQL: the query layer binds every value and takes identifiers from
// allow-lists; this is where hostile input gets its clear error.
func parseQuery(dq backend.DataQuery) (*request, error) {
	r := &request{RefID: dq.RefID}
	raw := bytes.TrimSpace(dq.JSON)
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	if raw[0] != '{' {
		return nil, bad("the query is not a JSON object")
	}
	if err := json.Unmarshal(raw, &r.Query); err != nil {
		return nil, bad("the query JSON cannot be read: %s", jsonProblem(err))
	}
	if dq.QueryType != "" {
		r.QueryType = dq.QueryType
	}
	if r.QueryType == "" {
		r.QueryType = TypeBreakdown
	}
	if !slices.Contains(QueryTypes, r.QueryType) {
		return nil, bad("unknown query type %q: want one of %s", clip(r.QueryType), strings.Join(QueryTypes, ", "))
	}
	if dq.Interval < 0 {
		return nil, bad("interval %s is negative", dq.Interval)
	}
	if dq.MaxDataPoints < 0 {
		return nil, bad("max data points %d is negative", dq.MaxDataPoints)
	}
	r.Interval, r.MaxDataPoints = dq.Interval, dq.MaxDataPoints
	if r.Limit < 0 {
		return nil, bad("limit %d is negative", r.Limit)
	}
	if r.BaselineWeeks < 0 || r.BaselineWeeks > 12 {
		return nil, bad("baseline weeks %d: want 0-12", r.BaselineWeeks)
	}
	// The time range is mandatory for every type but trace (one
	// transaction, wherever it is in time).
	if r.QueryType != TypeTrace {
		if err := checkRange(dq.TimeRange); err != nil {
			return nil, err
		}
	}
	r.Range = query.Range{From: dq.TimeRange.From.UTC(), To: dq.TimeRange.To.UTC()}
	if _, err := query.ParseSource(r.Source); err != nil {
		return nil, err
	}
	f, empty, err := resolveFilters(r.Query)
	if err != nil {
		return nil, err
	}
	r.Filters, r.Empty = f, empty
	return r, nil
}

func checkRange(tr backend.TimeRange) error {
	switch {
	case tr.From.IsZero() || tr.To.IsZero() || tr.From.Unix() <= 0 && tr.To.Unix() <= 0:
		return bad("a time range is required")
	case !tr.From.Before(tr.To):
		return bad("the time range is empty or inverted: from %s, to %s", tr.From.UTC().Format(time.RFC3339), tr.To.UTC().Format(time.RFC3339))
	case tr.To.Sub(tr.From) > query.MaxRange:
		return bad("the time range of %d days is longer than the %d days allowed", int(tr.To.Sub(tr.From).Hours()/24), int(query.MaxRange.Hours()/24))
	case tr.From.Unix() < 0:
		return bad("the time range starts before 1970")
	}
	return nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s, not %s", te.Field, kindName(te.Type.Kind().String()), te.Value)
	}
	return clip(err.Error())
}

func kindName(k string) string {
	switch k {
	case "slice":
		return "a list"
	case "map":
		return "an object"
	case "int", "int64":
		return "a whole number"
	}
	return "a " + k
}

// filter keys beyond the dimensions.
const (
	keyCause    = "cause"
	keyOutcome  = "outcome"
	keyCurrency = "currency"
)

// FilterKeys are every key a filter (or ad-hoc filter) may name.
func FilterKeys() []string {
	return append(model.DimensionNames(), keyCause, keyOutcome, keyCurrency)
}

// resolveFilters merges filters, causes, outcomes, currency and ad-hoc
// filters into the query layer's Filters. Several constraints on one key
// intersect; an empty intersection sets empty.
func resolveFilters(q Query) (query.Filters, bool, error) {
	sets := map[string][][]string{}
	addSet := func(key string, vals []string) error {
		canon, err := canonicalKey(key)
		if err != nil {
			return err
		}
		clean, all, err := cleanValues(canon, vals)
		if err != nil {
			return err
		}
		if all || len(clean) == 0 {
			return nil // "All", or nothing chosen: no constraint
		}
		sets[canon] = append(sets[canon], clean)
		return nil
	}
	keys := make([]string, 0, len(q.Filters))
	for k := range q.Filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := addSet(k, q.Filters[k]); err != nil {
			return query.Filters{}, false, err
		}
	}
	if err := addSet(keyCause, q.Causes); err != nil {
		return query.Filters{}, false, err
	}
	if err := addSet(keyOutcome, q.Outcomes); err != nil {
		return query.Filters{}, false, err
	}
	if q.Currency != "" {
		if err := addSet(keyCurrency, []string{q.Currency}); err != nil {
			return query.Filters{}, false, err
		}
	}
	for _, a := range q.AdhocFilters {
		vals, err := adhocValues(a)
		if err != nil {
			return query.Filters{}, false, err
		}
		if err := addSet(a.Key, vals); err != nil {
			return query.Filters{}, false, err
		}
	}
	f := query.Filters{}
	empty := false
	for key, ss := range sets {
		vals := ss[0]
		for _, s := range ss[1:] {
			vals = intersect(vals, s)
		}
		if len(vals) == 0 {
			empty = true
			continue
		}
		switch key {
		case keyCause:
			f.Causes = vals
		case keyOutcome:
			f.Outcomes = vals
		case keyCurrency:
			if len(vals) > 1 {
				return query.Filters{}, false, bad("currency filter: one currency at a time (got %s); money is never added across currencies", strings.Join(vals, ", "))
			}
			f.Currency = vals[0]
		default:
			if f.Dims == nil {
				f.Dims = map[string][]string{}
			}
			f.Dims[key] = vals
		}
	}
	if err := f.Validate(); err != nil {
		return query.Filters{}, false, err
	}
	return f, empty, nil
}

func adhocValues(a AdhocFilter) ([]string, error) {
	switch a.Operator {
	case "=", "":
		return []string{a.Value}, nil
	case "=|":
		if len(a.Values) > 0 {
			return a.Values, nil
		}
		return strings.Split(a.Value, "|"), nil
	}
	return nil, bad("ad-hoc filter on %q: operator %q is not supported (use = or one of)", clip(a.Key), clip(a.Operator))
}

func canonicalKey(key string) (string, error) {
	k := strings.ToLower(strings.TrimSpace(key))
	switch k {
	case keyCause, "causes":
		return keyCause, nil
	case keyOutcome, "outcomes":
		return keyOutcome, nil
	case keyCurrency:
		return keyCurrency, nil
	}
	d, err := model.LookupDimension(k)
	if err != nil {
		return "", bad("unknown filter key %q: want one of %s", clip(key), strings.Join(FilterKeys(), ", "))
	}
	return d.Name, nil
}

// cleanValues checks the values of one key. all is set when the values
// include Grafana's "All".
func cleanValues(key string, vals []string) (clean []string, all bool, err error) {
	if len(vals) > 1000 {
		return nil, false, bad("filter %s: %d values, at most 1000", key, len(vals))
	}
	seen := map[string]bool{}
	for _, v := range vals {
		if v == AllValue || v == "*" {
			return nil, true, nil
		}
		if strings.HasPrefix(v, "$") {
			return nil, false, bad("filter %s: the template variable %s was not replaced (alert rules cannot use dashboard variables: choose values)", key, clip(v))
		}
		switch key {
		case keyCause:
			if !domain.Cause(v).Valid() || v == string(domain.CauseNone) {
				return nil, false, bad("unknown cause %q: want one of %s", clip(v), causeList())
			}
		case keyOutcome:
			if !slices.Contains(domain.Outcomes, domain.Outcome(v)) {
				return nil, false, bad("unknown outcome %q: want one of %s", clip(v), outcomeList())
			}
		case keyCurrency:
			if len(v) != 3 || strings.ToUpper(v) != v || strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
				return nil, false, bad("currency %q: want a 3-letter ISO 4217 code such as CNY", clip(v))
			}
		default:
			if err := model.ValidateValue(v); err != nil {
				return nil, false, bad("filter %s: %v", key, err)
			}
		}
		if !seen[v] {
			seen[v] = true
			clean = append(clean, v)
		}
	}
	return clean, false, nil
}

func intersect(a, b []string) []string {
	var out []string
	for _, v := range a {
		if slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	return out
}

func causeList() string {
	s := make([]string, len(domain.Causes))
	for i, c := range domain.Causes {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

func outcomeList() string {
	s := make([]string, len(domain.Outcomes))
	for i, o := range domain.Outcomes {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// dimension validates a dimension name and returns its canonical name.
func dimension(name string) (string, error) {
	d, err := model.LookupDimension(name)
	if err != nil {
		return "", bad("unknown dimension %q: want one of %s", clip(name), strings.Join(model.DimensionNames(), ", "))
	}
	return d.Name, nil
}

// granularity picks the trend interval: the one asked for, or the finest of
// 5m, 1h, 1d that is at least Grafana's interval and gives at most max data
// points (and at most the query layer's bucket limit).
func (r *request) granularity() (model.Granularity, error) {
	switch strings.ToLower(strings.TrimSpace(r.Query.Interval)) {
	case "", "auto":
	default:
		g, err := model.ParseGranularity(r.Query.Interval)
		if err != nil {
			return 0, bad("%v (or auto)", err)
		}
		return g, nil
	}
	span := r.Range.To.Sub(r.Range.From)
	for _, g := range model.Granularities {
		if g.Duration() < r.Interval {
			continue
		}
		n := int64(span / g.Duration())
		if r.MaxDataPoints > 0 && n > r.MaxDataPoints {
			continue
		}
		if n > query.MaxTrendBuckets {
			continue
		}
		return g, nil
	}
	return model.Day, nil
}

func (r *request) limit(cap int) int {
	if r.Limit > 0 && r.Limit < cap {
		return r.Limit
	}
	return cap
}
