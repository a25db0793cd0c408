package scheduler

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/settlewatch/settlewatch/analytics/advice"
	"github.com/settlewatch/settlewatch/analytics/anomaly"
	"github.com/settlewatch/settlewatch/analytics/incidents"
	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/sweep"
	"github.com/settlewatch/settlewatch/analytics/timeouts"
	"github.com/settlewatch/settlewatch/domain"
)

// Duration is a time.Duration written as "10m", "36h" in the config file.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as 10m or 36h", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: %v", n.Line, s, err)
	}
	*d = Duration(v)
	return nil
}

// D is the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// JobConfig is what every job has.
type JobConfig struct {
	// Schedule is a 5-field cron spec (UTC) or a descriptor (@every 5m, @hourly).
	Schedule string `yaml:"schedule"`
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
}

// On reports whether the job is enabled.
func (j JobConfig) On() bool { return j.Enabled == nil || *j.Enabled }

// RollupConfig configures the rollup job.
type RollupConfig struct {
	JobConfig         `yaml:",inline"`
	Lag               Duration `yaml:"lag"`
	InitialLookback   Duration `yaml:"initial_lookback"`
	MaxLateness       Duration `yaml:"max_lateness"`
	MaxHoursPerWindow int      `yaml:"max_hours_per_window"`
	BackfillWindow    Duration `yaml:"backfill_window"`
	DayRefresh        Duration `yaml:"day_refresh"`
	StageRows         int      `yaml:"stage_rows"`
}

// SweepConfig configures the settlement sweep.
type SweepConfig struct {
	JobConfig `yaml:",inline"`
	Lookback  Duration `yaml:"lookback"`
	// RulesFile extends the contract's cause table (as the collector's).
	RulesFile string `yaml:"rules_file"`
}

// IncidentsConfig configures incident detection.
type IncidentsConfig struct {
	JobConfig     `yaml:",inline"`
	Dimensions    []string       `yaml:"dimensions"`
	BaselineWeeks int            `yaml:"baseline_weeks"`
	Replay        Duration       `yaml:"replay"`
	Settle        Duration       `yaml:"settle"`
	MinShare      float64        `yaml:"min_share"`
	Detector      anomaly.Config `yaml:"detector"`
}

// TimeoutsConfig configures the timeout advice.
type TimeoutsConfig struct {
	JobConfig    `yaml:",inline"`
	Lookback     Duration `yaml:"lookback"`
	AdviceDays   int      `yaml:"advice_days"`
	CandidatesMs []uint64 `yaml:"candidates_ms"`
	TargetRate   float64  `yaml:"target_rate"`
}

// Config is the daemon's configuration file.
type Config struct {
	// SettlementWindow after which an approved sale without settlement is
	// unsettled (default 36h, the contract's).
	SettlementWindow Duration `yaml:"settlement_window"`
	// ShutdownGrace is how long a stop waits for running jobs (default 2m).
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	Jobs          struct {
		Rollup    RollupConfig    `yaml:"rollup"`
		Sweep     SweepConfig     `yaml:"sweep"`
		Incidents IncidentsConfig `yaml:"incidents"`
		Timeouts  TimeoutsConfig  `yaml:"timeouts"`
	} `yaml:"jobs"`
}

// Default schedules.
const (
	DefaultRollupSchedule    = "*/5 * * * *"
	DefaultSweepSchedule     = "*/15 * * * *"
	DefaultIncidentsSchedule = "2-59/5 * * * *"
	DefaultTimeoutsSchedule  = "7 * * * *"
)

// DefaultConfig is the configuration with every default filled in.
func DefaultConfig() Config {
	var c Config
	c.fill()
	return c
}

func (c *Config) fill() {
	if c.SettlementWindow == 0 {
		c.SettlementWindow = Duration(domain.DefaultSettlementWindow)
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = Duration(2 * time.Minute)
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Jobs.Rollup.Schedule, DefaultRollupSchedule)
	def(&c.Jobs.Sweep.Schedule, DefaultSweepSchedule)
	def(&c.Jobs.Incidents.Schedule, DefaultIncidentsSchedule)
	def(&c.Jobs.Timeouts.Schedule, DefaultTimeoutsSchedule)
	for _, e := range []*JobConfig{&c.Jobs.Rollup.JobConfig, &c.Jobs.Sweep.JobConfig, &c.Jobs.Incidents.JobConfig, &c.Jobs.Timeouts.JobConfig} {
		if e.Enabled == nil {
			on := true
			e.Enabled = &on
		}
	}
	dur := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	num := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	r := &c.Jobs.Rollup
	dur(&r.Lag, 10*time.Minute)
	dur(&r.InitialLookback, 48*time.Hour)
	dur(&r.MaxLateness, 40*24*time.Hour)
	num(&r.MaxHoursPerWindow, 24)
	num(&r.StageRows, 5_000_000)
	dur(&r.BackfillWindow, 24*time.Hour)
	dur(&c.Jobs.Sweep.Lookback, 90*24*time.Hour)
	i := &c.Jobs.Incidents
	num(&i.BaselineWeeks, 4)
	dur(&i.Replay, 6*time.Hour)
	dur(&i.Settle, 10*time.Minute)
	if i.MinShare == 0 {
		i.MinShare = 0.5
	}
	dur(&c.Jobs.Timeouts.Lookback, 3*time.Hour)
	num(&c.Jobs.Timeouts.AdviceDays, 7)
	c.Jobs.Incidents.Detector = c.Jobs.Incidents.Detector.WithDefaults()
	if c.Jobs.Incidents.Dimensions == nil {
		c.Jobs.Incidents.Dimensions = slices.Clone(incidents.DefaultDimensions)
	}
	if c.Jobs.Timeouts.CandidatesMs == nil {
		c.Jobs.Timeouts.CandidatesMs = slices.Clone(advice.DefaultCandidatesMs)
	}
	if c.Jobs.Timeouts.TargetRate == 0 {
		c.Jobs.Timeouts.TargetRate = advice.DefaultTargetRate
	}
}

// LoadConfig reads a config file ("" gives the defaults). Unknown keys are
// errors, so a typo cannot silently fall back to a default.
func LoadConfig(path string) (Config, error) {
	if path == "" {
		return DefaultConfig(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(b, path)
}

// ParseConfig parses a config file's content.
func ParseConfig(b []byte, source string) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("config %s: %w", source, err)
	}
	c.fill()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", source, err)
	}
	return c, nil
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	for name, s := range map[string]string{"rollup": c.Jobs.Rollup.Schedule, "sweep": c.Jobs.Sweep.Schedule,
		"incidents": c.Jobs.Incidents.Schedule, "timeouts": c.Jobs.Timeouts.Schedule} {
		if _, err := parser.Parse(s); err != nil {
			errs = append(errs, fmt.Errorf("jobs.%s.schedule %q: %v", name, s, err))
		}
	}
	if c.SettlementWindow.D() <= 0 {
		errs = append(errs, errors.New("settlement_window must be positive"))
	}
	if err := (&incidents.Job{Dimensions: c.Jobs.Incidents.Dimensions}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("jobs.incidents.dimensions: %w", err))
	}
	if n := c.Jobs.Rollup.StageRows; n < 10000 || n > 1_000_000_000 {
		errs = append(errs, fmt.Errorf("jobs.rollup.stage_rows %d: want 10000 to 1000000000 (default 5000000)", n))
	}
	if w := c.Jobs.Incidents.BaselineWeeks; w < 0 || w > 12 {
		errs = append(errs, fmt.Errorf("jobs.incidents.baseline_weeks %d: want 1 to 12", w))
	}
	if err := advice.ValidateCandidates(c.Jobs.Timeouts.CandidatesMs); err != nil {
		errs = append(errs, fmt.Errorf("jobs.timeouts.candidates_ms: %w", err))
	}
	if r := c.Jobs.Timeouts.TargetRate; r <= 0 || r >= 1 {
		errs = append(errs, fmt.Errorf("jobs.timeouts.target_rate %v: want a fraction between 0 and 1", r))
	}
	for name, d := range map[string]Duration{"rollup.lag": c.Jobs.Rollup.Lag, "rollup.initial_lookback": c.Jobs.Rollup.InitialLookback,
		"rollup.max_lateness": c.Jobs.Rollup.MaxLateness, "rollup.backfill_window": c.Jobs.Rollup.BackfillWindow, "rollup.day_refresh": c.Jobs.Rollup.DayRefresh,
		"sweep.lookback": c.Jobs.Sweep.Lookback, "incidents.replay": c.Jobs.Incidents.Replay, "incidents.settle": c.Jobs.Incidents.Settle,
		"timeouts.lookback": c.Jobs.Timeouts.Lookback} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("jobs.%s must not be negative", name))
		}
	}
	return errors.Join(errs...)
}

// Entry is one job with its schedule.
type Entry struct {
	Job      jobs.Job
	Schedule string
	Enabled  bool
}

// Build makes the jobs of the config, in a fixed order.
func (c Config) Build() ([]Entry, error) {
	rules := domain.DefaultRules()
	if c.Jobs.Sweep.RulesFile != "" {
		var err error
		if rules, err = domain.LoadRules(c.Jobs.Sweep.RulesFile); err != nil {
			return nil, fmt.Errorf("jobs.sweep.rules_file: %w", err)
		}
	}
	r, s, i, t := c.Jobs.Rollup, c.Jobs.Sweep, c.Jobs.Incidents, c.Jobs.Timeouts
	return []Entry{
		{Job: &rollup.Job{Lag: r.Lag.D(), InitialLookback: r.InitialLookback.D(), MaxLateness: r.MaxLateness.D(),
			MaxHoursPerWindow: r.MaxHoursPerWindow, BackfillWindow: r.BackfillWindow.D(), DayRefresh: r.DayRefresh.D(), StageRows: r.StageRows}, Schedule: r.Schedule, Enabled: r.On()},
		{Job: &sweep.Job{Rules: rules, Window: c.SettlementWindow.D(), Lookback: s.Lookback.D()}, Schedule: s.Schedule, Enabled: s.On()},
		{Job: &incidents.Job{Detector: i.Detector, Dimensions: i.Dimensions, BaselineWeeks: i.BaselineWeeks, Replay: i.Replay.D(),
			Settle: i.Settle.D(), MinShare: i.MinShare}, Schedule: i.Schedule, Enabled: i.On()},
		{Job: &timeouts.Job{Lookback: t.Lookback.D(), AdviceDays: t.AdviceDays, CandidatesMs: t.CandidatesMs, TargetRate: t.TargetRate},
			Schedule: t.Schedule, Enabled: t.On()},
	}, nil
}
