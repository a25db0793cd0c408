package simulator

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ScenarioConfig is one scenario as written in the scenario file.
//
// A scenario has a type, one target (which part of the estate it hits; the
// keys allowed depend on the type), a window (start and duration, optionally
// repeated daily) and either a severity (scaling the type's default rates) or
// explicit rates. Merchant and terminal targets take the generated id or "#N",
// the N-th merchant or terminal of the fleet (1-based; `settlewatch-sim fleet`
// lists them).
type ScenarioConfig struct {
	Type      string    `yaml:"type"`
	Name      string    `yaml:"name"`
	Gateway   string    `yaml:"gateway"`
	Acquirer  string    `yaml:"acquirer"`
	Merchant  string    `yaml:"merchant"`
	Terminal  string    `yaml:"terminal"`
	Region    string    `yaml:"region"`
	Issuer    string    `yaml:"issuer"`
	BINPrefix string    `yaml:"bin_prefix"`
	Start     string    `yaml:"start"`    // RFC 3339 time, or "+14h" / "+1d2h" after the run's start
	Duration  *Duration `yaml:"duration"` // window length; step changes may omit it (until the run ends)
	Daily     bool      `yaml:"daily"`    // repeat the window every 24 hours
	Severity  *float64  `yaml:"severity"` // 0 < severity <= 1, multiplies the default rates
	Rates     *Rates    `yaml:"rates"`
}

// Rates are a scenario's probabilities. Per-transaction rates (all but
// batch_upload_failure, out_of_balance and rejected) are the chances that a
// transaction hit by the scenario ends that way; they must add up to at most 1.
type Rates struct {
	Code91             *float64 `yaml:"code_91"`
	Code96             *float64 `yaml:"code_96"`
	Code92             *float64 `yaml:"code_92"`
	Timeout            *float64 `yaml:"timeout"`
	GatewayUnavailable *float64 `yaml:"gateway_unavailable"`
	StandIn            *float64 `yaml:"stand_in"`
	ConnectionError    *float64 `yaml:"connection_error"`
	OfflineApproved    *float64 `yaml:"offline_approved"`
	BatchUploadFailure *float64 `yaml:"batch_upload_failure"`
	Code57             *float64 `yaml:"code_57"`
	Code62             *float64 `yaml:"code_62"`
	Code5C             *float64 `yaml:"code_5C"`
	CodeA0             *float64 `yaml:"code_A0"`
	Code99             *float64 `yaml:"code_99"`
	Code63             *float64 `yaml:"code_63"`
	Code90             *float64 `yaml:"code_90"`
	OutOfBalance       *float64 `yaml:"out_of_balance"`
	Rejected           *float64 `yaml:"rejected"`
	OperatorCancelled  *float64 `yaml:"operator_cancelled"`
	InvalidAmount      *float64 `yaml:"invalid_amount"`
	CardReadError      *float64 `yaml:"card_read_error"`
	Code13             *float64 `yaml:"code_13"`
	Code64             *float64 `yaml:"code_64"`
	Code61             *float64 `yaml:"code_61"`
	Code65             *float64 `yaml:"code_65"`
}

// set returns the rates that were given, by YAML key, in declaration order.
func (r *Rates) set() []rateDef {
	if r == nil {
		return nil
	}
	var out []rateDef
	rv := reflect.ValueOf(r).Elem()
	t := rv.Type()
	for i := 0; i < t.NumField(); i++ {
		f := rv.Field(i)
		if f.IsNil() {
			continue
		}
		out = append(out, rateDef{key: strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0], def: f.Elem().Float()})
	}
	return out
}

type rateDef struct {
	key string
	def float64
}

// The scenario types.
const (
	ScenarioGatewayOutage      = "gateway_outage"
	ScenarioNetworkDegradation = "network_degradation"
	ScenarioBankPolicyChange   = "bank_policy_change"
	ScenarioKeyRotationFault   = "key_rotation_fault"
	ScenarioDayCutoff          = "day_cutoff"
	ScenarioBatchOutOfBalance  = "batch_out_of_balance"
	ScenarioOperatorErrorBurst = "operator_error_burst"
	ScenarioLimitChange        = "limit_change"
)

type scenarioSpec struct {
	targets        []string
	targetOptional bool      // no target: the whole fleet
	step           bool      // duration may be omitted: until the run ends
	txn            []rateDef // per-transaction outcomes, in draw order
	batch          []rateDef // per batch close
}

var scenarioSpecs = map[string]scenarioSpec{
	ScenarioGatewayOutage: {
		targets: []string{"gateway", "acquirer"},
		txn: []rateDef{{"code_91", 0.35}, {"code_96", 0.10}, {"code_92", 0.05}, {"timeout", 0.20},
			{"gateway_unavailable", 0.10}, {"stand_in", 0.05}},
	},
	ScenarioNetworkDegradation: {
		targets: []string{"merchant", "region", "terminal"},
		txn:     []rateDef{{"connection_error", 0.25}, {"timeout", 0.10}, {"offline_approved", 0.02}},
		batch:   []rateDef{{"batch_upload_failure", 1}},
	},
	ScenarioBankPolicyChange: {
		targets: []string{"bin_prefix", "issuer"}, step: true,
		txn: []rateDef{{"code_57", 0.06}, {"code_62", 0.03}, {"code_5C", 0.03}},
	},
	ScenarioKeyRotationFault: {
		targets: []string{"merchant", "terminal"},
		txn:     []rateDef{{"code_A0", 0.50}, {"code_99", 0.20}, {"code_63", 0.10}},
	},
	ScenarioDayCutoff: {
		targets: []string{"gateway", "acquirer"}, targetOptional: true,
		txn: []rateDef{{"code_90", 0.60}},
	},
	ScenarioBatchOutOfBalance: {
		targets: []string{"terminal", "merchant"},
		batch:   []rateDef{{"out_of_balance", 1}, {"rejected", 1}},
	},
	ScenarioOperatorErrorBurst: {
		targets: []string{"terminal", "merchant"},
		txn: []rateDef{{"operator_cancelled", 0.10}, {"invalid_amount", 0.06}, {"card_read_error", 0.06},
			{"code_13", 0.05}, {"code_64", 0.03}},
	},
	ScenarioLimitChange: {
		targets: []string{"bin_prefix", "issuer", "merchant"}, step: true,
		txn: []rateDef{{"code_61", 0.08}, {"code_65", 0.04}},
	},
}

// ScenarioTypes lists the scenario types, sorted.
func ScenarioTypes() []string {
	var out []string
	for k := range scenarioSpecs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// targets returns the target keys that were given, with their values.
func (s *ScenarioConfig) targets() [][2]string {
	var out [][2]string
	for _, kv := range [][2]string{
		{"gateway", s.Gateway}, {"acquirer", s.Acquirer}, {"merchant", s.Merchant}, {"terminal", s.Terminal},
		{"region", s.Region}, {"issuer", s.Issuer}, {"bin_prefix", s.BINPrefix},
	} {
		if kv[1] != "" {
			out = append(out, kv)
		}
	}
	return out
}

var binPrefixRE = regexp.MustCompile(`^[0-9]{1,8}$`)

func (s *ScenarioConfig) validate(p *problems, path string) {
	spec, ok := scenarioSpecs[s.Type]
	if !ok {
		if s.Type == "" {
			p.add(path+".type", "missing type (one of %s)", strings.Join(ScenarioTypes(), ", "))
		} else {
			p.add(path+".type", "unknown scenario type %q (one of %s)", s.Type, strings.Join(ScenarioTypes(), ", "))
		}
		return
	}
	tg := s.targets()
	for _, kv := range tg {
		if !contains(spec.targets, kv[0]) {
			p.add(path+"."+kv[0], "%s cannot target a %s (it takes one of: %s)", s.Type, kv[0], strings.Join(spec.targets, ", "))
		}
	}
	switch {
	case len(tg) == 0 && !spec.targetOptional:
		p.add(path, "%s needs a target: one of %s", s.Type, strings.Join(spec.targets, ", "))
	case len(tg) > 1:
		p.add(path, "%s takes exactly one target, got %d (%s)", s.Type, len(tg), targetList(tg))
	}
	if s.BINPrefix != "" && !binPrefixRE.MatchString(s.BINPrefix) {
		p.add(path+".bin_prefix", "%q must be 1 to 8 digits", s.BINPrefix)
	}
	if s.Start == "" {
		p.add(path, "missing start (an RFC 3339 time or an offset such as +14h after the run's start)")
	} else if _, _, err := parseStart(s.Start); err != nil {
		p.add(path+".start", "%v", err)
	}
	switch {
	case s.Duration == nil && !spec.step:
		p.add(path, "missing duration (e.g. 30m)")
	case s.Duration == nil && s.Daily:
		p.add(path+".daily", "a daily window needs a duration")
	case s.Duration != nil && *s.Duration <= 0:
		p.add(path+".duration", "must be above 0, got %v", *s.Duration)
	case s.Duration != nil && s.Daily && *s.Duration >= Duration(24*time.Hour):
		p.add(path+".duration", "a daily window must be shorter than 24h, got %v", *s.Duration)
	}
	if s.Severity != nil && s.Rates != nil {
		p.add(path+".severity", "give either severity or rates, not both")
	}
	if s.Severity != nil && (math.IsNaN(*s.Severity) || *s.Severity <= 0 || *s.Severity > 1) {
		p.add(path+".severity", "must be above 0 and at most 1, got %v", *s.Severity)
	}
	sum := 0.0
	for _, r := range s.Rates.set() {
		rp := path + ".rates." + r.key
		isTxn, isBatch := hasRate(spec.txn, r.key), hasRate(spec.batch, r.key)
		if !isTxn && !isBatch {
			p.add(rp, "%s has no rate %s (it takes: %s)", s.Type, r.key, strings.Join(rateKeys(spec), ", "))
			continue
		}
		if math.IsNaN(r.def) || r.def < 0 || r.def > 1 {
			p.add(rp, "%v is not a probability (must be between 0 and 1)", r.def)
			continue
		}
		if isTxn {
			sum += r.def
		}
	}
	if sum > 1+1e-9 {
		p.add(path+".rates", "per-transaction rates add up to %.3f, more than 1", sum)
	}
}

func targetList(tg [][2]string) string {
	var parts []string
	for _, kv := range tg {
		parts = append(parts, kv[0]+"="+kv[1])
	}
	return strings.Join(parts, ", ")
}

func hasRate(defs []rateDef, key string) bool {
	for _, d := range defs {
		if d.key == key {
			return true
		}
	}
	return false
}

func rateKeys(spec scenarioSpec) []string {
	var out []string
	for _, d := range append(append([]rateDef(nil), spec.txn...), spec.batch...) {
		out = append(out, d.key)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// parseStart parses a start: an absolute RFC 3339 time, or an offset after the
// run's start ("+14h", "+1d2h30m").
func parseStart(s string) (abs time.Time, offset time.Duration, err error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "+") {
		d, err := ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("start %q: %v", s, err)
		}
		return time.Time{}, d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("start %q is neither an RFC 3339 time (2026-11-24T14:00:00Z) nor an offset (+14h)", s)
	}
	return t, 0, nil
}

// Window is a half-open time interval [Start, End).
type Window struct {
	Start, End time.Time
}

func (w Window) overlaps(o Window) bool { return w.Start.Before(o.End) && o.Start.Before(w.End) }

// Scenario is a scenario resolved against a fleet and a run: its target is a
// concrete entity and its window absolute.
type Scenario struct {
	Index      int    // position in the scenario file
	Type       string // one of the Scenario* constants
	Name       string
	TargetKind string // gateway, acquirer, merchant, terminal, region, issuer, bin_prefix or "" (whole fleet)
	TargetID   string
	Start      time.Time
	Duration   time.Duration // the window's length
	Daily      bool
	TxnRates   map[string]float64
	BatchRates map[string]float64

	txn []rateDef // effective per-transaction rates in draw order
}

// Active reports whether t falls in one of the scenario's windows.
func (s *Scenario) Active(t time.Time) bool {
	if t.Before(s.Start) {
		return false
	}
	d := t.Sub(s.Start)
	if s.Daily {
		d %= 24 * time.Hour
	}
	return d < s.Duration
}

// windows returns the occurrences of the window that start before limit.
func (s *Scenario) windows(limit time.Time) []Window {
	if !s.Daily {
		return []Window{{s.Start, s.Start.Add(s.Duration)}}
	}
	var out []Window
	for st := s.Start; st.Before(limit) && len(out) < 1000; st = st.Add(24 * time.Hour) {
		out = append(out, Window{st, st.Add(s.Duration)})
	}
	return out
}

// lastWindowBefore returns the occurrence that started last at or before t.
func (s *Scenario) lastWindowBefore(t time.Time) (Window, bool) {
	if t.Before(s.Start) {
		return Window{}, false
	}
	st := s.Start
	if s.Daily {
		k := t.Sub(s.Start) / (24 * time.Hour)
		st = s.Start.Add(k * 24 * time.Hour)
	}
	return Window{st, st.Add(s.Duration)}, true
}

// affectsClose reports whether a batch close at c (the terminal's previous one
// being at prev) is hit by the scenario's window: a close inside the window, or
// the first close after a window that started after the previous close
// ("the batch upload that night").
func (s *Scenario) affectsClose(c, prev time.Time) bool {
	w, ok := s.lastWindowBefore(c)
	if !ok {
		return false
	}
	if c.Before(w.End) {
		return true
	}
	return !w.Start.Before(prev)
}

func (s *Scenario) matchesTxn(t *Txn) bool {
	switch s.TargetKind {
	case "":
		return true
	case "gateway":
		return t.Gateway.ID == s.TargetID
	case "acquirer":
		return t.Acquirer.ID == s.TargetID
	case "merchant":
		return t.Terminal.Merchant.ID == s.TargetID
	case "terminal":
		return t.Terminal.ID == s.TargetID
	case "region":
		return t.Terminal.Merchant.Region.Name == s.TargetID
	case "issuer":
		return t.Issuer != nil && t.Issuer.ID == s.TargetID
	case "bin_prefix":
		return t.BIN != "" && strings.HasPrefix(t.BIN, s.TargetID)
	}
	return false
}

func (s *Scenario) matchesTerminal(term *Terminal) bool {
	switch s.TargetKind {
	case "":
		return true
	case "merchant":
		return term.Merchant.ID == s.TargetID
	case "terminal":
		return term.ID == s.TargetID
	case "region":
		return term.Merchant.Region.Name == s.TargetID
	case "gateway":
		return term.Merchant.Gateway.ID == s.TargetID
	case "acquirer":
		return term.Merchant.Acquirer.ID == s.TargetID
	}
	return false
}

// drawTxn picks the outcome key for a transaction hit by the scenario, or "".
func (s *Scenario) drawTxn(r *rng) string {
	u := r.float()
	for _, d := range s.txn {
		if u < d.def {
			return d.key
		}
		u -= d.def
	}
	return ""
}

func (s *Scenario) describe() string {
	tgt := "the whole fleet"
	if s.TargetKind != "" {
		tgt = s.TargetKind + " " + s.TargetID
	}
	return fmt.Sprintf("%s on %s", s.Type, tgt)
}

// Resolve binds the config's scenarios to a fleet and a run starting at from
// and ending at to (a zero to means open-ended, as in live mode), checking that
// targets exist, windows lie within the run and that no two windows of the same
// type on the same target overlap.
func (c *Config) Resolve(fleet *Fleet, from, to time.Time) ([]*Scenario, error) {
	p := &problems{cfg: c}
	open := to.IsZero()
	limit := to
	if open {
		limit = from.Add(400 * 24 * time.Hour)
	}
	var out []*Scenario
	for i := range c.Scenarios {
		sc := &c.Scenarios[i]
		path := fmt.Sprintf("scenarios[%d]", i)
		spec := scenarioSpecs[sc.Type]
		s := &Scenario{Index: i, Type: sc.Type, Name: sc.Name, Daily: sc.Daily}
		if tg := sc.targets(); len(tg) == 1 {
			s.TargetKind = tg[0][0]
			id, err := fleet.resolveTarget(tg[0][0], tg[0][1])
			if err != nil {
				p.add(path+"."+tg[0][0], "%v", err)
				continue
			}
			s.TargetID = id
		}
		abs, off, err := parseStart(sc.Start)
		if err != nil {
			p.add(path+".start", "%v", err)
			continue
		}
		if abs.IsZero() {
			abs = from.Add(off)
		}
		s.Start = abs
		if s.Start.Before(from) || !s.Start.Before(limit) {
			end := "the run's end"
			if !open {
				end = to.UTC().Format(time.RFC3339)
			}
			p.add(path+".start", "starts at %s, outside the run (%s to %s)", s.Start.UTC().Format(time.RFC3339),
				from.UTC().Format(time.RFC3339), end)
			continue
		}
		if sc.Duration != nil {
			s.Duration = sc.Duration.D()
			if !open && !sc.Daily && s.Start.Add(s.Duration).After(to) {
				p.add(path+".duration", "the window %s + %v ends at %s, after the run ends (%s)",
					s.Start.UTC().Format(time.RFC3339), s.Duration, s.Start.Add(s.Duration).UTC().Format(time.RFC3339),
					to.UTC().Format(time.RFC3339))
				continue
			}
		} else {
			s.Duration = limit.Sub(s.Start)
		}
		if s.Name == "" {
			s.Name = fmt.Sprintf("%s#%d", sc.Type, i+1)
		}
		sev := 1.0
		if sc.Severity != nil {
			sev = *sc.Severity
		}
		given := sc.Rates.set()
		s.TxnRates, s.BatchRates = map[string]float64{}, map[string]float64{}
		for _, d := range spec.txn {
			v := d.def * sev
			if len(given) > 0 {
				v = 0
				for _, g := range given {
					if g.key == d.key {
						v = g.def
					}
				}
			}
			s.TxnRates[d.key] = v
			s.txn = append(s.txn, rateDef{d.key, v})
		}
		for _, d := range spec.batch {
			v := d.def * sev
			for _, g := range given {
				if g.key == d.key {
					v = g.def
				}
			}
			s.BatchRates[d.key] = v
		}
		out = append(out, s)
	}
	// Overlapping windows of the same type on the same target.
	for i, a := range out {
		for _, b := range out[:i] {
			if a.Type != b.Type || a.TargetKind != b.TargetKind || a.TargetID != b.TargetID {
				continue
			}
			if wa, wb, ok := firstOverlap(a.windows(limit), b.windows(limit)); ok {
				p.add(fmt.Sprintf("scenarios[%d]", a.Index),
					"%s (%s) overlaps scenarios[%d] (line %d, %s) on the same target; merge them or move one",
					a.describe(), fmtWindow(wa), b.Index, c.line(fmt.Sprintf("scenarios[%d]", b.Index)), fmtWindow(wb))
			}
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func firstOverlap(a, b []Window) (Window, Window, bool) {
	for _, x := range a {
		for _, y := range b {
			if x.overlaps(y) {
				return x, y, true
			}
		}
	}
	return Window{}, Window{}, false
}

func fmtWindow(w Window) string {
	return w.Start.UTC().Format(time.RFC3339) + " to " + w.End.UTC().Format(time.RFC3339)
}

// resolveTarget maps a target value ("#3" or an id) to the entity's id.
func (f *Fleet) resolveTarget(kind, v string) (string, error) {
	idx := -1
	if strings.HasPrefix(v, "#") {
		n, err := strconv.Atoi(v[1:])
		if err != nil || n < 1 {
			return "", fmt.Errorf("%q is not a valid index (use #1, #2, ...)", v)
		}
		idx = n - 1
	}
	pickID := func(ids []string, what string) (string, error) {
		if idx >= 0 {
			if idx >= len(ids) {
				return "", fmt.Errorf("%s %s does not exist: the fleet has %d", what, v, len(ids))
			}
			return ids[idx], nil
		}
		for _, id := range ids {
			if id == v {
				return id, nil
			}
		}
		hint := ""
		if len(ids) > 0 {
			hint = fmt.Sprintf(" (the fleet has %s", ids[0])
			if len(ids) > 1 {
				hint += fmt.Sprintf(" .. %s", ids[len(ids)-1])
			}
			hint += fmt.Sprintf("; or use #1..#%d)", len(ids))
		}
		return "", fmt.Errorf("unknown %s %q%s", what, v, hint)
	}
	switch kind {
	case "gateway":
		return pickID(idsOf(f.Gateways, func(g *Gateway) string { return g.ID }), "gateway")
	case "acquirer":
		return pickID(idsOf(f.Acquirers, func(a *Acquirer) string { return a.ID }), "acquirer")
	case "merchant":
		return pickID(idsOf(f.Merchants, func(m *Merchant) string { return m.ID }), "merchant")
	case "terminal":
		return pickID(idsOf(f.Terminals, func(t *Terminal) string { return t.ID }), "terminal")
	case "region":
		return pickID(idsOf(f.Regions, func(r *Region) string { return r.Name }), "region")
	case "issuer":
		return pickID(idsOf(f.Issuers, func(is *Issuer) string { return is.ID }), "issuer")
	case "bin_prefix":
		for _, is := range f.Issuers {
			for _, b := range is.BINs {
				if strings.HasPrefix(b.BIN, v) {
					return v, nil
				}
			}
		}
		return "", fmt.Errorf("bin_prefix %q matches no BIN of the fleet's issuers (`settlewatch-sim fleet` lists them)", v)
	}
	return "", fmt.Errorf("unknown target kind %q", kind)
}

// idsOf lists the ids of fleet entities, in fleet order.
func idsOf[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}
