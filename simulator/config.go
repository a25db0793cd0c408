package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is a scenario file: the seed, the fleet, baseline overrides and the
// scenarios. Load one with LoadConfig or ParseConfig; DefaultConfig gives the
// values a missing key takes.
type Config struct {
	Seed      uint64           `yaml:"seed"`
	Fleet     FleetConfig      `yaml:"fleet"`
	Baseline  BaselineConfig   `yaml:"baseline"`
	Scenarios []ScenarioConfig `yaml:"scenarios"`

	source string         // file name for messages
	lines  map[string]int // YAML path ("scenarios[1].rates.code_91") -> line
}

// FleetConfig sizes the simulated payment estate.
type FleetConfig struct {
	Merchants            int      `yaml:"merchants"`
	TerminalsPerMerchant int      `yaml:"terminals_per_merchant"`
	Regions              []string `yaml:"regions"`
	Gateways             int      `yaml:"gateways"`
	Acquirers            int      `yaml:"acquirers"`
	Issuers              int      `yaml:"issuers"`
	D0Share              float64  `yaml:"d0_share"` // share of merchants settled the same day (D0) instead of T+1
	Timezone             string   `yaml:"timezone"` // IANA zone of the merchants' wall clock
}

// BaselineConfig is normal, incident-free card-present traffic. The README
// states where each default comes from.
type BaselineConfig struct {
	TxnsPerTerminalPerDay   float64    `yaml:"txns_per_terminal_per_day"`
	TxnTypes                TxnTypeMix `yaml:"txn_types"`
	Declines                DeclineMix `yaml:"declines"`
	Failures                FailureMix `yaml:"failures"`
	LatencyP50              Duration   `yaml:"latency_p50"`      // terminal-side authorization latency, median
	LatencyP95              Duration   `yaml:"latency_p95"`      // and 95th percentile (lognormal)
	TerminalTimeout         Duration   `yaml:"terminal_timeout"` // the terminal gives up and reverses
	IssuerTimeout           Duration   `yaml:"issuer_timeout"`   // the gateway gives up on the issuer
	BatchClose              string     `yaml:"batch_close"`      // local "HH:MM" of the nightly batch close
	BatchCloseJitter        Duration   `yaml:"batch_close_jitter"`
	BatchFailureRate        float64    `yaml:"batch_failure_rate"`        // per terminal and night
	SettlementRejectionRate float64    `yaml:"settlement_rejection_rate"` // per settled transaction
	OfflineApprovalRate     float64    `yaml:"offline_approval_rate"`     // share of chip approvals approved offline (Y1)
	NonZeroApprovalRate     float64    `yaml:"non_00_approval_rate"`      // share of online approvals answered 08/10/11/85
	OmitRootErrorType       float64    `yaml:"omit_root_error_type"`      // share of failures whose pos.transaction has no error.type
	SettlementTraces        string     `yaml:"settlement_traces"`         // per_txn or per_file
	DailyCurve              []float64  `yaml:"daily_curve"`               // 24 relative weights, local hours 0..23
	WeeklyCurve             []float64  `yaml:"weekly_curve"`              // 7 relative weights, Monday..Sunday
}

// TxnTypeMix are relative weights of pos.txn.type.
type TxnTypeMix struct {
	Sale       float64 `yaml:"sale"`
	Refund     float64 `yaml:"refund"`
	Void       float64 `yaml:"void"`
	Preauth    float64 `yaml:"preauth"`
	Completion float64 `yaml:"completion"`
}

// DeclineMix are the probabilities, per attempt, of an answered decline by group.
type DeclineMix struct {
	InsufficientFunds float64 `yaml:"insufficient_funds"` // account: 51 and friends
	BankPolicy        float64 `yaml:"bank_policy"`        // 05, 57, 62, 5C ...
	PIN               float64 `yaml:"pin"`                // authorization: 55, 75 ...
	Card              float64 `yaml:"card"`               // 54, 14, 41, 43, 59 ...
	Limit             float64 `yaml:"limit"`              // 61, 65
	Operator          float64 `yaml:"operator"`           // 13, 64, 45
	Gateway           float64 `yaml:"gateway"`            // 91, 92, 15, 09, 90
	System            float64 `yaml:"system"`             // 96, 06, 30 ...
	Timeout           float64 `yaml:"timeout"`            // 68, 98
	Unknown           float64 `yaml:"unknown"`            // codes outside the contract's table
}

// FailureMix are the probabilities, per attempt, of a technical failure (no
// response code on pos.transaction) by group.
type FailureMix struct {
	Network       float64 `yaml:"network"`
	Timeout       float64 `yaml:"timeout"`
	Gateway       float64 `yaml:"gateway"`
	System        float64 `yaml:"system"`
	Operator      float64 `yaml:"operator"`
	Authorization float64 `yaml:"authorization"`
}

// DefaultRegions are the regions of the default fleet.
var DefaultRegions = []string{"shanghai", "beijing", "guangzhou", "shenzhen", "chengdu", "hangzhou", "wuhan", "hongkong"}

// DefaultConfig returns the configuration every missing key falls back to.
func DefaultConfig() *Config {
	return &Config{
		Seed: 1,
		Fleet: FleetConfig{
			Merchants:            40,
			TerminalsPerMerchant: 3,
			Regions:              append([]string(nil), DefaultRegions...),
			Gateways:             3,
			Acquirers:            2,
			Issuers:              12,
			D0Share:              0.15,
			Timezone:             "Asia/Shanghai",
		},
		Baseline: BaselineConfig{
			TxnsPerTerminalPerDay: 80,
			TxnTypes:              TxnTypeMix{Sale: 0.94, Refund: 0.02, Void: 0.015, Preauth: 0.015, Completion: 0.01},
			Declines: DeclineMix{
				InsufficientFunds: 0.0100, BankPolicy: 0.0060, PIN: 0.0035, Card: 0.0025,
				Limit: 0.0020, Operator: 0.0015, Gateway: 0.0004, System: 0.0003, Timeout: 0.0001, Unknown: 0.0001,
			},
			Failures: FailureMix{
				Network: 0.0012, Timeout: 0.0008, Gateway: 0.0006, System: 0.0005, Operator: 0.0004, Authorization: 0.0002,
			},
			LatencyP50:              Duration(1 * time.Second),
			LatencyP95:              Duration(3 * time.Second),
			TerminalTimeout:         Duration(60 * time.Second),
			IssuerTimeout:           Duration(10 * time.Second),
			BatchClose:              "22:00",
			BatchCloseJitter:        Duration(30 * time.Minute),
			BatchFailureRate:        0.001,
			SettlementRejectionRate: 0.0002,
			OfflineApprovalRate:     0.003,
			NonZeroApprovalRate:     0.002,
			OmitRootErrorType:       0.15,
			SettlementTraces:        "per_txn",
		},
	}
}

// LoadConfig reads and validates a scenario file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes a scenario file strictly (unknown keys are errors, with
// their line) over DefaultConfig and validates it. source names the file in messages.
func ParseConfig(data []byte, source string) (*Config, error) {
	if source == "" {
		source = "scenario"
	}
	cfg := DefaultConfig()
	cfg.source = source
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, prettyYAMLError(source, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%s: line %d: more than one YAML document; put everything in one", source, extra.Line)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		cfg.lines = map[string]int{}
		collectLines(&root, "", cfg.lines)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Source is the file name the config was read from.
func (c *Config) Source() string { return c.source }

// line returns the line of a YAML path, or of its closest ancestor.
func (c *Config) line(path string) int {
	for p := path; p != ""; {
		if l, ok := c.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func collectLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			collectLines(c, path, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			out[p] = k.Line
			collectLines(v, p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = c.Line
			collectLines(c, p, out)
		}
	}
}

// sections names the config structs in messages about unknown keys.
var sections = map[string]struct {
	name string
	typ  reflect.Type
}{
	"simulator.Config":         {"the top level", reflect.TypeOf(Config{})},
	"simulator.FleetConfig":    {"fleet", reflect.TypeOf(FleetConfig{})},
	"simulator.BaselineConfig": {"baseline", reflect.TypeOf(BaselineConfig{})},
	"simulator.TxnTypeMix":     {"baseline.txn_types", reflect.TypeOf(TxnTypeMix{})},
	"simulator.DeclineMix":     {"baseline.declines", reflect.TypeOf(DeclineMix{})},
	"simulator.FailureMix":     {"baseline.failures", reflect.TypeOf(FailureMix{})},
	"simulator.ScenarioConfig": {"a scenario", reflect.TypeOf(ScenarioConfig{})},
	"simulator.Rates":          {"rates", reflect.TypeOf(Rates{})},
}

var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)

func prettyYAMLError(source string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return fmt.Errorf("%s: %s", source, msg)
	}
	var msgs []string
	for _, e := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
			sec, ok := sections[m[3]]
			if ok {
				msgs = append(msgs, fmt.Sprintf("%s: line %s: unknown key %q in %s (known keys: %s)",
					source, m[1], m[2], sec.name, strings.Join(yamlKeys(sec.typ), ", ")))
				continue
			}
			msgs = append(msgs, fmt.Sprintf("%s: line %s: unknown key %q", source, m[1], m[2]))
			continue
		}
		msgs = append(msgs, fmt.Sprintf("%s: %s", source, e))
	}
	return errors.New(strings.Join(msgs, "\n"))
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// Problem is one thing wrong with a scenario file.
type Problem struct {
	Line int    // 0 when unknown
	Path string // YAML path, e.g. scenarios[1].rates.code_91
	Msg  string
}

// ConfigError lists every problem found in a scenario file, by line.
type ConfigError struct {
	Source   string
	Problems []Problem
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Source)
		if p.Line > 0 {
			fmt.Fprintf(&b, ": line %d", p.Line)
		}
		if p.Path != "" {
			fmt.Fprintf(&b, ": %s", p.Path)
		}
		b.WriteString(": ")
		b.WriteString(p.Msg)
	}
	return b.String()
}

type problems struct {
	cfg  *Config
	list []Problem
}

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, Problem{Line: p.cfg.line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	sort.SliceStable(p.list, func(i, j int) bool { return p.list[i].Line < p.list[j].Line })
	return &ConfigError{Source: p.cfg.source, Problems: p.list}
}

func checkProb(p *problems, path string, v float64) {
	if math.IsNaN(v) || v < 0 || v > 1 {
		p.add(path, "%v is not a probability (must be between 0 and 1)", v)
	}
}

var regionNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Validate checks everything that does not depend on the run's time range
// (Resolve checks the rest: scenario windows and targets).
func (c *Config) Validate() error {
	if c.source == "" {
		c.source = "scenario"
	}
	p := &problems{cfg: c}
	f := c.Fleet
	if f.Merchants < 1 || f.Merchants > 100000 {
		p.add("fleet.merchants", "must be between 1 and 100000, got %d", f.Merchants)
	}
	if f.TerminalsPerMerchant < 1 || f.TerminalsPerMerchant > 1000 {
		p.add("fleet.terminals_per_merchant", "must be between 1 and 1000, got %d", f.TerminalsPerMerchant)
	}
	if f.Gateways < 1 || f.Gateways > 99 {
		p.add("fleet.gateways", "must be between 1 and 99, got %d", f.Gateways)
	}
	if f.Acquirers < 1 || f.Acquirers > 99 {
		p.add("fleet.acquirers", "must be between 1 and 99, got %d", f.Acquirers)
	}
	if f.Issuers < 1 || f.Issuers > 999 {
		p.add("fleet.issuers", "must be between 1 and 999, got %d", f.Issuers)
	}
	if len(f.Regions) == 0 {
		p.add("fleet.regions", "needs at least one region")
	}
	seen := map[string]bool{}
	for i, r := range f.Regions {
		path := fmt.Sprintf("fleet.regions[%d]", i)
		if !regionNameRE.MatchString(r) {
			p.add(path, "region %q must be lower-case letters, digits, '-' or '_'", r)
		}
		if seen[r] {
			p.add(path, "region %q is listed twice", r)
		}
		seen[r] = true
	}
	checkProb(p, "fleet.d0_share", f.D0Share)
	if _, err := time.LoadLocation(f.Timezone); err != nil || f.Timezone == "" {
		p.add("fleet.timezone", "unknown time zone %q", f.Timezone)
	}

	b := c.Baseline
	if !(b.TxnsPerTerminalPerDay > 0 && b.TxnsPerTerminalPerDay <= 1e6) {
		p.add("baseline.txns_per_terminal_per_day", "must be above 0 and at most 1000000, got %v", b.TxnsPerTerminalPerDay)
	}
	tt := b.TxnTypes
	ttSum := 0.0
	for i, v := range []float64{tt.Sale, tt.Refund, tt.Void, tt.Preauth, tt.Completion} {
		key := yamlKeys(reflect.TypeOf(tt))[i]
		if math.IsNaN(v) || v < 0 {
			p.add("baseline.txn_types."+key, "weight must not be negative, got %v", v)
		}
		ttSum += v
	}
	if !(ttSum > 0) {
		p.add("baseline.txn_types", "at least one transaction type needs a positive weight")
	}
	sum := 0.0
	for _, f := range append(mixFields("baseline.declines", b.Declines), mixFields("baseline.failures", b.Failures)...) {
		checkProb(p, f.path, f.v)
		sum += f.v
	}
	if sum > 1 {
		p.add("baseline", "declines and failures add up to %.4f, more than 1: nothing would be approved", sum)
	}
	if b.LatencyP50 <= 0 {
		p.add("baseline.latency_p50", "must be above 0")
	}
	if b.LatencyP95 <= b.LatencyP50 {
		p.add("baseline.latency_p95", "must be above latency_p50 (%v), got %v", b.LatencyP50, b.LatencyP95)
	}
	if b.TerminalTimeout <= b.LatencyP95 {
		p.add("baseline.terminal_timeout", "must be above latency_p95 (%v), got %v", b.LatencyP95, b.TerminalTimeout)
	}
	if b.IssuerTimeout <= 0 || b.IssuerTimeout >= b.TerminalTimeout {
		p.add("baseline.issuer_timeout", "must be above 0 and below terminal_timeout (%v), got %v", b.TerminalTimeout, b.IssuerTimeout)
	}
	if _, _, err := parseClock(b.BatchClose); err != nil {
		p.add("baseline.batch_close", "%v", err)
	}
	if b.BatchCloseJitter < 0 || b.BatchCloseJitter > Duration(2*time.Hour) {
		p.add("baseline.batch_close_jitter", "must be between 0 and 2h, got %v", b.BatchCloseJitter)
	}
	checkProb(p, "baseline.batch_failure_rate", b.BatchFailureRate)
	checkProb(p, "baseline.settlement_rejection_rate", b.SettlementRejectionRate)
	checkProb(p, "baseline.offline_approval_rate", b.OfflineApprovalRate)
	checkProb(p, "baseline.non_00_approval_rate", b.NonZeroApprovalRate)
	checkProb(p, "baseline.omit_root_error_type", b.OmitRootErrorType)
	if b.SettlementTraces != "per_txn" && b.SettlementTraces != "per_file" {
		p.add("baseline.settlement_traces", "must be per_txn or per_file, got %q", b.SettlementTraces)
	}
	checkCurve(p, "baseline.daily_curve", b.DailyCurve, 24)
	checkCurve(p, "baseline.weekly_curve", b.WeeklyCurve, 7)

	for i := range c.Scenarios {
		c.Scenarios[i].validate(p, fmt.Sprintf("scenarios[%d]", i))
	}
	return p.err()
}

func checkCurve(p *problems, path string, v []float64, n int) {
	if v == nil {
		return
	}
	if len(v) != n {
		p.add(path, "needs exactly %d weights, got %d", n, len(v))
		return
	}
	sum := 0.0
	for i, w := range v {
		if math.IsNaN(w) || w < 0 || math.IsInf(w, 0) {
			p.add(fmt.Sprintf("%s[%d]", path, i), "weight must be a non-negative number, got %v", w)
		}
		sum += w
	}
	if !(sum > 0) {
		p.add(path, "needs at least one positive weight")
	}
}

type mixField struct {
	path string
	v    float64
}

// mixFields lists a mix struct's fields with their YAML paths, in order.
func mixFields(prefix string, v any) []mixField {
	var out []mixField
	rv := reflect.ValueOf(v)
	t := rv.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		out = append(out, mixField{prefix + "." + tag, rv.Field(i).Float()})
	}
	return out
}

// parseClock parses "HH:MM".
func parseClock(s string) (int, int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a local time HH:MM", s)
	}
	return t.Hour(), t.Minute(), nil
}
