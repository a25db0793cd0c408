package spoolstorage

import (
	"os"
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
	if cfg.Directory != filepath.Join(os.TempDir(), "settlewatch", "queue") || cfg.CreateDirectory || cfg.FSync {
		t.Errorf("default config = %+v", *cfg)
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
	for _, tc := range []struct {
		name      string
		want      *Config
		unmarshal string // expected unmarshal error text
		invalid   string // expected validation error text
	}{
		{name: "custom", want: &Config{Directory: "/var/lib/settlewatch/queue", CreateDirectory: true, FSync: true}},
		{name: "relative", invalid: `directory "queue" must be an absolute path`},
		{name: "empty", invalid: "directory must be set"},
		{name: "missing", invalid: `directory "/nonexistent/settlewatch/queue" does not exist (set create_directory: true to create it)`},
		{name: "typo", unmarshal: "directroy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(componentType, tc.name).String())
			if err != nil {
				t.Fatal(err)
			}
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			err = sub.Unmarshal(cfg, confmap.WithIgnoreUnused())
			if tc.unmarshal != "" {
				if err == nil {
					err = sub.Unmarshal(cfg)
				}
				if err == nil || !strings.Contains(err.Error(), tc.unmarshal) {
					t.Fatalf("unmarshal error %v, want one naming %q", err, tc.unmarshal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if tc.invalid != "" {
				if err == nil || !strings.Contains(err.Error(), tc.invalid) {
					t.Fatalf("validation error %v, want %q", err, tc.invalid)
				}
				return
			}
			if err != nil || *cfg != *tc.want {
				t.Fatalf("config %+v (%v), want %+v", *cfg, err, *tc.want)
			}
		})
	}
}

func TestValidateDirectoryIsAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := (&Config{Directory: f}).Validate()
	if err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("validation error %v", err)
	}
	if err := (&Config{Directory: filepath.Dir(f)}).Validate(); err != nil {
		t.Fatalf("an existing directory: %v", err)
	}
}
