package plugin

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"gopkg.in/yaml.v3"
)

// The provisioning examples must stay usable: the data source's jsonData
// validates (with its environment filled in), and every alert rule query on
// this data source is a query the backend accepts.
func TestProvisioningExamples(t *testing.T) {
	raw, err := os.ReadFile("../../provisioning/datasources/settlewatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	raw = []byte(os.Expand(string(raw), func(k string) string {
		return map[string]string{"SETTLEWATCH_GRAFANA_CH_HOST": "ch.internal", "SETTLEWATCH_GRAFANA_CH_PASSWORD": "pw"}[k]
	}))
	var ds struct {
		Datasources []struct {
			UID            string            `yaml:"uid"`
			Type           string            `yaml:"type"`
			JSONData       map[string]any    `yaml:"jsonData"`
			SecureJSONData map[string]string `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &ds); err != nil || len(ds.Datasources) != 1 {
		t.Fatalf("datasources: %v", err)
	}
	d := ds.Datasources[0]
	j, _ := json.Marshal(d.JSONData)
	s, err := ParseSettings(backend.DataSourceInstanceSettings{JSONData: j, DecryptedSecureJSONData: d.SecureJSONData})
	if err == nil {
		err = s.Validate()
	}
	if err != nil || d.Type != PluginID || s.Password != "pw" {
		t.Errorf("provisioned data source: %v (type %s)", err, d.Type)
	}

	raw, err = os.ReadFile("../../provisioning/alerting/settlewatch-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				UID  string `yaml:"uid"`
				Data []struct {
					RefID         string         `yaml:"refId"`
					DatasourceUID string         `yaml:"datasourceUid"`
					Model         map[string]any `yaml:"model"`
				} `yaml:"data"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, q := range r.Data {
				if q.DatasourceUID != d.UID {
					continue
				}
				n++
				m, _ := json.Marshal(q.Model)
				typ, _ := q.Model["queryType"].(string)
				dq := backend.DataQuery{RefID: q.RefID, QueryType: typ, JSON: m, TimeRange: backend.TimeRange{From: now.Add(-time.Hour), To: now}, Interval: time.Minute}
				req, err := parseQuery(dq)
				if err != nil {
					t.Errorf("rule %s query %s: %v", r.UID, q.RefID, err)
					continue
				}
				if _, err := newTestDS(&fakeStore{}).answer(t.Context(), req, &fakeStore{}); err != nil && !strings.Contains(err.Error(), "query layer") {
					t.Errorf("rule %s query %s: %v", r.UID, q.RefID, err)
				}
			}
		}
	}
	if n < 3 {
		t.Errorf("%d settlewatch queries in the alert rules", n)
	}
}
