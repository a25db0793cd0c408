package simulator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestSimulateBackfill(t *testing.T) {
	cfg, err := LoadConfig("scenarios/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Fleet.Merchants = 12 // keep the test small
	cfg.Scenarios[1].Region = ""
	cfg.Scenarios[1].Merchant = "#2"
	exp := tracetest.NewInMemoryExporter()
	r := Range{From: day0, To: day0.Add(24 * time.Hour), AsOf: day0.Add(72 * time.Hour)}
	res, err := SimulateBackfill(context.Background(), cfg, r, keepSpans{exp}, EmitterOptions{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(exp.GetSpans())) != res.Stats.SpansEnded || res.Stats.SpansDropped != 0 {
		t.Fatalf("stats %+v, %d spans", res.Stats, len(exp.GetSpans()))
	}
	var byName int64
	for _, n := range res.SpansByName {
		byName += n
	}
	if res.Spans != res.Stats.SpansEnded || byName != res.Spans || res.SpansByName[SpanSettlementTxn] == 0 {
		t.Fatalf("span counts %d / %v, stats %+v", res.Spans, res.SpansByName, res.Stats)
	}
	if len(res.Truth) == 0 || int64(len(res.Truth)) != res.Stats.Txns {
		t.Fatalf("%d truth records, %d transactions", len(res.Truth), res.Stats.Txns)
	}
	scen := map[string]int{}
	for _, tr := range res.Truth {
		if tr.Outcome == OutcomePending {
			t.Fatalf("%s pending 48h after the day", tr.TxnID)
		}
		scen[tr.Scenario]++
	}
	if scen["gw-2 outage"] == 0 && scen["wuhan network degradation"] == 0 {
		t.Fatalf("no transaction shaped by the scenarios: %v", scen)
	}
}

func TestLivePacing(t *testing.T) {
	cfg := mustParse(t, "fleet: {merchants: 5}\n")
	now := time.Now()
	gen, err := NewGenerator(cfg, GenOptions{Range: Range{From: now, To: now.Add(1500 * time.Millisecond)}, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	em := NewEmitter(keepSpans{exp}, EmitterOptions{})
	var mu sync.Mutex
	late, early, n := 0, 0, 0
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = Live(ctx, gen, em, nil, func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		n++
		at := time.Now()
		if at.Before(ev.End()) {
			early++
		}
		if at.Sub(ev.End()) > 2*time.Second { // generous: the machine may be busy
			late++
		}
	}, LiveOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Live: %v", err)
	}
	if _, err := em.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A transaction lasts seconds (card read, PIN, authorization): only the quick ones are due.
	if n < 20 || early > 0 || late > n/5 {
		t.Fatalf("%d events, %d before their end, %d late", n, early, late)
	}

	// Paced by start, a bounded run ends by itself with every transaction sent.
	now = time.Now()
	gen, _ = NewGenerator(cfg, GenOptions{Range: Range{From: now, To: now.Add(time.Second), AsOf: now.Add(time.Second)}, Rate: 300})
	em = NewEmitter(keepSpans{tracetest.NewInMemoryExporter()}, EmitterOptions{})
	rec := NewTruthRecorder(0)
	start := time.Now()
	if err := Live(context.Background(), gen, em, rec, nil, LiveOptions{PaceByStart: true}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 800*time.Millisecond || el > 10*time.Second {
		t.Fatalf("a one-second live run took %v", el)
	}
	st, _ := em.Shutdown(context.Background())
	if st.Txns < 200 || st.Txns > 420 || int64(rec.Len()) != st.Txns {
		t.Fatalf("300 tx/s for 1s: %d transactions, %d recorded", st.Txns, rec.Len())
	}
}

// A sender far behind its schedule (every event of the range already due)
// stops when ctx is done, in the middle of what is due, instead of sending
// the rest of the range first; what it did not send is not in the truth.
func TestLiveBehindScheduleStopsAtTheDeadline(t *testing.T) {
	cfg := mustParse(t, "fleet: {merchants: 5}\n")
	now := time.Now()
	gen, err := NewGenerator(cfg, GenOptions{Range: Range{From: now, To: now.Add(10 * time.Second)}, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	em := NewEmitter(keepSpans{tracetest.NewInMemoryExporter()}, EmitterOptions{})
	rec := NewTruthRecorder(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sent := 0
	later := func() time.Time { return now.Add(time.Minute) } // the whole range is due
	err = Live(ctx, gen, em, rec, func(Event) {
		if sent++; sent == 50 {
			cancel() // the deadline passes while the sender is behind
		}
	}, LiveOptions{PaceByStart: true, Now: later})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Live: %v, want context.Canceled", err)
	}
	if _, err := em.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sent != 50 || rec.Len() != 50 {
		t.Fatalf("%d events sent and %d recorded after the deadline at the 50th; want 50 (the range holds about 2000)", sent, rec.Len())
	}
}
