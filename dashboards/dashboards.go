// Package dashboards defines settlewatch's Grafana dashboards as code, with
// the Grafana foundation SDK and the plugin's own query model (Query embeds
// plugin.Query), and renders them to the JSON files under json/ that
// Grafana provisions (deploy/compose and deploy/kubernetes mount this
// folder). cmd/gen writes the files; the tests regenerate them and compare,
// validate every query with the plugin's own validation, and resolve every
// link and variable.
package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Dashboard uids: stable, so links and bookmarks keep working.
const (
	UIDOps      = "settlewatch-ops"
	UIDTrends   = "settlewatch-trends"
	UIDTrace    = "settlewatch-trace"
	UIDGateways = "settlewatch-gateways"
)

// Tag is on every settlewatch dashboard (the dashboards link lists them).
const Tag = "settlewatch"

// Dashboard is one generated dashboard: the file it is written to (under
// json/) and its model.
type Dashboard struct {
	File  string
	Model dashboard.Dashboard
}

// All builds every dashboard, in file order.
func All() ([]Dashboard, error) {
	defs := []struct {
		file  string
		build func() (dashboard.Dashboard, error)
	}{
		{"settlement-operations.json", Ops},
		{"failure-cause-trends.json", Trends},
		{"transaction-trace.json", Trace},
		{"gateway-health.json", Gateways},
	}
	out := make([]Dashboard, 0, len(defs))
	for _, d := range defs {
		m, err := d.build()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.file, err)
		}
		finish(&m)
		out = append(out, Dashboard{File: d.file, Model: m})
	}
	return out, nil
}

// finish lays the panels out, numbers them in order (stable ids for links
// and repeats), keeps links and annotation toggles in the dashboard's
// header (the SDK's default placement puts them in the controls menu) and
// drops settings that only interval variables have.
func finish(m *dashboard.Dashboard) {
	layout(m.Panels)
	id := uint32(0)
	for i := range m.Panels {
		id++
		switch p := m.Panels[i]; {
		case p.Panel != nil:
			p.Panel.Id = ptr(id)
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	for i := range m.Links {
		m.Links[i].Placement = nil
	}
	for i := range m.Annotations.List {
		m.Annotations.List[i].Placement = nil
	}
	// The SDK gives every variable the interval variable's auto settings.
	for i := range m.Templating.List {
		if v := &m.Templating.List[i]; v.Type != dashboard.VariableTypeInterval {
			v.Auto, v.AutoMin, v.AutoCount = nil, nil, nil
		}
	}
}

// layout places the panels left to right in their order on Grafana's
// 24-column grid, starting a new line when a panel does not fit, at every
// row header, and after a repeated panel (its copies fill the line).
func layout(panels []dashboard.PanelOrRowPanel) {
	const width = 24
	var x, y, lineH uint32
	newline := func() {
		if x > 0 {
			x, y, lineH = 0, y+lineH, 0
		}
	}
	for _, p := range panels {
		if p.RowPanel != nil {
			newline()
			p.RowPanel.GridPos = &dashboard.GridPos{X: 0, Y: y, W: width, H: 1}
			y++
			continue
		}
		g := p.Panel.GridPos
		if g == nil {
			g = dashboard.NewGridPos()
			p.Panel.GridPos = g
		}
		repeated := p.Panel.Repeat != nil && *p.Panel.Repeat != ""
		if x+g.W > width || repeated {
			newline()
		}
		g.X, g.Y = x, y
		x, lineH = x+g.W, max(lineH, g.H)
		if repeated {
			x = width
		}
		if x >= width {
			newline()
		}
	}
}

// Render is a dashboard's file content: indented JSON with a final newline,
// '&', '<' and '>' written as themselves (data link URLs stay readable).
func Render(m dashboard.Dashboard) ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, unescapeHTML(raw), "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// unescapeHTML undoes encoding/json's \u0026, \u003c and \u003e inside
// strings (the SDK's own marshallers escape them), nothing else.
func unescapeHTML(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(b):
			if b[i+1] == 'u' && i+5 < len(b) {
				switch string(b[i+2 : i+6]) {
				case "0026":
					out, i = append(out, '&'), i+5
					continue
				case "003c":
					out, i = append(out, '<'), i+5
					continue
				case "003e":
					out, i = append(out, '>'), i+5
					continue
				}
			}
			out = append(out, c, b[i+1])
			i++
			continue
		}
		out = append(out, c)
	}
	return out
}

// Write renders every dashboard into dir and removes any other *.json
// there, so that the folder holds exactly the generated dashboards. It
// returns the files written.
func Write(dir string) ([]string, error) {
	ds, err := All()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, d := range ds {
		b, err := Render(d.Model)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.File, err)
		}
		if err := os.WriteFile(filepath.Join(dir, d.File), b, 0o644); err != nil {
			return nil, err
		}
		files = append(files, d.File)
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range old {
		if !slices.Contains(files, filepath.Base(f)) {
			if err := os.Remove(f); err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

// Files lists the generated file names.
func Files() ([]string, error) {
	ds, err := All()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.File)
	}
	return out, nil
}

// base is what every settlewatch dashboard shares.
func base(uid, titleText, description string, tags ...string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(titleText).
		Uid(uid).
		Description(description).
		Tags(append([]string{Tag}, tags...)).
		Timezone("browser").
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair)
}
