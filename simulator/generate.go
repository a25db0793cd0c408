package simulator

import (
	"fmt"
	"math"
	"time"
)

// Range is the part of the timeline a run covers.
type Range struct {
	// From is when the first transaction may start.
	From time.Time
	// To is when transactions stop starting (exclusive). Zero: open-ended (live).
	To time.Time
	// AsOf is "now" for the run: nothing that starts after AsOf is produced
	// (batch closes and settlements of the range are produced up to it), and
	// ground truth is computed as of it. Zero: To + 48h, which lets every batch
	// close and settlement that the range's transactions cause happen; for an
	// open-ended range, never.
	AsOf time.Time
}

// GenOptions are a generator's run options.
type GenOptions struct {
	Range
	// Rate, when above 0, replaces the baseline traffic curve with a flat total
	// rate in transactions per second, spread over the terminals by activity.
	Rate float64
	// Shard and Shards split the fleet's terminals between generators (load
	// mode): this generator drives the terminals whose index % Shards == Shard.
	Shard, Shards int
}

// Generator produces a run's events in time order. It is not safe for
// concurrent use; use one generator per goroutine (see GenOptions.Shards).
type Generator struct {
	cfg   *Config
	fleet *Fleet
	scen  []*Scenario
	opts  GenOptions
	seed  uint64
	loc   *time.Location
	to    time.Time // zero: open-ended
	asOf  time.Time // zero: unbounded

	q     queue
	terms []*termState

	hourRel     [24]float64
	dayRel      [7]float64
	maxRel      float64
	closeH      int
	closeM      int
	latMu       float64
	latSigma    float64
	typeWeights []float64
	declines    []mixEntry
	failures    []mixEntry

	produced struct{ txns, closes, files int64 }
}

type mixEntry struct {
	group string
	p     float64
}

type termState struct {
	idx       int
	t         *Terminal
	arr       rng
	base      float64 // arrivals per second before the curve
	lambdaMax float64
	seq       uint64

	closeAt   time.Time // next scheduled batch close
	closeDate time.Time // the local business date of that close
	prevClose time.Time
	batchNo   string // the open batch (closed at closeAt)
	attempts  int64
	refs      []txnRef

	lastIDDay    string
	lastIDMicros int64
}

// txnRef is what a batch keeps of an approved transaction until settlement.
type txnRef struct {
	id       string
	typ      string
	amount   int64
	currency string
}

var defaultDailyCurve = []float64{0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.8, 2.0, 3.2, 3.8, 4.5, 6.0,
	6.5, 5.2, 4.4, 4.3, 4.6, 5.6, 7.0, 7.2, 6.0, 4.4, 2.6, 1.3}
var defaultWeeklyCurve = []float64{0.94, 0.93, 0.95, 0.97, 1.05, 1.12, 1.04}

// NewGenerator prepares a run of cfg over opts.Range. It builds the fleet,
// resolves the scenarios against the range and schedules each terminal's
// first arrival and batch close.
func NewGenerator(cfg *Config, opts GenOptions) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.From.IsZero() {
		return nil, fmt.Errorf("simulator: the range needs a start (From)")
	}
	if !opts.To.IsZero() && !opts.To.After(opts.From) {
		return nil, fmt.Errorf("simulator: the range ends (%s) before it starts (%s)", opts.To.Format(time.RFC3339), opts.From.Format(time.RFC3339))
	}
	if opts.Shards <= 0 {
		opts.Shards, opts.Shard = 1, 0
	}
	if opts.Shard < 0 || opts.Shard >= opts.Shards {
		return nil, fmt.Errorf("simulator: shard %d of %d", opts.Shard, opts.Shards)
	}
	if opts.Rate < 0 || math.IsNaN(opts.Rate) || math.IsInf(opts.Rate, 0) {
		return nil, fmt.Errorf("simulator: rate must be 0 (traffic curve) or a positive number of transactions per second")
	}
	fleet, err := BuildFleet(cfg)
	if err != nil {
		return nil, err
	}
	scen, err := cfg.Resolve(fleet, opts.From, opts.To)
	if err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, fleet: fleet, scen: scen, opts: opts, seed: cfg.Seed, loc: fleet.Location, to: opts.To}
	switch {
	case !opts.AsOf.IsZero():
		g.asOf = opts.AsOf
	case !opts.To.IsZero():
		g.asOf = opts.To.Add(48 * time.Hour)
	}
	g.prepare()
	for _, t := range fleet.Terminals {
		if t.Index%opts.Shards != opts.Shard {
			continue
		}
		ts := &termState{idx: t.Index, t: t, arr: newRNG(mix(g.seed, hashString("arrivals"), uint64(t.Index)))}
		g.terms = append(g.terms, ts)
	}
	g.setRates()
	for i, ts := range g.terms {
		g.scheduleArrival(i, ts, opts.From)
		ts.closeDate = localDate(opts.From.In(g.loc))
		if g.closeTime(ts, ts.closeDate).Before(opts.From) {
			ts.closeDate = ts.closeDate.AddDate(0, 0, 1)
		}
		ts.closeAt = g.closeTime(ts, ts.closeDate)
		ts.prevClose = g.closeTime(ts, ts.closeDate.AddDate(0, 0, -1))
		ts.batchNo = g.batchNumber(ts, ts.closeDate)
		g.q.push(qItem{at: ts.closeAt.UnixNano(), kind: kClose, term: int32(i)})
	}
	return g, nil
}

func (g *Generator) prepare() {
	b := g.cfg.Baseline
	daily, weekly := b.DailyCurve, b.WeeklyCurve
	if daily == nil {
		daily = defaultDailyCurve
	}
	if weekly == nil {
		weekly = defaultWeeklyCurve
	}
	var ds, ws float64
	for _, v := range daily {
		ds += v
	}
	for _, v := range weekly {
		ws += v
	}
	maxH, maxD := 0.0, 0.0
	for h := range g.hourRel {
		g.hourRel[h] = daily[h] / ds * 24
		maxH = math.Max(maxH, g.hourRel[h])
	}
	for d := range g.dayRel {
		g.dayRel[d] = weekly[d] / ws * 7
		maxD = math.Max(maxD, g.dayRel[d])
	}
	g.maxRel = maxH * maxD
	g.closeH, g.closeM, _ = parseClock(b.BatchClose)
	g.latMu, g.latSigma = latencyParams(b.LatencyP50.D().Seconds(), b.LatencyP95.D().Seconds())
	tt := b.TxnTypes
	g.typeWeights = []float64{tt.Sale, tt.Refund, tt.Void, tt.Preauth, tt.Completion}
	d := b.Declines
	g.declines = []mixEntry{{"insufficient_funds", d.InsufficientFunds}, {"bank_policy", d.BankPolicy}, {"pin", d.PIN},
		{"card", d.Card}, {"limit", d.Limit}, {"operator", d.Operator}, {"gateway", d.Gateway}, {"system", d.System},
		{"timeout", d.Timeout}, {"unknown", d.Unknown}}
	f := b.Failures
	g.failures = []mixEntry{{"network", f.Network}, {"timeout", f.Timeout}, {"gateway", f.Gateway}, {"system", f.System},
		{"operator", f.Operator}, {"authorization", f.Authorization}}
}

// Authorization latency is a mixture: most requests follow a lognormal around
// the median; slowTailShare of them (a slow issuer, a congested link) follow a
// slower lognormal whose tail reaches the terminal's timeout. The main
// component's sigma is solved so that the mixture's 95th percentile is p95.
const (
	slowTailShare  = 0.01
	slowTailFactor = 5.0 // the slow component's median, in medians
	slowTailSigma  = 0.8
)

func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

func latencyParams(p50, p95 float64) (mu, sigma float64) {
	mu = math.Log(p50)
	slowAbove := 1 - normCDF((math.Log(p95)-math.Log(slowTailFactor*p50))/slowTailSigma)
	above := func(s float64) float64 {
		return (1-slowTailShare)*(1-normCDF(math.Log(p95/p50)/s)) + slowTailShare*slowAbove
	}
	lo, hi := 0.01, 5.0
	for i := 0; i < 100; i++ {
		mid := (lo + hi) / 2
		if above(mid) < 0.05 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return mu, (lo + hi) / 2
}

func (g *Generator) setRates() {
	var act float64
	for _, t := range g.fleet.Terminals {
		act += t.Merchant.Activity
	}
	mean := act / float64(len(g.fleet.Terminals))
	for _, ts := range g.terms {
		if g.opts.Rate > 0 {
			ts.base = g.opts.Rate * ts.t.Merchant.Activity / act
			ts.lambdaMax = ts.base
			continue
		}
		ts.base = g.cfg.Baseline.TxnsPerTerminalPerDay / 86400 * ts.t.Merchant.Activity / mean
		ts.lambdaMax = ts.base * g.maxRel
	}
}

// Fleet returns the run's fleet.
func (g *Generator) Fleet() *Fleet { return g.fleet }

// Scenarios returns the run's resolved scenarios.
func (g *Generator) Scenarios() []*Scenario { return g.scen }

// AsOf returns the run's "now": events after it are not produced. Zero when unbounded.
func (g *Generator) AsOf() time.Time { return g.asOf }

// Range returns the effective range (AsOf filled in).
func (g *Generator) Range() Range { return Range{From: g.opts.From, To: g.to, AsOf: g.asOf} }

// ExpectedTxnsPerSecond returns the mean arrival rate of this generator's
// terminals at time t.
func (g *Generator) ExpectedTxnsPerSecond(t time.Time) float64 {
	sum := 0.0
	for _, ts := range g.terms {
		sum += g.lambda(ts, t)
	}
	return sum
}

func (g *Generator) lambda(ts *termState, t time.Time) float64 {
	if g.opts.Rate > 0 {
		return ts.base
	}
	lt := t.In(g.loc)
	return ts.base * g.hourRel[lt.Hour()] * g.dayRel[(int(lt.Weekday())+6)%7]
}

// scheduleArrival draws the terminal's next arrival after t (thinning of a
// non-homogeneous Poisson process) and queues it unless it falls after To.
func (g *Generator) scheduleArrival(i int, ts *termState, after time.Time) {
	if ts.lambdaMax <= 0 {
		return
	}
	t := after
	for k := 0; k < 1<<20; k++ {
		gap := ts.arr.exp(ts.lambdaMax)
		t = t.Add(time.Duration(gap * float64(time.Second)))
		if !g.to.IsZero() && !t.Before(g.to) {
			return
		}
		accept := ts.arr.float()*ts.lambdaMax <= g.lambda(ts, t)
		if g.opts.Rate > 0 || accept {
			ts.seq++
			g.q.push(qItem{at: t.UnixNano(), kind: kArrival, term: int32(i), seq: ts.seq})
			return
		}
	}
}

func localDate(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

// closeTime is the terminal's batch close on a local date: the configured
// clock time plus a per-terminal, per-day jitter.
func (g *Generator) closeTime(ts *termState, date time.Time) time.Time {
	j := g.cfg.Baseline.BatchCloseJitter.D()
	r := newRNG(mix(g.seed, hashString("close-time"), uint64(ts.idx), uint64(date.Year()*10000+int(date.Month())*100+date.Day())))
	off := time.Duration((r.float() - 0.5) * float64(j))
	return time.Date(date.Year(), date.Month(), date.Day(), g.closeH, g.closeM, 0, 0, g.loc).Add(off).Truncate(time.Millisecond)
}

// batchNumber numbers a terminal's batch by the business date it is closed
// on, so the same terminal has the same batch number on the same day in every run.
func (g *Generator) batchNumber(ts *termState, d time.Time) string {
	days := int(d.Sub(time.Date(2000, 1, 1, 0, 0, 0, 0, g.loc)).Hours() / 24)
	n := (ts.t.FirstBatch+days)%999999 + 1
	return fmt.Sprintf("%06d", n)
}

// Next returns the next event in time order, or false when the run has
// nothing more to produce (everything left starts after AsOf, or nothing is left).
func (g *Generator) Next() (Event, bool) {
	for g.q.len() > 0 {
		it := g.q.peek()
		if !g.asOf.IsZero() && it.at > g.asOf.UnixNano() {
			return Event{}, false
		}
		g.q.pop()
		switch it.kind {
		case kArrival:
			ts := g.terms[it.term]
			at := time.Unix(0, it.at).UTC()
			t := g.newTxn(ts, at, it.seq)
			g.scheduleArrival(int(it.term), ts, at)
			g.produced.txns++
			return Event{Kind: EventTxn, At: t.Time, Txn: t}, true
		case kClose:
			ts := g.terms[it.term]
			bc, file := g.fireClose(int(it.term), ts)
			if file != nil {
				g.q.push(qItem{at: file.Time.UnixNano(), kind: kSettle, term: it.term, file: file})
			}
			if bc != nil {
				g.produced.closes++
				return Event{Kind: EventBatchClose, At: bc.Start, Close: bc}, true
			}
		case kSettle:
			g.produced.files++
			return Event{Kind: EventSettlement, At: it.file.Time, File: it.file}, true
		}
	}
	return Event{}, false
}

// Plan is a whole generated run, for tests and small runs.
type Plan struct {
	Fleet     *Fleet
	Scenarios []*Scenario
	Range     Range
	Events    []Event
}

// Txns returns the plan's transactions in time order.
func (p *Plan) Txns() []*Txn {
	var out []*Txn
	for _, e := range p.Events {
		if e.Kind == EventTxn {
			out = append(out, e.Txn)
		}
	}
	return out
}

// Closes returns the plan's batch closes.
func (p *Plan) Closes() []*BatchClose {
	var out []*BatchClose
	for _, e := range p.Events {
		if e.Kind == EventBatchClose {
			out = append(out, e.Close)
		}
	}
	return out
}

// Files returns the plan's settlement files.
func (p *Plan) Files() []*SettlementFile {
	var out []*SettlementFile
	for _, e := range p.Events {
		if e.Kind == EventSettlement {
			out = append(out, e.File)
		}
	}
	return out
}

// Generate runs a generator over a bounded range and returns every event.
func Generate(cfg *Config, r Range) (*Plan, error) {
	if r.To.IsZero() {
		return nil, fmt.Errorf("simulator: Generate needs a bounded range (To)")
	}
	g, err := NewGenerator(cfg, GenOptions{Range: r})
	if err != nil {
		return nil, err
	}
	p := &Plan{Fleet: g.fleet, Scenarios: g.scen, Range: g.Range()}
	for {
		ev, ok := g.Next()
		if !ok {
			break
		}
		p.Events = append(p.Events, ev)
	}
	return p, nil
}

// queue is a binary min-heap of scheduled items ordered by time, then kind,
// terminal and sequence, so that the order is fully deterministic.
type queue struct{ items []qItem }

const (
	kSettle uint8 = iota
	kClose
	kArrival
)

type qItem struct {
	at   int64
	kind uint8
	term int32
	seq  uint64
	file *SettlementFile
}

func (a qItem) less(b qItem) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	if a.term != b.term {
		return a.term < b.term
	}
	return a.seq < b.seq
}

func (q *queue) len() int     { return len(q.items) }
func (q *queue) peek() qItem  { return q.items[0] }
func (q *queue) push(x qItem) { q.items = append(q.items, x); q.up(len(q.items) - 1) }

func (q *queue) pop() qItem {
	top := q.items[0]
	n := len(q.items) - 1
	q.items[0] = q.items[n]
	q.items[n] = qItem{}
	q.items = q.items[:n]
	if n > 0 {
		q.down(0)
	}
	return top
}

func (q *queue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.items[i].less(q.items[p]) {
			return
		}
		q.items[i], q.items[p] = q.items[p], q.items[i]
		i = p
	}
}

func (q *queue) down(i int) {
	n := len(q.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.items[r].less(q.items[l]) {
			m = r
		}
		if !q.items[m].less(q.items[i]) {
			return
		}
		q.items[i], q.items[m] = q.items[m], q.items[i]
		i = m
	}
}
