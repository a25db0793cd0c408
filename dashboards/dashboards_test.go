package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"gopkg.in/yaml.v3"

	"github.com/settlewatch/settlewatch/domain"
	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

var update = flag.Bool("update", false, "rewrite json/ from the definitions")

const jsonDir = "json"

// The committed JSON is exactly what the definitions generate, byte for
// byte, and generating twice gives the same bytes.
func TestGoldenJSON(t *testing.T) {
	if *update {
		if _, err := Write(jsonDir); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	files, err := Write(tmp)
	if err != nil {
		t.Fatal(err)
	}
	again := t.TempDir()
	if _, err := Write(again); err != nil {
		t.Fatal(err)
	}
	committed, _ := filepath.Glob(filepath.Join(jsonDir, "*.json"))
	var names []string
	for _, c := range committed {
		names = append(names, filepath.Base(c))
	}
	sort.Strings(names)
	want := slices.Clone(files)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("json/ holds %v, the definitions make %v: run go run ./dashboards/cmd/gen", names, want)
	}
	for _, f := range files {
		gen, _ := os.ReadFile(filepath.Join(tmp, f))
		gen2, _ := os.ReadFile(filepath.Join(again, f))
		if !bytes.Equal(gen, gen2) {
			t.Errorf("%s: two generations differ", f)
		}
		got, err := os.ReadFile(filepath.Join(jsonDir, f))
		if err != nil {
			t.Errorf("%s: %v (run go run ./dashboards/cmd/gen)", f, err)
			continue
		}
		if !bytes.Equal(got, gen) {
			t.Errorf("%s: the committed JSON differs from the definitions at byte %d: run go run ./dashboards/cmd/gen (or go test ./dashboards -update)", f, firstDiff(got, gen))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// committed reads every committed dashboard as generic JSON.
type dash struct {
	file string
	raw  []byte
	m    map[string]any
}

func committed(t *testing.T) []dash {
	t.Helper()
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	var out []dash
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(jsonDir, f))
		if err != nil {
			t.Fatalf("%v (run go run ./dashboards/cmd/gen)", err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, dash{f, raw, m})
	}
	return out
}

func (d dash) uid() string { return d.m["uid"].(string) }

// variable is what the tests need of a template variable.
type variable struct {
	name, typ         string
	multi, includeAll bool
	key               string   // query variables: the key of the values
	options           []string // custom variables
	query             any
}

func (d dash) variables() map[string]variable {
	out := map[string]variable{}
	tpl, _ := d.m["templating"].(map[string]any)
	list, _ := tpl["list"].([]any)
	for _, x := range list {
		v := x.(map[string]any)
		vr := variable{name: v["name"].(string), typ: v["type"].(string), query: v["query"]}
		vr.multi, _ = v["multi"].(bool)
		vr.includeAll, _ = v["includeAll"].(bool)
		if q, ok := v["query"].(map[string]any); ok {
			vr.key, _ = q["key"].(string)
		}
		if opts, ok := v["options"].([]any); ok {
			for _, o := range opts {
				if s, ok := o.(map[string]any)["value"].(string); ok {
					vr.options = append(vr.options, s)
				}
			}
		}
		out[vr.name] = vr
	}
	return out
}

// panels lists every panel, those inside collapsed rows too.
func (d dash) panels() []map[string]any {
	var out []map[string]any
	var walk func([]any)
	walk = func(ps []any) {
		for _, x := range ps {
			p := x.(map[string]any)
			out = append(out, p)
			if inner, ok := p["panels"].([]any); ok {
				walk(inner)
			}
		}
	}
	ps, _ := d.m["panels"].([]any)
	walk(ps)
	return out
}

// target is one settlewatch query of a dashboard and where it is.
type target struct {
	where string
	panel map[string]any // nil for annotations
	raw   map[string]any
}

func (d dash) targets() []target {
	var out []target
	for _, p := range d.panels() {
		ts, _ := p["targets"].([]any)
		for i, x := range ts {
			out = append(out, target{fmt.Sprintf("%s: panel %v %q target %d", d.file, p["id"], p["title"], i), p, x.(map[string]any)})
		}
	}
	ann, _ := d.m["annotations"].(map[string]any)
	list, _ := ann["list"].([]any)
	for _, x := range list {
		a := x.(map[string]any)
		if tg, ok := a["target"].(map[string]any); ok {
			out = append(out, target{fmt.Sprintf("%s: annotation %q", d.file, a["name"]), nil, tg})
		}
	}
	return out
}

// A variable reference as the plugin's frontend recognises one in a value:
// $name, ${name}, ${name:fmt}, [[name]].
var wholeRef = regexp.MustCompile(`^\$(\w+)$|^\$\{(\w+)(?::[\w-]+)?\}$|^\[\[(\w+)(?::[\w-]+)?\]\]$`)

// Any variable reference inside a string.
var anyRef = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?:[:.][^}]*)?\}|\[\[(\w+)(?::[\w-]+)?\]\]`)

func refName(m []string) string {
	for _, s := range m[1:] {
		if s != "" {
			return s
		}
	}
	return ""
}

// interpolated are the query fields the plugin's frontend replaces
// variables in (applyTemplateVariables in grafana-plugin/src/datasource.ts).
var interpolated = map[string]bool{
	"filters": true, "causes": true, "outcomes": true,
	"currency": true, "txnId": true, "traceId": true, "incidentValue": true, "by": true,
}

// Every settlewatch query of every panel and annotation is one the
// backend answers: after the frontend would have replaced its variables
// (All, and chosen values; every option of single-value variables), with
// and without an ad-hoc filter, it passes the plugin's own validation over
// a fixed time range. Template variable queries pass the values resource's.
func TestQueriesAreValidForThePlugin(t *testing.T) {
	n := 0
	for _, d := range committed(t) {
		vars := d.variables()
		for _, v := range vars {
			switch v.typ {
			case "query":
				raw, _ := json.Marshal(v.query)
				if err := plugin.ValidateVariableQueryJSON(raw); err != nil {
					t.Errorf("%s: variable %s: %v", d.file, v.name, err)
				}
				if v.key == "" {
					t.Errorf("%s: variable %s has no key", d.file, v.name)
				}
				if !v.multi || !v.includeAll {
					t.Errorf("%s: variable %s: want multi-value with All", d.file, v.name)
				}
			case "custom", "textbox", "adhoc":
			default:
				t.Errorf("%s: variable %s of type %s: no test substitutes it", d.file, v.name, v.typ)
			}
		}
		_, hasAdhoc := vars["filters"]
		for _, tg := range d.targets() {
			checkDatasource(t, tg.where, tg.raw["datasource"])
			if tg.panel != nil {
				checkDatasource(t, tg.where+" (panel)", tg.panel["datasource"])
			}
			for key, val := range tg.raw {
				for _, r := range refsIn(val) {
					if !interpolated[key] {
						t.Errorf("%s: %s uses $%s, but the frontend does not replace variables in %s", tg.where, key, r, key)
					}
				}
			}
			for _, sc := range scenarios(vars) {
				for _, adhoc := range []bool{false, hasAdhoc} {
					q, err := substitute(tg.raw, vars, sc)
					if err != nil {
						t.Errorf("%s: %v", tg.where, err)
						continue
					}
					if adhoc {
						q["adhocFilters"] = append(asSlice(q["adhocFilters"]), map[string]any{"key": "region", "operator": "=", "value": "r-1"})
					}
					raw, _ := json.Marshal(q)
					if err := plugin.ValidateQueryJSON(raw); err != nil {
						t.Errorf("%s (%s, ad-hoc %v): %v\n%s", tg.where, sc.name, adhoc, err, raw)
					}
					n++
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no queries checked")
	}
	t.Logf("%d substituted queries validated", n)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func checkDatasource(t *testing.T, where string, v any) {
	t.Helper()
	ds, _ := v.(map[string]any)
	if ds["type"] != plugin.PluginID || ds["uid"] != DatasourceUID {
		t.Errorf("%s: datasource %v, want {type %s, uid %s}", where, v, plugin.PluginID, DatasourceUID)
	}
}

func refsIn(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		for _, m := range anyRef.FindAllStringSubmatch(x, -1) {
			out = append(out, refName(m))
		}
	case []any:
		for _, e := range x {
			out = append(out, refsIn(e)...)
		}
	case map[string]any:
		for _, e := range x {
			out = append(out, refsIn(e)...)
		}
	}
	return out
}

// scenario gives every variable the values it has in one situation.
type scenario struct {
	name   string
	values map[string][]string
}

// sample values of a key that the backend accepts.
func sample(key string) []string {
	switch key {
	case "cause":
		return []string{string(domain.Causes[0]), string(domain.Causes[1])}
	case "outcome":
		return []string{string(domain.Outcomes[1]), string(domain.Outcomes[2])}
	case "currency":
		return []string{"CNY"}
	}
	return []string{key + "-1", key + "-2"}
}

// scenarios: everything All; everything chosen; and one per option of
// every single-value custom variable (the others at their first option).
func scenarios(vars map[string]variable) []scenario {
	all := scenario{"all", map[string][]string{}}
	chosen := scenario{"chosen values", map[string][]string{}}
	for _, v := range vars {
		switch v.typ {
		case "query":
			all.values[v.name] = []string{plugin.AllValue}
			chosen.values[v.name] = sample(v.key)
			if !v.multi {
				chosen.values[v.name] = chosen.values[v.name][:1]
			}
		case "custom":
			all.values[v.name] = v.options[:1]
			chosen.values[v.name] = v.options[:1]
		case "textbox":
			all.values[v.name] = []string{"TXN-42"}
			chosen.values[v.name] = []string{"T-1:2026-11-24/0001"}
		}
	}
	out := []scenario{all, chosen}
	for _, v := range vars {
		if v.typ != "custom" {
			continue
		}
		for _, o := range v.options[1:] {
			sc := scenario{fmt.Sprintf("%s=%s", v.name, o), map[string][]string{}}
			for k, vs := range chosen.values {
				sc.values[k] = vs
			}
			sc.values[v.name] = []string{o}
			out = append(out, sc)
		}
	}
	return out
}

// substitute replaces variables as the plugin's frontend does: a list
// element that is exactly one reference becomes the variable's values
// ($__all for All); a string field gets the value.
func substitute(q map[string]any, vars map[string]variable, sc scenario) (map[string]any, error) {
	var sub func(v any, inList bool) ([]any, error)
	sub = func(v any, inList bool) ([]any, error) {
		switch x := v.(type) {
		case string:
			if !strings.ContainsAny(x, "$[") {
				return []any{x}, nil
			}
			m := wholeRef.FindStringSubmatch(x)
			if m == nil {
				if anyRef.MatchString(x) {
					return nil, fmt.Errorf("%q: only whole values can be variables", x)
				}
				return []any{x}, nil
			}
			name := refName(m)
			vals, ok := sc.values[name]
			if !ok {
				if _, exists := vars[name]; !exists {
					return nil, fmt.Errorf("variable $%s does not exist in the dashboard", name)
				}
				return nil, fmt.Errorf("no test values for $%s", name)
			}
			if !inList {
				return []any{strings.Join(vals, ",")}, nil
			}
			out := make([]any, len(vals))
			for i, s := range vals {
				out[i] = s
			}
			return out, nil
		case []any:
			var out []any
			for _, e := range x {
				r, err := sub(e, true)
				if err != nil {
					return nil, err
				}
				out = append(out, r...)
			}
			return []any{out}, nil
		case map[string]any:
			out := map[string]any{}
			for k, e := range x {
				r, err := sub(e, false)
				if err != nil {
					return nil, err
				}
				out[k] = r[0]
			}
			return []any{out}, nil
		}
		return []any{v}, nil
	}
	r, err := sub(q, false)
	if err != nil {
		return nil, err
	}
	return r[0].(map[string]any), nil
}

// Every link resolves: dashboard links and data links to /d/<uid> name a
// dashboard that exists, and each var-<name> a variable of that dashboard;
// tag links list at least one other dashboard. Every $name anywhere in a
// dashboard (queries, titles, repeats, links) is one of its variables or
// one of Grafana's (${__…}).
func TestLinksAndVariablesResolve(t *testing.T) {
	ds := committed(t)
	byUID := map[string]dash{}
	for _, d := range ds {
		if _, dup := byUID[d.uid()]; dup {
			t.Errorf("uid %s twice", d.uid())
		}
		byUID[d.uid()] = d
	}
	for _, uid := range []string{UIDOps, UIDTrends, UIDTrace, UIDGateways} {
		if _, ok := byUID[uid]; !ok {
			t.Errorf("no dashboard %s", uid)
		}
	}
	links := 0
	for _, d := range ds {
		vars := d.variables()
		for _, r := range refsIn(d.m) {
			if _, ok := vars[r]; !ok && !strings.HasPrefix(r, "__") {
				t.Errorf("%s: $%s is not a variable of the dashboard", d.file, r)
			}
		}
		for _, p := range d.panels() {
			if r, ok := p["repeat"].(string); ok && r != "" {
				v, ok := vars[r]
				if !ok || !v.multi {
					t.Errorf("%s: panel %q repeats over %q, not a multi-value variable", d.file, p["title"], r)
				}
			}
		}
		dl, _ := d.m["links"].([]any)
		for _, x := range dl {
			l := x.(map[string]any)
			switch l["type"] {
			case "dashboards":
				tags := l["tags"].([]any)
				found := 0
				for _, o := range ds {
					if o.uid() != d.uid() && hasTags(o, tags) {
						found++
					}
				}
				if found == 0 {
					t.Errorf("%s: link %q lists dashboards tagged %v: there are none", d.file, l["title"], tags)
				}
				links++
			case "link":
				checkURL(t, d.file+": dashboard link", l["url"].(string), byUID, nil)
				links++
			default:
				t.Errorf("%s: link type %v", d.file, l["type"])
			}
		}
		for _, p := range d.panels() {
			for _, u := range panelLinkURLs(p) {
				checkURL(t, fmt.Sprintf("%s: panel %q", d.file, p["title"]), u, byUID, p)
				links++
			}
		}
	}
	// The trace dashboard is reached from every other dashboard with var-txn.
	for _, d := range ds {
		if d.uid() == UIDTrace {
			continue
		}
		if !strings.Contains(string(d.raw), "/d/"+UIDTrace+"?var-txn=") {
			t.Errorf("%s: no data link into the trace dashboard carrying var-txn", d.file)
		}
	}
	t.Logf("%d links resolved", links)
}

func hasTags(d dash, tags []any) bool {
	have, _ := d.m["tags"].([]any)
	for _, t := range tags {
		if !slices.Contains(have, t) {
			return false
		}
	}
	return true
}

// panelLinkURLs are a panel's links, its default data links and those of
// its overrides.
func panelLinkURLs(p map[string]any) []string {
	var out []string
	add := func(v any) {
		ls, _ := v.([]any)
		for _, x := range ls {
			if l, ok := x.(map[string]any); ok {
				if u, ok := l["url"].(string); ok {
					out = append(out, u)
				}
			}
		}
	}
	add(p["links"])
	fc, _ := p["fieldConfig"].(map[string]any)
	def, _ := fc["defaults"].(map[string]any)
	add(def["links"])
	ovs, _ := fc["overrides"].([]any)
	for _, o := range ovs {
		props, _ := o.(map[string]any)["properties"].([]any)
		for _, pr := range props {
			if pr.(map[string]any)["id"] == "links" {
				add(pr.(map[string]any)["value"])
			}
		}
	}
	return out
}

var labelRef = regexp.MustCompile(`\$\{__field\.labels\.(\w+)\}`)

func checkURL(t *testing.T, where, raw string, byUID map[string]dash, panel map[string]any) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("%s: url %q: %v", where, raw, err)
		return
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "d" {
		t.Errorf("%s: url %q is not /d/<uid>", where, raw)
		return
	}
	target, ok := byUID[parts[1]]
	if !ok {
		t.Errorf("%s: url %q: no dashboard with uid %s", where, raw, parts[1])
		return
	}
	vars := target.variables()
	for _, kv := range strings.Split(u.RawQuery, "&") {
		name, val, _ := strings.Cut(kv, "=")
		if v, ok := strings.CutPrefix(name, "var-"); ok {
			if _, exists := vars[v]; !exists {
				t.Errorf("%s: url %q sets var-%s: %s has no variable %s", where, raw, v, target.file, v)
			}
			if val == "" {
				t.Errorf("%s: url %q: var-%s has no value", where, raw, v)
			}
		}
		// ${__field.labels.X}: the panel's series carry label X (trend by X).
		for _, m := range labelRef.FindAllStringSubmatch(val, -1) {
			if panel != nil && !seriesLabelled(panel, m[1]) {
				t.Errorf("%s: url %q uses label %s, which the panel's series do not carry", where, raw, m[1])
			}
		}
	}
}

func seriesLabelled(p map[string]any, label string) bool {
	ts, _ := p["targets"].([]any)
	for _, x := range ts {
		q := x.(map[string]any)
		by, _ := q["by"].(string)
		if by == "" {
			by = "cause"
		}
		if q["queryType"] != plugin.TypeTrend || by != label {
			return false
		}
	}
	return len(ts) > 0
}

// Every target decodes, strictly (no key the model lacks), into Query
// through the SDK's runtime, equal to the query the definitions built: the
// committed JSON is exactly the plugin's query model.
func TestTargetsAreTheQueryModel(t *testing.T) {
	cog.NewRuntime().RegisterDataqueryVariant(VariantConfig())
	built, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range committed(t) {
		var want []Query
		for _, p := range built[i].Model.Panels {
			if p.Panel != nil {
				for _, tg := range p.Panel.Targets {
					want = append(want, tg.(Query))
				}
			}
		}
		for _, a := range built[i].Model.Annotations.List {
			want = append(want, a.Target.(Query))
		}
		tgs := d.targets()
		if len(tgs) != len(want) {
			t.Fatalf("%s: %d targets, built %d", d.file, len(tgs), len(want))
		}
		for j, tg := range tgs {
			raw, _ := json.Marshal(tg.raw)
			dq, err := cog.StrictUnmarshalDataquery(raw, plugin.PluginID)
			if err != nil {
				t.Errorf("%s: %v", tg.where, err)
				continue
			}
			q, ok := dq.(Query)
			if !ok {
				t.Errorf("%s: decoded as %T", tg.where, dq)
				continue
			}
			if err := q.Validate(); err != nil {
				t.Errorf("%s: %v", tg.where, err)
			}
			if !q.Equals(want[j]) || !want[j].Equals(&q) {
				t.Errorf("%s: decoded %+v, built %+v", tg.where, q, want[j])
			}
		}
		// And the whole dashboard reads back through the SDK.
		var m dashboard.Dashboard
		if err := json.Unmarshal(d.raw, &m); err != nil {
			t.Errorf("%s: the SDK cannot read it back: %v", d.file, err)
		}
	}
}

// The Query type is the plugin's model plus Grafana's refId, datasource and
// hide: its JSON keys are exactly those.
func TestQueryJSONKeys(t *testing.T) {
	ds := Datasource()
	q := Query{RefID: "A", Datasource: &ds, Hide: true, Query: plugin.Query{
		QueryType: plugin.TypeTrend, Of: "cause", By: "gateway", Metric: "failures", Interval: "1h", BaselineWeeks: 2, Source: "raw",
		Filters: map[string][]string{"gateway": {"gw-1"}}, Causes: []string{"timeout"}, Outcomes: []string{"failed"}, Currency: "CNY",
		AdhocFilters: []plugin.AdhocFilter{{Key: "region", Operator: "=", Value: "r"}}, Status: "unsettled", TxnID: "T", TraceID: "x",
		OpenOnly: true, IncidentDimension: "gateway", IncidentValue: "gw-1", KPIs: []string{"failure_rate"}, Limit: 3,
	}}
	raw, _ := json.Marshal(q)
	var got map[string]any
	_ = json.Unmarshal(raw, &got)
	pq, _ := json.Marshal(q.Query)
	var want map[string]any
	_ = json.Unmarshal(pq, &want)
	want["refId"], want["datasource"], want["hide"] = "A", map[string]any{"type": plugin.PluginID, "uid": DatasourceUID}, true
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Query JSON\n%s\nwant the plugin's keys plus refId, datasource, hide", raw)
	}
	var back Query
	if err := json.Unmarshal(raw, &back); err != nil || !back.Equals(q) {
		t.Errorf("round trip: %v %+v", err, back)
	}
	if _, err := (Query{RefID: "A", Query: plugin.Query{QueryType: "sql"}}).Build(); err == nil {
		t.Error("a query type the plugin does not know builds")
	}
	if _, err := (Query{Query: plugin.Query{QueryType: plugin.TypeKPIs}}).Build(); err == nil {
		t.Error("a query without refId builds")
	}
}

// The variable query model is the frontend's VariableQuery (types.ts).
func TestVariableQueryMatchesTheFrontend(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "grafana-plugin", "src", "types.ts"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)export interface VariableQuery extends DataQuery \{(.*?)\n\}`).FindSubmatch(src)
	if m == nil {
		t.Fatal("types.ts has no VariableQuery interface")
	}
	var ts []string
	for _, f := range regexp.MustCompile(`(?m)^\s*(\w+)\??:`).FindAllSubmatch(m[1], -1) {
		ts = append(ts, string(f[1]))
	}
	var goKeys []string
	rt := reflect.TypeOf(VariableQuery{})
	for i := range rt.NumField() {
		k, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if k != "refId" { // from DataQuery
			goKeys = append(goKeys, k)
		}
	}
	sort.Strings(ts)
	sort.Strings(goKeys)
	if !slices.Equal(ts, goKeys) {
		t.Errorf("VariableQuery keys %v, types.ts has %v", goKeys, ts)
	}
}

// The data source uid is the one every provisioning file gives it.
func TestDatasourceUIDIsProvisioned(t *testing.T) {
	for _, f := range []string{
		"../deploy/compose/grafana/provisioning/datasources/settlewatch.yaml",
		"../deploy/kubernetes/grafana/datasource.yaml",
		"../grafana-plugin/provisioning/datasources/settlewatch.yaml",
	} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Datasources []struct{ Type, UID string }
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		found := false
		for _, d := range doc.Datasources {
			if d.Type == plugin.PluginID {
				found = true
				if d.UID != DatasourceUID {
					t.Errorf("%s: uid %q, the dashboards use %q", f, d.UID, DatasourceUID)
				}
			}
		}
		if !found {
			t.Errorf("%s provisions no %s", f, plugin.PluginID)
		}
	}
}

// The frame fields the panels name (transformations, overrides, stat
// fields) exist in the plugin's golden frames, with those display names.
func TestFieldNamesExistInThePluginFrames(t *testing.T) {
	files, _ := filepath.Glob("../grafana-plugin/pkg/plugin/testdata/golden/*.jsonc")
	if len(files) == 0 {
		t.Fatal("no golden frames")
	}
	type seen struct{ display map[string]bool }
	fields := map[string]*seen{}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var lines []string
		for _, l := range strings.Split(string(raw), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "//") {
				lines = append(lines, l)
			}
		}
		var doc struct {
			Frames []struct {
				Schema struct {
					Fields []struct {
						Name   string
						Config struct {
							DisplayNameFromDS string `json:"displayNameFromDS"`
						}
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(strings.Join(lines, "\n")), &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, fr := range doc.Frames {
			for _, fl := range fr.Schema.Fields {
				s := fields[fl.Name]
				if s == nil {
					s = &seen{map[string]bool{}}
					fields[fl.Name] = s
				}
				s.display[fl.Config.DisplayNameFromDS] = true
			}
		}
	}
	check := func(f field, prefix bool) {
		for name, s := range fields {
			if name == f.name || prefix && strings.HasPrefix(name, f.name) {
				for d := range s.display {
					if d == f.display || prefix && strings.HasPrefix(d, f.display) {
						return
					}
				}
			}
		}
		t.Errorf("no frame has a field %s displayed as %q", f.name, f.display)
	}
	for _, f := range []field{fTxnID, fTransactions, fCause, fClass, fOutcome, fShareFailures, fFailureRate, fFailures,
		fUnsettledTxns, fOpenIncidents, fAgeBucket, fAgingTxns, fIncidentID,
		dimField("gateway"), dimField("merchant"), dimField("terminal")} {
		check(f, false)
	}
	check(fUnsettledAmt, true)
}

// Every dashboard folder file is a dashboard Grafana can provision: a uid,
// a title, the settlewatch tag, and no id (Grafana assigns ids).
func TestProvisionable(t *testing.T) {
	for _, d := range committed(t) {
		if _, ok := d.m["id"]; ok {
			t.Errorf("%s has an id", d.file)
		}
		if d.m["title"] == "" || d.uid() == "" || len(d.uid()) > 40 {
			t.Errorf("%s: title %v uid %v", d.file, d.m["title"], d.m["uid"])
		}
		if !hasTags(d, []any{Tag}) {
			t.Errorf("%s: no %s tag", d.file, Tag)
		}
		ids := map[float64]bool{}
		for _, p := range d.panels() {
			id, _ := p["id"].(float64)
			if id == 0 || ids[id] {
				t.Errorf("%s: panel %q id %v", d.file, p["title"], p["id"])
			}
			ids[id] = true
			g := p["gridPos"].(map[string]any)
			if g["x"].(float64)+g["w"].(float64) > 24 {
				t.Errorf("%s: panel %q is wider than the grid: %v", d.file, p["title"], g)
			}
		}
	}
}

func TestUnescapeHTML(t *testing.T) {
	in := []byte(`{"a\u0026b":"x\u003cy\u003ez \\u0026 \"\u0026\""}`)
	want := `{"a&b":"x<y>z \\u0026 \"&\""}`
	if got := string(unescapeHTML(in)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Write leaves exactly the generated files in the folder.
func TestWriteRemovesStaleJSON(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "old-dashboard.json")
	other := filepath.Join(dir, "notes.txt")
	for _, f := range []string{stale, other} {
		if err := os.WriteFile(f, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("a stale dashboard survived")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("a file that is not JSON was removed")
	}
	if len(files) != 4 {
		t.Errorf("wrote %v", files)
	}
}
