package simulator

import "testing"

// FuzzParseConfig feeds arbitrary YAML to the scenario-file parser: it must
// return a config or an error, never panic or hang.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		"seed: 1\nfleet: {merchants: 5}\n",
		"scenarios:\n  - {type: gateway_outage, gateway: gw-1, start: \"+1h\", duration: 30m}\n",
		"scenarios:\n  - {type: network_degradation, region: wuhan, start: \"+1d2h\", duration: 2h, rates: {timeout: 1.5}}\n",
		"fleet: {merchants: -1, terminals_per_merchant: 1e9}\n",
		"baseline: [1, 2]\n", "{{{", "seed: !!binary AAAA\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, "fuzz.yaml")
		if err == nil && cfg == nil {
			t.Fatal("no config and no error")
		}
	})
}
