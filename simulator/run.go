package simulator

import (
	"context"
	"fmt"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Backfill emits every event of gen, in order, as fast as the emitter takes
// them (give the emitter Blocking so that nothing is dropped), records each in
// rec (may be nil) and calls hook (may be nil) after each. Timestamps are the
// plan's, so the past is written as the past. It stops early when ctx is done.
func Backfill(ctx context.Context, gen *Generator, em *Emitter, rec *TruthRecorder, hook func(Event)) error {
	for i := 0; ; i++ {
		if i&255 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ev, ok := gen.Next()
		if !ok {
			return nil
		}
		if err := em.Emit(ev); err != nil {
			return err
		}
		if rec != nil {
			rec.Observe(ev)
		}
		if hook != nil {
			hook(ev)
		}
	}
}

// LiveOptions tune Live.
type LiveOptions struct {
	// PaceByStart emits an event when it starts instead of when it ends
	// (load generation: no warm-up delay; spans then end slightly in the future).
	PaceByStart bool
	// Now is the clock (default time.Now); tests may replace it.
	Now func() time.Time
}

// Live emits the events of gen in real time: each one when the wall clock
// reaches its end (a transaction is sent when its terminal shows the result),
// or its start with PaceByStart. Events not yet due when ctx is done are not
// emitted (and not recorded). It returns ctx's error, or nil when gen is exhausted.
func Live(ctx context.Context, gen *Generator, em *Emitter, rec *TruthRecorder, hook func(Event), o LiveOptions) error {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	var due dueHeap
	var next *Event
	exhausted := false
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		t := now()
		for !exhausted {
			if next == nil {
				ev, ok := gen.Next()
				if !ok {
					exhausted = true
					break
				}
				next = &ev
			}
			if next.At.After(t) {
				break
			}
			at := next.End()
			if o.PaceByStart {
				at = next.At
			}
			due.push(dueItem{at: at.UnixNano(), ev: *next})
			next = nil
		}
		for due.len() > 0 && due.items[0].at <= t.UnixNano() {
			// A sender behind its schedule (a blocking exporter, a load
			// faster than the SDK can export) finds many events due at once;
			// it still stops when ctx is done, not once it has caught up
			// (a load run's -duration bounds how long it sends).
			if err := ctx.Err(); err != nil {
				return err
			}
			ev := due.pop().ev
			if err := em.Emit(ev); err != nil {
				return err
			}
			if rec != nil {
				rec.Observe(ev)
			}
			if hook != nil {
				hook(ev)
			}
		}
		if exhausted && due.len() == 0 {
			return nil
		}
		wait := 250 * time.Millisecond
		if next != nil {
			wait = min(wait, next.At.Sub(t))
		}
		if due.len() > 0 {
			wait = min(wait, time.Duration(due.items[0].at-t.UnixNano()))
		}
		wait = max(wait, time.Millisecond)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
}

type dueItem struct {
	at int64
	ev Event
}

// dueHeap is a min-heap of events by due time.
type dueHeap struct{ items []dueItem }

func (h *dueHeap) len() int { return len(h.items) }

func (h *dueHeap) push(x dueItem) {
	h.items = append(h.items, x)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if h.items[p].at <= h.items[i].at {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *dueHeap) pop() dueItem {
	top := h.items[0]
	n := len(h.items) - 1
	h.items[0] = h.items[n]
	h.items[n] = dueItem{}
	h.items = h.items[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.items[r].at < h.items[l].at {
			m = r
		}
		if h.items[i].at <= h.items[m].at {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}

// BackfillResult is what SimulateBackfill returns.
type BackfillResult struct {
	Range     Range // the effective range (AsOf filled in)
	Fleet     *Fleet
	Scenarios []*Scenario
	Truth     []TruthRecord // ground truth as of Range.AsOf, sorted by txn_time then txn_id
	Recorder  *TruthRecorder
	Stats     EmitStats // after the emitter's Shutdown: SpansDropped should be 0
	// Spans counts the distinct spans sent (duplicates from
	// EmitterOptions.DuplicateRate not included), and SpansByName by span name:
	// what a test waits for in the store before sweeping, since a collector
	// acknowledges spans before they are written.
	Spans       int64
	SpansByName map[string]int64
}

// SimulateBackfill is the one-call form used by tests of the whole pipeline:
// it generates cfg over r, emits every event through exp with a blocking
// batch processor (nothing dropped), shuts the emitter down (flushing and
// shutting exp down) and returns the ground truth as of r.AsOf with the given
// settlement window (0: 36h).
//
// To compare with a store whose own clock is "now", choose a range that ended
// more than the window ago (e.g. From = a local midnight three days back,
// To = From + 24h, AsOf = time.Now()): no transaction is then pending.
func SimulateBackfill(ctx context.Context, cfg *Config, r Range, exp sdktrace.SpanExporter, eo EmitterOptions,
	window time.Duration) (*BackfillResult, error) {
	gen, err := NewGenerator(cfg, GenOptions{Range: r})
	if err != nil {
		return nil, err
	}
	eo.Blocking = true
	em := NewEmitter(exp, eo)
	rec := NewTruthRecorder(window)
	byName := map[string]int64{}
	var spans int64
	runErr := Backfill(ctx, gen, em, rec, func(ev Event) {
		spans += int64(ev.Spans())
		switch ev.Kind {
		case EventTxn:
			for i := range ev.Txn.Spans {
				byName[ev.Txn.Spans[i].Name]++
			}
		case EventBatchClose:
			byName[SpanBatchClose]++
		case EventSettlement:
			byName[SpanSettlementTxn] += int64(len(ev.File.Items))
		}
	})
	st, shutErr := em.Shutdown(context.WithoutCancel(ctx))
	res := &BackfillResult{Range: gen.Range(), Fleet: gen.Fleet(), Scenarios: gen.Scenarios(), Recorder: rec, Stats: st,
		Spans: spans, SpansByName: byName}
	res.Truth = rec.Records(res.Range.AsOf)
	if runErr != nil {
		return res, runErr
	}
	if shutErr != nil {
		return res, fmt.Errorf("simulator: flushing the exporter: %w", shutErr)
	}
	if st.SpansFailed > 0 || st.SpansDropped > 0 {
		return res, fmt.Errorf("simulator: %d spans failed to export and %d were dropped (last error: %s)",
			st.SpansFailed, st.SpansDropped, st.LastError)
	}
	return res, nil
}
