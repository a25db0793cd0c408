package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/settlewatch/settlewatch/analytics/advice"
	"github.com/settlewatch/settlewatch/analytics/model"
	"github.com/settlewatch/settlewatch/analytics/query"
	"github.com/settlewatch/settlewatch/chconn"
)

// analystFlags are shared by the analyst commands.
type analystFlags struct {
	conn     *chconn.Settings
	from, to string
	since    string
	format   string
	filters  multiFlag
	causes   multiFlag
	outcomes multiFlag
	currency string
	source   string
	maxRows  int
}

// multiFlag collects a repeatable flag; each use may hold a comma list.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}

func (m multiFlag) values() []string {
	var out []string
	for _, v := range m {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// register adds the flags; withRange adds -from/-to/-since.
func (a *analystFlags) register(fs *flag.FlagSet, withRange, withFilters bool) {
	a.conn = connFlags(fs)
	if withRange {
		fs.StringVar(&a.from, "from", "", "start of the range: RFC 3339, 'YYYY-MM-DD HH:MM' or a date (UTC)")
		fs.StringVar(&a.to, "to", "", "end of the range, exclusive (default: now, rounded up to the hour)")
		fs.StringVar(&a.since, "since", "24h", "the range is the last DURATION (e.g. 90m, 24h, 7d) when -from is not given; rounded to whole hours")
		fs.StringVar(&a.source, "source", "auto", "auto, rollup or raw: where to read (auto: rollups for long aligned ranges they cover)")
	}
	if withFilters {
		fs.Var(&a.filters, "filter", "DIMENSION=VALUE[,VALUE…], repeatable; dimensions: "+strings.Join(model.DimensionNames(), ", "))
		fs.Var(&a.causes, "cause", "only these causes (repeatable or comma separated)")
		fs.Var(&a.outcomes, "outcome", "only transactions with these outcomes")
		fs.StringVar(&a.currency, "currency", "", "only this currency (ISO 4217, e.g. CNY)")
	}
	fs.StringVar(&a.format, "format", formatTable, "output: table, csv or json")
	fs.IntVar(&a.maxRows, "max-rows", 10000, "row cap of every query")
}

// parseDuration accepts Go durations plus a d (days) suffix.
func parseDuration(flagName, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 400 {
			return 0, usageErr("-%s %q: want a duration such as 90m, 24h or 7d", flagName, v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usageErr("-%s %q: want a positive duration such as 90m, 24h or 7d", flagName, v)
	}
	return d, nil
}

func (a *analystFlags) rangeOf(now time.Time) (query.Range, error) {
	var r query.Range
	switch {
	case a.from != "":
		from, err := parseTime("from", a.from)
		if err != nil {
			return r, err
		}
		to := model.Hour.Ceil(now)
		if a.to != "" {
			if to, err = parseTime("to", a.to); err != nil {
				return r, err
			}
		}
		r = query.Range{From: from.UTC(), To: to.UTC()}
	case a.to != "":
		return r, usageErr("-to needs -from (or use -since)")
	default:
		d, err := parseDuration("since", a.since)
		if err != nil {
			return r, err
		}
		r = query.Range{From: model.Hour.Truncate(now.Add(-d)), To: model.Hour.Ceil(now)}
	}
	if err := r.Validate(); err != nil {
		return r, usageErr("%v", strings.TrimPrefix(err.Error(), query.ErrInvalid.Error()+": "))
	}
	return r, nil
}

func (a *analystFlags) filtersOf() (query.Filters, error) {
	f := query.Filters{Causes: a.causes.values(), Outcomes: a.outcomes.values(), Currency: strings.ToUpper(strings.TrimSpace(a.currency))}
	for _, spec := range a.filters {
		name, vals, ok := strings.Cut(spec, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return f, usageErr("-filter %q: want DIMENSION=VALUE[,VALUE…]", clipArg(spec))
		}
		d, err := model.LookupDimension(name)
		if err != nil {
			return f, usageErr("-filter: %v", err)
		}
		var vs []string
		for v := range strings.SplitSeq(vals, ",") {
			vs = append(vs, strings.TrimSpace(v))
		}
		if f.Dims == nil {
			f.Dims = map[string][]string{}
		}
		f.Dims[d.Name] = append(f.Dims[d.Name], vs...)
	}
	if err := f.Validate(); err != nil {
		return f, usageErr("%v", strings.TrimPrefix(err.Error(), query.ErrInvalid.Error()+": "))
	}
	return f, nil
}

func clipArg(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func (a *analystFlags) check() error {
	if err := checkFormat(a.format); err != nil {
		return err
	}
	if a.maxRows < 1 || a.maxRows > 1_000_000 {
		return usageErr("-max-rows %d: want 1 to 1000000", a.maxRows)
	}
	if err := a.conn.Validate(); err != nil {
		return usageErr("%v", err)
	}
	return nil
}

// querier connects and returns the query layer.
func (a *analystFlags) querier(ctx context.Context) (*query.Querier, func(), error) {
	conn, err := chconn.Open(ctx, *a.conn)
	if err != nil {
		return nil, nil, err
	}
	return &query.Querier{Conn: conn, DB: a.conn.Database, Timeout: a.conn.QueryTimeout, MaxRows: a.maxRows}, func() { conn.Close() }, nil
}

// queryErr maps the query layer's input errors to usage errors (exit 2).
func queryErr(err error) error {
	if errors.Is(err, query.ErrInvalid) {
		return usageErr("%s", strings.TrimPrefix(err.Error(), query.ErrInvalid.Error()+": "))
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("the question ran out of time (-ch-query-timeout) and was cancelled on the server: narrow the range or the filters")
	}
	return err
}

func note(meta query.Meta) {
	if meta.Truncated {
		fmt.Fprintln(os.Stderr, "warning: the result was cut at the row cap (-max-rows, or -limit); narrow the question")
	}
}

// breakdown is a parsed causes/outcomes question with an open querier.
type breakdown struct {
	question
	flags analystFlags
	dim   model.Dimension
}

// breakdownQuestion parses the flags causes and outcomes share and opens the
// querier; the caller must call done.
func breakdownQuestion(ctx context.Context, name string, args []string) (*breakdown, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	b := &breakdown{}
	b.flags.register(fs, true, true)
	by := fs.String("by", "", "break down by this dimension: "+strings.Join(model.DimensionNames(), ", "))
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if err := b.flags.check(); err != nil {
		return nil, err
	}
	if *by != "" {
		d, err := model.LookupDimension(*by)
		if err != nil {
			return nil, usageErr("-by: %v", err)
		}
		b.dim = d
	}
	qq, err := b.flags.question(ctx)
	if err != nil {
		return nil, err
	}
	b.question = *qq
	return b, nil
}

// question is what the analyst commands ask with: the range, filters and
// source their flags give, and an open querier (call done).
type question struct {
	r    query.Range
	f    query.Filters
	src  query.Source
	q    *query.Querier
	done func()
}

func (a *analystFlags) question(ctx context.Context) (*question, error) {
	r, err := a.rangeOf(time.Now())
	if err != nil {
		return nil, err
	}
	f, err := a.filtersOf()
	if err != nil {
		return nil, err
	}
	src, err := query.ParseSource(a.source)
	if err != nil {
		return nil, queryErr(err)
	}
	q, done, err := a.querier(ctx)
	if err != nil {
		return nil, err
	}
	return &question{r: r, f: f, src: src, q: q, done: done}, nil
}

func runCauses(ctx context.Context, args []string, stdout io.Writer) error {
	b, err := breakdownQuestion(ctx, "causes", args)
	if err != nil {
		return err
	}
	defer b.done()
	a, dim, r := &b.flags, b.dim, b.r
	res, err := b.q.CauseBreakdown(ctx, query.CausesQuery{Range: b.r, By: dim.Name, Filters: b.f, Source: b.src})
	if err != nil {
		return queryErr(err)
	}
	note(res.Meta)
	recs := make([]record, 0, len(res.Rows))
	for _, c := range res.Rows {
		var rec record
		if dim.Name != "" {
			rec = append(rec, field{dim.Name, c.Value})
		}
		rec = append(rec, field{"cause", c.Cause}, field{"class", c.Class}, field{"currency", c.Currency},
			field{"transactions", c.Transactions}, field{"amount_minor", c.AmountMinor},
			field{"share", pct(c.Share)}, field{"failure_rate", pct(c.FailureRate)})
		recs = append(recs, rec)
	}
	keys := []string{"cause", "class", "currency", "transactions", "amount_minor", "share", "failure_rate"}
	if dim.Name != "" {
		keys = append([]string{dim.Name}, keys...)
	}
	if a.format == formatTable {
		fmt.Fprintf(stdout, "Failures by cause%s, %s to %s (%s): %d failed of %d transactions\n\n", byText(dim.Name),
			r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), sourceText(res.Meta), res.Failures, res.Transactions)
	}
	return writeRecords(stdout, a.format, keys, recs)
}

func byText(d string) string {
	if d == "" {
		return ""
	}
	return " and " + d
}

func sourceText(m query.Meta) string {
	if m.Source == "rollup" {
		return "from " + m.Granularity + " rollups"
	}
	return "from raw transactions"
}

func runOutcomes(ctx context.Context, args []string, stdout io.Writer) error {
	b, err := breakdownQuestion(ctx, "outcomes", args)
	if err != nil {
		return err
	}
	defer b.done()
	a, dim, r := &b.flags, b.dim, b.r
	res, err := b.q.OutcomeBreakdown(ctx, query.OutcomesQuery{Range: b.r, By: dim.Name, Filters: b.f, Source: b.src})
	if err != nil {
		return queryErr(err)
	}
	note(res.Meta)
	var recs []record
	for i, o := range res.Rows {
		var rec record
		if dim.Name != "" {
			rec = append(rec, field{dim.Name, res.Values[i]})
		}
		rec = append(rec, field{"outcome", o.Outcome}, field{"currency", o.Currency}, field{"transactions", o.Transactions}, field{"amount_minor", o.AmountMinor})
		recs = append(recs, rec)
	}
	keys := []string{"outcome", "currency", "transactions", "amount_minor"}
	if dim.Name != "" {
		keys = append([]string{dim.Name}, keys...)
	}
	if a.format == formatTable {
		fmt.Fprintf(stdout, "Transactions by outcome%s, %s to %s (%s)\n\n", byText(dim.Name), r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), sourceText(res.Meta))
	}
	return writeRecords(stdout, a.format, keys, recs)
}

func runTrend(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("trend", flag.ContinueOnError)
	var a analystFlags
	a.register(fs, true, true)
	interval := fs.String("interval", "1h", "bucket width: 5m, 1h or 1d")
	weeks := fs.Int("baseline-weeks", 4, "compare each bucket with the same slot of this many previous weeks")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		return err
	}
	g, err := model.ParseGranularity(*interval)
	if err != nil {
		return usageErr("-interval: %v", err)
	}
	if *weeks < 1 || *weeks > 12 {
		return usageErr("-baseline-weeks %d: want 1 to 12", *weeks)
	}
	qq, err := a.question(ctx)
	if err != nil {
		return err
	}
	defer qq.done()
	r, f, src, q := qq.r, qq.f, qq.src, qq.q
	res, err := q.Trend(ctx, query.TrendQuery{Range: r, Interval: g, Filters: f, BaselineWeeks: *weeks, Source: src})
	if err != nil {
		return queryErr(err)
	}
	note(res.Meta)
	var recs []record
	for _, p := range res.Points {
		var base, change, ratio any // no baseline: empty in tables and CSV, null in JSON
		if p.BaselineWeeks > 0 {
			base, change = pct(p.Baseline), pct(p.Change)
			if p.Baseline > 0 {
				ratio = p.Ratio
			}
		}
		recs = append(recs, record{{"bucket", p.Bucket}, {"cause", p.Cause}, {"failures", p.Failures}, {"transactions", p.Transactions},
			{"rate", pct(p.Rate)}, {"baseline", base}, {"change", change}, {"ratio", ratio}, {"baseline_weeks", p.BaselineWeeks}})
	}
	if a.format == formatTable {
		fmt.Fprintf(stdout, "Failure rate per %s and cause vs the same slot of the previous %d weeks (%s)\n\n", res.Interval, *weeks, sourceText(res.Meta))
	}
	return writeRecords(stdout, a.format, []string{"bucket", "cause", "failures", "transactions", "rate", "baseline", "change", "ratio", "baseline_weeks"}, recs)
}

func runUnsettled(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("unsettled", flag.ContinueOnError)
	var a analystFlags
	a.register(fs, false, true)
	asOfS := fs.String("as-of", "", "measure ages at this time (default now)")
	lookback := fs.String("lookback", "90d", "only transactions younger than this")
	aging := fs.Bool("aging", false, "print the aging summary (age bucket × cause × currency) instead of the list")
	limit := fs.Int("limit", 1000, "list at most this many transactions (oldest first)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		return err
	}
	asOf := time.Now().UTC()
	if *asOfS != "" {
		t, err := parseTime("as-of", *asOfS)
		if err != nil {
			return err
		}
		asOf = t
	}
	lb, err := parseDuration("lookback", *lookback)
	if err != nil {
		return err
	}
	if *limit < 1 {
		return usageErr("-limit must be at least 1")
	}
	f, err := a.filtersOf()
	if err != nil {
		return err
	}
	q, done, err := a.querier(ctx)
	if err != nil {
		return err
	}
	defer done()
	res, err := q.Unsettled(ctx, query.UnsettledQuery{Filters: f, AsOf: asOf, Lookback: lb, Limit: *limit})
	if err != nil {
		return queryErr(err)
	}
	note(res.Meta)
	agingKeys := []string{"age_bucket", "cause", "currency", "transactions", "amount_minor"}
	var agingRecs []record
	for _, g := range res.Aging {
		agingRecs = append(agingRecs, record{{"age_bucket", g.AgeBucket}, {"cause", g.Cause}, {"currency", g.Currency},
			{"transactions", g.Transactions}, {"amount_minor", g.AmountMinor}})
	}
	if *aging {
		return writeRecords(stdout, a.format, agingKeys, agingRecs)
	}
	var recs []record
	for _, u := range res.Rows {
		recs = append(recs, record{{"txn_id", u.TxnID}, {"cause", u.Cause}, {"amount_minor", u.AmountMinor}, {"currency", u.Currency},
			{"age_hours", u.AgeHours}, {"age_bucket", u.AgeBucket}, {"txn_time", u.TxnTime}, {"gateway", u.Gateway},
			{"merchant", u.Merchant}, {"terminal", u.Terminal}, {"batch_number", u.BatchNumber}})
	}
	keys := []string{"txn_id", "cause", "amount_minor", "currency", "age_hours", "age_bucket", "txn_time", "gateway", "merchant", "terminal", "batch_number"}
	if a.format != formatTable {
		return writeRecords(stdout, a.format, keys, recs)
	}
	fmt.Fprintf(stdout, "Unsettled transactions as of %s (oldest first)\n\n", res.AsOf.Format(time.RFC3339))
	if err := writeRecords(stdout, a.format, keys, recs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nAging (money at risk, never summed across currencies)\n\n")
	return writeRecords(stdout, a.format, agingKeys, agingRecs)
}

func runIncidents(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("incidents", flag.ContinueOnError)
	var a analystFlags
	a.register(fs, false, false)
	fs.StringVar(&a.from, "from", "", "incidents open at some point after this time")
	fs.StringVar(&a.to, "to", "", "… and before this time (default now)")
	fs.StringVar(&a.since, "since", "7d", "the range is the last DURATION when -from is not given")
	open := fs.Bool("open", false, "only incidents still open")
	fs.Var(&a.causes, "cause", "only these causes")
	dim := fs.String("dimension", "", "only incidents of this dimension (all, or a dimension name)")
	value := fs.String("value", "", "only incidents of this dimension value")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		return err
	}
	r, err := a.rangeOf(time.Now())
	if err != nil {
		return err
	}
	if *dim != "" && *dim != model.All {
		d, err := model.LookupDimension(*dim)
		if err != nil {
			return usageErr("-dimension: %v", err)
		}
		*dim = d.Name
	}
	if err := model.ValidateValue(*value); err != nil {
		return usageErr("-value: %v", err)
	}
	q, done, err := a.querier(ctx)
	if err != nil {
		return err
	}
	defer done()
	incs, meta, err := q.Incidents(ctx, query.IncidentsQuery{Range: r, OpenOnly: *open, Causes: a.causes.values(), Dimension: *dim, Value: *value})
	if err != nil {
		return queryErr(err)
	}
	note(meta)
	var recs []record
	for _, i := range incs {
		recs = append(recs, record{{"incident_id", i.ID}, {"status", i.Status}, {"severity", i.Severity}, {"cause", i.Cause},
			{"dimension", i.Dimension}, {"value", i.Value}, {"started", i.Started}, {"ended", i.Ended}, {"kind", i.Kind},
			{"baseline_rate", pct(i.Baseline)}, {"observed_rate", pct(i.Observed)}, {"peak_rate", pct(i.Peak)},
			{"failures", i.Failures}, {"transactions", i.Transactions}, {"summary", i.Summary}})
	}
	keys := []string{"incident_id", "status", "severity", "cause", "dimension", "value", "started", "ended", "kind",
		"baseline_rate", "observed_rate", "peak_rate", "failures", "transactions", "summary"}
	if a.format == formatTable {
		fmt.Fprintf(stdout, "Incidents %s to %s\n\n", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
		for i := range recs {
			recs[i] = recs[i][:len(recs[i])-1] // the sentence goes below the table
		}
		if err := writeRecords(stdout, a.format, keys[:len(keys)-1], recs); err != nil {
			return err
		}
		if len(incs) > 0 {
			fmt.Fprintln(stdout)
		}
		for _, i := range incs {
			fmt.Fprintf(stdout, "%s  %s\n", i.ID, i.Summary)
		}
		return nil
	}
	return writeRecords(stdout, a.format, keys, recs)
}

func runTxn(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("txn", flag.ContinueOnError)
	var a analystFlags
	a.register(fs, false, false)
	// The id may come before, between or after the flags.
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return usageErr("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return usageErr("want exactly one transaction id: settlewatch txn ID [flags]")
	}
	id := pos[0]
	if err := a.check(); err != nil {
		return err
	}
	if err := model.ValidateTxnID(id); err != nil {
		return usageErr("%v", err)
	}
	q, done, err := a.querier(ctx)
	if err != nil {
		return err
	}
	defer done()
	s, err := q.Txn(ctx, id)
	if errors.Is(err, query.ErrNotFound) {
		return fmt.Errorf("transaction %s not found", id)
	}
	if err != nil {
		return queryErr(err)
	}
	spanKeys := []string{"offset_ms", "service", "name", "duration_ms", "status", "response_code", "error_type", "depth", "start", "trace_id", "span_id", "parent_span_id"}
	var spans []record
	for _, sp := range s.Spans {
		spans = append(spans, record{{"offset_ms", sp.OffsetMs}, {"service", sp.Service}, {"name", sp.Name}, {"duration_ms", sp.DurationMs},
			{"status", sp.Status}, {"response_code", sp.ResponseCode}, {"error_type", sp.ErrorType}, {"depth", sp.Depth},
			{"start", sp.Start}, {"trace_id", sp.TraceID}, {"span_id", sp.SpanID}, {"parent_span_id", sp.ParentSpanID}})
	}
	head := record{{"txn_id", s.TxnID}, {"outcome", s.Outcome}, {"cause", s.Cause}, {"cause_class", s.CauseClass},
		{"cause_source", s.CauseSource}, {"cause_code", s.CauseCode}, {"response_code", s.ResponseCode}, {"response_source", s.ResponseSource},
		{"error_type", s.ErrorType}, {"amount_minor", s.AmountMinor}, {"currency", s.Currency}, {"txn_type", s.TxnType},
		{"txn_time", s.TxnTime}, {"gateway", s.Gateway}, {"merchant", s.Merchant}, {"terminal", s.Terminal},
		{"batch_number", s.BatchNumber}, {"settlement_status", s.SettlementStatus}, {"data_issues", s.DataIssues}}
	switch a.format {
	case formatJSON:
		if spans == nil {
			spans = []record{}
		}
		return writeJSON(stdout, plainRecord(append(head, field{"spans", spans})))
	case formatCSV:
		return writeRecords(stdout, formatCSV, spanKeys, spans)
	}
	w := stdout
	for _, f := range head {
		if v := text(f.val); v != "" && v != "[]" {
			fmt.Fprintf(w, "%-18s %s\n", f.key+":", v)
		}
	}
	fmt.Fprintf(w, "\n%d spans, in order:\n\n", len(spans))
	for i := range spans {
		indent := strings.Repeat("  ", s.Spans[i].Depth)
		spans[i][2].val = indent + s.Spans[i].Name
	}
	return writeRecords(w, formatTable, spanKeys[:8], trim(spans, 8))
}

func trim(rs []record, n int) []record {
	out := make([]record, len(rs))
	for i, r := range rs {
		out[i] = r[:min(n, len(r))]
	}
	return out
}

func runTimeouts(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("timeouts", flag.ContinueOnError)
	var a analystFlags
	a.register(fs, true, false)
	var gateways multiFlag
	fs.Var(&gateways, "gateway", "only these gateways (repeatable or comma separated)")
	cands := fs.String("candidates", "", "candidate terminal timeouts in seconds, comma separated (default 5,8,10,15,20,25,30,45,60)")
	target := fs.Float64("target", advice.DefaultTargetRate, "largest acceptable share of authorizations timing out")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		return err
	}
	r, err := a.rangeOf(time.Now())
	if err != nil {
		return err
	}
	var candMs []uint64
	for c := range strings.SplitSeq(*cands, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		f, err := strconv.ParseFloat(c, 64)
		if err != nil || f <= 0 {
			return usageErr("-candidates %q: want seconds, e.g. 10,15,30", clipArg(*cands))
		}
		candMs = append(candMs, uint64(f*1000))
	}
	if err := advice.ValidateCandidates(candMs); err != nil {
		return usageErr("-candidates: %v", err)
	}
	if *target <= 0 || *target >= 1 {
		return usageErr("-target %v: want a fraction between 0 and 1, e.g. 0.001", *target)
	}
	gws := gateways.values()
	for _, g := range gws {
		if err := model.ValidateValue(g); err != nil {
			return usageErr("-gateway: %v", err)
		}
	}
	src, err := query.ParseSource(a.source)
	if err != nil {
		return queryErr(err)
	}
	q, done, err := a.querier(ctx)
	if err != nil {
		return err
	}
	defer done()
	res, err := q.Timeouts(ctx, query.TimeoutsQuery{Range: r, Gateways: gws, CandidatesMs: candMs, TargetRate: *target, Source: src})
	if err != nil {
		return queryErr(err)
	}
	if a.format == formatJSON {
		return writeJSON(stdout, res.Gateways)
	}
	var recs []record
	for _, g := range res.Gateways {
		for _, c := range g.Candidates {
			recs = append(recs, record{{"gateway", g.Gateway}, {"timeout_ms", c.TimeoutMs}, {"would_timeout", c.WouldTimeout},
				{"rate", pct(c.Rate)}, {"additional", c.Additional}, {"additional_rate", pct(c.AdditionalRate)},
				{"recommended", c.TimeoutMs == g.RecommendedMs}, {"requests", g.Requests}, {"reported_timeouts", g.ObservedTimeouts},
				{"p50_ms", math.Round(g.P50Ms)}, {"p99_ms", math.Round(g.P99Ms)}})
		}
	}
	keys := []string{"gateway", "timeout_ms", "would_timeout", "rate", "additional", "additional_rate", "recommended", "requests", "reported_timeouts", "p50_ms", "p99_ms"}
	if a.format == formatCSV {
		return writeRecords(stdout, formatCSV, keys, recs)
	}
	fmt.Fprintf(stdout, "Terminal timeout advice, %s to %s (%s)\n\n", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), sourceText(res.Meta))
	if err := writeRecords(stdout, formatTable, keys, recs); err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	for _, g := range res.Gateways {
		fmt.Fprintln(stdout, g.Summary)
	}
	return nil
}

func runSeries(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("series", flag.ContinueOnError)
	var a analystFlags
	a.register(fs, true, true)
	interval := fs.String("interval", "1h", "bucket width: 5m, 1h or 1d")
	by := fs.String("by", "", "one series per value of this dimension")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := a.check(); err != nil {
		return err
	}
	g, err := model.ParseGranularity(*interval)
	if err != nil {
		return usageErr("-interval: %v", err)
	}
	var dim model.Dimension
	if *by != "" {
		if dim, err = model.LookupDimension(*by); err != nil {
			return usageErr("-by: %v", err)
		}
	}
	qq, err := a.question(ctx)
	if err != nil {
		return err
	}
	defer qq.done()
	r, f, src, q := qq.r, qq.f, qq.src, qq.q
	res, err := q.Series(ctx, query.SeriesQuery{Range: r, Interval: g, By: dim.Name, Filters: f, Source: src})
	if err != nil {
		return queryErr(err)
	}
	note(res.Meta)
	var recs []record
	for _, p := range res.Points {
		rec := record{{"bucket", p.Bucket}}
		if dim.Name != "" {
			rec = append(rec, field{dim.Name, p.Value})
		}
		rec = append(rec, field{"transactions", p.Transactions}, field{"failures", p.Failures}, field{"failure_rate", pct(p.FailureRate)},
			field{"p50_ms", math.Round(p.P50Ms)}, field{"p90_ms", math.Round(p.P90Ms)}, field{"p99_ms", math.Round(p.P99Ms)})
		recs = append(recs, rec)
	}
	keys := []string{"bucket", "transactions", "failures", "failure_rate", "p50_ms", "p90_ms", "p99_ms"}
	if dim.Name != "" {
		keys = append([]string{"bucket", dim.Name}, keys[1:]...)
	}
	if a.format == formatTable {
		fmt.Fprintf(stdout, "Transactions, failure rate and latency per %s%s (%s)\n\n", res.Interval, byText(dim.Name), sourceText(res.Meta))
	}
	return writeRecords(stdout, a.format, keys, recs)
}
