package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/settlewatch/settlewatch/chtest"
)

// Hostile and mistaken input, all in one request next to a good query: each
// bad query gets its own clear error, the good one its frames, and the
// plugin process lives on. (The unit tests show that none of these reaches
// the query layer, so no SQL is ever built from them.)
func TestHostileInputGetsPerQueryErrors(t *testing.T) {
	db := chtest.Migrated(t)
	g := launch(t, settingsFor(t, db), "")
	now := time.Now().UTC().Truncate(time.Second)
	from := now.Add(-6 * time.Hour)
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("gw-%d", i)
	}
	cases := []struct {
		q      q
		status backend.Status
		msg    string
	}{
		{q{JSON: `{"queryType": "breakdown", "by": `}, 400, "cannot be read"},
		{q{JSON: `[1, 2, 3]`}, 400, "not a JSON object"},
		{q{JSON: `{"filters": "gateway"}`}, 400, `"filters" must be an object`},
		{q{JSON: `{"limit": "all"}`}, 400, `"limit" must be a whole number`},
		{q{Type: "drop_tables"}, 400, "unknown query type"},
		{q{Type: "breakdown", Model: map[string]any{"by": "colour"}}, 400, "unknown dimension"},
		{q{Type: "trend", Model: map[string]any{"by": "gateway_id) OR (1"}}, 400, "unknown dimension"},
		{q{Type: "breakdown", Model: map[string]any{"filters": map[string]any{"gateway_id) OR (1": []string{"x"}}}}, 400, "unknown filter key"},
		{q{Type: "breakdown", Model: map[string]any{"filters": map[string]any{"gateway": []string{"gw-1' OR '1'='1"}}}}, 400, "not allowed"},
		{q{Type: "breakdown", Model: map[string]any{"filters": map[string]any{"merchant": []string{"M1'); DROP TABLE transactions; --"}}}}, 400, "not allowed"},
		{q{Type: "trend", Model: map[string]any{"adhocFilters": []map[string]any{{"key": "gateway", "operator": "=", "value": `x" OR 1=1 --`}}}}, 400, "not allowed"},
		{q{Type: "trend", Model: map[string]any{"adhocFilters": []map[string]any{{"key": "1=1; --", "operator": "=", "value": "x"}}}}, 400, "unknown filter key"},
		{q{Type: "breakdown", Model: map[string]any{"adhocFilters": []map[string]any{{"key": "gateway", "operator": "!=", "value": "gw-1"}}}}, 400, "not supported"},
		{q{Type: "breakdown", Model: map[string]any{"filters": map[string]any{"gateway": []string{"$gateway"}}}}, 400, "was not replaced"},
		{q{Type: "breakdown", Model: map[string]any{"filters": map[string]any{"gateway": many}}}, 400, "at most 1000"},
		{q{Type: "breakdown", Model: map[string]any{"filters": map[string]any{"merchant": []string{strings.Repeat("M", 10000)}}}}, 400, "at most 128"},
		{q{Type: "breakdown", Model: map[string]any{"causes": []string{"bad luck"}}}, 400, "unknown cause"},
		{q{Type: "breakdown", Model: map[string]any{"outcomes": []string{"approved' OR 1"}}}, 400, "unknown outcome"},
		{q{Type: "breakdown", Model: map[string]any{"currency": "usd;"}}, 400, "3-letter"},
		{q{Type: "breakdown", Model: map[string]any{"filters": map[string]any{"currency": []string{"CNY", "USD"}}}}, 400, "one currency at a time"},
		{q{Type: "breakdown", Model: map[string]any{"source": "system.tables"}}, 400, "source"},
		{q{Type: "breakdown", Model: map[string]any{"of": "everything"}}, 400, "cause or outcome"},
		{q{Type: "trend", Model: map[string]any{"metric": "sleep(10)"}}, 400, "metric"},
		{q{Type: "trend", Model: map[string]any{"interval": "1w"}}, 400, "interval"},
		{q{Type: "trend", Interval: -time.Minute}, 400, "negative"},
		{q{Type: "trend", MaxDataPoints: -5}, 400, "negative"},
		{q{Type: "trend", From: now.AddDate(-5, 0, 0), To: now}, 400, "longer than"},
		{q{Type: "breakdown", From: now, To: from}, 400, "inverted"},
		{q{Type: "breakdown", From: time.Unix(0, 0), To: time.Unix(0, 0)}, 400, "time range is required"},
		{q{Type: "transactions", Model: map[string]any{"status": "approved; DROP"}}, 400, "status"},
		{q{Type: "transactions", Model: map[string]any{"limit": -1}}, 400, "negative"},
		{q{Type: "trace", Model: map[string]any{"txnId": "T1'; DROP TABLE spans; --"}}, 400, "malformed"},
		{q{Type: "trace", Model: map[string]any{"traceId": "zz"}}, 400, "32 hexadecimal"},
		{q{Type: "trace", Model: map[string]any{}}, 400, "give a transaction id"},
		{q{Type: "kpis", Model: map[string]any{"kpis": []string{"everything"}}}, 400, "unknown KPI"},
		{q{Type: "incidents", Model: map[string]any{"incidentValue": "gw-1"}}, 400, "needs a dimension"},
		{q{Type: "trace", Model: map[string]any{"txnId": "NO-SUCH-TXN"}}, 404, "not found"},
	}
	var qs []q
	for i, c := range cases {
		x := c.q
		x.RefID = fmt.Sprintf("H%02d", i)
		if x.From.IsZero() && x.To.IsZero() {
			x.From, x.To = from, now
		}
		qs = append(qs, x)
	}
	qs = append(qs, q{RefID: "OK", Type: "breakdown", Model: map[string]any{"by": "gateway"}, From: from, To: now})
	resp := g.query(t, qs...)
	for i, c := range cases {
		ref := fmt.Sprintf("H%02d", i)
		dr := resp.Responses[ref]
		if dr.Error == nil || dr.Status != c.status || !strings.Contains(dr.Error.Error(), c.msg) {
			t.Errorf("%s %s %s: status %d, error %v; want %d and %q", ref, c.q.Type, c.q.JSON+fmt.Sprint(c.q.Model), dr.Status, dr.Error, c.status, c.msg)
		}
		if len(dr.Frames) != 0 {
			t.Errorf("%s: frames with an error", ref)
		}
	}
	if ok := resp.Responses["OK"]; ok.Error != nil || len(ok.Frames) != 1 {
		t.Errorf("the good query next to them: %v", ok.Error)
	}
	g.alive(t)
	if h := g.health(t); h.Status != backend.HealthStatusOk {
		t.Errorf("health after hostile input: %s", h.Message)
	}
}

// Bad settings get clear messages from the health check and from every
// query, instead of a plugin that fails to start.
func TestSettingsErrors(t *testing.T) {
	db := chtest.Migrated(t)
	good := settingsFor(t, db)
	now := time.Now()
	for _, c := range []struct {
		name     string
		settings map[string]any
		health   []string
		status   backend.Status
	}{
		{"empty", map[string]any{}, []string{"Host: required"}, 400},
		{"many mistakes", map[string]any{"host": "https://ch.example", "port": 8123, "database": "a-b", "tlsSkipVerify": true, "maxRows": -1},
			[]string{"without a scheme", "HTTP port", "plain identifier", "Secure (TLS) is off", "Row cap"}, 400},
		{"password in jsonData", map[string]any{"host": "127.0.0.1", "password": "hunter2"}, []string{"secureJsonData.password"}, 400},
		{"nothing listens", map[string]any{"host": "127.0.0.1", "port": 1, "database": db.Name, "dialTimeoutSeconds": 2}, []string{"cannot reach ClickHouse", "127.0.0.1:1"}, 502},
		{"no such database", map[string]any{"host": good["host"], "port": good["port"], "database": "no_such_db_here"}, []string{"no_such_db_here"}, 502},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := launch(t, c.settings, "")
			h := g.health(t)
			if h.Status != backend.HealthStatusError {
				t.Errorf("health %v: %s", h.Status, h.Message)
			}
			for _, m := range c.health {
				if !strings.Contains(h.Message, m) {
					t.Errorf("health message %q lacks %q", h.Message, m)
				}
			}
			if strings.Contains(h.Message, "hunter2") {
				t.Error("the password is in the message")
			}
			dr := g.query(t, q{RefID: "A", Type: "breakdown", Model: map[string]any{}, From: now.Add(-time.Hour), To: now}).Responses["A"]
			if dr.Error == nil || dr.Status != c.status {
				t.Errorf("query: %d %v, want status %d", dr.Status, dr.Error, c.status)
			}
			if st, body := g.resource(t, http.MethodGet, "values", url.Values{"key": {"gateway"}}); st != int(c.status) {
				t.Errorf("values: %d %s, want %d", st, body, c.status)
			}
			if st, body := g.resource(t, http.MethodGet, "taxonomy", nil); st != http.StatusOK {
				t.Errorf("taxonomy needs no connection: %d %s", st, body)
			}
			g.alive(t)
		})
	}
}

// Requests that Grafana abandons (a closed panel, a deadline) end cleanly:
// the plugin keeps serving.
func TestCancelledRequests(t *testing.T) {
	db := chtest.Migrated(t)
	g := launch(t, settingsFor(t, db), "")
	now := time.Now().UTC()
	qs := []q{
		{RefID: "A", Type: "trend", Model: map[string]any{"by": "merchant", "interval": "5m", "source": "raw"}, From: now.AddDate(0, 0, -30), To: now},
		{RefID: "B", Type: "breakdown", Model: map[string]any{"by": "terminal", "source": "raw"}, From: now.AddDate(0, 0, -30), To: now},
	}
	for range 5 {
		ctx, cancel := context.WithCancel(context.Background())
		go cancel()
		_, _ = g.queryErr(ctx, nil, qs...) // cancelled or answered, whichever came first
		dctx, dcancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, _ = g.queryErr(dctx, nil, qs...)
		dcancel()
	}
	g.alive(t)
	resp := g.query(t, qs...)
	for _, ref := range []string{"A", "B"} {
		if dr := resp.Responses[ref]; dr.Error != nil {
			t.Errorf("%s after cancelled requests: %v", ref, dr.Error)
		}
	}
}
