package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/settlewatch/settlewatch/simulator"
)

const loadHelp = `Load generator for benchmarks: -workers goroutines, each driving its share of
the fleet's terminals, send -rate transactions per second in total for
-duration, through one tuned batch span processor (large queue, 2048-span
batches, 200ms timeout). By default a full queue drops spans, and the report
says how many were sent, exported, failed and dropped; -blocking makes the
senders wait instead. Transactions are sent when they start.`

func cmdLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommon("load", loadHelp, stdout, stderr)
	workers := c.fs.Int("workers", 4, "sending goroutines")
	rate := c.fs.Float64("rate", 1000, "target transactions per second, all workers together")
	dur := c.fs.Duration("duration", 30*time.Second, "how long to send")
	blocking := c.fs.Bool("blocking", false, "block when the SDK queue is full instead of dropping spans")
	if err := c.parse(args); err != nil {
		return usageError(stderr, err)
	}
	if *workers < 1 || *rate <= 0 || *dur <= 0 {
		return usageError(stderr, fmt.Errorf("-workers, -rate and -duration must be positive"))
	}
	cfg, err := c.config()
	if err != nil {
		return configError(stderr, err)
	}
	now := time.Now()
	r := simulator.Range{From: now, To: now.Add(*dur)}
	r.AsOf = r.To
	var gens []*simulator.Generator
	for i := 0; i < *workers; i++ {
		g, err := simulator.NewGenerator(cfg, simulator.GenOptions{Range: r, Rate: *rate, Shard: i, Shards: *workers})
		if err != nil {
			return configError(stderr, err)
		}
		gens = append(gens, g)
	}
	em, err := c.emitter(ctx, *blocking, 262144)
	if err != nil {
		return usageError(stderr, err)
	}
	var rec *simulator.TruthRecorder
	if c.truthDir != "" {
		rec = simulator.NewTruthRecorder(c.window)
	}
	fmt.Fprintf(stderr, "load: %d workers, %s tx/s for %s over %d terminals -> %s (%s)\n", *workers, fmtRate(*rate), *dur,
		len(gens[0].Fleet().Terminals), c.endpointName(), c.protocol)
	runCtx, cancel := context.WithTimeout(ctx, *dur+5*time.Second)
	defer cancel()
	var cnt counters
	started := time.Now()
	stopProgress := make(chan struct{})
	var pw sync.WaitGroup
	pw.Add(1)
	go func() {
		defer pw.Done()
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
			el := time.Since(started).Seconds()
			st := em.Stats()
			line.show(fmt.Sprintf("load %s  %s txns (%s/s of %s)  spans %s (%s/s) exported %s queued %s failed %s",
				fmtDur(time.Since(started)), num(cnt.txns.Load()), fmtRate(float64(cnt.txns.Load())/el), fmtRate(*rate),
				num(st.SpansEnded), num(int64(float64(st.SpansEnded)/el)), num(st.SpansExported), num(st.SpansQueued), num(st.SpansFailed)))
		}
	}()
	var wg sync.WaitGroup
	errs := make([]error, len(gens))
	for i, g := range gens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = simulator.Live(runCtx, g, em, rec, cnt.hook, simulator.LiveOptions{PaceByStart: true})
		}()
	}
	wg.Wait()
	sendTime := time.Since(started)
	close(stopProgress)
	pw.Wait()
	sent := cnt.txns.Load()
	extra := map[string]any{
		"workers": *workers, "target_txns_per_second": *rate,
		"achieved_txns_per_second": float64(sent) / sendTime.Seconds(),
		"send_seconds":             sendTime.Seconds(),
	}
	st, err := c.finish("load", em, rec, r.AsOf, started, extra)
	for _, e := range errs {
		if e != nil && !errors.Is(e, context.Canceled) && !errors.Is(e, context.DeadlineExceeded) {
			fmt.Fprintf(stderr, "settlewatch-sim: %v\n", e)
			return exitFailure
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "settlewatch-sim: %v\n", err)
		return exitFailure
	}
	_ = st
	return exitOK
}
