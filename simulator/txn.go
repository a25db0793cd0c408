package simulator

import (
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// shape is how a transaction's trace looks: which spans exist and which fail.
type shape uint8

const (
	shOnline                  shape = iota // terminal -> gateway -> issuer answers
	shOffline                              // approved offline by the chip (Y1): no host request
	shOfflineAfterHostFail                 // host unreachable, approved offline (Y3)
	shGatewayAnswers                       // the gateway answers itself, no issuer request
	shGatewayIssuerError                   // the issuer request fails; the gateway answers (91, 96)
	shSwitchAnswers                        // the card network (switch) answers for the issuer
	shStandIn                              // the issuer times out; the gateway approves on its behalf
	shFailRootEarly                        // the terminal fails before reading the card
	shFailAfterRead                        // the terminal fails after reading the card
	shFailCardRead                         // the card read fails
	shFailPIN                              // PIN entry fails
	shFailHost                             // the host request fails; the gateway never sees it
	shFailHostGatewayAnswered              // the connection breaks after the gateway answered; reversal
	shFailTimeoutNoGateway                 // the terminal times out, the gateway never saw it; reversal
	shFailTimeoutLateAnswer                // the terminal times out before the gateway's answer arrives; reversal
	shFailTimeoutGateway                   // the terminal times out; the gateway timed out too; reversal
	shFailGatewaySpan                      // the gateway fails (gateway_error, routing_failure, internal_error)
)

// intent is what a transaction is meant to end as, and how.
type intent struct {
	outcome      Outcome
	cause        Cause
	code         string // response code on pos.transaction (approved, declined)
	source       string // pos.response.source
	shape        shape
	errType      string // the failure's error.type (failed)
	childErr     string // error.type of a failed span underneath an answer (issuer request, Y3 host request)
	reversalFail bool   // the first reversal attempts fail too
	needPIN      bool
}

var txnTypes = []string{"sale", "refund", "void", "preauth", "completion"}

var (
	schemesCN  = choices("unionpay", 0.52, "wechat", 0.20, "alipay", 0.18, "visa", 0.04, "mastercard", 0.03, "jcb", 0.015, "amex", 0.015)
	schemesHK  = choices("unionpay", 0.30, "visa", 0.25, "mastercard", 0.20, "alipay", 0.10, "wechat", 0.08, "amex", 0.04, "jcb", 0.03)
	entryModes = choices("contactless", 0.48, "chip", 0.44, "magstripe", 0.05, "fallback", 0.02, "manual", 0.01)
	netErrors  = choices("connection_refused", 0.30, "connection_reset", 0.25, "network_unreachable", 0.20, "dns_failure", 0.15, "tls_failure", 0.10)
)

// answer says who produces a decline code and how the trace looks.
type answer uint8

const (
	byIssuer answer = iota
	bySwitch
	byGateway
	byGatewayAfterIssuerError
)

type codeSpec struct {
	code string
	w    float64
	by   answer
}

// declineGroups are the baseline decline groups: the codes each one uses, with
// their relative frequencies, and the cause the generator means by them.
var declineGroups = map[string]struct {
	cause Cause
	codes []codeSpec
}{
	"insufficient_funds": {CauseAccount, []codeSpec{{"51", 0.86, byIssuer}, {"46", 0.03, byIssuer}, {"78", 0.03, byIssuer},
		{"52", 0.02, byIssuer}, {"53", 0.02, byIssuer}, {"39", 0.02, byIssuer}, {"9G", 0.02, byIssuer}}},
	"bank_policy": {CauseBankPolicy, []codeSpec{{"05", 0.50, byIssuer}, {"57", 0.14, byIssuer}, {"62", 0.10, byIssuer},
		{"58", 0.07, byIssuer}, {"12", 0.06, byIssuer}, {"5C", 0.04, byIssuer}, {"01", 0.03, byIssuer}, {"40", 0.03, byIssuer},
		{"93", 0.02, byIssuer}, {"02", 0.01, byIssuer}}},
	"pin": {CauseAuthorization, []codeSpec{{"55", 0.82, byIssuer}, {"75", 0.13, byIssuer}, {"38", 0.03, byIssuer}, {"86", 0.02, byIssuer}}},
	"card": {CauseCard, []codeSpec{{"54", 0.38, byIssuer}, {"14", 0.18, byIssuer}, {"59", 0.12, byIssuer}, {"41", 0.07, byIssuer},
		{"43", 0.05, byIssuer}, {"04", 0.05, byIssuer}, {"33", 0.05, byIssuer}, {"34", 0.05, byIssuer}, {"07", 0.03, byIssuer}}},
	"limit":    {CauseLimit, []codeSpec{{"61", 0.70, byIssuer}, {"65", 0.30, byIssuer}}},
	"operator": {CauseOperator, []codeSpec{{"13", 0.60, byIssuer}, {"64", 0.25, byIssuer}, {"45", 0.15, byIssuer}}},
	"gateway": {CauseGateway, []codeSpec{{"91", 0.55, byGatewayAfterIssuerError}, {"92", 0.12, byGateway}, {"15", 0.10, byGateway},
		{"09", 0.08, byGateway}, {"90", 0.15, bySwitch}}},
	"system": {CauseSystem, []codeSpec{{"96", 0.30, byGatewayAfterIssuerError}, {"96", 0.25, byGateway}, {"06", 0.10, byGateway},
		{"30", 0.10, byIssuer}, {"22", 0.05, byGateway}, {"94", 0.05, bySwitch}, {"97", 0.05, byGateway}, {"88", 0.05, bySwitch},
		{"19", 0.05, byIssuer}}},
	"timeout": {CauseTimeout, []codeSpec{{"68", 0.70, bySwitch}, {"98", 0.30, bySwitch}}},
	"unknown": {CauseUnknown, []codeSpec{{"N7", 0.40, byIssuer}, {"Q1", 0.30, byIssuer}, {"87", 0.30, byIssuer}}},
}

// genErrorCause is the generator's own reading of the error.type values it
// emits (the oracle has its own, from the contract's table).
var genErrorCause = map[string]Cause{
	"connection_refused": CauseNetwork, "connection_reset": CauseNetwork, "network_unreachable": CauseNetwork,
	"dns_failure": CauseNetwork, "tls_failure": CauseNetwork, "upload_failed": CauseNetwork,
	"timeout":             CauseTimeout,
	"gateway_unavailable": CauseGateway, "gateway_error": CauseGateway, "routing_failure": CauseGateway,
	"internal_error": CauseSystem, "database_error": CauseSystem, "sync_failure": CauseSystem, "app_crash": CauseSystem,
	"hardware_fault": CauseSystem,
	"pin_cancelled":  CauseAuthorization, "signature_missing": CauseAuthorization,
	"invalid_amount": CauseOperator, "wrong_payment_method": CauseOperator, "card_read_error": CauseOperator,
	"operator_cancelled": CauseOperator,
	"batch_rejected":     CauseSettlement, "batch_out_of_balance": CauseSettlement, "settlement_rejected": CauseSettlement,
}

var errMessages = map[string]string{
	"connection_refused":   "dial tcp: connection refused",
	"connection_reset":     "read tcp: connection reset by peer",
	"network_unreachable":  "connect: network is unreachable",
	"dns_failure":          "lookup gateway host: no such host",
	"tls_failure":          "tls: handshake failure",
	"timeout":              "no response before the timeout",
	"gateway_unavailable":  "503 Service Unavailable",
	"gateway_error":        "gateway error",
	"routing_failure":      "no route to the issuer",
	"internal_error":       "internal error",
	"database_error":       "local database error",
	"sync_failure":         "data synchronisation failed",
	"app_crash":            "payment application crashed",
	"hardware_fault":       "card reader hardware fault",
	"pin_cancelled":        "PIN entry cancelled",
	"signature_missing":    "signature missing",
	"invalid_amount":       "invalid amount",
	"wrong_payment_method": "wrong payment method",
	"card_read_error":      "card read error",
	"operator_cancelled":   "cancelled by the operator",
}

func errMessage(et string) string {
	if m, ok := errMessages[et]; ok {
		return m
	}
	return et
}

// newTxn generates one transaction attempt on a terminal at a time. Each
// transaction has its own random stream (seed, terminal, arrival number), and
// each scenario draws from its own stream too, so a scenario changes only the
// transactions it hits.
func (g *Generator) newTxn(ts *termState, at time.Time, seq uint64) *Txn {
	term := ts.t
	m := term.Merchant
	key := mix(g.seed, hashString("txn"), uint64(ts.idx), seq)
	r := newRNG(key)
	t := &Txn{
		Time: at, Terminal: term, Gateway: m.Gateway, Acquirer: m.Acquirer, Currency: m.Region.Currency,
		// The arrival time is part of the trace id: seq restarts in every
		// run, so runs over different ranges must not reuse trace ids.
		BatchNumber: ts.batchNo, TraceID: traceIDFrom(mix(key, uint64(at.UnixNano()))), seq: seq,
	}
	t.ID = ts.txnID(at, g.loc)
	t.Type = txnTypes[r.pick(g.typeWeights)]
	g.drawCard(&r, t)
	t.AmountMinor = drawAmount(&r, m, t.Type)
	t.PINAsked = pinAsked(&r, t)
	in := g.baselineIntent(&r, t)
	for _, s := range g.scen {
		if len(s.txn) == 0 || !s.Active(at) || !s.matchesTxn(t) {
			continue
		}
		sr := newRNG(mix(key, 0x5ce7a810, uint64(s.Index)))
		k := s.drawTxn(&sr)
		if k == "" {
			continue
		}
		in = scenarioIntent(&sr, s, k, t)
		t.Scenario = s.Name
		break
	}
	if in.needPIN && t.EntryMode != "qr" {
		t.PINAsked = true
	}
	t.IntendedOutcome, t.IntendedCause = in.outcome, in.cause
	g.buildSpans(&r, t, in, key)

	ts.attempts++
	// Keep what settlement needs only if the batch can still close in this run
	// (load runs that end before 22:00 would otherwise hoard every sale).
	if in.outcome == OutcomeApproved && (g.asOf.IsZero() || !ts.closeAt.After(g.asOf)) {
		switch t.Type {
		case "sale", "completion", "refund":
			ts.refs = append(ts.refs, txnRef{id: t.ID, typ: t.Type, amount: t.AmountMinor, currency: t.Currency})
		}
	}
	return t
}

func (g *Generator) drawCard(r *rng, t *Txn) {
	sc := schemesCN
	if t.Terminal.Merchant.Region.hk {
		sc = schemesHK
	}
	scheme := sc.draw(r)
	issuers := g.fleet.bySchemeIssuers[scheme]
	if len(issuers) == 0 {
		scheme = "unionpay"
		issuers = g.fleet.bySchemeIssuers[scheme]
	}
	w := make([]float64, len(issuers))
	for i, is := range issuers {
		w[i] = is.Weight
	}
	is := issuers[r.pick(w)]
	t.Scheme, t.Issuer = scheme, is
	if len(is.BINs) == 0 { // wallet
		t.EntryMode = "qr"
		t.Funding = choices("debit", 0.7, "prepaid", 0.3).draw(r)
		return
	}
	b := is.BINs[r.intn(len(is.BINs))]
	t.BIN, t.Funding = b.BIN, b.Funding
	t.EntryMode = entryModes.draw(r)
}

func drawAmount(r *rng, m *Merchant, typ string) int64 {
	med := float64(m.TicketMinor)
	switch typ {
	case "preauth", "completion":
		med *= 3
	case "refund":
		med *= 0.8
	}
	a := int64(med * r.lognormal(0, 0.85))
	if r.chance(0.35) && a >= 100 {
		a = a / 100 * 100 // whole yuan
	}
	if a < 1 {
		a = 1
	}
	if a > 50_000_000 {
		a = 50_000_000
	}
	return a
}

// pinAsked: UnionPay debit cards ask for a PIN on contact reads; credit cards
// sometimes; contactless only above the CVM limit (CNY 1,000); QR and manual never.
func pinAsked(r *rng, t *Txn) bool {
	u := r.float()
	switch t.EntryMode {
	case "qr", "manual":
		return false
	case "contactless":
		return t.AmountMinor > 100000
	}
	switch {
	case t.Scheme == "unionpay" && t.Funding != "credit":
		return true
	case t.Scheme == "unionpay":
		return u < 0.5
	default:
		return u < 0.25
	}
}

func (g *Generator) baselineIntent(r *rng, t *Txn) intent {
	u := r.float()
	for _, d := range g.declines {
		if u < d.p {
			return declineIntent(r, d.group)
		}
		u -= d.p
	}
	for _, f := range g.failures {
		if u < f.p {
			return failureIntent(r, f.group, t)
		}
		u -= f.p
	}
	return g.approveIntent(r, t)
}

func (g *Generator) approveIntent(r *rng, t *Txn) intent {
	in := intent{outcome: OutcomeApproved, cause: CauseNone, code: "00", source: "issuer", shape: shOnline}
	if t.EntryMode == "chip" && r.chance(g.cfg.Baseline.OfflineApprovalRate) {
		in.code, in.source, in.shape = "Y1", "terminal", shOffline
		return in
	}
	if t.EntryMode != "qr" && r.chance(g.cfg.Baseline.NonZeroApprovalRate) {
		in.code = choices("10", 0.40, "08", 0.25, "11", 0.20, "85", 0.15).draw(r)
	}
	return in
}

func declineIntent(r *rng, group string) intent {
	dg := declineGroups[group]
	w := make([]float64, len(dg.codes))
	for i, c := range dg.codes {
		w[i] = c.w
	}
	cs := dg.codes[r.pick(w)]
	in := intent{outcome: OutcomeDeclined, cause: dg.cause, code: cs.code, needPIN: group == "pin"}
	switch cs.by {
	case byIssuer:
		in.shape, in.source = shOnline, "issuer"
	case bySwitch:
		in.shape, in.source = shSwitchAnswers, "switch"
	case byGateway:
		in.shape, in.source = shGatewayAnswers, "gateway"
	case byGatewayAfterIssuerError:
		in.shape, in.source = shGatewayIssuerError, "gateway"
		if cs.code == "91" {
			in.source = "switch"
		}
		in.childErr = choices("timeout", 0.6, "connection_refused", 0.25, "connection_reset", 0.15).draw(r)
	}
	return in
}

func failureIntent(r *rng, group string, t *Txn) intent {
	in := intent{outcome: OutcomeFailed}
	switch group {
	case "network":
		in.cause, in.shape, in.errType = CauseNetwork, shFailHost, netErrors.draw(r)
		if in.errType == "connection_reset" && r.chance(0.5) {
			in.shape = shFailHostGatewayAnswered
		}
	case "timeout":
		in.cause, in.errType = CauseTimeout, "timeout"
		in.shape = []shape{shFailTimeoutNoGateway, shFailTimeoutLateAnswer, shFailTimeoutGateway}[r.pick([]float64{0.4, 0.3, 0.3})]
	case "gateway":
		in.cause = CauseGateway
		in.errType = choices("gateway_unavailable", 0.5, "gateway_error", 0.35, "routing_failure", 0.15).draw(r)
		in.shape = shFailGatewaySpan
		if in.errType == "gateway_unavailable" {
			in.shape = shFailHost
		}
	case "system":
		in.cause = CauseSystem
		in.errType = choices("app_crash", 0.30, "database_error", 0.15, "hardware_fault", 0.20, "internal_error", 0.25, "sync_failure", 0.10).draw(r)
		switch in.errType {
		case "hardware_fault":
			in.shape = shFailCardRead
		case "internal_error":
			in.shape = shFailGatewaySpan
		default:
			in.shape = shFailAfterRead
		}
	case "operator":
		in.cause = CauseOperator
		in.errType = choices("operator_cancelled", 0.50, "card_read_error", 0.25, "invalid_amount", 0.10, "wrong_payment_method", 0.15).draw(r)
		switch in.errType {
		case "card_read_error":
			in.shape = shFailCardRead
		case "invalid_amount":
			in.shape = shFailRootEarly
		default:
			in.shape = shFailAfterRead
		}
	case "authorization":
		in.cause = CauseAuthorization
		in.errType = choices("pin_cancelled", 0.8, "signature_missing", 0.2).draw(r)
		in.shape = shFailAfterRead
		if in.errType == "pin_cancelled" {
			in.shape, in.needPIN = shFailPIN, true
		}
	}
	return in
}

// scenarioIntent turns a scenario's drawn outcome key into an intent.
func scenarioIntent(r *rng, s *Scenario, key string, t *Txn) intent {
	declined := func(cause Cause, code, source string, sh shape) intent {
		return intent{outcome: OutcomeDeclined, cause: cause, code: code, source: source, shape: sh}
	}
	failed := func(cause Cause, et string, sh shape) intent {
		return intent{outcome: OutcomeFailed, cause: cause, errType: et, shape: sh}
	}
	switch key {
	case "code_91":
		in := declined(CauseGateway, "91", "switch", shGatewayIssuerError)
		in.childErr = choices("timeout", 0.7, "connection_refused", 0.3).draw(r)
		return in
	case "code_96":
		if r.chance(0.5) {
			in := declined(CauseSystem, "96", "gateway", shGatewayIssuerError)
			in.childErr = "connection_reset"
			return in
		}
		return declined(CauseSystem, "96", "gateway", shGatewayAnswers)
	case "code_92":
		return declined(CauseGateway, "92", "gateway", shGatewayAnswers)
	case "timeout":
		in := failed(CauseTimeout, "timeout", shFailTimeoutNoGateway)
		if s.Type == ScenarioNetworkDegradation {
			if r.chance(0.6) {
				in.shape = shFailTimeoutLateAnswer
			}
			in.reversalFail = r.chance(0.5)
		} else if r.chance(0.5) {
			in.shape = shFailTimeoutGateway
		}
		return in
	case "gateway_unavailable":
		return failed(CauseGateway, "gateway_unavailable", shFailHost)
	case "stand_in":
		return intent{outcome: OutcomeApproved, cause: CauseNone, code: "00", source: "stand_in", shape: shStandIn, childErr: "timeout"}
	case "offline_approved":
		if t.EntryMode != "qr" {
			return intent{outcome: OutcomeApproved, cause: CauseNone, code: "Y3", source: "terminal",
				shape: shOfflineAfterHostFail, childErr: netErrors.draw(r)}
		}
		fallthrough // a QR payment cannot be approved offline: it fails
	case "connection_error":
		in := failed(CauseNetwork, netErrors.draw(r), shFailHost)
		if in.errType == "connection_reset" && r.chance(0.3) {
			in.shape = shFailHostGatewayAnswered
			in.reversalFail = r.chance(0.5)
		}
		return in
	case "code_57", "code_62", "code_5C":
		return declined(CauseBankPolicy, key[5:], "issuer", shOnline)
	case "code_A0", "code_99":
		return declined(CauseSystem, key[5:], "gateway", shGatewayAnswers)
	case "code_63":
		return declined(CauseSystem, "63", "switch", shSwitchAnswers)
	case "code_90":
		return declined(CauseGateway, "90", "switch", shSwitchAnswers)
	case "operator_cancelled":
		return failed(CauseOperator, "operator_cancelled", shFailAfterRead)
	case "invalid_amount":
		return failed(CauseOperator, "invalid_amount", shFailRootEarly)
	case "card_read_error":
		return failed(CauseOperator, "card_read_error", shFailCardRead)
	case "code_13", "code_64":
		return declined(CauseOperator, key[5:], "issuer", shOnline)
	case "code_61", "code_65":
		return declined(CauseLimit, key[5:], "issuer", shOnline)
	}
	panic("simulator: no intent for scenario rate " + key)
}

const ms = time.Millisecond

type spanBuilder struct {
	t   *Txn
	key uint64
	id  attribute.KeyValue
}

func (b *spanBuilder) add(parent int, name string, svc Service, kind trace.SpanKind, start, end time.Time, attrs ...attribute.KeyValue) int {
	i := len(b.t.Spans)
	b.t.Spans = append(b.t.Spans, SpanPlan{Name: name, Service: svc, Kind: kind, Parent: parent,
		SpanID: spanIDFrom(b.key, i), Start: start, End: end, Attrs: append([]attribute.KeyValue{b.id}, attrs...)})
	return i
}

func (b *spanBuilder) fail(i int, et string) {
	sp := &b.t.Spans[i]
	sp.Error, sp.ErrType, sp.Message = true, et, errMessage(et)
}

func (b *spanBuilder) answer(i int, code, source string) {
	sp := &b.t.Spans[i]
	sp.Code, sp.Source = code, source
}

// buildSpans lays out the transaction's spans on its timeline.
func (g *Generator) buildSpans(r *rng, t *Txn, in intent, key uint64) {
	t.Spans = make([]SpanPlan, 0, 8)
	b := &spanBuilder{t: t, key: key, id: attribute.String(AttrTxnID, t.ID)}
	root := b.add(-1, SpanTransaction, ServiceTerminal, trace.SpanKindInternal, t.Time, t.Time)
	cur := t.Time.Add(r.dur(20*ms, 250*ms))
	done := func(end time.Time) { g.finishRoot(r, t, in, end) }

	if in.shape == shFailRootEarly {
		done(cur.Add(r.dur(1*time.Second, 6*time.Second)))
		return
	}
	rd := readDuration(r, t.EntryMode)
	cr := b.add(root, SpanCardRead, ServiceTerminal, trace.SpanKindInternal, cur, cur.Add(rd),
		attribute.String("pos.card.entry_mode", t.EntryMode))
	cur = cur.Add(rd)
	switch in.shape {
	case shFailCardRead:
		b.fail(cr, in.errType)
		done(cur.Add(r.dur(300*ms, 2*time.Second)))
		return
	case shFailAfterRead:
		done(cur.Add(r.dur(500*ms, 8*time.Second)))
		return
	}
	if t.PINAsked {
		pd := r.dur(2500*ms, 9*time.Second)
		pe := b.add(root, SpanPINEntry, ServiceTerminal, trace.SpanKindInternal, cur, cur.Add(pd))
		cur = cur.Add(pd)
		if in.shape == shFailPIN {
			b.fail(pe, in.errType)
			done(cur.Add(r.dur(200*ms, 1*time.Second)))
			return
		}
	} else if in.shape == shFailPIN { // a wallet payment cancelled in the customer's app
		done(cur.Add(r.dur(2*time.Second, 20*time.Second)))
		return
	}
	if in.shape == shOffline {
		done(cur.Add(r.dur(200*ms, 600*ms)))
		return
	}

	gw := t.Gateway
	h0 := cur.Add(r.dur(30*ms, 150*ms))
	hostAttrs := []attribute.KeyValue{
		attribute.String("server.address", gw.Host),
		attribute.Int("server.port", gw.Port),
		attribute.String("network.transport", "tcp"),
		attribute.String("network.connection.type", t.Terminal.Network),
	}
	if t.Terminal.NetworkSubtype != "" {
		hostAttrs = append(hostAttrs, attribute.String("network.connection.subtype", t.Terminal.NetworkSubtype))
	}
	host := b.add(root, SpanHostRequest, ServiceTerminal, trace.SpanKindClient, h0, h0, hostAttrs...)
	timeout := g.cfg.Baseline.TerminalTimeout.D()
	var hEnd time.Time
	reversal := false
	switch in.shape {
	case shFailHost:
		hEnd = h0.Add(connErrDuration(r, in.errType))
		b.fail(host, in.errType)
	case shOfflineAfterHostFail:
		hEnd = h0.Add(connErrDuration(r, in.childErr))
		b.fail(host, in.childErr)
	case shFailHostGatewayAnswered:
		_, gwEnd := g.gatewaySpans(b, r, t, host, h0, g.latency(r), "00", "issuer", gwAnswer, "")
		hEnd = gwEnd.Add(r.dur(5*ms, 80*ms))
		b.fail(host, in.errType)
		reversal = true
	case shFailTimeoutNoGateway:
		hEnd = h0.Add(timeout)
		b.fail(host, "timeout")
		reversal = true
	case shFailTimeoutLateAnswer:
		g.gatewaySpans(b, r, t, host, h0, timeout+r.dur(500*ms, 8*time.Second), "00", "issuer", gwAnswer, "")
		hEnd = h0.Add(timeout)
		b.fail(host, "timeout")
		reversal = true
	case shFailTimeoutGateway:
		g.gatewaySpans(b, r, t, host, h0, timeout+r.dur(1*time.Second, 5*time.Second), "", "", gwTimeout, "timeout")
		hEnd = h0.Add(timeout)
		b.fail(host, "timeout")
		reversal = true
	case shFailGatewaySpan:
		_, gwEnd := g.gatewaySpans(b, r, t, host, h0, r.dur(40*ms, 3*time.Second), "", "", gwFail, in.errType)
		hEnd = gwEnd.Add(r.dur(5*ms, 60*ms))
		b.fail(host, in.errType)
	default: // the gateway answers
		mode, L := gwAnswer, g.latency(r)
		switch in.shape {
		case shGatewayAnswers:
			mode, L = gwNoIssuer, r.dur(60*ms, 600*ms)
		case shGatewayIssuerError, shStandIn:
			mode, L = gwIssuerFail, r.dur(100*ms, 1500*ms)
		case shSwitchAnswers:
			mode = gwSwitch
			if in.code == "68" || in.code == "98" {
				L = g.cfg.Baseline.IssuerTimeout.D() + r.dur(100*ms, 500*ms)
			}
		}
		_, gwEnd := g.gatewaySpans(b, r, t, host, h0, L, in.code, in.source, mode, in.childErr)
		hEnd = gwEnd.Add(r.dur(10*ms, 120*ms))
	}
	t.Spans[host].End = hEnd
	cur = hEnd
	if reversal {
		cur = g.reversals(r, b, t, root, cur, in.reversalFail)
	}
	done(cur.Add(r.dur(150*ms, 900*ms)))
}

type gwMode uint8

const (
	gwAnswer     gwMode = iota // gateway and issuer answer the code
	gwSwitch                   // the switch answers the issuer request
	gwNoIssuer                 // the gateway answers without asking the issuer
	gwIssuerFail               // the issuer request fails (errType); the gateway answers the code
	gwTimeout                  // the gateway and the issuer request both time out
	gwFail                     // the gateway fails (errType) without an issuer request
)

// gatewaySpans adds gateway.authorize (child of the host request, through W3C
// propagation at emission) and, depending on the mode, gateway.issuer.request.
// L is the host request's nominal duration. It returns the authorize span's
// index and end.
func (g *Generator) gatewaySpans(b *spanBuilder, r *rng, t *Txn, host int, h0 time.Time, L time.Duration,
	code, source string, mode gwMode, errType string) (int, time.Time) {
	up := min(L/8, r.dur(15*ms, 120*ms))
	down := min(L/8, r.dur(15*ms, 120*ms))
	gw0, gw1 := h0.Add(up), h0.Add(L-down)
	gwi := b.add(host, SpanAuthorize, ServiceGateway, trace.SpanKindServer, gw0, gw1)
	issTimeout := g.cfg.Baseline.IssuerTimeout.D()
	issAttrs := []attribute.KeyValue{
		attribute.String("pos.acquirer.id", t.Acquirer.ID),
		attribute.String("pos.issuer.id", t.Issuer.ID),
		attribute.String("server.address", t.Scheme+".switch.example.net"),
	}
	i0 := gw0.Add(r.dur(2*ms, 15*ms))
	switch mode {
	case gwAnswer, gwSwitch:
		i1 := gw1.Add(-r.dur(2*ms, 10*ms))
		if !i1.After(i0) {
			i1 = i0.Add(ms)
		}
		iss := b.add(gwi, SpanIssuerRequest, ServiceGateway, trace.SpanKindClient, i0, i1, issAttrs...)
		b.answer(iss, code, source)
		b.answer(gwi, code, source)
	case gwNoIssuer:
		b.answer(gwi, code, source)
	case gwIssuerFail:
		i1 := i0.Add(r.dur(5*ms, 1500*ms))
		if errType == "timeout" {
			i1 = i0.Add(issTimeout)
		}
		iss := b.add(gwi, SpanIssuerRequest, ServiceGateway, trace.SpanKindClient, i0, i1, issAttrs...)
		b.fail(iss, errType)
		b.answer(gwi, code, source)
		if end := i1.Add(r.dur(5*ms, 200*ms)); end.After(gw1) {
			gw1 = end
		}
	case gwTimeout:
		iss := b.add(gwi, SpanIssuerRequest, ServiceGateway, trace.SpanKindClient, i0, i0.Add(issTimeout), issAttrs...)
		b.fail(iss, "timeout")
		b.fail(gwi, errType)
		if end := i0.Add(issTimeout).Add(r.dur(5*ms, 200*ms)); end.After(gw1) {
			gw1 = end
		}
	case gwFail:
		b.fail(gwi, errType)
	}
	t.Spans[gwi].End = gw1
	return gwi, gw1
}

// reversals adds the automatic reversal after a timeout or an unknown result:
// one attempt, or up to three when the network is still bad.
func (g *Generator) reversals(r *rng, b *spanBuilder, t *Txn, root int, at time.Time, fail bool) time.Time {
	n := 1
	if fail {
		n = 2 + r.intn(2)
	}
	cur := at.Add(r.dur(200*ms, 1*time.Second))
	gw := t.Gateway
	for i := 0; i < n; i++ {
		last := i == n-1
		d, et := time.Duration(0), ""
		if last {
			d = g.latency(r)
		} else {
			et = choices("connection_refused", 0.6, "timeout", 0.4).draw(r)
			d = r.dur(20*ms, 300*ms)
			if et == "timeout" {
				d = 15 * time.Second
			}
		}
		rv := b.add(root, SpanReversal, ServiceTerminal, trace.SpanKindClient, cur, cur.Add(d),
			attribute.String("server.address", gw.Host), attribute.Int("server.port", gw.Port),
			attribute.String("network.transport", "tcp"))
		if et != "" {
			b.fail(rv, et)
		}
		cur = cur.Add(d)
		if !last {
			cur = cur.Add(r.dur(3*time.Second, 8*time.Second))
		}
	}
	return cur
}

// finishRoot completes pos.transaction: its end, attributes and result, and
// sometimes leaves error.type off a failed root so the cause has to come from
// the deepest failed span (only when that gives the same cause, unambiguously).
func (g *Generator) finishRoot(r *rng, t *Txn, in intent, end time.Time) {
	sp := &t.Spans[0]
	sp.End = end
	attrs := []attribute.KeyValue{
		attribute.String(AttrTxnID, t.ID),
		attribute.String("pos.txn.type", t.Type),
		attribute.Int64("pos.amount.minor", t.AmountMinor),
		attribute.String("pos.currency", t.Currency),
		attribute.String("pos.gateway.id", t.Gateway.ID),
		attribute.String("pos.card.scheme", t.Scheme),
		attribute.String("pos.card.funding", t.Funding),
		attribute.String("pos.card.entry_mode", t.EntryMode),
		attribute.String("pos.batch.number", t.BatchNumber),
	}
	if t.BIN != "" {
		attrs = append(attrs, attribute.String("pos.card.bin", t.BIN))
	}
	sp.Attrs = attrs
	switch in.outcome {
	case OutcomeApproved, OutcomeDeclined:
		sp.Code, sp.Source = in.code, in.source
	case OutcomeFailed:
		sp.Error, sp.ErrType, sp.Message = true, in.errType, errMessage(in.errType)
		if r.chance(g.cfg.Baseline.OmitRootErrorType) && deepestFailureIs(t, in.cause) {
			sp.ErrType = ""
		}
	}
}

// deepestFailureIs reports whether every failed span at the greatest depth
// below the root carries an error.type meaning want.
func deepestFailureIs(t *Txn, want Cause) bool {
	depth := make([]int, len(t.Spans))
	best := -1
	ok := false
	for i := 1; i < len(t.Spans); i++ {
		sp := &t.Spans[i]
		depth[i] = depth[sp.Parent] + 1
		if !sp.Error {
			continue
		}
		good := sp.ErrType != "" && genErrorCause[sp.ErrType] == want
		switch {
		case depth[i] > best:
			best, ok = depth[i], good
		case depth[i] == best:
			ok = ok && good
		}
	}
	return best > 0 && ok
}

func (g *Generator) latency(r *rng) time.Duration {
	mu, sigma := g.latMu, g.latSigma
	if r.float() < slowTailShare {
		mu, sigma = g.latMu+math.Log(slowTailFactor), slowTailSigma
	}
	d := time.Duration(r.lognormal(mu, sigma) * float64(time.Second))
	limit := g.cfg.Baseline.TerminalTimeout.D() - 500*ms
	if d < 120*ms {
		d = 120 * ms
	}
	if d > limit {
		d = limit
	}
	return d
}

func readDuration(r *rng, entry string) time.Duration {
	switch entry {
	case "contactless":
		return r.dur(300*ms, 800*ms)
	case "chip":
		return r.dur(1500*ms, 3500*ms)
	case "magstripe":
		return r.dur(600*ms, 1500*ms)
	case "fallback":
		return r.dur(3*time.Second, 7*time.Second)
	case "manual":
		return r.dur(8*time.Second, 20*time.Second)
	}
	return r.dur(1*time.Second, 3*time.Second) // qr
}

func connErrDuration(r *rng, et string) time.Duration {
	switch et {
	case "connection_refused":
		return r.dur(20*ms, 300*ms)
	case "connection_reset":
		return r.dur(100*ms, 3*time.Second)
	case "network_unreachable":
		return r.dur(1*ms, 20*ms)
	case "dns_failure":
		return r.dur(500*ms, 5*time.Second)
	case "tls_failure":
		return r.dur(200*ms, 2*time.Second)
	case "gateway_unavailable":
		return r.dur(50*ms, 400*ms)
	}
	return r.dur(100*ms, 1*time.Second)
}
