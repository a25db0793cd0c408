package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/settlewatch/settlewatch/simulator"
)

const liveHelp = `Sends traffic in real time: each transaction when its terminal shows the
result, each batch close and settlement when it happens. Runs until -duration
or Ctrl-C and prints a progress line every second. With -rate the fleet sends
that many transactions per second; without, it follows the baseline daily curve.
Scenario offsets count from the start ("+5m").`

// counters are updated by the emission hook and read by the progress line.
type counters struct {
	txns, approved, declined, failed, closes, files atomic.Int64
}

func (c *counters) hook(ev simulator.Event) {
	switch ev.Kind {
	case simulator.EventTxn:
		c.txns.Add(1)
		switch ev.Txn.IntendedOutcome {
		case simulator.OutcomeApproved:
			c.approved.Add(1)
		case simulator.OutcomeDeclined:
			c.declined.Add(1)
		default:
			c.failed.Add(1)
		}
	case simulator.EventBatchClose:
		c.closes.Add(1)
	case simulator.EventSettlement:
		c.files.Add(1)
	}
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func activeScenarios(list []*simulator.Scenario, now time.Time) string {
	var names []string
	for _, s := range list {
		if s.Active(now) {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "  active: " + strings.Join(names, ", ")
}

func cmdLive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommon("live", liveHelp, stdout, stderr)
	rate := c.fs.Float64("rate", 0, "transactions per second over the whole fleet (0: the baseline traffic curve)")
	dur := c.fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	if err := c.parse(args); err != nil {
		return usageError(stderr, err)
	}
	if *rate < 0 || *dur < 0 {
		return usageError(stderr, fmt.Errorf("-rate and -duration must not be negative"))
	}
	cfg, err := c.config()
	if err != nil {
		return configError(stderr, err)
	}
	now := time.Now()
	r := simulator.Range{From: now}
	if *dur > 0 {
		r.To = now.Add(*dur)
	}
	gen, err := simulator.NewGenerator(cfg, simulator.GenOptions{Range: r, Rate: *rate})
	if err != nil {
		return configError(stderr, err)
	}
	em, err := c.emitter(ctx, false, 65536)
	if err != nil {
		return usageError(stderr, err)
	}
	var rec *simulator.TruthRecorder
	if c.truthDir != "" {
		rec = simulator.NewTruthRecorder(c.window)
	}
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if *dur > 0 {
		runCtx, cancel = context.WithTimeout(ctx, *dur)
	}
	defer cancel()
	what := fmt.Sprintf("%s tx/s", fmtRate(*rate))
	if *rate == 0 {
		what = fmt.Sprintf("the daily curve (now %s tx/s)", fmtRate(gen.ExpectedTxnsPerSecond(now)))
	}
	fmt.Fprintf(stderr, "live: %d terminals at %s -> %s (%s); Ctrl-C to stop\n", len(gen.Fleet().Terminals), what, c.endpointName(), c.protocol)

	var cnt counters
	started := time.Now()
	stopProgress := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		line := newStatusLine(stderr)
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-stopProgress:
				line.done()
				return
			case <-tk.C:
			}
			el := time.Since(started)
			n := cnt.txns.Load()
			st := em.Stats()
			line.show(fmt.Sprintf("live %s  %s txns (%s/s)  approved %.1f%% declined %.1f%% failed %.1f%%  spans %s exported %s failed %s%s",
				fmtDur(el), num(n), fmtRate(float64(n)/el.Seconds()), pct(cnt.approved.Load(), n), pct(cnt.declined.Load(), n),
				pct(cnt.failed.Load(), n), num(st.SpansEnded), num(st.SpansExported), num(st.SpansFailed),
				activeScenarios(gen.Scenarios(), time.Now())))
		}
	}()
	runErr := simulator.Live(runCtx, gen, em, rec, cnt.hook, simulator.LiveOptions{})
	close(stopProgress)
	wg.Wait()
	asOf, err := c.asOfTime(time.Now())
	if err != nil {
		return usageError(stderr, err)
	}
	_, err = c.finish("live", em, rec, asOf, started, nil)
	if runErr != nil && !errors.Is(runErr, context.Canceled) && !errors.Is(runErr, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "settlewatch-sim: %v\n", runErr)
		return exitFailure
	}
	if err != nil {
		fmt.Fprintf(stderr, "settlewatch-sim: %v\n", err)
		return exitFailure
	}
	return exitOK
}
