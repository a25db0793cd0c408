package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/domain"
)

// Resource limits.
const (
	DefaultValuesLimit = 500
	MaxValuesLimit     = 1000
	defaultValuesRange = 24 * time.Hour
)

// CallResource serves the editors, template variables and ad-hoc filters:
//
//	GET taxonomy                      causes (class, description, codes), outcomes, dimensions, query types
//	GET keys                          the keys filters and ad-hoc filters take
//	GET values?key=gateway&from=&to=  the values of a key in a time range (epoch ms; default the last 24h),
//	                                  at most limit (default 500, at most 1000), optionally starting with prefix
//
// Dimension values come from the query layer (transactions in the range,
// per value; rollups when they cover it), are bounded, and are cached for a
// minute per key and minute-rounded range.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/taxonomy", d.getOnly(d.handleTaxonomy))
	mux.HandleFunc("/keys", d.getOnly(d.handleKeys))
	mux.HandleFunc("/values", d.getOnly(d.handleValues))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such resource: want taxonomy, keys or values"})
	})
	return httpadapter.New(mux).CallResource(ctx, req, sender)
}

func (d *Datasource) getOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "only GET"})
			return
		}
		defer func() {
			if p := recover(); p != nil {
				d.logger.Error("resource panicked", "path", r.URL.Path, "panic", p)
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error (logged)"})
			}
		}()
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Taxonomy is the taxonomy resource.
type Taxonomy struct {
	Causes     []domain.CauseInfo `json:"causes"`
	Outcomes   []string           `json:"outcomes"`
	Failures   []string           `json:"failureOutcomes"`
	Dimensions []string           `json:"dimensions"`
	QueryTypes []string           `json:"queryTypes"`
	Statuses   []string           `json:"transactionStatuses"`
	KPIs       []string           `json:"kpis"`
	AgeBuckets []string           `json:"ageBuckets"`
}

// TaxonomyOf is the taxonomy served to the editors.
func TaxonomyOf() Taxonomy {
	t := Taxonomy{Causes: domain.DefaultRules().Taxonomy(), Dimensions: model.DimensionNames(), QueryTypes: QueryTypes,
		Statuses: TxnStatuses, KPIs: KPINames, AgeBuckets: model.AgeBuckets}
	for _, o := range domain.Outcomes {
		t.Outcomes = append(t.Outcomes, string(o))
		if o.HasCause() {
			t.Failures = append(t.Failures, string(o))
		}
	}
	return t
}

func (d *Datasource) handleTaxonomy(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, TaxonomyOf())
}

// Key is a filter key for the ad-hoc filter picker.
type Key struct {
	Key  string `json:"key"`
	Text string `json:"text"`
}

func (d *Datasource) handleKeys(w http.ResponseWriter, _ *http.Request) {
	var out []Key
	for _, k := range FilterKeys() {
		out = append(out, Key{Key: k, Text: title(k)})
	}
	writeJSON(w, http.StatusOK, out)
}

// Value is one value of a key.
type Value struct {
	Value        string `json:"value"`
	Text         string `json:"text"`
	Transactions uint64 `json:"transactions,omitempty"`
}

// Values is the values resource.
type Values struct {
	Key       string  `json:"key"`
	Values    []Value `json:"values"`
	Truncated bool    `json:"truncated"`
	Source    string  `json:"source,omitempty"`
	Cached    bool    `json:"cached"`
}

func (d *Datasource) handleValues(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query()
	key, err := canonicalKey(p.Get("key"))
	if p.Get("key") == "" {
		err = bad("values: the key parameter is required (one of %s)", strings.Join(FilterKeys(), ", "))
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	limit := DefaultValuesLimit
	if s := p.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxValuesLimit {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "values: limit must be 1-" + strconv.Itoa(MaxValuesLimit)})
			return
		}
		limit = n
	}
	prefix := p.Get("prefix")
	if err := model.ValidateValue(prefix); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "values: prefix: " + err.Error()})
		return
	}
	rng, err := d.valuesRange(p.Get("from"), p.Get("to"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	out, err := d.keyValues(r.Context(), key, rng, prefix, limit)
	if err != nil {
		if !isBadRequest(err) {
			d.logger.Warn("values failed", "key", key, "error", err)
		}
		dr := errorResponse(err)
		writeJSON(w, int(dr.Status), map[string]string{"error": dr.Error.Error()})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (d *Datasource) valuesRange(from, to string) (query.Range, error) {
	end := d.now()
	start := end.Add(-defaultValuesRange)
	parse := func(name, s string) (time.Time, error) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || ms < 0 {
			return time.Time{}, bad("values: %s must be epoch milliseconds", name)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	var err error
	if from != "" {
		if start, err = parse("from", from); err != nil {
			return query.Range{}, err
		}
	}
	if to != "" {
		if end, err = parse("to", to); err != nil {
			return query.Range{}, err
		}
	}
	// Minute-rounded, so that panels refreshing together share the cache.
	r := query.Range{From: start.Truncate(time.Minute), To: end.Truncate(time.Minute).Add(time.Minute)}
	if err := checkRange(backend.TimeRange{From: r.From, To: r.To}); err != nil {
		return query.Range{}, err
	}
	return r, nil
}

// keyValues lists the values of a key in a range.
func (d *Datasource) keyValues(ctx context.Context, key string, rng query.Range, prefix string, limit int) (Values, error) {
	out := Values{Key: key, Values: []Value{}}
	switch key {
	case keyCause:
		for _, c := range domain.Causes {
			out.Values = append(out.Values, Value{Value: string(c), Text: string(c)})
		}
		return filterValues(out, prefix, limit), nil
	case keyOutcome:
		for _, o := range domain.Outcomes {
			out.Values = append(out.Values, Value{Value: string(o), Text: string(o)})
		}
		return filterValues(out, prefix, limit), nil
	}
	ck := valueKey{key: key, from: rng.From.Unix(), to: rng.To.Unix()}
	if v, ok := d.values.get(ck); ok {
		v.Cached = true
		return filterValues(v, prefix, limit), nil
	}
	st, err := d.storeFor(ctx)
	if err != nil {
		return out, err
	}
	oq := query.OutcomesQuery{Range: rng}
	if key != keyCurrency {
		oq.By = key
	}
	res, err := st.OutcomeBreakdown(ctx, oq)
	if err != nil {
		return out, err
	}
	counts := map[string]uint64{}
	for i, row := range res.Rows {
		v := row.Currency
		if key != keyCurrency {
			if i >= len(res.Values) {
				break
			}
			v = res.Values[i]
		}
		counts[v] += row.Transactions
	}
	for v, n := range counts {
		text := v
		if text == "" {
			text = "(not reported)"
		}
		out.Values = append(out.Values, Value{Value: v, Text: text, Transactions: n})
	}
	sort.Slice(out.Values, func(i, j int) bool { return out.Values[i].Value < out.Values[j].Value })
	out.Truncated, out.Source = res.Meta.Truncated, res.Meta.Source
	if len(out.Values) > MaxValuesLimit {
		out.Values, out.Truncated = out.Values[:MaxValuesLimit], true
	}
	d.values.put(ck, out)
	return filterValues(out, prefix, limit), nil
}

func filterValues(v Values, prefix string, limit int) Values {
	out := v
	out.Values = make([]Value, 0, min(limit, len(v.Values)))
	for _, x := range v.Values {
		if prefix != "" && !strings.HasPrefix(strings.ToLower(x.Value), strings.ToLower(prefix)) {
			continue
		}
		if len(out.Values) == limit {
			out.Truncated = true
			break
		}
		out.Values = append(out.Values, x)
	}
	return out
}

type valueKey struct {
	key      string
	from, to int64
}

type cached struct {
	v   Values
	exp time.Time
}

// valueCache is a small TTL cache with a bounded number of entries.
type valueCache struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	m   map[valueKey]cached
}

func newValueCache(max int, ttl time.Duration) *valueCache {
	return &valueCache{max: max, ttl: ttl, m: map[valueKey]cached{}}
}

func (c *valueCache) get(k valueKey) (Values, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || time.Now().After(e.exp) {
		delete(c.m, k)
		return Values{}, false
	}
	return e.v, true
}

func (c *valueCache) put(k valueKey, v Values) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if now.After(e.exp) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = cached{v: v, exp: now.Add(c.ttl)}
}
