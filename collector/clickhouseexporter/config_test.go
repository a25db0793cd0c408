package clickhouseexporter

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/settlewatch/settlewatch/chconn"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := cm.Sub(component.MustNewIDWithName(Type.String(), name).String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := createDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := loadConfig(t, "")
	if err := confmap.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != "127.0.0.1:9000" || cfg.Database != "settlewatch" || !cfg.Assembly.Enabled || cfg.Assembly.SettlementWindow != 36*time.Hour {
		t.Errorf("defaults: %+v", cfg)
	}
	q := cfg.QueueConfig.Get()
	if q == nil || q.Batch.Get() == nil || q.Batch.Get().MinSize != 40_000 || q.NumConsumers != 1 {
		t.Errorf("queue batching defaults missing: %+v", q)
	}
	if q != nil && !q.BlockOnOverflow {
		t.Error("a full queue refuses requests by default; it should hold them until there is room")
	}
	s, err := cfg.settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxOpenConns != chconn.DefaultSettings().MaxOpenConns {
		t.Errorf("one consumer: %d connections, want the default %d", s.MaxOpenConns, chconn.DefaultSettings().MaxOpenConns)
	}
}

func TestCustomConfig(t *testing.T) {
	cfg := loadConfig(t, "custom")
	if err := confmap.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	s, err := cfg.settings()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Addr) != 2 || s.Database != "payments" || s.Password != "s3cret" || s.QueryTimeout != 10*time.Second {
		t.Errorf("settings %+v", s)
	}
	// Four consumers, each with an INSERT per table open at once and a
	// connection for assembly: the pool must not make one wait for another.
	if want := 4 * (insertTables + 1); s.MaxOpenConns != want {
		t.Errorf("%d connections for 4 consumers, want %d", s.MaxOpenConns, want)
	}
	if cfg.Assembly.Enabled || cfg.Assembly.SettlementWindow != 48*time.Hour || cfg.Cluster != "pos" || cfg.RetentionDays != 400 || cfg.CompactClosedDays {
		t.Errorf("config %+v", cfg)
	}
}

func TestInvalidConfigsSayWhatToFix(t *testing.T) {
	for name, want := range map[string]string{
		"bad_db":        "database",
		"bad_window":    "settlement_window",
		"tiny_values":   "max_value_bytes",
		"missing_rules": "rules_file",
		"bytes_batches": "sending_queue.batch.sizer",
	} {
		err := confmap.Validate(loadConfig(t, name))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, want)
		}
	}
}
