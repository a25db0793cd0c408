package clickhouseexporter

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/domain"
)

// Config is the settlewatch_clickhouse exporter's configuration.
type Config struct {
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	BackOffConfig                configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
	QueueConfig                  configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`

	// Endpoint is one or more native-protocol host:port, comma separated.
	Endpoint           string              `mapstructure:"endpoint"`
	Database           string              `mapstructure:"database"`
	Username           string              `mapstructure:"username"`
	Password           configopaque.String `mapstructure:"password"`
	Secure             bool                `mapstructure:"secure"`
	InsecureSkipVerify bool                `mapstructure:"insecure_skip_verify"`
	DialTimeout        time.Duration       `mapstructure:"dial_timeout"`
	Compression        string              `mapstructure:"compression"`

	// CreateSchema applies the migrations at start-up (and on reconnect).
	CreateSchema bool `mapstructure:"create_schema"`
	// Cluster, when set, makes the schema Replicated + Distributed ON CLUSTER.
	Cluster string `mapstructure:"cluster"`
	// RetentionDays adds a TTL on servers that support it (0: keep forever).
	RetentionDays int `mapstructure:"retention_days"`
	// CompactClosedDays has the migrating exporter (create_schema) merge each
	// closed day of payment_facts_by_arrival and spans into one part, a few
	// days an hour: a lookup by transaction id reads a granule per day and
	// part of each.
	CompactClosedDays bool `mapstructure:"compact_closed_days"`
	// MaxValueBytes truncates longer attribute values (counted as value_truncated).
	MaxValueBytes int `mapstructure:"max_value_bytes"`

	Assembly AssemblyConfig `mapstructure:"assembly"`
}

// AssemblyConfig controls classification of transactions at ingest.
type AssemblyConfig struct {
	// Enabled rebuilds the touched transactions after every stored batch.
	Enabled bool `mapstructure:"enabled"`
	// SettlementWindow is how long an approved sale may wait for settlement.
	SettlementWindow time.Duration `mapstructure:"settlement_window"`
	// RulesFile extends the contract's cause table (empty: the shipped table).
	RulesFile string `mapstructure:"rules_file"`
}

// Validate checks the configuration and says what to fix.
func (c *Config) Validate() error {
	var errs []error
	if _, err := c.settings(); err != nil {
		errs = append(errs, err)
	}
	if c.MaxValueBytes < 256 {
		errs = append(errs, fmt.Errorf("max_value_bytes must be at least 256, got %d", c.MaxValueBytes))
	}
	if c.RetentionDays < 0 {
		errs = append(errs, fmt.Errorf("retention_days must be 0 (keep) or positive, got %d", c.RetentionDays))
	}
	if c.Cluster != "" && !chconn.ValidIdent(c.Cluster) {
		errs = append(errs, fmt.Errorf("cluster %q must be a plain identifier", c.Cluster))
	}
	if c.Assembly.SettlementWindow <= 0 {
		errs = append(errs, fmt.Errorf("assembly.settlement_window must be positive, got %s", c.Assembly.SettlementWindow))
	}
	if _, err := domain.LoadRules(c.Assembly.RulesFile); err != nil {
		errs = append(errs, fmt.Errorf("assembly.rules_file: %w", err))
	}
	if err := c.validateBatch(); err != nil {
		errs = append(errs, err)
	}
	if c.TimeoutConfig.Timeout <= 0 {
		errs = append(errs, errors.New("timeout must be positive: it bounds every insert and paired max_execution_time"))
	}
	return errors.Join(errs...)
}

// validateBatch checks what batching OTLP requests supports (request.go):
// batches sized in spans.
func (c *Config) validateBatch() error {
	if !c.QueueConfig.HasValue() || !c.QueueConfig.Get().Batch.HasValue() {
		return nil
	}
	q := c.QueueConfig.Get()
	sizer := q.Batch.Get().Sizer
	if sizer == (exporterhelper.RequestSizerType{}) {
		sizer = q.Sizer // unset: the queue's
	}
	if sizer != exporterhelper.RequestSizerTypeItems {
		return fmt.Errorf("sending_queue.batch.sizer must be items (spans), got %s", sizer.String())
	}
	return nil
}

// settings turns the configuration into connection settings.
func (c *Config) settings() (chconn.Settings, error) {
	s := chconn.DefaultSettings()
	s.Addr = chconn.SplitAddrs(c.Endpoint)
	s.Database = c.Database
	s.Username = c.Username
	s.Password = string(c.Password)
	s.Secure = c.Secure
	s.InsecureSkipVerify = c.InsecureSkipVerify
	if c.DialTimeout > 0 {
		s.DialTimeout = c.DialTimeout
	}
	if c.Compression != "" {
		s.Compression = c.Compression
	}
	if c.TimeoutConfig.Timeout > 0 {
		s.QueryTimeout = c.TimeoutConfig.Timeout
	}
	if c.QueueConfig.HasValue() {
		// Each consumer holds an INSERT per table at once (store), then one
		// connection for assembly's queries.
		s.MaxOpenConns = max(s.MaxOpenConns, (insertTables+1)*c.QueueConfig.Get().NumConsumers)
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("clickhouse connection: %w", err)
	}
	return s, nil
}
