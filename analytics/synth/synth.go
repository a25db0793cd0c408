// Package synth makes transaction rows with a known ground truth, for the
// analytics tests and benchmarks: the same rows the assembler writes to the
// transactions table (and, for the timeout advice, the pos.transaction and
// pos.host.request rows of payment_facts), generated deterministically from a
// seed, with injectable gateway outages and slow gateways.
//
// Outcomes and causes follow the contract through domain.DefaultRules, so a
// generated row looks like an assembled one. Some transactions also get an
// older version (e.g. pending before it settled) that FINAL must hide.
package synth

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/domain"
)

// Outage makes a gateway fail transactions in [From, To).
type Outage struct {
	Gateway   string
	From, To  time.Time
	FailRate  float64 // share of the gateway's transactions that fail
	ErrorType string  // default gateway_unavailable
}

// Config of a generation.
type Config struct {
	Seed     uint64
	From, To time.Time
	// PerHour is the number of transactions per hour (spread uniformly).
	PerHour int
	// AsOf is "now" for the settlement window (default To + 48h).
	AsOf time.Time
	// SettlementWindow (default 36h).
	SettlementWindow time.Duration
	Gateways         int // default 4
	Merchants        int // default 200
	Terminals        int // default 1000
	// USDShare is the share of transactions in USD (the rest CNY).
	USDShare float64
	// DeclineRate and FailRate of normal traffic (defaults 0.08, 0.03).
	DeclineRate, FailRate float64
	// OldVersionShare gets an older version row (default 0.1).
	OldVersionShare float64
	Outages         []Outage
	// SlowGateways get a heavy latency tail (timeouts job).
	SlowGateways map[string]bool
}

func (c Config) withDefaults() Config {
	if c.AsOf.IsZero() {
		c.AsOf = c.To.Add(48 * time.Hour)
	}
	if c.SettlementWindow == 0 {
		c.SettlementWindow = domain.DefaultSettlementWindow
	}
	if c.Gateways == 0 {
		c.Gateways = 4
	}
	if c.Merchants == 0 {
		c.Merchants = 200
	}
	if c.Terminals == 0 {
		c.Terminals = 1000
	}
	if c.DeclineRate == 0 {
		c.DeclineRate = 0.08
	}
	if c.FailRate == 0 {
		c.FailRate = 0.03
	}
	if c.OldVersionShare == 0 {
		c.OldVersionShare = 0.1
	}
	return c
}

// Txn is one transaction row (latest version) with its ground truth.
type Txn struct {
	ID                                                    string
	Time                                                  time.Time // whole seconds
	Type                                                  string
	Outcome                                               domain.Outcome
	Cause                                                 domain.Cause
	Class                                                 domain.Class
	ResponseCode, ErrorType                               string
	Amount                                                int64
	Currency                                              string
	Gateway, Merchant, Terminal, Region, Acquirer, Issuer string
	Scheme, Funding, EntryMode, BatchNumber               string
	LatencyNs                                             int64
	HostLatencyNs                                         int64 // pos.host.request duration
	HostTimeout                                           bool  // the terminal gave up (error.type timeout)
	Version                                               uint64
	Old                                                   *Txn // an older version, if any
}

var (
	regions  = []string{"east", "north", "south", "west", "central"}
	schemes  = []string{"unionpay", "visa", "mastercard", "wechat", "alipay"}
	fundings = []string{"debit", "credit", "prepaid"}
	modes    = []string{"chip", "contactless", "qr", "magstripe"}
	// declines of normal traffic, by weight.
	declineCodes = []string{"51", "51", "51", "05", "05", "55", "14", "61", "13", "91", "96", "68"}
	failErrors   = []string{"timeout", "timeout", "connection_reset", "gateway_unavailable", "database_error", "card_read_error"}
)

// Generate makes the transactions of cfg, in time order.
func Generate(cfg Config) []Txn {
	cfg = cfg.withDefaults()
	rules := domain.DefaultRules()
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))
	hours := int(cfg.To.Sub(cfg.From) / time.Hour)
	total := hours * cfg.PerHour
	span := cfg.To.Unix() - cfg.From.Unix()
	out := make([]Txn, 0, total)
	seq := 0
	for h := 0; h < hours; h++ {
		base := cfg.From.Unix() + int64(h)*3600
		for range cfg.PerHour {
			seq++
			at := base + rng.Int64N(3600)
			if at-cfg.From.Unix() >= span {
				continue
			}
			out = append(out, makeTxn(cfg, rules, rng, seq, time.Unix(at, 0).UTC()))
		}
	}
	return out
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func makeTxn(cfg Config, rules *domain.Rules, rng *rand.Rand, seq int, at time.Time) Txn {
	term := rng.IntN(cfg.Terminals)
	merchant := term % cfg.Merchants
	t := Txn{
		ID:          fmt.Sprintf("S%08d-%04x", seq, rng.Uint32()&0xffff),
		Time:        at,
		Type:        "sale",
		Currency:    "CNY",
		Gateway:     fmt.Sprintf("gw-%d", 1+merchant%cfg.Gateways),
		Merchant:    fmt.Sprintf("M-%04d", merchant),
		Terminal:    fmt.Sprintf("T-%05d", term),
		Region:      regions[merchant%len(regions)],
		Acquirer:    fmt.Sprintf("acq-%d", 1+merchant%3),
		Issuer:      fmt.Sprintf("iss-%02d", rng.IntN(20)),
		Scheme:      pick(rng, schemes),
		Funding:     pick(rng, fundings),
		EntryMode:   pick(rng, modes),
		BatchNumber: at.Format("060102"),
		Amount:      100 + rng.Int64N(200000),
	}
	if rng.Float64() < cfg.USDShare {
		t.Currency = "USD"
	}
	if r := rng.Float64(); r < 0.05 {
		t.Type = "refund"
	} else if r < 0.08 {
		t.Type = "preauth"
	}
	// Terminal-observed authorization latency: log-normal around 600 ms;
	// slow gateways have a heavy tail.
	host := math.Exp(math.Log(600) + 0.5*rng.NormFloat64())
	if cfg.SlowGateways[t.Gateway] && rng.Float64() < 0.08 {
		host = 8000 + rng.Float64()*40000
	}
	t.HostLatencyNs = int64(host * 1e6)
	t.LatencyNs = t.HostLatencyNs + int64(300+rng.IntN(2000))*1e6

	outage := false
	for _, o := range cfg.Outages {
		if o.Gateway == t.Gateway && !at.Before(o.From) && at.Before(o.To) && rng.Float64() < o.FailRate {
			outage = true
			t.ErrorType = o.ErrorType
			if t.ErrorType == "" {
				t.ErrorType = "gateway_unavailable"
			}
		}
	}
	r := rng.Float64()
	switch {
	case outage:
		t.Outcome = domain.OutcomeFailed
		t.Cause = rules.CauseOfErrorType(t.ErrorType)
	case r < cfg.FailRate:
		t.Outcome = domain.OutcomeFailed
		t.ErrorType = pick(rng, failErrors)
		t.Cause = rules.CauseOfErrorType(t.ErrorType)
	case r < cfg.FailRate+cfg.DeclineRate:
		t.Outcome = domain.OutcomeDeclined
		t.ResponseCode = pick(rng, declineCodes)
		t.Cause = rules.CauseOfCode(t.ResponseCode)
	default:
		t.ResponseCode = "00"
		t.Outcome = domain.OutcomeApproved
	}
	if t.ErrorType == "timeout" {
		t.HostTimeout = true
		t.HostLatencyNs = 60e9
		t.LatencyNs = 61e9
	}
	t.Version = 10 << 1
	if t.Outcome == domain.OutcomeApproved && t.Type == "sale" {
		due := !cfg.AsOf.Before(at.Add(cfg.SettlementWindow))
		switch s := rng.Float64(); {
		case due && s < 0.94, !due && s < 0.3:
			t.Outcome = domain.OutcomeSettled
		case due && s < 0.95:
			t.Outcome = domain.OutcomeSettlementRejected
			t.Cause = rules.CauseOfCode("95")
		case due:
			t.Outcome = domain.OutcomeUnsettled
			t.Cause = domain.CauseSettlement
			if s > 0.99 {
				t.Cause = rules.CauseOfErrorType("upload_failed")
			}
			t.Version |= 1
		default:
			t.Outcome = domain.OutcomePending
		}
	}
	if !t.Outcome.HasCause() {
		t.Cause = domain.CauseNone
	}
	t.Class = rules.ClassOf(t.Cause)
	if t.Cause == domain.CauseNone {
		t.Class = domain.ClassNone
	}
	if rng.Float64() < cfg.OldVersionShare {
		old := t
		old.Old = nil
		old.Version = 4 << 1
		old.Outcome, old.Cause, old.Class = domain.OutcomeFailed, domain.CauseUnknown, domain.ClassSoft
		if t.Outcome == domain.OutcomeSettled || t.Outcome == domain.OutcomeUnsettled {
			old.Outcome, old.Cause, old.Class = domain.OutcomePending, domain.CauseNone, domain.ClassNone
		}
		if t.Outcome == domain.OutcomeSettled {
			// Assembled first from the settlement span alone, at the
			// settlement's time: the stale row sits in another hour.
			old.Time = t.Time.Add(20 * time.Hour)
		}
		old.Amount = t.Amount + 1 // a wrong amount must not leak into sums
		t.Old = &old
	}
	return t
}

// Rows returns the rows to insert: every latest version and every old one.
func Rows(txns []Txn) []Txn {
	out := make([]Txn, 0, len(txns)+len(txns)/8)
	for _, t := range txns {
		if t.Old != nil {
			out = append(out, *t.Old)
		}
		out = append(out, t)
	}
	return out
}

// Columns are the transactions-table columns of rows.
func Columns(rows []Txn, assembledAt time.Time) chbatch.Columns {
	n := len(rows)
	str := func(f func(*Txn) string) []string {
		s := make([]string, n)
		for i := range rows {
			s[i] = f(&rows[i])
		}
		return s
	}
	txnTime := make([]time.Time, n)
	txnNs, version, latency, settled := make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
	amount := make([]int64, n)
	spanCount, rev := make([]uint32, n), make([]uint32, n)
	issues := make([][]string, n)
	factHours := make([][]time.Time, n)
	assembled := make([]time.Time, n)
	for i := range rows {
		r := &rows[i]
		txnTime[i] = r.Time
		txnNs[i] = uint64(r.Time.UnixNano())
		version[i] = r.Version
		latency[i] = uint64(r.LatencyNs)
		amount[i] = r.Amount
		spanCount[i] = 5
		issues[i] = []string{}
		factHours[i] = []time.Time{r.Time.Truncate(time.Hour)}
		if r.Old != nil && !r.Old.Time.Truncate(time.Hour).Equal(factHours[i][0]) {
			factHours[i] = append(factHours[i], r.Old.Time.Truncate(time.Hour))
		}
		assembled[i] = assembledAt.UTC().Truncate(time.Second)
		if r.Outcome == domain.OutcomeSettled {
			settled[i] = txnNs[i] + uint64(20*time.Hour)
		}
	}
	settleStatus := func(t *Txn) string {
		switch t.Outcome {
		case domain.OutcomeSettled:
			return "settled"
		case domain.OutcomeSettlementRejected:
			return "rejected"
		}
		return ""
	}
	return chbatch.Columns{
		"txn_id": str(func(t *Txn) string { return t.ID }), "version": version, "txn_time": txnTime, "txn_ns": txnNs,
		"trace_id":          str(func(t *Txn) string { return traceID(t.ID) }),
		"txn_type":          str(func(t *Txn) string { return t.Type }),
		"outcome":           str(func(t *Txn) string { return string(t.Outcome) }),
		"cause":             str(func(t *Txn) string { return string(t.Cause) }),
		"cause_class":       str(func(t *Txn) string { return string(t.Class) }),
		"cause_source":      str(func(t *Txn) string { return "" }),
		"cause_code":        str(func(t *Txn) string { return t.ResponseCode + t.ErrorType }),
		"response_code":     str(func(t *Txn) string { return t.ResponseCode }),
		"response_source":   str(func(t *Txn) string { return "issuer" }),
		"error_type":        str(func(t *Txn) string { return t.ErrorType }),
		"amount_minor":      amount,
		"currency":          str(func(t *Txn) string { return t.Currency }),
		"terminal_id":       str(func(t *Txn) string { return t.Terminal }),
		"terminal_model":    str(func(t *Txn) string { return "PAX-A920" }),
		"merchant_id":       str(func(t *Txn) string { return t.Merchant }),
		"region":            str(func(t *Txn) string { return t.Region }),
		"gateway_id":        str(func(t *Txn) string { return t.Gateway }),
		"acquirer_id":       str(func(t *Txn) string { return t.Acquirer }),
		"issuer_id":         str(func(t *Txn) string { return t.Issuer }),
		"card_scheme":       str(func(t *Txn) string { return t.Scheme }),
		"card_funding":      str(func(t *Txn) string { return t.Funding }),
		"entry_mode":        str(func(t *Txn) string { return t.EntryMode }),
		"card_bin":          str(func(t *Txn) string { return "622848" }),
		"batch_number":      str(func(t *Txn) string { return t.BatchNumber }),
		"settlement_status": str(settleStatus),
		"settlement_date":   str(func(t *Txn) string { return "" }),
		"settlement_code":   str(func(t *Txn) string { return "" }),
		"settled_ns":        settled, "latency_ns": latency, "span_count": spanCount, "rules_revision": rev,
		"data_issues": issues, "fact_hours": factHours, "assembled_at": assembled,
	}
}

func traceID(id string) string {
	b := []byte(fmt.Sprintf("%-16.16s", id))
	return string(b)
}

// Insert writes rows (see Rows) into the transactions table in batches.
func Insert(ctx context.Context, conn driver.Conn, db string, rows []Txn, assembledAt time.Time) error {
	const batch = 100000
	for start := 0; start < len(rows); start += batch {
		part := rows[start:min(start+batch, len(rows))]
		qctx, cancel := chconn.WithQuerySettings(ctx, 5*time.Minute)
		err := chbatch.Insert(qctx, conn, db, chschema.Transactions, Columns(part, assembledAt), len(part))
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}
