// Command settlewatch-bench measures ingest end to end: OTLP/gRPC from a
// load client → the settlewatch collector (a separate process) → ClickHouse,
// and, in the same run against the same server, the bare clickhouse-go
// columnar insert of the same span rows. It prints spans/s for both, their
// ratio, the collector's CPU seconds per million spans and its peak RSS, the
// CPU per span of a stock collector (OTLP receiver → nop exporter) receiving
// the same requests, and the parts the run made on the server.
// With -telemetrygen the load client is the contrib telemetrygen instead;
// with -sim it is settlewatch-sim in load mode, and every transaction it
// sent must come out with the outcome and cause of its ground truth.
//
//	settlewatch-bench -collector bin/settlewatch-collector -ch-addr 127.0.0.1:19300 -spans 500000
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/collector/clickhouseexporter"
	"github.com/settlewatch/settlewatch/loadgen"
)

func main() {
	err := run()
	// The collectors' queues and logs: kept when the run failed, to read.
	for _, dir := range collectorDirs {
		if err != nil {
			fmt.Fprintln(os.Stderr, "settlewatch-bench: collector queue and log kept in", dir)
		} else {
			_ = os.RemoveAll(dir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "settlewatch-bench:", err)
		os.Exit(1)
	}
}

// collectorDirs are the directories made for the collectors started (their
// queue and log).
var collectorDirs []string

func run() error {
	s := chconn.FromEnv(os.Getenv)
	s.RegisterFlags(flag.CommandLine)
	collectorBin := flag.String("collector", "bin/settlewatch-collector", "collector binary")
	config := flag.String("config", "collector/config.yaml", "collector config; several, comma-separated, are applied in order")
	nSpans := flag.Int("spans", 500_000, "spans to send")
	perReq := flag.Int("request-spans", 2000, "spans per OTLP request")
	workers := flag.Int("workers", 4, "concurrent OTLP clients")
	keep := flag.String("database", "", "database to ingest into and keep (default: a fresh one, dropped at the end)")
	seedFlag := flag.Int64("seed", 0, "loadgen's seed, which sets the transaction ids (0: the clock's); a run with the seed of an earlier run into the same -database sends its transactions again, as a client re-sending what is stored does")
	split := flag.Int("split", -1, "send each request's terminal and gateway spans apart, the gateway's this many requests later (-1: together)")
	history := flag.Int("prefill", 0, "transactions of history the database holds before the run (generated on the server when missing; needs -database)")
	tgenRate := flag.Float64("telemetrygen-rate", 0, "telemetrygen's --rate per worker (0: unthrottled; its SDK then drops what it cannot export in time)")
	floorConfig := flag.String("floor-config", "collector/config.floor.yaml", "overlay making the stock floor (OTLP receiver → nop exporter) that receives the same requests after the run; empty: no floor")
	rawAll := flag.Bool("raw-all", false, "also insert every row the pipeline stores (spans, facts with their views, batch closes, transactions) through the bare driver into a second database, and compare")
	tgen := flag.String("telemetrygen", "", "send with this telemetrygen binary instead of loadgen: generic traces of 10 spans without payment attributes (the spans path alone, no assembly, no raw comparison)")
	simBin := flag.String("sim", "", "send with this settlewatch-sim binary in load mode instead of loadgen (the OpenTelemetry SDK, a resource per terminal, the contract's full spans), for -sim-duration, and compare every stored transaction's outcome and cause with its ground truth; -workers applies, -spans does not")
	simRate := flag.Float64("sim-rate", 40000, "the simulator's target transactions per second (above what it can generate here: its own CPU sets the rate)")
	simDuration := flag.Duration("sim-duration", 60*time.Second, "how long the simulator sends")
	simScenario := flag.String("sim-scenario", "simulator/scenarios/load.yaml", "the simulator's scenario file")
	flag.Parse()
	ctx := context.Background()
	db := fmt.Sprintf("bench_%d", time.Now().Unix())
	if *keep != "" {
		db = *keep
	} else if *history > 0 {
		return fmt.Errorf("-prefill needs -database: a history is worth keeping")
	}
	s.Database = db
	if err := s.Validate(); err != nil {
		return err
	}

	var reqs []ptrace.Traces
	var send func(addr string) error
	var sim *simLoad
	var tgenCPU float64 // telemetrygen's own CPU seconds
	total := 0
	switch {
	case *simBin != "":
		truthDir, err := os.MkdirTemp("", "settlewatch-bench-truth")
		if err != nil {
			return err
		}
		defer os.RemoveAll(truthDir)
		sim = &simLoad{bin: *simBin, scenario: *simScenario, rate: *simRate, duration: *simDuration, workers: *workers, truthDir: truthDir}
		send = sim.send
	case *tgen != "":
		// telemetrygen counts traces per worker; each has a root and 9 children.
		perWorker := max(1, *nSpans/(*workers*tgenSpansPerTrace))
		total = perWorker * *workers * tgenSpansPerTrace
		send = func(addr string) error {
			var err error
			tgenCPU, err = telemetrygen(*tgen, addr, *workers, perWorker, *perReq, *tgenRate)
			return err
		}
	default:
		fmt.Printf("generating %d spans in requests of %d…\n", *nSpans, *perReq)
		seed := *seedFlag
		if seed == 0 {
			seed = time.Now().UnixNano()
		}
		fmt.Printf("loadgen seed %d\n", seed)
		reqs = loadgen.Requests(*nSpans/loadgen.SpansPerTxn, *perReq, seed)
		if *split >= 0 {
			reqs = loadgen.Split(reqs, *split)
		}
		for _, r := range reqs {
			total += r.SpanCount()
		}
		// Encoded before the clock starts, as an outside client's SDK
		// would have on its own host.
		enc, err := loadgen.Encode(reqs)
		if err != nil {
			return err
		}
		send = func(addr string) error { return loadgen.SendEncoded(addr, enc, *workers) }
	}

	proc, grpcAddr, metricsAddr, err := startCollector(*collectorBin, *config, s)
	if err != nil {
		return err
	}
	defer func() { _ = proc.Process.Kill(); _, _ = proc.Process.Wait() }()
	conn, err := chconn.Open(ctx, s)
	if err != nil {
		return err
	}
	defer func() {
		if *keep == "" {
			_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`")
		} else {
			_ = conn.Exec(context.Background(), "DROP TABLE IF EXISTS `"+db+"`.spans_raw")
		}
		conn.Close()
	}()
	if *history > 0 {
		if err := prefill(ctx, conn, db, *history); err != nil {
			return err
		}
	}
	cpu0, err := cpuSeconds(proc.Process.Pid)
	if err != nil {
		return err
	}
	// Where the other CPU goes: the server's (its inserts, views and
	// merges) and this process's (sending the requests).
	server := cpuMeter(s.Addr[0])
	sender := cpuMeter("")
	ctx = withOwnQueries(ctx, newOwnQueries())
	// A run sending again what a kept database holds (-seed of an earlier
	// run) writes rows of the same version as the stored ones, and a merge
	// may keep either: its own rows cannot be told apart in the table.
	resent := false
	if *keep != "" && *seedFlag != 0 && sim == nil && *tgen == "" {
		n, err := countRows(ctx, conn, "SELECT count() FROM `"+db+"`.transactions_by_time")
		if err != nil {
			return err
		}
		resent = n > 0
	}
	// VmHWM is one peak of both kinds of resident pages; the persistent
	// queue's memory-mapped file is page cache, the rest the Go heap and
	// runtime, so each kind's peak is sampled apart.
	mem := sampleRSS(proc.Process.Pid, 200*time.Millisecond)
	start := time.Now()
	if err := send(grpcAddr); err != nil {
		return err
	}
	sent := time.Since(start)
	requested := total
	if sim != nil {
		total = int(sim.report.Stats.SpansExported)
	}
	if *tgen != "" {
		// The SDK inside telemetrygen drops spans when generation outruns
		// its export queue; what the collector accepted must all be stored.
		accepted, err := acceptedSpans(metricsAddr)
		if err != nil {
			return err
		}
		total = int(accepted)
	}
	// A kept database holds earlier runs, and merges collapse rows while
	// this one runs: count this run's distinct rows, by when they were
	// written, not rows in the table. In a fresh database the parts' row
	// counts bound them without reading a column (counting ingested_ns
	// every poll read 760M rows in a 6M-span run, docs/benchmarks.md).
	spansBound := countQuery{"SELECT count() FROM `" + db + "`.spans WHERE ingested_ns >= ?", []any{uint64(start.UnixNano())}}
	if *keep == "" {
		spansBound = countQuery{"SELECT toUInt64(sum(rows)) FROM system.parts WHERE database = ? AND table = 'spans' AND active", []any{db}}
	}
	stored, err := waitCount(ctx, conn, start, "spans stored", uint64(total), spansBound,
		countQuery{"SELECT uniqExact(trace_id, span_id) FROM `" + db + "`.spans WHERE ingested_ns >= ?", []any{uint64(start.UnixNano())}})
	if err != nil {
		return err
	}
	e2e := stored.Sub(start)
	if sim != nil {
		return reportSim(ctx, conn, db, sim, start, e2e, sent, proc.Process.Pid, cpu0, mem, metricsAddr, server)
	}
	if *tgen != "" {
		use, err := usage(proc.Process.Pid, mem)
		if err != nil {
			return err
		}
		cpu1 := use.cpu
		fmt.Printf("spans:                      %d generated by telemetrygen (%d workers), %d accepted by the collector and all stored\n", requested, *workers, total)
		fmt.Printf("end to end (all stored):    %s → %.0f spans/s\n", e2e.Round(time.Millisecond), float64(total)/e2e.Seconds())
		fmt.Printf("collector CPU:              %.2f s → %.2f µs/span\n", cpu1-cpu0, (cpu1-cpu0)/float64(total)*1e6)
		fmt.Printf("telemetrygen CPU:           %.2f s → %.2f µs/span generated (the client itself)\n", tgenCPU, tgenCPU/float64(requested)*1e6)
		fmt.Println(use.rss())
		return nil
	}
	// Assembly runs after a batch's rows are stored: wait until every
	// transaction has a row that counted all its spans (with -split, its
	// first row counted only the terminal's).
	txns := uint64(total / loadgen.SpansPerTxn)
	allSpans := uint32(loadgen.SpansPerTxn)
	var done time.Time
	if resent {
		done, err = waitResent(ctx, conn, db, metricsAddr, start, txns, allSpans)
	} else {
		done, err = waitCount(ctx, conn, start, "transactions assembled with all their spans", txns,
			assembledSince(db, start, "countIf(span_count >= ?)", allSpans), assembledSince(db, start, "uniqExactIf(txn_id, span_count >= ?)", allSpans))
	}
	if err != nil {
		return err
	}
	assembled := done.Sub(start)
	use, err := usage(proc.Process.Pid, mem)
	if err != nil {
		return err
	}
	cpu1 := use.cpu
	refused, err := refusedSpans(metricsAddr)
	if err != nil {
		return err
	}
	others := serverShare(ctx, conn, server, db, start, total)
	others += sender.read(total, "sender CPU:                 ", "this process: sending the requests, encoded before the run")
	// Read before the raw insert below adds parts of its own.
	parts := partSummary(ctx, conn, db, start)
	// The floor receives the same requests before the raw insert below
	// takes their spans over (mergeAll moves them).
	floor := ""
	if *floorConfig != "" {
		_ = proc.Process.Kill()
		_, _ = proc.Process.Wait()
		us, err := floorCPU(*collectorBin, *config+","+*floorConfig, s, send, uint64(total))
		if err != nil {
			return err
		}
		floor = fmt.Sprintf("stock floor (otlp → nop):   %.2f µs/span, the same requests; ours / floor %.1f×\n", us, (cpu1-cpu0)/float64(total)*1e6/us)
	}

	// The same span rows through the bare driver, into a copy of the table.
	tables, err := clickhouseexporter.AllTableRows(mergeAll(reqs))
	if err != nil {
		return err
	}
	i := slices.IndexFunc(tables, func(t clickhouseexporter.TableRows) bool { return t.Table.Name == chschema.Spans.Name })
	if i < 0 {
		return fmt.Errorf("the requests converted to no span rows")
	}
	spanRows := tables[i]
	rows := spanRows.N
	if err := conn.Exec(ctx, "CREATE TABLE `"+db+"`.spans_raw AS `"+db+"`.spans"); err != nil {
		return err
	}
	raw := chschema.Spans
	raw.Name = "spans_raw"
	// The raw inserts are measured on a quiet server: the pipeline's parts
	// still merging would slow them, and flatter the ratio.
	if err := quiesce(ctx, conn); err != nil {
		return err
	}
	rawServer := cpuMeter(s.Addr[0])
	rawStart := time.Now()
	if _, err := insertInSlices(ctx, conn, db, raw, spanRows.Cols, rows, 50_000); err != nil {
		return err
	}
	rawDur := time.Since(rawStart)
	rawCPU := rawServer.read(rows, "  its ClickHouse CPU:       ", "the spans table alone, no merges yet")

	e2eRate := float64(total) / e2e.Seconds()
	rawRate := float64(rows) / rawDur.Seconds()
	fmt.Printf("spans sent:                 %d in %d requests (%d workers); client done in %s\n", total, len(reqs), *workers, sent.Round(time.Millisecond))
	fmt.Printf("end to end (all stored):    %s → %.0f spans/s\n", e2e.Round(time.Millisecond), e2eRate)
	fmt.Printf("all assembled:              %s → %.0f spans/s (%d transactions with all their spans)\n", assembled.Round(time.Millisecond), float64(total)/assembled.Seconds(), txns)
	fmt.Printf("collector CPU:              %.2f s → %.2f CPU-s per million spans (%.2f µs/span)\n", cpu1-cpu0, (cpu1-cpu0)/float64(total)*1e6, (cpu1-cpu0)/float64(total)*1e6)
	fmt.Print(others)
	fmt.Println(use.rss())
	fmt.Printf("refused and sent again:     %d spans (%.2f a span stored: a full queue or the memory limiter)\n", refused, float64(refused)/float64(total))
	fmt.Printf("raw driver insert (spans):  %s → %.0f rows/s\n", rawDur.Round(time.Millisecond), rawRate)
	fmt.Print(rawCPU)
	fmt.Printf("ratio end-to-end / raw:     %.2f\n", e2eRate/rawRate)
	if *rawAll {
		if err := quiesce(ctx, conn); err != nil {
			return err
		}
		out, err := rawEveryTable(ctx, conn, s, db, tables, total, e2eRate)
		if err != nil {
			return err
		}
		fmt.Print(out)
	}
	fmt.Print(floor)
	fmt.Print(parts)
	return nil
}

// quiesce waits until the server has run no merge for a second, so that a
// baseline never shares the two cores with merges of the parts written
// before it (the pipeline's, or the previous baseline's).
func quiesce(ctx context.Context, conn driver.Conn) error {
	waited, err := chschema.WaitMerges(ctx, conn, chschema.Merges{}, time.Second, 5*time.Minute)
	if err != nil {
		return fmt.Errorf("wait for merges: %w", err)
	}
	fmt.Printf("merges settled:             after %s, before the bare driver's insert\n", waited.Round(100*time.Millisecond))
	return nil
}

// floorCPU starts the collector with config (the stock floor: the OTLP
// receiver into the nop exporter), sends the requests again and returns
// its CPU per span once its receiver has accepted all of them.
func floorCPU(bin, config string, s chconn.Settings, send func(addr string) error, total uint64) (float64, error) {
	proc, grpcAddr, metricsAddr, err := startCollector(bin, config, s)
	if err != nil {
		return 0, fmt.Errorf("stock floor: %w", err)
	}
	defer func() { _ = proc.Process.Kill(); _, _ = proc.Process.Wait() }()
	cpu0, err := cpuSeconds(proc.Process.Pid)
	if err != nil {
		return 0, err
	}
	if err := send(grpcAddr); err != nil {
		return 0, fmt.Errorf("stock floor: %w", err)
	}
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		n, err := acceptedSpans(metricsAddr)
		if err != nil {
			return 0, fmt.Errorf("stock floor: %w", err)
		}
		if n >= total {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("stock floor: accepted %d of %d spans after 5 minutes", n, total)
		}
	}
	cpu1, err := cpuSeconds(proc.Process.Pid)
	if err != nil {
		return 0, err
	}
	return (cpu1 - cpu0) / float64(total) * 1e6, nil
}

// partSummary lists, per table, the parts the run wrote and the merges the
// server has done since start, from system.part_log: on 18.16 every insert
// is a part of two files per column, and merging them is a third of the
// server's work during ingest (docs/benchmarks.md). A server without
// part_log gets a line saying so. Event types by number: 18.16 names them
// NEW_PART and MERGE_PARTS, newer servers NewPart and MergeParts.
func partSummary(ctx context.Context, conn driver.Conn, db string, start time.Time) string {
	notCounted := func(err error) string {
		return fmt.Sprintf("parts:                      not counted (does the server keep system.part_log? %v)\n", err)
	}
	if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		return notCounted(err)
	}
	rows, err := conn.Query(ctx, "SELECT table, countIf(toInt8(event_type) = 1), countIf(toInt8(event_type) = 2), sumIf(rows, toInt8(event_type) = 2)"+
		" FROM system.part_log WHERE database = ? AND table != 'schema_migrations' AND event_time >= toDateTime(?) GROUP BY table ORDER BY table", db, start.Unix())
	if err != nil {
		return notCounted(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var table string
		var created, merges, merged uint64
		if err := rows.Scan(&table, &created, &merges, &merged); err != nil {
			return notCounted(err)
		}
		fmt.Fprintf(&b, "parts of %-22s%d written, %d merges so far (%d rows merged)\n", table+":", created, merges, merged)
	}
	if err := rows.Err(); err != nil {
		return notCounted(err)
	}
	return b.String()
}

// countRows runs a query that returns one count.
func countRows(ctx context.Context, conn driver.Conn, query string, args ...any) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(tagged(ctx), query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count rows: %w", err)
	}
	return n, nil
}

// assembledSince counts, with count (an aggregate whose own arguments are
// args), the live rows of db's transactions assembled since start: a kept
// database holds earlier runs.
func assembledSince(db string, start time.Time, count string, args ...any) countQuery {
	return countQuery{"SELECT " + count + " FROM `" + db + "`.transactions_by_time WHERE deleted = 0 AND assembled_at >= toDateTime(?)",
		append(args, start.Unix())}
}

// waitResent waits for a run that sent stored transactions again: until
// the collector reports want transactions assembled, then checks that the
// database holds at least want live transactions with all their spans. The
// run's rows have the version of the stored ones (the same facts), so a
// merge may keep the older row, and counting rows assembled since start
// could wait forever.
func waitResent(ctx context.Context, conn driver.Conn, db, metricsAddr string, start time.Time, want uint64, allSpans uint32) (time.Time, error) {
	for {
		n, err := counterSum(metricsAddr, "settlewatch_exporter_transactions_assembled_total", false)
		if err != nil {
			return time.Time{}, err
		}
		if n >= want {
			done := time.Now()
			live, err := countRows(ctx, conn, "SELECT uniqExactIf(txn_id, span_count >= ?) FROM `"+db+"`.transactions_by_time WHERE deleted = 0", allSpans)
			if err != nil {
				return time.Time{}, err
			}
			if live < want {
				return time.Time{}, fmt.Errorf("the collector assembled %d transactions, but only %d are stored with all their spans", n, live)
			}
			return done, nil
		}
		if time.Since(start) > 30*time.Minute {
			return time.Time{}, fmt.Errorf("only %d of %d transactions assembled after 30 minutes", n, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// countQuery is a query returning one count, with its arguments.
type countQuery struct {
	sql  string
	args []any
}

func (q countQuery) run(ctx context.Context, conn driver.Conn) (uint64, error) {
	return countRows(ctx, conn, q.sql, q.args...)
}

// waitCount polls until exact (a count of distinct rows) counts want, at
// most 30 minutes after start, and returns when the exact count that
// reached want was sent: every row it counted was visible then, so the rows
// were all stored by that moment (taking the time after it returned added
// the count's own second to a run). Each poll first counts with bound, a
// cheap count of the same rows that is never below exact's (duplicates and
// unmerged versions included): while it is short of want, so is exact,
// which hashes every row and is not run. A profile of the server showed the
// exact count alone taking a tenth of its samples from the run it measured
// (docs/benchmarks.md). The poll then sleeps four times as long as it took,
// and at least 0.2 s (under 1 % of a run's time; cheap polls in a tight loop
// cost the server as much).
func waitCount(ctx context.Context, conn driver.Conn, start time.Time, what string, want uint64, bound, exact countQuery) (time.Time, error) {
	for {
		t0 := time.Now()
		n, err := bound.run(ctx, conn)
		if err != nil {
			return time.Time{}, err
		}
		if n >= want {
			t1 := time.Now()
			if n, err = exact.run(ctx, conn); err != nil {
				return time.Time{}, err
			}
			if n >= want {
				return t1, nil
			}
		}
		if time.Since(start) > 30*time.Minute {
			return time.Time{}, fmt.Errorf("only %d of %d %s after 30 minutes", n, want, what)
		}
		time.Sleep(max(200*time.Millisecond, 4*time.Since(t0)))
	}
}

// rawEveryTable writes every row the pipeline stored for the run through the
// bare driver into a fresh database of the same schema (so its views run):
// the exporter's rows of spans, facts and batch closes
// converted from the same requests, in INSERTs of rawSliceRows rows, and the
// rows of the assembled transactions (their versions and tombstones) copied
// from the run's database on the server (INSERT … SELECT: their
// classification is the pipeline's, not the driver's). It returns the
// report's lines.
func rawEveryTable(ctx context.Context, conn driver.Conn, s chconn.Settings, db string, tables []clickhouseexporter.TableRows, spans int, e2eRate float64) (string, error) {
	raw := db + "_raw"
	if err := conn.Exec(ctx, "CREATE DATABASE `"+raw+"`"); err != nil {
		return "", fmt.Errorf("raw-all: %w", err)
	}
	defer func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+raw+"`") }()
	v, err := chconn.ServerVersion(ctx, conn)
	if err != nil {
		return "", err
	}
	if _, err := chschema.Migrate(ctx, conn, raw, chschema.DialectFor(v, ""), slog.New(slog.DiscardHandler)); err != nil {
		return "", fmt.Errorf("raw-all: %w", err)
	}
	server := cpuMeter(s.Addr[0])
	start := time.Now()
	inserts := 1 // transactions, below
	for _, t := range tables {
		n, err := insertInSlices(ctx, conn, raw, t.Table, t.Cols, t.N, rawSliceRows)
		if err != nil {
			return "", fmt.Errorf("raw-all: %s: %w", t.Table.Name, err)
		}
		inserts += n
	}
	byTime := chschema.TransactionsByTime
	if err := conn.Exec(ctx, byTime.InsertSQL(raw)+" SELECT "+strings.Join(byTime.Columns(), ", ")+" FROM `"+db+"`."+byTime.Name); err != nil {
		return "", fmt.Errorf("raw-all: %s: %w", byTime.Name, err)
	}
	dur := time.Since(start)
	rate := float64(spans) / dur.Seconds()
	out := fmt.Sprintf("raw driver insert (every table): %s → %.0f spans/s (every row the run stored, %d INSERTs of up to %d rows a table)\n",
		dur.Round(time.Millisecond), rate, inserts, rawSliceRows)
	out += server.read(spans, "  its ClickHouse CPU:       ", "views included, merges so far")
	out += fmt.Sprintf("ratio end-to-end / raw every table: %.2f\n", e2eRate/rate)
	return out, nil
}

// rawSliceRows is the size of -raw-all's INSERTs: the exporter's batches
// are 40k spans.
const rawSliceRows = 40_000

// insertInSlices inserts n rows of cols into t in INSERTs of per rows and
// returns how many INSERTs that took.
func insertInSlices(ctx context.Context, conn driver.Conn, db string, t chschema.Table, cols chbatch.Columns, n, per int) (int, error) {
	inserts := 0
	for off := 0; off < n; off += per {
		end := min(off+per, n)
		part, err := cols.Slice(off, end)
		if err != nil {
			return inserts, err
		}
		if err := chbatch.Insert(ctx, conn, db, t, part, end-off); err != nil {
			return inserts, err
		}
		inserts++
	}
	return inserts, nil
}

func mergeAll(reqs []ptrace.Traces) ptrace.Traces {
	all := ptrace.NewTraces()
	for _, r := range reqs {
		r.ResourceSpans().MoveAndAppendTo(all.ResourceSpans())
	}
	return all
}

const tgenSpansPerTrace = 10

// acceptedSpans reads how many spans the collector's receivers accepted
// from its Prometheus metrics.
func acceptedSpans(addr string) (uint64, error) {
	return counterSum(addr, "otelcol_receiver_accepted_spans", true)
}

// refusedSpans reads how many spans the collector's receivers refused (a
// full queue, the memory limiter), each sent again by the client; the
// counter shows only once a span was refused.
func refusedSpans(addr string) (uint64, error) {
	return counterSum(addr, "otelcol_receiver_refused_spans", false)
}

// receiverSpans sums the collector's Prometheus counter metric over its
// receivers and transports; a missing one is an error when required.
func counterSum(addr, metric string, required bool) (uint64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, fmt.Errorf("collector metrics: %w", err)
	}
	defer resp.Body.Close()
	var n uint64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("collector metrics: %q: %w", line, err)
		}
		n += uint64(v)
		found = true
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("collector metrics: %w", err)
	}
	if required && !found {
		return 0, fmt.Errorf("collector metrics: no %s", metric)
	}
	return n, nil
}

// telemetrygen runs the contrib load generator against addr, each worker
// sending perWorker traces in batches of batch spans at rate (0: no limit).
// It returns telemetrygen's own CPU seconds.
func telemetrygen(bin, addr string, workers, perWorker, batch int, rate float64) (float64, error) {
	cmd := exec.Command(bin, "traces", "--otlp-endpoint", addr, "--otlp-insecure",
		"--workers", strconv.Itoa(workers), "--traces", strconv.Itoa(perWorker),
		"--child-spans", strconv.Itoa(tgenSpansPerTrace-1), "--rate", strconv.FormatFloat(rate, 'f', -1, 64), "--batch-size", strconv.Itoa(batch))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("telemetrygen: %w: %s", err, tail(out, 2000))
	}
	return childCPU(cmd), nil
}

// childCPU is the user and system CPU seconds of a command that has exited:
// a load client's own cost, which on this machine shares the cores with the
// collector and the server.
func childCPU(cmd *exec.Cmd) float64 {
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startCollector starts the collector binary and returns it with its OTLP/gRPC
// and Prometheus metrics addresses once it is healthy. A port freeAddr found
// can be taken by another process before the collector binds it; then the
// collector is started again on fresh ports.
func startCollector(bin, config string, s chconn.Settings) (*exec.Cmd, string, string, error) {
	const attempts = 3
	for i := 1; ; i++ {
		cmd, grpcAddr, metrics, err := startCollectorOnce(bin, config, s)
		if !errors.Is(err, errPortTaken) || i == attempts {
			return cmd, grpcAddr, metrics, err
		}
		fmt.Printf("collector: %v; starting it again on other ports\n", err)
	}
}

// errPortTaken: the collector could not bind a port chosen for it.
var errPortTaken = errors.New("a port chosen for the collector was taken before it bound it")

func startCollectorOnce(bin, config string, s chconn.Settings) (*exec.Cmd, string, string, error) {
	grpcAddr, _ := freeAddr()
	httpAddr, _ := freeAddr()
	health, _ := freeAddr()
	metrics, _ := freeAddr()
	queue, err := os.MkdirTemp("", "settlewatch-bench-queue")
	if err != nil {
		return nil, "", "", err
	}
	collectorDirs = append(collectorDirs, queue)
	// Several configs, comma-separated, are applied in order (overlays such
	// as collector/config.pprof.yaml).
	var args []string
	for _, c := range strings.Split(config, ",") {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"SETTLEWATCH_CH_ADDR="+strings.Join(s.Addr, ","), "SETTLEWATCH_CH_DATABASE="+s.Database,
		"SETTLEWATCH_OTLP_GRPC_ENDPOINT="+grpcAddr, "SETTLEWATCH_OTLP_HTTP_ENDPOINT="+httpAddr,
		"SETTLEWATCH_HEALTH_ENDPOINT="+health, "SETTLEWATCH_METRICS_PORT="+metrics[strings.LastIndex(metrics, ":")+1:],
		"SETTLEWATCH_QUEUE_DIR="+filepath.Join(queue, "q"), "SETTLEWATCH_LOG_LEVEL=warn")
	logf, err := os.Create(filepath.Join(queue, "collector.log"))
	if err != nil {
		return nil, "", "", err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, "", "", fmt.Errorf("start collector: %w", err)
	}
	for i := 0; i < 300; i++ {
		if resp, err := http.Get("http://" + health + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Printf("collector pid %d, OTLP %s, log %s\n", cmd.Process.Pid, grpcAddr, logf.Name())
				return cmd, grpcAddr, metrics, nil
			}
		}
		if out, err := os.ReadFile(logf.Name()); err == nil && bytes.Contains(out, []byte("address already in use")) {
			_ = cmd.Process.Kill()
			_, _ = cmd.Process.Wait()
			return nil, "", "", fmt.Errorf("%w (see %s)", errPortTaken, logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_, _ = cmd.Process.Wait()
	return nil, "", "", fmt.Errorf("collector not healthy after 30s; see %s", logf.Name())
}

// meter is a process's CPU time since it was made, or why it cannot be
// read.
type meter struct {
	pid   int
	start float64
	err   error
}

// cpuMeter starts measuring the process listening on addr, or this process
// when addr is empty.
func cpuMeter(addr string) meter {
	m := meter{pid: os.Getpid()}
	if addr != "" {
		m.pid, m.err = listenerPID(addr)
	}
	if m.err == nil {
		m.start, m.err = cpuSeconds(m.pid)
	}
	return m
}

// read reports the CPU time since the meter started, per span of total.
func (m meter) read(total int, label, what string) string {
	used, err := m.used()
	if err != nil {
		return fmt.Sprintf("%snot measured (%v)\n", label, err)
	}
	return fmt.Sprintf("%s%.2f s → %.2f µs/span (pid %d, %s)\n", label, used, used/float64(total)*1e6, m.pid, what)
}

// used is the CPU time in seconds since the meter started.
func (m meter) used() (float64, error) {
	if m.err != nil {
		return 0, m.err
	}
	now, err := cpuSeconds(m.pid)
	if err != nil {
		return 0, err
	}
	return now - m.start, nil
}

// cpuSeconds reads user+system CPU time of pid from /proc (clock ticks of 1/100 s).
func cpuSeconds(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(line[strings.LastIndex(line, ")")+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100, nil
}

// collectorUsage is the collector's CPU seconds so far and its memory peaks.
type collectorUsage struct{ cpu, peak, anon, file float64 }

// usage reads pid's CPU time and peak RSS and stops the memory sampler.
func usage(pid int, mem func() (anon, file float64)) (collectorUsage, error) {
	cpu, err := cpuSeconds(pid)
	if err != nil {
		return collectorUsage{}, err
	}
	peak, err := statusMiB(pid, "VmHWM")
	if err != nil {
		return collectorUsage{}, err
	}
	anon, file := mem()
	return collectorUsage{cpu: cpu, peak: peak[0], anon: anon, file: file}, nil
}

// rss is the line the bench prints for the collector's memory.
func (u collectorUsage) rss() string {
	return fmt.Sprintf("collector peak RSS:         %.0f MiB (sampled peaks: anonymous %.0f MiB, file-backed %.0f MiB)", u.peak, u.anon, u.file)
}

// statusMiB reads memory fields (VmHWM, RssAnon, RssFile) of pid, in the
// order asked, from one read of /proc/pid/status.
func statusMiB(pid int, fields ...string) ([]float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	out := make([]float64, len(fields))
	for i, field := range fields {
		found := false
		for _, line := range lines {
			if rest, ok := strings.CutPrefix(line, field+":"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				if err != nil {
					return nil, fmt.Errorf("%s of %d: %q: %w", field, pid, line, err)
				}
				out[i], found = kb/1024, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no %s in /proc/%d/status", field, pid)
		}
	}
	return out, nil
}

// sampleRSS samples pid's anonymous and file-backed resident memory every
// period until the returned function is called, which returns their peaks.
func sampleRSS(pid int, period time.Duration) func() (anon, file float64) {
	stop := make(chan struct{})
	done := make(chan struct{})
	var anon, file float64
	go func() {
		defer close(done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			if m, err := statusMiB(pid, "RssAnon", "RssFile"); err == nil {
				anon, file = max(anon, m[0]), max(file, m[1])
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() (float64, float64) {
		close(stop)
		<-done
		return anon, file
	}
}
