package paymentprocessor

import (
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	want := Config{MaskPANs: true, KeepFirst: 6, KeepLast: 4, Normalize: true}
	if *cfg != want {
		t.Fatalf("default config = %+v, want %+v", *cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if err := componenttest.CheckConfigStruct(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		want       *Config
		unmarshal  string   // expected unmarshal error text
		validation []string // expected validation error texts
	}{
		{name: "", want: &Config{MaskPANs: true, KeepFirst: 6, KeepLast: 4, Normalize: true}},
		{name: "custom", want: &Config{MaskPANs: true, KeepFirst: 4, KeepLast: 2, Normalize: false}},
		{name: "explicit_defaults", want: &Config{MaskPANs: true, KeepFirst: 6, KeepLast: 4, Normalize: true}},
		{name: "unmasked", want: &Config{MaskPANs: false, AllowUnmaskedPANs: true, KeepFirst: 6, KeepLast: 4, Normalize: true}},
		{name: "unmasked_without_ack", validation: []string{"mask_pans: false", "allow_unmasked_pans_i_understand_the_risk: true"}},
		{name: "keep_first_too_big", validation: []string{"keep_first must be between 0 and 6", "got 8"}},
		{name: "keep_last_too_big", validation: []string{"keep_last must be between 0 and 4", "got 5"}},
		{name: "negative", validation: []string{"keep_first must be between 0 and 6", "got -1", "keep_last must be between 0 and 4"}},
		{name: "everything_wrong", validation: []string{"keep_first", "got 7", "keep_last", "got 6", "mask_pans: false"}},
		{name: "typo", unmarshal: "mask_pan"},
		{name: "wrong_type", unmarshal: "keep_first"},
	}
	for _, tc := range tests {
		id := component.NewID(componentType)
		if tc.name != "" {
			id = component.NewIDWithName(componentType, tc.name)
		}
		t.Run(id.String(), func(t *testing.T) {
			sub, err := cm.Sub(id.String())
			if err != nil {
				t.Fatal(err)
			}
			cfg := NewFactory().CreateDefaultConfig()
			err = sub.Unmarshal(cfg)
			if tc.unmarshal != "" {
				if err == nil || !strings.Contains(err.Error(), tc.unmarshal) {
					t.Fatalf("unmarshal error = %v, want one mentioning %q", err, tc.unmarshal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = confmap.Validate(cfg)
			if len(tc.validation) > 0 {
				if err == nil {
					t.Fatalf("config %+v validated, want an error", cfg)
				}
				for _, w := range tc.validation {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("validation error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected validation error: %v", err)
			}
			if got := cfg.(*Config); *got != *tc.want {
				t.Fatalf("config = %+v, want %+v", *got, *tc.want)
			}
		})
	}
}
