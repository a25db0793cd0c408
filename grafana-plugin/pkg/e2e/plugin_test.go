package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
	"github.com/settlewatch/settlewatch/simulator"
)

// cell is a ground-truth count with its money per currency.
type cell struct {
	n   int64
	amt map[string]int64
}

func (c *cell) add(tr simulator.TruthRecord) {
	if c.amt == nil {
		c.amt = map[string]int64{}
	}
	c.n++
	c.amt[tr.Currency] += tr.AmountMinor
}

func failed(tr simulator.TruthRecord) bool { return tr.Cause != "none" && tr.Cause != "" }

// group counts the truth by key over the records keep accepts.
func (d *day) group(key func(simulator.TruthRecord) string, keep func(simulator.TruthRecord) bool) map[string]*cell {
	out := map[string]*cell{}
	for _, tr := range d.truth {
		if keep != nil && !keep(tr) {
			continue
		}
		k := key(tr)
		if out[k] == nil {
			out[k] = &cell{}
		}
		out[k].add(tr)
	}
	return out
}

func byCause(tr simulator.TruthRecord) string { return string(tr.Cause) }

func sameMoney(a, b map[string]int64) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// The plugin binary, launched as Grafana launches it, answers every query
// type, the health check and the resources over gRPC; every number in the
// frames equals the simulator's ground truth, and the trace frame has every
// span of the transaction with its parent.
func TestPluginAnswersEqualGroundTruth(t *testing.T) {
	d := simulateDay(t)
	g := launch(t, settingsFor(t, d.db), "")
	from, to := d.from, d.to
	total := int64(len(d.truth))
	var failures int64
	for _, tr := range d.truth {
		if failed(tr) {
			failures++
		}
	}
	t.Logf("simulated day %s: %d transactions, %d failures", from.Format("2006-01-02"), total, failures)

	t.Run("health", func(t *testing.T) {
		h := g.health(t)
		if h.Status != backend.HealthStatusOk {
			t.Fatalf("health %v: %s", h.Status, h.Message)
		}
		var det plugin.Health
		if err := json.Unmarshal(h.JSONDetails, &det); err != nil {
			t.Fatal(err)
		}
		if det.SchemaVersion != chschema.LatestVersion() || !det.RollupsFresh || det.Server == "" {
			t.Errorf("details %+v", det)
		}
		for _, want := range []string{fmt.Sprintf("schema version %d (current)", chschema.LatestVersion()), "rollups: fresh", "can write: use a read-only profile"} {
			if !strings.Contains(h.Message, want) {
				t.Errorf("health message %q lacks %q", h.Message, want)
			}
		}
	})

	t.Run("breakdown by cause, raw and rollups", func(t *testing.T) {
		want := d.group(byCause, failed)
		for _, src := range []string{"raw", "auto"} {
			resp := g.query(t, q{RefID: "A", Type: "breakdown", Model: map[string]any{"source": src}, From: from, To: to})
			f := frameOf(t, resp, "A")
			if f.Meta == nil || f.Meta.Type != data.FrameTypeNumericLong {
				t.Errorf("%s: frame type %v, want numeric-long", src, f.Meta)
			}
			gotSrc := f.Meta.Custom.(map[string]any)["source"]
			if wantSrc := map[string]string{"raw": "raw", "auto": "rollup"}[src]; gotSrc != wantSrc {
				t.Errorf("source %s answered from %v, want %s", src, gotSrc, wantSrc)
			}
			if f.Rows() != len(want) {
				t.Errorf("%s: %d causes, want %d", src, f.Rows(), len(want))
			}
			var share float64
			for i := range f.Rows() {
				c := str(t, f, "cause", i)
				w := want[c]
				if w == nil || i64(t, f, "transactions", i) != w.n || !sameMoney(amounts(t, f, "amount_minor", i), w.amt) {
					t.Errorf("%s: cause %s: %d, %v; want %+v", src, c, i64(t, f, "transactions", i), amounts(t, f, "amount_minor", i), w)
					continue
				}
				if !near(f64(t, f, "failure_rate", i), float64(w.n)/float64(total)) {
					t.Errorf("%s: %s failure rate %v, want %v", src, c, f64(t, f, "failure_rate", i), float64(w.n)/float64(total))
				}
				if str(t, f, "class", i) != string(domain.DefaultRules().ClassOf(domain.Cause(c))) {
					t.Errorf("%s: class of %s: %s", src, c, str(t, f, "class", i))
				}
				share += f64(t, f, "share", i)
			}
			if !near(share, 1) {
				t.Errorf("%s: shares add up to %v", src, share)
			}
			if links := field(t, f, "transactions").Config.Links; len(links) != 1 || links[0].Internal == nil || links[0].Internal.DatasourceUID != "settlewatch-test" {
				t.Errorf("breakdown → transactions link: %+v", links)
			}
		}
	})

	t.Run("breakdown by gateway with filters, All and ad-hoc filters", func(t *testing.T) {
		keep := func(tr simulator.TruthRecord) bool {
			return failed(tr) && tr.Currency == "CNY" && (tr.Cause == "gateway" || tr.Cause == "timeout")
		}
		want := d.group(func(tr simulator.TruthRecord) string { return tr.GatewayID + "/" + string(tr.Cause) }, keep)
		model := map[string]any{
			"by":           "gateway",
			"filters":      map[string]any{"cause": []string{"gateway", "timeout", "network"}, "merchant": []string{plugin.AllValue}},
			"adhocFilters": []map[string]any{{"key": "currency", "operator": "=", "value": "CNY"}, {"key": "cause", "operator": "=|", "values": []string{"gateway", "timeout"}}},
		}
		f := frameOf(t, g.query(t, q{RefID: "G", Type: "breakdown", Model: model, From: from, To: to}), "G")
		if f.Rows() != len(want) || len(want) < 3 {
			t.Errorf("%d rows, want %d", f.Rows(), len(want))
		}
		for i := range f.Rows() {
			k := str(t, f, "gateway", i) + "/" + str(t, f, "cause", i)
			w := want[k]
			if w == nil || i64(t, f, "transactions", i) != w.n || !sameMoney(amounts(t, f, "amount_minor", i), w.amt) {
				t.Errorf("%s: %d %v, want %+v", k, i64(t, f, "transactions", i), amounts(t, f, "amount_minor", i), w)
			}
		}
	})

	t.Run("breakdown by outcome", func(t *testing.T) {
		want := d.group(func(tr simulator.TruthRecord) string { return string(tr.Outcome) }, nil)
		f := frameOf(t, g.query(t, q{RefID: "O", Type: "breakdown", Model: map[string]any{"of": "outcome"}, From: from, To: to}), "O")
		if f.Rows() != len(want) {
			t.Errorf("%d outcomes, want %d", f.Rows(), len(want))
		}
		for i := range f.Rows() {
			o := str(t, f, "outcome", i)
			if w := want[o]; w == nil || i64(t, f, "transactions", i) != w.n || !sameMoney(amounts(t, f, "amount_minor", i), w.amt) {
				t.Errorf("outcome %s: %d, want %+v", o, i64(t, f, "transactions", i), w)
			}
		}
	})

	t.Run("trend per cause", func(t *testing.T) {
		want := d.group(func(tr simulator.TruthRecord) string {
			return string(tr.Cause) + "@" + tr.TxnTime.UTC().Truncate(time.Hour).Format(time.RFC3339)
		}, failed)
		// Grafana's interval of 30m over a day with 100 points at most: 1h buckets.
		resp := g.query(t, q{RefID: "T", Type: "trend", Model: map[string]any{}, From: from, To: to, Interval: 30 * time.Minute, MaxDataPoints: 100})
		f := frameOf(t, resp, "T")
		causes := map[string]bool{}
		for _, tr := range d.truth {
			if failed(tr) {
				causes[string(tr.Cause)] = true
			}
		}
		// One wide frame: the time, then one field per cause with failures.
		if f.Meta.Type != data.FrameTypeTimeSeriesWide || len(f.Fields) != 1+len(causes) {
			t.Fatalf("frame %s: type %s with %d fields, want timeseries-wide with the time and one per cause with failures (%d)", f.Name, f.Meta.Type, len(f.Fields), len(causes))
		}
		if f.Rows() != 24 {
			t.Errorf("%d points, want 24 hourly", f.Rows())
		}
		var sum int64
		for _, fl := range f.Fields[1:] {
			cause := fl.Labels["cause"]
			if !causes[cause] || fl.Name != "failures" {
				t.Errorf("field %s %v: not a cause with failures", fl.Name, fl.Labels)
			}
			for i := range f.Rows() {
				at := tm(t, f, "time", i)
				n, ok := fl.At(i).(int64)
				if !ok {
					t.Fatalf("%s: %T, want int64", cause, fl.At(i))
				}
				sum += n
				var w int64
				if c := want[cause+"@"+at.UTC().Format(time.RFC3339)]; c != nil {
					w = c.n
				}
				if n != w {
					t.Errorf("%s at %s: %d failures, want %d", cause, at.Format(time.RFC3339), n, w)
				}
			}
		}
		if sum != failures {
			t.Errorf("the series add up to %d failures, want %d", sum, failures)
		}
	})

	t.Run("trend per gateway: failure rate", func(t *testing.T) {
		all := d.group(func(tr simulator.TruthRecord) string {
			return tr.GatewayID + "@" + tr.TxnTime.UTC().Truncate(time.Hour).Format(time.RFC3339)
		}, nil)
		fails := d.group(func(tr simulator.TruthRecord) string {
			return tr.GatewayID + "@" + tr.TxnTime.UTC().Truncate(time.Hour).Format(time.RFC3339)
		}, failed)
		resp := g.query(t, q{RefID: "R", Type: "trend", Model: map[string]any{"by": "gateway", "metric": "failure_rate", "interval": "1h"}, From: from, To: to})
		f := frameOf(t, resp, "R")
		if f.Meta.Type != data.FrameTypeTimeSeriesWide {
			t.Errorf("type %s, want timeseries-wide", f.Meta.Type)
		}
		checked := 0
		for _, fl := range f.Fields[1:] {
			gw := fl.Labels["gateway"]
			if fl.Config.Unit != "percentunit" {
				t.Errorf("unit %q", fl.Config.Unit)
			}
			for i := range f.Rows() {
				k := gw + "@" + tm(t, f, "time", i).UTC().Format(time.RFC3339)
				rate, ok := fl.At(i).(*float64)
				if !ok {
					t.Fatalf("%s: %T, want a nullable float64", k, fl.At(i))
				}
				if all[k] == nil {
					if rate != nil {
						t.Errorf("%s: a rate (%v) where there was no transaction", k, *rate)
					}
					continue
				}
				var nf int64
				if c := fails[k]; c != nil {
					nf = c.n
				}
				if w := float64(nf) / float64(all[k].n); rate == nil || !near(*rate, w) {
					t.Errorf("%s: rate %v, want %v", k, rate, w)
				}
				checked++
			}
		}
		if checked != len(all) {
			t.Errorf("%d gateway-hours checked, want %d", checked, len(all))
		}
	})

	t.Run("unsettled transactions", func(t *testing.T) {
		want := map[string]simulator.TruthRecord{}
		for _, tr := range d.truth {
			if tr.Outcome == "unsettled" {
				want[tr.TxnID] = tr
			}
		}
		if len(want) == 0 {
			t.Fatal("the scenario left nothing unsettled")
		}
		f := frameOf(t, g.query(t, q{RefID: "U", Type: "transactions", Model: map[string]any{"status": "unsettled"}, From: from, To: to}), "U")
		if f.Rows() != len(want) {
			t.Errorf("%d unsettled listed, want %d", f.Rows(), len(want))
		}
		for i := range f.Rows() {
			id := str(t, f, "txn_id", i)
			w, ok := want[id]
			if !ok || str(t, f, "cause", i) != string(w.Cause) || !sameMoney(amounts(t, f, "amount_minor", i), map[string]int64{w.Currency: w.AmountMinor}) {
				t.Errorf("row %s %s %v, want %+v", id, str(t, f, "cause", i), amounts(t, f, "amount_minor", i), w)
			}
		}
		l := field(t, f, "txn_id").Config.Links
		if len(l) != 1 || l[0].Internal == nil || l[0].Internal.Query.(map[string]any)["queryType"] != "trace" {
			t.Errorf("transactions → trace link: %+v", l)
		}
		// Failed transactions: exactly the truth's, newest first, each linked to its trace.
		wantFailed := map[string]simulator.TruthRecord{}
		for _, tr := range d.truth {
			if tr.Outcome == "failed" {
				wantFailed[tr.TxnID] = tr
			}
		}
		ff := frameOf(t, g.query(t, q{RefID: "F", Type: "transactions", Model: map[string]any{"status": "failed"}, From: from, To: to}), "F")
		if ff.Rows() != len(wantFailed) || len(wantFailed) == 0 {
			t.Errorf("%d failed listed, want %d", ff.Rows(), len(wantFailed))
		}
		for i := range ff.Rows() {
			id := str(t, ff, "txn_id", i)
			w, ok := wantFailed[id]
			if !ok || str(t, ff, "cause", i) != string(w.Cause) || !sameMoney(amounts(t, ff, "amount_minor", i), map[string]int64{w.Currency: w.AmountMinor}) {
				t.Errorf("failed row %s %s, want %+v", id, str(t, ff, "cause", i), w)
			}
			if i > 0 && tm(t, ff, "txn_time", i).After(tm(t, ff, "txn_time", i-1)) {
				t.Errorf("failed list not newest first at row %d", i)
			}
		}
	})

	t.Run("trace", func(t *testing.T) {
		byID := map[string]simulator.TruthRecord{}
		for _, tr := range d.truth {
			byID[tr.TxnID] = tr
		}
		// One of each: settled; failed with gateway spans; unsettled after a failed batch upload.
		picks := map[string]string{}
		for _, tx := range d.plan.Txns() {
			tr := byID[tx.ID]
			switch {
			case picks["settled"] == "" && tr.Outcome == "settled":
				picks["settled"] = tx.ID
			case picks["failed"] == "" && tr.Outcome == "failed" && countService(tx, simulator.ServiceGateway) >= 2:
				picks["failed"] = tx.ID
			case picks["unsettled"] == "" && tr.Outcome == "unsettled" && tr.Cause == "network":
				picks["unsettled"] = tx.ID
			}
		}
		if len(picks) != 3 {
			t.Fatalf("picked %v", picks)
		}
		for kind, id := range picks {
			checkTrace(t, g, d, kind, id, byID[id])
		}
		// On-call may start from a trace id: it finds the same transaction.
		settled := byID[picks["settled"]]
		f := frameOf(t, g.query(t, q{RefID: "TT", Type: "trace", Model: map[string]any{"traceId": settled.TraceID}}), "TT")
		found := false
		for i := range f.Rows() {
			if tags := tagsOf(t, f, "tags", i); tags["settlewatch.outcome"] == "settled" && tags["pos.txn.id"] == settled.TxnID {
				found = true
			}
		}
		if !found {
			t.Errorf("trace %s did not lead to transaction %s", settled.TraceID, settled.TxnID)
		}
	})

	t.Run("incidents", func(t *testing.T) {
		want := testIncidents(from)
		f := frameOf(t, g.query(t, q{RefID: "I", Type: "incidents", Model: map[string]any{}, From: from, To: to}), "I")
		if f.Rows() != len(want) {
			t.Fatalf("%d incidents, want %d", f.Rows(), len(want))
		}
		for i := range f.Rows() {
			id := str(t, f, "incident_id", i)
			var w incident
			for _, x := range want {
				if x.id == id {
					w = x
				}
			}
			until := w.ended
			if until.IsZero() {
				until = w.started.Add(time.Hour) // evaluated_to of an open incident
			}
			if !tm(t, f, "time", i).Equal(w.started) || !tm(t, f, "ended", i).Equal(w.ended) || !tm(t, f, "timeEnd", i).Equal(until) || str(t, f, "text", i) != w.summary ||
				!strings.Contains(str(t, f, "tags", i), "cause:"+w.cause) || !near(f64(t, f, "peak_rate", i), w.peak) ||
				i64(t, f, "failures", i) != int64(w.failures) || !strings.Contains(str(t, f, "title", i), w.value) {
				t.Errorf("incident %s: row differs from %+v", id, w)
			}
		}
		open := frameOf(t, g.query(t, q{RefID: "J", Type: "incidents", Model: map[string]any{"openOnly": true}, From: from, To: to}), "J")
		if open.Rows() != 1 || str(t, open, "incident_id", 0) != "inc-wuhan-network" {
			t.Errorf("open incidents: %d", open.Rows())
		}
	})

	t.Run("unsettled aging", func(t *testing.T) {
		want := d.group(func(tr simulator.TruthRecord) string {
			return model.AgeBucket(to.Sub(tr.TxnTime.Truncate(time.Second))) + "/" + string(tr.Cause)
		}, func(tr simulator.TruthRecord) bool { return tr.Outcome == "unsettled" })
		f := frameOf(t, g.query(t, q{RefID: "A", Type: "unsettled_aging", Model: map[string]any{}, From: from, To: to}), "A")
		if f.Rows() != len(want) {
			t.Errorf("%d aging rows, want %d", f.Rows(), len(want))
		}
		for i := range f.Rows() {
			k := str(t, f, "age_bucket", i) + "/" + str(t, f, "cause", i)
			if w := want[k]; w == nil || i64(t, f, "transactions", i) != w.n || !sameMoney(amounts(t, f, "amount_minor", i), w.amt) {
				t.Errorf("%s: %d %v, want %+v", k, i64(t, f, "transactions", i), amounts(t, f, "amount_minor", i), w)
			}
		}
	})

	t.Run("kpis", func(t *testing.T) {
		f := frameOf(t, g.query(t, q{RefID: "K", Type: "kpis", Model: map[string]any{}, From: from, To: to}), "K")
		if f.Rows() != 1 || f.Meta.Type != data.FrameTypeNumericWide {
			t.Fatalf("kpis: %d rows, type %s", f.Rows(), f.Meta.Type)
		}
		if !near(f64(t, f, "failure_rate", 0), float64(failures)/float64(total)) || i64(t, f, "transactions", 0) != total || i64(t, f, "failures", 0) != failures {
			t.Errorf("failure rate %v of %d (%d failures), want %v", f64(t, f, "failure_rate", 0), i64(t, f, "transactions", 0), i64(t, f, "failures", 0),
				float64(failures)/float64(total))
		}
		causes := d.group(byCause, failed)
		top, topN := "", int64(0)
		for c, v := range causes {
			if v.n > topN || v.n == topN && c < top {
				top, topN = c, v.n
			}
		}
		tf := field(t, f, "top_cause_failures")
		if tf.Labels["cause"] != top || i64(t, f, "top_cause_failures", 0) != topN {
			t.Errorf("top cause %s %d, want %s %d", tf.Labels["cause"], i64(t, f, "top_cause_failures", 0), top, topN)
		}
		uns := d.group(func(simulator.TruthRecord) string { return "" }, func(tr simulator.TruthRecord) bool { return tr.Outcome == "unsettled" })[""]
		if i64(t, f, "unsettled_transactions", 0) != uns.n || !sameMoney(amounts(t, f, "unsettled_amount_minor", 0), uns.amt) {
			t.Errorf("unsettled %d %v, want %+v", i64(t, f, "unsettled_transactions", 0), amounts(t, f, "unsettled_amount_minor", 0), uns)
		}
		if i64(t, f, "open_incidents", 0) != 1 {
			t.Errorf("open incidents %d", i64(t, f, "open_incidents", 0))
		}
	})

	t.Run("alert rule path", func(t *testing.T) {
		// Alerting sends the saved model from the backend, with no browser in
		// between: the ad-hoc filters in the model must still apply.
		want := d.group(byCause, func(tr simulator.TruthRecord) bool { return failed(tr) && tr.GatewayID == "gw-2" })
		resp, err := g.queryErr(t.Context(), map[string]string{"FromAlert": "true"},
			q{RefID: "A", Type: "breakdown", Model: map[string]any{"adhocFilters": []map[string]any{{"key": "gateway", "operator": "=", "value": "gw-2"}}}, From: from, To: to},
			q{RefID: "B", Type: "trend", Model: map[string]any{"metric": "failure_rate", "interval": "1h"}, From: from, To: to},
			q{RefID: "C", Type: "kpis", Model: map[string]any{"kpis": []string{"failure_rate"}}, From: from, To: to},
			q{RefID: "D", Type: "unsettled_aging", Model: map[string]any{}, From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		f := frameOf(t, resp, "A")
		var sum int64
		for i := range f.Rows() {
			c := str(t, f, "cause", i)
			if w := want[c]; w == nil || w.n != i64(t, f, "transactions", i) {
				t.Errorf("gw-2 %s: %d, want %+v", c, i64(t, f, "transactions", i), w)
			}
			sum += i64(t, f, "transactions", i)
		}
		if sum == 0 {
			t.Error("no gw-2 failures")
		}
		for ref, typ := range map[string]data.FrameType{"A": data.FrameTypeNumericLong, "B": data.FrameTypeTimeSeriesWide, "C": data.FrameTypeNumericWide, "D": data.FrameTypeNumericLong} {
			for _, fr := range one(t, resp, ref).Frames {
				if fr.Meta == nil || fr.Meta.Type != typ {
					t.Errorf("%s: frame type %v, want %s (alerting reads the data plane types)", ref, fr.Meta, typ)
				}
				numbers := 0
				for _, fl := range fr.Fields {
					if fl.Type().Numeric() {
						numbers++
					}
				}
				if numbers == 0 {
					t.Errorf("%s: no numeric field for an alert condition", ref)
				}
			}
		}
	})

	t.Run("resources", func(t *testing.T) {
		p := url.Values{"key": {"gateway"}, "from": {strconv.FormatInt(from.UnixMilli(), 10)}, "to": {strconv.FormatInt(to.UnixMilli(), 10)}}
		status, body := g.resource(t, http.MethodGet, "values", p)
		var v plugin.Values
		if err := json.Unmarshal(body, &v); status != http.StatusOK || err != nil {
			t.Fatalf("values: %d %s", status, body)
		}
		want := d.group(func(tr simulator.TruthRecord) string { return tr.GatewayID }, nil)
		if len(v.Values) != len(want) || v.Cached {
			t.Errorf("gateways %+v, want %d (first call not cached)", v.Values, len(want))
		}
		for _, x := range v.Values {
			if w := want[x.Value]; w == nil || int64(x.Transactions) != w.n {
				t.Errorf("gateway %s: %d transactions, want %+v", x.Value, x.Transactions, w)
			}
		}
		_, body = g.resource(t, http.MethodGet, "values", p)
		if err := json.Unmarshal(body, &v); err != nil || !v.Cached {
			t.Errorf("second call not cached: %s", body)
		}
		status, body = g.resource(t, http.MethodGet, "taxonomy", nil)
		var tax plugin.Taxonomy
		if err := json.Unmarshal(body, &tax); status != http.StatusOK || err != nil || len(tax.Causes) != len(domain.Causes) {
			t.Fatalf("taxonomy: %d %s", status, body)
		}
		for i, c := range tax.Causes {
			if c.Cause != domain.Causes[i] || c.Class != domain.DefaultRules().ClassOf(c.Cause) {
				t.Errorf("taxonomy cause %d: %+v", i, c)
			}
		}
		status, body = g.resource(t, http.MethodGet, "keys", nil)
		if status != http.StatusOK || !strings.Contains(string(body), `"gateway"`) {
			t.Errorf("keys: %d %s", status, body)
		}
		for _, c := range []struct {
			method, path string
			params       url.Values
			status       int
		}{
			{http.MethodGet, "values", url.Values{"key": {"colour"}}, http.StatusBadRequest},
			{http.MethodGet, "values", url.Values{"key": {"gateway"}, "prefix": {"x' OR 1=1"}}, http.StatusBadRequest},
			{http.MethodGet, "values", url.Values{"key": {"gateway"}, "limit": {"-1"}}, http.StatusBadRequest},
			{http.MethodGet, "values", url.Values{"key": {"gateway"}, "from": {"0"}, "to": {strconv.FormatInt(to.UnixMilli(), 10)}}, http.StatusBadRequest},
			{http.MethodPost, "taxonomy", nil, http.StatusMethodNotAllowed},
			{http.MethodGet, "nothing-here", nil, http.StatusNotFound},
		} {
			if status, body := g.resource(t, c.method, c.path, c.params); status != c.status {
				t.Errorf("%s %s %v: %d %s, want %d", c.method, c.path, c.params, status, body, c.status)
			}
		}
	})
	g.alive(t)
}

func countService(tx *simulator.Txn, s simulator.Service) int {
	n := 0
	for _, sp := range tx.Spans {
		if sp.Service == s {
			n++
		}
	}
	return n
}

// checkTrace compares the trace frame of one transaction with what the
// simulator sent: every span of its trace with its parent, its settlement
// span(s) and its batch's close under the root, outcome and cause on the root.
func checkTrace(t *testing.T, g *grafana, d *day, kind, id string, tr simulator.TruthRecord) {
	t.Helper()
	var tx *simulator.Txn
	for _, x := range d.plan.Txns() {
		if x.ID == id {
			tx = x
		}
	}
	wantParent := map[string]string{}
	for _, sp := range tx.Spans {
		p := ""
		if sp.Parent >= 0 {
			p = tx.Spans[sp.Parent].SpanID.String()
		}
		wantParent[sp.SpanID.String()] = p
	}
	root := tx.Spans[0].SpanID.String()
	joined := map[string]string{} // span → original trace
	for _, ev := range d.plan.Events {
		switch {
		case ev.Kind == simulator.EventSettlement:
			for _, it := range ev.File.Items {
				if it.TxnID == id {
					joined[it.SpanID.String()] = it.TraceID.String()
				}
			}
		case ev.Kind == simulator.EventBatchClose && ev.Close.Terminal.ID == tx.Terminal.ID && ev.Close.BatchNumber == tx.BatchNumber:
			joined[ev.Close.SpanID.String()] = ev.Close.TraceID.String()
		}
	}
	if kind != "failed" && len(joined) == 0 {
		t.Errorf("%s %s: the plan has no settlement or batch close for it", kind, id)
	}
	resp := g.query(t, q{RefID: "T", Type: "trace", Model: map[string]any{"txnId": id}})
	f := frameOf(t, resp, "T")
	if f.Meta == nil || f.Meta.PreferredVisualization != data.VisTypeTrace {
		t.Errorf("%s: preferred visualisation %v", kind, f.Meta)
	}
	for _, name := range []string{"traceID", "spanID", "parentSpanID", "operationName", "serviceName", "serviceTags", "startTime", "duration", "tags", "logs", "kind", "statusCode", "statusMessage"} {
		field(t, f, name)
	}
	if f.Rows() != len(wantParent)+len(joined) {
		t.Errorf("%s %s: %d spans, want %d of its trace and %d joined", kind, id, f.Rows(), len(wantParent), len(joined))
	}
	seen := map[string]bool{}
	for i := range f.Rows() {
		span, parent := str(t, f, "spanID", i), str(t, f, "parentSpanID", i)
		seen[span] = true
		if str(t, f, "traceID", i) != tx.TraceID.String() {
			t.Errorf("%s: span %s in trace %s, want %s", kind, span, str(t, f, "traceID", i), tx.TraceID)
		}
		tags := tagsOf(t, f, "tags", i)
		if p, ok := wantParent[span]; ok {
			if parent != p {
				t.Errorf("%s: span %s (%s) has parent %q, want %q", kind, span, str(t, f, "operationName", i), parent, p)
			}
		} else if orig, ok := joined[span]; ok {
			if parent != root || tags[plugin.TagOriginalTrace] != orig {
				t.Errorf("%s: joined span %s: parent %q (want root %s), original trace %v (want %s)", kind, span, parent, root, tags[plugin.TagOriginalTrace], orig)
			}
		} else {
			t.Errorf("%s: span %s (%s) is not the transaction's", kind, span, str(t, f, "operationName", i))
		}
		if span == root {
			if tags["settlewatch.outcome"] != string(tr.Outcome) || tags["settlewatch.cause"] != string(tr.Cause) || tags["pos.amount.minor"] != float64(tr.AmountMinor) {
				t.Errorf("%s: root tags %v, want outcome %s cause %s amount %d", kind, tags, tr.Outcome, tr.Cause, tr.AmountMinor)
			}
			if str(t, f, "operationName", i) != "pos.transaction" || str(t, f, "serviceName", i) != "pos-terminal" {
				t.Errorf("%s: root is %s of %s", kind, str(t, f, "operationName", i), str(t, f, "serviceName", i))
			}
		}
		if code := i64(t, f, "statusCode", i); code < 0 || code > 2 {
			t.Errorf("status code %d", code)
		}
	}
	for sp := range wantParent {
		if !seen[sp] {
			t.Errorf("%s %s: span %s missing", kind, id, sp)
		}
	}
	ids := slices.Collect(func(yield func(string) bool) {
		for k := range joined {
			if !yield(k) {
				return
			}
		}
	})
	sort.Strings(ids)
	for _, sp := range ids {
		if !seen[sp] {
			t.Errorf("%s %s: joined span %s missing", kind, id, sp)
		}
	}
}
