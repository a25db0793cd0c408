package simulator

import (
	"math"
	"regexp"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

func TestSameSeedSamePlan(t *testing.T) {
	cfg := mustParse(t, "seed: 7\nfleet: {merchants: 10}\n")
	a := mustGenerate(t, cfg, oneDay())
	b := mustGenerate(t, mustParse(t, "seed: 7\nfleet: {merchants: 10}\n"), oneDay())
	if len(a.Txns()) < 1000 {
		t.Fatalf("only %d transactions", len(a.Txns()))
	}
	if planDigest(a) != planDigest(b) {
		t.Fatal("the same seed gave different plans")
	}
	c := mustGenerate(t, mustParse(t, "seed: 8\nfleet: {merchants: 10}\n"), oneDay())
	if planDigest(a) == planDigest(c) {
		t.Fatal("a different seed gave the same plan")
	}
	if a.Fleet.Terminals[0].ID == c.Fleet.Terminals[0].ID && a.Fleet.Merchants[3].ID == c.Fleet.Merchants[3].ID &&
		a.Fleet.Terminals[5].ID == c.Fleet.Terminals[5].ID {
		t.Fatal("different seeds built the same fleet")
	}
}

// A generator is a stream: splitting the timeline does not change the events.
func TestEventsInTimeOrderAndBounded(t *testing.T) {
	cfg := mustParse(t, "fleet: {merchants: 8}\n")
	r := oneDay()
	p := mustGenerate(t, cfg, r)
	last := time.Time{}
	for _, e := range p.Events {
		if e.At.Before(last) {
			t.Fatalf("event at %v after one at %v", e.At, last)
		}
		last = e.At
		if e.Kind == EventTxn && (e.At.Before(r.From) || !e.At.Before(r.To)) {
			t.Fatalf("transaction at %v outside the range", e.At)
		}
		if e.At.After(p.Range.AsOf) {
			t.Fatalf("event after AsOf")
		}
	}
	// AsOf cuts follow-ups: with AsOf = To, nothing of the next day's settlement is produced.
	q := mustGenerate(t, cfg, Range{From: r.From, To: r.To, AsOf: r.To})
	if len(q.Files()) >= len(p.Files()) {
		t.Fatalf("AsOf=To produced %d settlement files, the full run %d", len(q.Files()), len(p.Files()))
	}
}

func TestIntentMatchesOracleEverywhere(t *testing.T) {
	// Every scenario type at once (different targets, so no overlaps), and
	// a high omission rate to exercise the deepest-descendant rule.
	cfg := mustParse(t, allScenariosYAML)
	cfg.Baseline.OmitRootErrorType = 0.5
	p := mustGenerate(t, cfg, oneDay())
	rec := NewTruthRecorder(0)
	n := 0
	for _, e := range p.Events {
		rec.Observe(e)
		if e.Kind != EventTxn {
			continue
		}
		tx := e.Txn
		got, err := ClassifyAuth(tx.Spans)
		if err != nil {
			t.Fatal(err)
		}
		if got.Outcome != tx.IntendedOutcome || got.Cause != tx.IntendedCause || got.Ambiguous {
			t.Errorf("%s (%s): oracle says %s/%s (ambiguous %v), generator meant %s/%s", tx.ID, tx.Scenario,
				got.Outcome, got.Cause, got.Ambiguous, tx.IntendedOutcome, tx.IntendedCause)
			if n++; n > 10 {
				t.FailNow()
			}
		}
	}
	if rec.Ambiguous() != 0 {
		t.Fatalf("%d ambiguous transactions", rec.Ambiguous())
	}
}

// 100k transactions of baseline traffic look like card-present reality.
func TestBaselineMix(t *testing.T) {
	if testing.Short() {
		t.Skip("100k transactions")
	}
	cfg := mustParse(t, "seed: 3\nfleet: {merchants: 150, terminals_per_merchant: 3}\nbaseline: {txns_per_terminal_per_day: 120}\n")
	p := mustGenerate(t, cfg, Range{From: day0, To: day0.Add(48 * time.Hour)})
	txns := p.Txns()
	if len(txns) < 100000 {
		t.Fatalf("only %d transactions", len(txns))
	}
	byOutcome := map[Outcome]int{}
	declines := map[Cause]int{}
	technical := 0
	var lat []float64
	hours := map[int]int{}
	days := map[time.Weekday]int{}
	for _, tx := range txns {
		a, _ := ClassifyAuth(tx.Spans)
		byOutcome[a.Outcome]++
		if a.Outcome == OutcomeDeclined {
			declines[a.Cause]++
		}
		switch a.Cause {
		case CauseNetwork, CauseTimeout, CauseGateway, CauseSystem:
			technical++
		}
		if a.Outcome == OutcomeApproved && a.Code == "00" && tx.Spans[0].Source == "issuer" {
			for _, s := range tx.Spans {
				if s.Name == SpanHostRequest {
					lat = append(lat, s.End.Sub(s.Start).Seconds())
				}
			}
		}
		lt := tx.Time.In(p.Fleet.Location)
		hours[lt.Hour()]++
		days[lt.Weekday()]++
	}
	n := float64(len(txns))
	approval := float64(byOutcome[OutcomeApproved]) / n
	if approval < 0.965 || approval > 0.976 {
		t.Errorf("approval rate %.4f, want about 0.97", approval)
	}
	if tech := float64(technical) / n; tech < 0.0015 || tech > 0.006 {
		t.Errorf("technical failures %.4f, want a few tenths of a percent", tech)
	}
	order := []Cause{CauseAccount, CauseBankPolicy, CauseAuthorization, CauseCard, CauseLimit, CauseOperator}
	for i := 1; i < len(order); i++ {
		if declines[order[i-1]] <= declines[order[i]] {
			t.Errorf("declines: %s (%d) should lead %s (%d)", order[i-1], declines[order[i-1]], order[i], declines[order[i]])
		}
	}
	sort.Float64s(lat)
	p50, p95, p999 := lat[len(lat)/2], lat[len(lat)*95/100], lat[len(lat)*999/1000]
	if math.Abs(p50-1) > 0.1 || math.Abs(p95-3) > 0.3 {
		t.Errorf("authorization latency p50 %.2fs p95 %.2fs, want about 1s and 3s", p50, p95)
	}
	if p999 < 10 || lat[len(lat)-1] < 30 {
		t.Errorf("no long tail: p99.9 %.1fs, max %.1fs", p999, lat[len(lat)-1])
	}
	if hours[12] < 10*hours[3] || hours[19] < 10*hours[3] {
		t.Errorf("daily curve too flat: 03h %d, 12h %d, 19h %d", hours[3], hours[12], hours[19])
	}
	t.Logf("%d txns, approval %.4f, technical %.4f, declines %v, latency p50 %.2f p95 %.2f p99.9 %.1f max %.1f", len(txns), approval,
		float64(technical)/n, declines, p50, p95, p999, lat[len(lat)-1])
}

func TestWeeklyCurve(t *testing.T) {
	cfg := mustParse(t, "fleet: {merchants: 20}\n")
	p := mustGenerate(t, cfg, Range{From: day0, To: day0.Add(7 * 24 * time.Hour), AsOf: day0.Add(7 * 24 * time.Hour)})
	days := map[time.Weekday]int{}
	for _, tx := range p.Txns() {
		days[tx.Time.In(p.Fleet.Location).Weekday()]++
	}
	if days[time.Saturday] <= days[time.Tuesday] {
		t.Errorf("Saturday %d should be busier than Tuesday %d", days[time.Saturday], days[time.Tuesday])
	}
}

func TestBatchCloseAndSettlementSchedule(t *testing.T) {
	cfg := mustParse(t, "fleet: {merchants: 30, d0_share: 0.3}\n")
	p := mustGenerate(t, cfg, oneDay())
	loc := p.Fleet.Location
	closes := p.Closes()
	if len(closes) == 0 {
		t.Fatal("no batch close")
	}
	for _, c := range closes {
		lt := c.Start.In(loc)
		min := lt.Hour()*60 + lt.Minute()
		if min < 21*60+40 || min > 22*60+20 {
			t.Errorf("batch close at %s local, want around 22:00", lt.Format("15:04"))
		}
	}
	d0, t1 := 0, 0
	for _, f := range p.Files() {
		lt := f.Time.In(loc)
		closeDay := ""
		for _, c := range closes {
			if c.Terminal == f.Terminal && c.BatchNumber == f.BatchNumber {
				closeDay = c.BusinessDate
				if f.Time.Before(c.End) {
					t.Errorf("settlement before its batch close")
				}
			}
		}
		if f.Terminal.Merchant.D0 {
			d0++
			if f.Date != closeDay {
				t.Errorf("D0 settlement dated %s for a close on %s", f.Date, closeDay)
			}
		} else {
			t1++
			if f.Date == closeDay || lt.Hour() < 2 || lt.Hour() > 7 {
				t.Errorf("T+1 settlement dated %s at %s for a close on %s", f.Date, lt.Format("2006-01-02 15:04"), closeDay)
			}
		}
	}
	if d0 == 0 || t1 == 0 {
		t.Fatalf("D0 files %d, T+1 files %d: want both", d0, t1)
	}
	// Every approved sale is in a batch that closed and settled (baseline, no failures).
	truth := truthOf(p, DefaultSettlementWindow)
	for _, tx := range p.Txns() {
		tr := truth[tx.ID]
		if tx.IntendedOutcome == OutcomeApproved && settlesType(tx.Type) && tr.Outcome != OutcomeSettled &&
			tr.Outcome != OutcomeSettlementRejected && tr.Outcome != OutcomeUnsettled {
			t.Errorf("%s is %s as of the end of the run", tx.ID, tr.Outcome)
		}
	}
}

func TestSpanShapes(t *testing.T) {
	cfg := mustParse(t, allScenariosYAML)
	p := mustGenerate(t, cfg, oneDay())
	seen := map[string]bool{}
	for _, tx := range p.Txns() {
		names := map[string]int{}
		var host *SpanPlan
		for i := range tx.Spans {
			s := &tx.Spans[i]
			names[s.Name]++
			if i > 0 && (s.Parent < 0 || s.Parent >= i) {
				t.Fatalf("%s: span %d has parent %d", tx.ID, i, s.Parent)
			}
			if s.End.Before(s.Start) {
				t.Fatalf("%s: %s ends before it starts", tx.ID, s.Name)
			}
			if s.Error != (s.ErrType != "") && !(i == 0 && s.Error) {
				t.Fatalf("%s: %s has status error %v but error.type %q", tx.ID, s.Name, s.Error, s.ErrType)
			}
			if s.Name == SpanHostRequest {
				host = s
			}
			if s.Name == SpanAuthorize && tx.Spans[s.Parent].Name != SpanHostRequest {
				t.Fatalf("%s: gateway.authorize under %s", tx.ID, tx.Spans[s.Parent].Name)
			}
			if s.Name == SpanIssuerRequest && tx.Spans[s.Parent].Name != SpanAuthorize {
				t.Fatalf("%s: gateway.issuer.request under %s", tx.ID, tx.Spans[s.Parent].Name)
			}
		}
		if tx.Spans[0].Name != SpanTransaction || names[SpanTransaction] != 1 || names[SpanCardRead] > 1 {
			t.Fatalf("%s: bad root or duplicates: %v", tx.ID, names)
		}
		if names[SpanPINEntry] > 0 && !tx.PINAsked {
			t.Fatalf("%s: PIN entry although no PIN was asked", tx.ID)
		}
		if tx.PINAsked && host != nil && names[SpanPINEntry] != 1 {
			t.Fatalf("%s: a PIN was asked before the host request but there are %d PIN spans", tx.ID, names[SpanPINEntry])
		}
		if names[SpanReversal] > 0 {
			if host == nil || !host.Error || (host.ErrType != "timeout" && host.ErrType != "connection_reset") {
				t.Fatalf("%s: reversal without a timeout or unknown result", tx.ID)
			}
			seen["reversal"] = true
		}
		if host != nil && host.Error && host.ErrType != "timeout" && host.ErrType != "connection_reset" && names[SpanAuthorize] > 0 &&
			CauseOfErrorType(host.ErrType) == CauseNetwork {
			t.Fatalf("%s: gateway spans although the terminal never reached the gateway (%s)", tx.ID, host.ErrType)
		}
		if host != nil && host.Error && CauseOfErrorType(host.ErrType) == CauseNetwork && names[SpanAuthorize] == 0 {
			seen["network-no-gateway"] = true
		}
		root := tx.Spans[0]
		if (root.Code == "91" || root.Code == "96") && hasFailed(tx, SpanIssuerRequest) {
			seen["decline-over-issuer-error"] = true
		}
		if root.Source == "stand_in" && hasFailed(tx, SpanIssuerRequest) {
			seen["stand-in"] = true
		}
		if root.Code == "Y3" && host != nil && host.Error {
			seen["Y3"] = true
		}
		if root.Error && root.ErrType == "" {
			seen["root-without-error-type"] = true
		}
	}
	for _, k := range []string{"reversal", "network-no-gateway", "decline-over-issuer-error", "stand-in", "Y3", "root-without-error-type"} {
		if !seen[k] {
			t.Errorf("no transaction of shape %s", k)
		}
	}
}

func hasFailed(tx *Txn, name string) bool {
	for _, s := range tx.Spans {
		if s.Name == name && s.Error {
			return true
		}
	}
	return false
}

// digitChain is a run of digit groups joined by single spaces or dashes: what
// a PAN masker reads as one card number.
var digitChain = regexp.MustCompile(`[0-9]+(?:[ -][0-9]+)*`)

func looksLikeCard(s string) bool {
	for _, m := range digitChain.FindAllString(s, -1) {
		n := 0
		for _, c := range m {
			if c >= '0' && c <= '9' {
				n++
			}
		}
		if n >= 13 {
			return true
		}
	}
	return false
}

func TestIDsAndNoCardNumbers(t *testing.T) {
	p := mustGenerate(t, mustParse(t, allScenariosYAML), oneDay())
	for _, m := range p.Fleet.Merchants {
		if len(m.ID) != 15 || luhnValid(m.ID) {
			t.Fatalf("merchant id %s: want 15 digits failing the Luhn check", m.ID)
		}
	}
	ids := map[string]bool{}
	check := func(where string, kv []attribute.KeyValue) {
		for _, a := range kv {
			if a.Value.Type() == attribute.STRING && looksLikeCard(a.Value.AsString()) {
				t.Fatalf("%s: %s=%q looks like a card number", where, a.Key, a.Value.AsString())
			}
		}
	}
	for _, tx := range p.Txns() {
		if ids[tx.ID] {
			t.Fatalf("duplicate txn id %s", tx.ID)
		}
		ids[tx.ID] = true
		for _, s := range tx.Spans {
			check(tx.ID, s.Attrs)
		}
	}
	for _, c := range p.Closes() {
		check("batch", c.attrs())
	}
	for _, f := range p.Files() {
		for _, it := range f.Items {
			if looksLikeCard(it.TxnID) || looksLikeCard(f.Date) || looksLikeCard(f.BatchNumber) {
				t.Fatalf("settlement item %s looks like a card number", it.TxnID)
			}
		}
	}
	if !looksLikeCard("65576126-261123-02182562996") || looksLikeCard("65576126D261123T02182562996") {
		t.Fatal("looksLikeCard is wrong")
	}
}

func TestFlatRateAndShards(t *testing.T) {
	cfg := mustParse(t, "fleet: {merchants: 10}\n")
	from := day0.Add(3 * time.Hour)
	total := 0
	for s := 0; s < 3; s++ {
		g, err := NewGenerator(cfg, GenOptions{Range: Range{From: from, To: from.Add(100 * time.Second)}, Rate: 50, Shard: s, Shards: 3})
		if err != nil {
			t.Fatal(err)
		}
		for {
			e, ok := g.Next()
			if !ok {
				break
			}
			if e.Kind == EventTxn {
				if e.Txn.Terminal.Index%3 != s {
					t.Fatalf("shard %d produced terminal %d", s, e.Txn.Terminal.Index)
				}
				total++
			}
		}
	}
	if total < 4300 || total > 5700 {
		t.Fatalf("50 tx/s for 100 s gave %d transactions", total)
	}
}
