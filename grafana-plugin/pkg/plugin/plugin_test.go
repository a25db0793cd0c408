package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
)

func run(t *testing.T, d *Datasource, qs ...backend.DataQuery) *backend.QueryDataResponse {
	t.Helper()
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: qs})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Hostile input is refused before the query layer is asked anything: no
// SQL is ever built from it.
func TestHostileInputNeverReachesTheQueryLayer(t *testing.T) {
	st := &fakeStore{}
	d := newTestDS(st)
	bad := []backend.DataQuery{
		{RefID: "json", JSON: []byte(`{"by": `)},
		{RefID: "array", JSON: []byte(`["breakdown"]`)},
		{RefID: "type", QueryType: "system.tables", JSON: []byte(`{}`)},
		dq("dim", TypeBreakdown, map[string]any{"by": "gateway_id); DROP TABLE transactions; --"}),
		dq("trenddim", TypeTrend, map[string]any{"by": "colour"}),
		dq("value", TypeBreakdown, map[string]any{"filters": map[string]any{"gateway": []string{"' OR 1=1 --"}}}),
		dq("key", TypeBreakdown, map[string]any{"filters": map[string]any{"1) OR (1": []string{"x"}}}),
		dq("adhoc", TypeTrend, map[string]any{"adhocFilters": []map[string]any{{"key": "merchant", "operator": "=", "value": "M1\"; SELECT 1"}}}),
		dq("adhocop", TypeTrend, map[string]any{"adhocFilters": []map[string]any{{"key": "merchant", "operator": "=~", "value": ".*"}}}),
		dq("var", TypeKPIs, map[string]any{"filters": map[string]any{"region": []string{"${region:csv}"}}}),
		dq("cause", TypeKPIs, map[string]any{"causes": []string{"network' OR '1"}}),
		dq("currency", TypeBreakdown, map[string]any{"currency": "CNY'"}),
		dq("txn", TypeTrace, map[string]any{"txnId": "1' OR '1'='1"}),
		dq("traceid", TypeTrace, map[string]any{"traceId": "0af7651916cd43dd8448eb211c80319z"}),
		dq("metric", TypeTrend, map[string]any{"metric": "count() FROM system.one"}),
		dq("status", TypeTransactions, map[string]any{"status": "x"}),
		dq("source", TypeBreakdown, map[string]any{"source": "remote('x')"}),
		dq("incdim", TypeIncidents, map[string]any{"incidentDimension": "region; --"}),
		dq("incval", TypeIncidents, map[string]any{"incidentDimension": "region", "incidentValue": "x'y"}),
		dq("baseline", TypeTrend, map[string]any{"baselineWeeks": 100}),
	}
	neg := dq("neg", TypeTrend, map[string]any{})
	neg.Interval = -time.Hour
	huge := dq("huge", TypeBreakdown, map[string]any{})
	huge.TimeRange = backend.TimeRange{From: t0.AddDate(-3, 0, 0), To: t0}
	none := dq("none", TypeBreakdown, map[string]any{})
	none.TimeRange = backend.TimeRange{}
	bad = append(bad, neg, huge, none)
	resp := run(t, d, bad...)
	for _, q := range bad {
		dr := resp.Responses[q.RefID]
		if dr.Error == nil || dr.Status != backend.StatusBadRequest || dr.ErrorSource != backend.ErrorSourceDownstream {
			t.Errorf("%s: %d %v (%s)", q.RefID, dr.Status, dr.Error, dr.ErrorSource)
		}
	}
	if n := st.n(); n != 0 {
		t.Errorf("the query layer was called %d times (%v)", n, st.calls)
	}
}

func TestFiltersAllVariablesAndAdhoc(t *testing.T) {
	for _, c := range []struct {
		name  string
		model map[string]any
		want  query.Filters
		empty bool
	}{
		{"All drops the filter", map[string]any{"filters": map[string]any{"gateway": []string{"gw-1", AllValue}, "region": []string{"wuhan"}}},
			query.Filters{Dims: map[string][]string{"region": {"wuhan"}}}, false},
		{"aliases and duplicates", map[string]any{"filters": map[string]any{"gateway_id": []string{"gw-1", "gw-1", "gw-2"}}},
			query.Filters{Dims: map[string][]string{"gateway": {"gw-1", "gw-2"}}}, false},
		{"nothing chosen is no filter", map[string]any{"filters": map[string]any{"merchant": []string{}}}, query.Filters{}, false},
		{"causes, outcomes and currency in filters", map[string]any{"filters": map[string]any{"cause": []string{"network"}, "outcome": []string{"failed"}, "currency": []string{"CNY"}}},
			query.Filters{Causes: []string{"network"}, Outcomes: []string{"failed"}, Currency: "CNY"}, false},
		{"ad-hoc narrows a variable", map[string]any{"filters": map[string]any{"gateway": []string{"gw-1", "gw-2"}},
			"adhocFilters": []map[string]any{{"key": "gateway", "operator": "=|", "values": []string{"gw-2", "gw-3"}}}},
			query.Filters{Dims: map[string][]string{"gateway": {"gw-2"}}}, false},
		{"ad-hoc one-of as a pipe list", map[string]any{"adhocFilters": []map[string]any{{"key": "region", "operator": "=|", "value": "wuhan|hongkong"}}},
			query.Filters{Dims: map[string][]string{"region": {"wuhan", "hongkong"}}}, false},
		{"filters excluding each other", map[string]any{"causes": []string{"network"}, "adhocFilters": []map[string]any{{"key": "cause", "operator": "=", "value": "card"}}},
			query.Filters{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := parseQuery(dq("A", TypeBreakdown, c.model))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(r.Filters)
			want, _ := json.Marshal(c.want)
			if string(got) != string(want) || r.Empty != c.empty {
				t.Errorf("filters %s empty %v, want %s %v", got, r.Empty, want, c.empty)
			}
		})
	}
	// An empty intersection answers empty frames without asking.
	st := &fakeStore{}
	resp := run(t, newTestDS(st), dq("A", TypeBreakdown, map[string]any{"causes": []string{"network"}, "filters": map[string]any{"cause": []string{"card"}}}))
	if dr := resp.Responses["A"]; dr.Error != nil || dr.Frames[0].Rows() != 0 || len(dr.Frames[0].Meta.Notices) == 0 || st.n() != 0 {
		t.Errorf("exclusive filters: %v, %d calls", dr.Error, st.n())
	}
}

func TestIntervalFromGrafana(t *testing.T) {
	for _, c := range []struct {
		span     time.Duration
		interval time.Duration
		points   int64
		set      string
		want     model.Granularity
	}{
		{6 * time.Hour, 20 * time.Second, 1000, "", model.FiveMinutes},
		{24 * time.Hour, 30 * time.Minute, 100, "", model.Hour},
		{24 * time.Hour, time.Minute, 100, "auto", model.Hour}, // 288 five-minute points > 100
		{30 * 24 * time.Hour, time.Hour, 1000, "", model.Hour},
		{90 * 24 * time.Hour, time.Hour, 1000, "", model.Day},
		{400 * 24 * time.Hour, 0, 0, "", model.Hour},
		{24 * time.Hour, time.Minute, 1000, "1d", model.Day},
	} {
		q := dq("A", TypeTrend, map[string]any{"interval": c.set})
		q.TimeRange = backend.TimeRange{From: t0, To: t0.Add(c.span)}
		q.Interval, q.MaxDataPoints = c.interval, c.points
		r, err := parseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if g, err := r.granularity(); err != nil || g != c.want {
			t.Errorf("%s over %s with interval %s and %d points: %s (%v), want %s", c.set, c.span, c.interval, c.points, g, err, c.want)
		}
	}
}

// A cancelled request asks nothing and says so; a panic in one query is that
// query's error, and the others are answered.
func TestCancellationAndPanics(t *testing.T) {
	st := &fakeStore{}
	d := newTestDS(st)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := d.QueryData(ctx, &backend.QueryDataRequest{Queries: []backend.DataQuery{dq("A", TypeBreakdown, nil), dq("B", TypeTrend, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"A", "B"} {
		if dr := resp.Responses[ref]; dr.Error == nil || !strings.Contains(dr.Error.Error(), "cancelled") {
			t.Errorf("%s: %v", ref, dr.Error)
		}
	}
	if st.n() != 0 {
		t.Errorf("a cancelled request asked the query layer %d times", st.n())
	}

	boom := &fakeStore{panic: true}
	resp = run(t, newTestDS(boom), dq("A", TypeBreakdown, nil), dq("B", TypeTrace, map[string]any{"txnId": "X"}), dq("C", TypeTrace, map[string]any{}))
	for _, ref := range []string{"A", "B"} {
		if dr := resp.Responses[ref]; dr.Error == nil || dr.Status != backend.StatusInternal || dr.ErrorSource != backend.ErrorSourcePlugin {
			t.Errorf("%s after a panic: %d %v", ref, dr.Status, dr.Error)
		}
	}
	if dr := resp.Responses["C"]; dr.Status != backend.StatusBadRequest {
		t.Errorf("C: %d %v", dr.Status, dr.Error)
	}
}

func TestErrorStatuses(t *testing.T) {
	for _, c := range []struct {
		err    error
		status backend.Status
	}{
		{query.ErrNotFound, backend.StatusNotFound},
		{errors.Join(query.ErrInvalid, errors.New("x")), backend.StatusBadRequest},
		{context.DeadlineExceeded, backend.StatusTimeout},
		// What the driver returns when the deadline passes mid-read.
		{fmt.Errorf("causes: read tcp: %w", os.ErrDeadlineExceeded), backend.StatusTimeout},
		{ErrNeedsQueryLayer, backend.StatusNotImplemented},
		{settingsError{errors.New("Host: required")}, backend.StatusBadRequest},
		{unreachable{errors.New("dial")}, backend.StatusBadGateway},
	} {
		if dr := errorResponse(c.err); dr.Status != c.status || dr.Error == nil {
			t.Errorf("%v: %d", c.err, dr.Status)
		}
	}
}

// The row cap shows as a warning notice on the frame.
func TestRowCapNotice(t *testing.T) {
	d := newTestDS(&fakeStore{})
	resp := run(t, d, dq("A", TypeTransactions, map[string]any{"status": "unsettled", "limit": 1}))
	f := resp.Responses["A"].Frames[0]
	if f.Rows() != 1 || len(f.Meta.Notices) != 1 || f.Meta.Notices[0].Severity != data.NoticeSeverityWarning || !strings.Contains(f.Meta.Notices[0].Text, "row cap (1 rows)") {
		t.Errorf("rows %d, notices %+v", f.Rows(), f.Meta.Notices)
	}
}

// What the query layer is asked: the Grafana range, the filters, the
// interval; unsettled ages at the end of the range or now.
func TestQuestionsAsked(t *testing.T) {
	st := &fakeStore{}
	d := newTestDS(st)
	run(t, d, dq("A", TypeTrend, map[string]any{"by": "region", "metric": "p99_ms", "interval": "5m", "source": "raw",
		"filters": map[string]any{"gateway": []string{"gw-1"}}, "causes": []string{"timeout"}}))
	sq := st.last.(query.SeriesQuery)
	if sq.By != "region" || sq.Interval != model.FiveMinutes || sq.Source != query.SourceRaw || !slices.Equal(sq.Filters.Dims["gateway"], []string{"gw-1"}) ||
		!slices.Equal(sq.Filters.Causes, []string{"timeout"}) || !sq.From.Equal(t0) || !sq.To.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("series question %+v", sq)
	}
	q := dq("B", TypeTransactions, map[string]any{"status": "unsettled"})
	q.TimeRange = backend.TimeRange{From: now.Add(-48 * time.Hour), To: now.Add(time.Hour)}
	run(t, d, q)
	uq := st.last.(query.UnsettledQuery)
	if !uq.AsOf.Equal(now) || uq.Lookback != 48*time.Hour || uq.Limit != 1000 {
		t.Errorf("unsettled question %+v", uq)
	}
}

func TestLinksBreakdownToTransactionsToTrace(t *testing.T) {
	d := newTestDS(&fakeStore{})
	resp := run(t, d, dq("A", TypeBreakdown, map[string]any{"by": "gateway", "filters": map[string]any{"region": []string{"wuhan"}}}),
		dq("B", TypeTransactions, map[string]any{"status": "unsettled"}))
	f := resp.Responses["A"].Frames[0]
	l := f.Fields[fieldIndex(f, "transactions")].Config.Links
	if len(l) != 1 || l[0].Internal.DatasourceUID != "sw-uid" {
		t.Fatalf("links %+v", l)
	}
	lq, _ := json.Marshal(l[0].Internal.Query)
	for _, want := range []string{`"queryType":"transactions"`, `"causes":["${__data.fields[\"cause\"]}"]`, `"gateway":["${__data.fields[\"gateway\"]}"]`, `"region":["wuhan"]`} {
		if !strings.Contains(string(lq), want) {
			t.Errorf("breakdown link query %s lacks %s", lq, want)
		}
	}
	tf := resp.Responses["B"].Frames[0]
	tl := tf.Fields[fieldIndex(tf, "txn_id")].Config.Links
	if len(tl) != 1 || tl[0].Internal.Query.(map[string]any)["txnId"] != "${__value.raw}" {
		t.Errorf("trace link %+v", tl)
	}
}

func TestSettingsValidation(t *testing.T) {
	parse := func(j string, secure map[string]string) (Settings, error) {
		s, err := ParseSettings(backend.DataSourceInstanceSettings{JSONData: []byte(j), DecryptedSecureJSONData: secure})
		if err != nil {
			return s, err
		}
		return s, s.Validate()
	}
	s, err := parse(`{"host": "ch.internal"}`, map[string]string{"password": "pw"})
	if err != nil || s.Port != 9000 || s.Database != "settlewatch" || s.Username != "default" || s.MaxRows != DefaultMaxRows || s.Password != "pw" {
		t.Errorf("defaults: %+v %v", s, err)
	}
	if strings.Contains(s.String(), "pw") {
		t.Errorf("String shows the password: %s", s)
	}
	if c := s.Conn(); c.Addr[0] != "ch.internal:9000" || c.Password != "pw" || c.QueryTimeout != 30*time.Second {
		t.Errorf("conn %+v", c)
	}
	for j, want := range map[string]string{
		`{"host": "ch:9000"}`:                                    "put the port in the Port field",
		`{"host": "ch", "port": 70000}`:                          "Port 70000",
		`{"host": "ch", "queryTimeoutSeconds": 9999}`:            "Query timeout",
		`{"host": "ch", "compression": "gzip"}`:                  "Compression",
		`{"host": "ch", "password": "x"}`:                        "secureJsonData.password",
		`{"host": "ch", "maxRows": 5000000}`:                     "Row cap",
		`{"host": "ch", "database": "x; DROP DATABASE"}`:         "plain identifier",
		`{"host": "ch", "port": "9000"}`:                         "not valid JSON",
		`{"host": "ch", "secure": false, "tlsSkipVerify": true}`: "Secure (TLS) is off",
	} {
		if _, err := parse(j, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", j, err, want)
		}
	}
}

func TestResources(t *testing.T) {
	st := &fakeStore{}
	d := newTestDS(st)
	call := func(path string) (int, []byte) {
		var got *backend.CallResourceResponse
		p, _, _ := strings.Cut(path, "?")
		err := d.CallResource(context.Background(), &backend.CallResourceRequest{Method: http.MethodGet, Path: p, URL: path},
			backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error { got = r; return nil }))
		if err != nil {
			t.Fatal(err)
		}
		return got.Status, got.Body
	}
	status, body := call("values?key=gateway&from=1763596800000&to=1763683200000&limit=1")
	var v Values
	if err := json.Unmarshal(body, &v); status != 200 || err != nil || len(v.Values) != 1 || v.Values[0].Value != "gw-1" || v.Values[0].Transactions != 950 || !v.Truncated {
		t.Errorf("values: %d %s", status, body)
	}
	_, body = call("values?key=gateway&from=1763596800000&to=1763683200000&prefix=GW-2")
	if err := json.Unmarshal(body, &v); err != nil || len(v.Values) != 1 || v.Values[0].Value != "gw-2" || !v.Cached || st.n() != 1 {
		t.Errorf("cached values with a prefix: %s (%d calls)", body, st.n())
	}
	_, body = call("values?key=currency&from=1763596800000&to=1763683200000")
	if err := json.Unmarshal(body, &v); err != nil || len(v.Values) != 2 || v.Values[0].Value != "CNY" || v.Values[1].Value != "HKD" {
		t.Errorf("currencies: %s", body)
	}
	_, body = call("values?key=cause")
	if err := json.Unmarshal(body, &v); err != nil || len(v.Values) != 12 {
		t.Errorf("causes: %s", body)
	}
	if status, _ := call("values?key=gateway&from=abc"); status != 400 {
		t.Errorf("bad from: %d", status)
	}
	if status, _ := call("values"); status != 400 {
		t.Errorf("no key: %d", status)
	}
}
