package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/settlewatch/settlewatch/simulator"
)

const backfillHelp = `Sends the history of a time range with its timestamps in the past, as fast as
the collector accepts it (the SDK's queue blocks when full: nothing is dropped).
Transactions start in [from, to); the batch closes and settlements they cause
follow, up to -as-of (default now). With -days N the range starts at local
midnight (fleet.timezone) N days ago and ends now, so scenario offsets such as
"+14h" mean 14:00 local on the first day.`

// runRange computes a backfill range from -days / -from / -to.
func runRange(days int, from, to string, loc *time.Location, now time.Time) (time.Time, time.Time, error) {
	end := now
	if to != "" {
		t, err := time.Parse(time.RFC3339Nano, to)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("-to %q is not an RFC 3339 time", to)
		}
		end = t
	}
	var start time.Time
	if from != "" {
		t, err := time.Parse(time.RFC3339Nano, from)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("-from %q is not an RFC 3339 time", from)
		}
		start = t
	} else {
		if days < 1 {
			return time.Time{}, time.Time{}, fmt.Errorf("-days must be at least 1")
		}
		l := end.In(loc)
		start = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -days)
	}
	if !end.After(start) {
		return time.Time{}, time.Time{}, fmt.Errorf("the range ends (%s) before it starts (%s)", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	return start, end, nil
}

func cmdBackfill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommon("backfill", backfillHelp, stdout, stderr)
	days := c.fs.Int("days", 1, "days of history: from local midnight N days ago until -to")
	from := c.fs.String("from", "", "start of the range, RFC 3339 (instead of -days)")
	to := c.fs.String("to", "", "end of the range, RFC 3339 (default: now)")
	if err := c.parse(args); err != nil {
		return usageError(stderr, err)
	}
	cfg, err := c.config()
	if err != nil {
		return configError(stderr, err)
	}
	loc, err := time.LoadLocation(cfg.Fleet.Timezone)
	if err != nil {
		return configError(stderr, err)
	}
	now := time.Now()
	start, end, err := runRange(*days, *from, *to, loc, now)
	if err != nil {
		return usageError(stderr, err)
	}
	asOf, err := c.asOfTime(now)
	if err != nil {
		return usageError(stderr, err)
	}
	if asOf.Before(end) {
		return usageError(stderr, fmt.Errorf("-as-of (%s) is before the end of the range (%s)", asOf.Format(time.RFC3339), end.Format(time.RFC3339)))
	}
	gen, err := simulator.NewGenerator(cfg, simulator.GenOptions{Range: simulator.Range{From: start, To: end, AsOf: asOf}})
	if err != nil {
		return configError(stderr, err)
	}
	em, err := c.emitter(ctx, true, 65536)
	if err != nil {
		return usageError(stderr, err)
	}
	var rec *simulator.TruthRecorder
	if c.truthDir != "" {
		rec = simulator.NewTruthRecorder(c.window)
	}
	fmt.Fprintf(stderr, "backfill %s to %s (%s), as of %s, %d terminals, %d scenarios -> %s (%s)\n",
		start.In(loc).Format("2006-01-02 15:04"), end.In(loc).Format("2006-01-02 15:04"), loc, asOf.In(loc).Format("2006-01-02 15:04"),
		len(gen.Fleet().Terminals), len(gen.Scenarios()), c.endpointName(), c.protocol)

	var simNow, events atomic.Int64
	simNow.Store(start.UnixNano())
	hook := func(ev simulator.Event) {
		simNow.Store(ev.At.UnixNano())
		events.Add(1)
	}
	horizon := end.Add(36 * time.Hour)
	if asOf.Before(horizon) {
		horizon = asOf
	}
	started := time.Now()
	stopProgress := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		line := newStatusLine(stderr)
		every := 2 * time.Second
		if line.tty {
			every = 200 * time.Millisecond
		}
		tk := time.NewTicker(every)
		defer tk.Stop()
		draw := func() {
			sim := time.Unix(0, simNow.Load())
			f := float64(sim.Sub(start)) / float64(horizon.Sub(start))
			el := time.Since(started)
			eta := "?"
			if f > 0.001 {
				eta = fmtDur(time.Duration(float64(el) * (1 - f) / f))
			}
			st := em.Stats()
			line.show(fmt.Sprintf("backfill %s %5.1f%%  %s  %s txns  %s spans/s  queued %s  ETA %s", bar(f, 30), 100*min(f, 1),
				sim.In(loc).Format("2006-01-02 15:04"), num(st.Txns), num(int64(float64(st.SpansExported)/el.Seconds())),
				num(st.SpansQueued), eta))
		}
		for {
			select {
			case <-stopProgress:
				draw()
				line.done()
				return
			case <-tk.C:
				draw()
			}
		}
	}()
	runErr := simulator.Backfill(ctx, gen, em, rec, hook)
	if runErr == nil {
		simNow.Store(horizon.UnixNano())
	}
	close(stopProgress)
	wg.Wait()
	extra := map[string]any{"range": start.Format(time.RFC3339) + " to " + end.Format(time.RFC3339), "as_of": asOf.Format(time.RFC3339)}
	if errors.Is(runErr, context.Canceled) {
		extra["interrupted"] = true
	}
	st, err := c.finish("backfill", em, rec, asOf, started, extra)
	switch {
	case runErr != nil && !errors.Is(runErr, context.Canceled):
		fmt.Fprintf(stderr, "settlewatch-sim: %v\n", runErr)
		return exitFailure
	case err != nil:
		fmt.Fprintf(stderr, "settlewatch-sim: %v\n", err)
		return exitFailure
	case st.SpansFailed > 0 || st.SpansDropped > 0:
		fmt.Fprintf(stderr, "settlewatch-sim: %d spans failed to export, %d dropped (last error: %s)\n", st.SpansFailed, st.SpansDropped, st.LastError)
		return exitFailure
	case runErr != nil:
		fmt.Fprintln(stderr, "settlewatch-sim: interrupted")
		return exitFailure
	}
	return exitOK
}

func usageError(w io.Writer, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK // the flag package printed the usage
	}
	fmt.Fprintf(w, "settlewatch-sim: %v\n", err)
	return exitUsage
}

func configError(w io.Writer, err error) int {
	fmt.Fprintf(w, "settlewatch-sim: %v\n", err)
	return exitUsage
}
