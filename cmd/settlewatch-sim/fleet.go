package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/settlewatch/settlewatch/simulator"
)

func cmdFleet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "scenario file (default: the built-in baseline)")
	seed := fs.Uint64("seed", 0, "random seed (overrides the scenario file's)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: settlewatch-sim fleet [flags]\n\nPrints the fleet a scenario file builds: the ids scenarios can target (or #N).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError(stderr, err)
	}
	cfg, err := loadForTool(*scenario, fs, *seed)
	if err != nil {
		return configError(stderr, err)
	}
	f, err := simulator.BuildFleet(cfg)
	if err != nil {
		return configError(stderr, err)
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "seed %d, time zone %s\n\n", cfg.Seed, f.Location)
	fmt.Fprintln(w, "GATEWAY\tHOST\tVERSION")
	for _, g := range f.Gateways {
		fmt.Fprintf(w, "%s\t%s\t%s\n", g.ID, g.Host, g.Version)
	}
	fmt.Fprintln(w, "\nACQUIRER")
	for _, a := range f.Acquirers {
		fmt.Fprintf(w, "%s\n", a.ID)
	}
	fmt.Fprintln(w, "\nISSUER\tSCHEME\tBINS (funding)")
	for _, is := range f.Issuers {
		var bins []string
		for _, b := range is.BINs {
			bins = append(bins, b.BIN+" ("+b.Funding+")")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", is.ID, is.Scheme, strings.Join(bins, ", "))
	}
	fmt.Fprintln(w, "\n#\tMERCHANT\tREGION\tCURRENCY\tMCC\tGATEWAY\tACQUIRER\tSETTLEMENT\tTERMINALS")
	for _, m := range f.Merchants {
		var ts []string
		for _, t := range m.Terminals {
			ts = append(ts, fmt.Sprintf("#%d %s", t.Index+1, t.ID))
		}
		settle := "T+1"
		if m.D0 {
			settle = "D0"
		}
		fmt.Fprintf(w, "#%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Index+1, m.ID, m.Region.Name, m.Region.Currency, m.MCC,
			m.Gateway.ID, m.Acquirer.ID, settle, strings.Join(ts, ", "))
	}
	fmt.Fprintln(w, "\n#\tTERMINAL\tMERCHANT\tMODEL\tAPP VERSION\tNETWORK")
	for _, t := range f.Terminals {
		nw := t.Network
		if t.NetworkSubtype != "" {
			nw += "/" + t.NetworkSubtype
		}
		fmt.Fprintf(w, "#%d\t%s\t#%d %s\t%s\t%s\t%s\n", t.Index+1, t.ID, t.Merchant.Index+1, t.Merchant.ID, t.Model, t.AppVersion, nw)
	}
	_ = w.Flush()
	return exitOK
}

func loadForTool(path string, fs *flag.FlagSet, seed uint64) (*simulator.Config, error) {
	cfg := simulator.DefaultConfig()
	if path != "" {
		var err error
		if cfg, err = simulator.LoadConfig(path); err != nil {
			return nil, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "seed" {
			cfg.Seed = seed
		}
	})
	return cfg, nil
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "scenario file to check")
	seed := fs.Uint64("seed", 0, "random seed (overrides the scenario file's)")
	days := fs.Int("days", 1, "check against a backfill of N days (see backfill)")
	from := fs.String("from", "", "check against a backfill from this RFC 3339 time")
	to := fs.String("to", "", "... to this RFC 3339 time (default: now)")
	live := fs.Duration("live", 0, "check against a live run of this duration instead (-1ns: until Ctrl-C)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: settlewatch-sim check -scenario file.yaml [flags]\n\nValidates a scenario file (keys, rates, targets, windows) against a run.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError(stderr, err)
	}
	if *scenario == "" {
		return usageError(stderr, fmt.Errorf("-scenario is required"))
	}
	cfg, err := loadForTool(*scenario, fs, *seed)
	if err != nil {
		return configError(stderr, err)
	}
	loc, err := time.LoadLocation(cfg.Fleet.Timezone)
	if err != nil {
		return configError(stderr, err)
	}
	now := time.Now()
	var r simulator.Range
	if *live != 0 {
		r.From = now
		if *live > 0 {
			r.To = now.Add(*live)
		}
	} else {
		start, end, err := runRange(*days, *from, *to, loc, now)
		if err != nil {
			return usageError(stderr, err)
		}
		r = simulator.Range{From: start, To: end}
	}
	gen, err := simulator.NewGenerator(cfg, simulator.GenOptions{Range: r})
	if err != nil {
		return configError(stderr, err)
	}
	fmt.Fprintf(stdout, "%s: ok, %d merchants, %d terminals, %d scenarios\n", *scenario, len(gen.Fleet().Merchants),
		len(gen.Fleet().Terminals), len(gen.Scenarios()))
	for _, s := range gen.Scenarios() {
		target := "whole fleet"
		if s.TargetKind != "" {
			target = s.TargetKind + " " + s.TargetID
		}
		when := s.Start.In(loc).Format("2006-01-02 15:04") + " for " + s.Duration.String()
		if s.Daily {
			when += ", daily"
		}
		var rates []string
		for k, v := range s.TxnRates {
			rates = append(rates, fmt.Sprintf("%s=%g", k, v))
		}
		for k, v := range s.BatchRates {
			rates = append(rates, fmt.Sprintf("%s=%g", k, v))
		}
		sort.Strings(rates)
		fmt.Fprintf(stdout, "  %s: %s on %s, %s (%s)\n", s.Name, s.Type, target, when, strings.Join(rates, " "))
	}
	return exitOK
}
