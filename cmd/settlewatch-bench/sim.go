package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/simulator"
)

// simLoad is the simulator's load mode as the outside client (-sim): the
// OpenTelemetry Go SDK with its batch span processor, a resource per
// terminal and the contract's full attributes. A transaction's spans are
// handed to the SDK together, but its batches are cut by count and time, so
// they can reach the collector in two requests. It also writes the ground
// truth of what it sent, which the bench compares with what the collector
// stored.
type simLoad struct {
	bin, scenario string
	rate          float64
	duration      time.Duration
	workers       int
	truthDir      string

	report simReport
	cpu    float64 // the simulator's own CPU seconds (user + system)
}

// simReport is the part of `settlewatch-sim load -json` the bench reads.
type simReport struct {
	Stats struct {
		Txns          int64 `json:"txns"`
		SpansExported int64 `json:"spans_exported"`
		SpansDropped  int64 `json:"spans_dropped"`
		SpansFailed   int64 `json:"spans_failed"`
	} `json:"stats"`
	Achieved float64 `json:"achieved_txns_per_second"`
}

// send runs the simulator against addr until it has sent for its duration
// and flushed. It blocks on a full SDK queue (-blocking), so a span it
// dropped or failed to export is lost on the client's side, which the bench
// reports as an error rather than measuring around it.
func (s *simLoad) send(addr string) error {
	cmd := exec.Command(s.bin, "load", "-endpoint", addr, "-insecure",
		"-rate", strconv.FormatFloat(s.rate, 'f', -1, 64), "-duration", s.duration.String(),
		"-workers", strconv.Itoa(s.workers), "-scenario", s.scenario, "-blocking",
		"-truth", s.truthDir, "-json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("simulator: %w: %s", err, tail(stderr.Bytes(), 2000))
	}
	s.cpu = childCPU(cmd)
	if err := json.Unmarshal(stdout.Bytes(), &s.report); err != nil {
		return fmt.Errorf("simulator report: %w: %s", err, tail(stdout.Bytes(), 2000))
	}
	if st := s.report.Stats; st.SpansDropped != 0 || st.SpansFailed != 0 || st.SpansExported == 0 {
		return fmt.Errorf("simulator: %d spans exported, %d dropped, %d failed: the client lost spans", st.SpansExported, st.SpansDropped, st.SpansFailed)
	}
	return nil
}

// outcomeMismatch is a stored transaction that differs from the truth.
type outcomeMismatch struct {
	txnID                      string
	wantOutcome, wantCause     string
	storedOutcome, storedCause string
}

// compareTruth compares every transaction of the simulator's ground truth
// with its stored row in conn's database (its highest live version, as a
// lookup by id sees it: chschema.LatestTransactions) on outcome and cause,
// and returns how many equal and the differences (a transaction missing
// from the store is one, with empty stored values).
func compareTruth(ctx context.Context, conn driver.Conn, truthDir string) (int, []outcomeMismatch, error) {
	truth, err := simulator.ReadTruthFile(filepath.Join(truthDir, simulator.TruthFile))
	if err != nil {
		return 0, nil, err
	}
	rows, err := conn.Query(tagged(ctx), "SELECT txn_id, toString(outcome), toString(cause) FROM "+chschema.LatestTransactions())
	if err != nil {
		return 0, nil, fmt.Errorf("read stored outcomes: %w", err)
	}
	defer rows.Close()
	stored := make(map[string][2]string, len(truth))
	for rows.Next() {
		var id, outcome, cause string
		if err := rows.Scan(&id, &outcome, &cause); err != nil {
			return 0, nil, fmt.Errorf("read stored outcomes: %w", err)
		}
		stored[id] = [2]string{outcome, cause}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("read stored outcomes: %w", err)
	}
	equal := 0
	var diff []outcomeMismatch
	for _, t := range truth {
		got := stored[t.TxnID]
		if got[0] == string(t.Outcome) && got[1] == string(t.Cause) {
			equal++
			continue
		}
		diff = append(diff, outcomeMismatch{t.TxnID, string(t.Outcome), string(t.Cause), got[0], got[1]})
	}
	slices.SortFunc(diff, func(a, b outcomeMismatch) int { return strings.Compare(a.txnID, b.txnID) })
	return equal, diff, nil
}

// waitTruth compares the store with the truth until every transaction
// equals it or limit has passed: the collector acknowledges spans before
// ClickHouse has them and assembles a transaction again as its later spans
// arrive, so the first comparison can come early. It returns when the last
// comparison started, the count that equals and the differences left.
func waitTruth(ctx context.Context, conn driver.Conn, truthDir string, limit time.Duration) (time.Time, int, []outcomeMismatch, error) {
	deadline := time.Now().Add(limit)
	for {
		t0 := time.Now()
		equal, diff, err := compareTruth(ctx, conn, truthDir)
		if err != nil || len(diff) == 0 || time.Now().After(deadline) {
			return t0, equal, diff, err
		}
		time.Sleep(time.Second)
	}
}

// reportSim waits until every transaction the simulator sent is assembled
// and equals its ground truth, then prints the run's figures. The
// collector's CPU is read then, so it includes the assembly of the last
// transactions. Any transaction left different after two minutes fails the
// run, with the first ten differences.
func reportSim(ctx context.Context, conn driver.Conn, db string, sim *simLoad, start time.Time, e2e, sent time.Duration,
	pid int, cpu0 float64, mem func() (anon, file float64), metricsAddr string, server meter) error {
	total := int(sim.report.Stats.SpansExported)
	txns := uint64(sim.report.Stats.Txns)
	if _, err := waitCount(ctx, conn, start, "transactions assembled", txns,
		assembledSince(db, start, "count()"), assembledSince(db, start, "uniqExact(txn_id)")); err != nil {
		return err
	}
	// The bench's connection is to db (chconn.Open with its settings).
	done, equal, diff, err := waitTruth(ctx, conn, sim.truthDir, 2*time.Minute)
	if err != nil {
		return err
	}
	use, err := usage(pid, mem)
	if err != nil {
		return err
	}
	accepted, err := acceptedSpans(metricsAddr)
	if err != nil {
		return err
	}
	cpu := use.cpu - cpu0
	fmt.Printf("spans:                      %d exported by the simulator in %s (%d workers, %d transactions, %.0f a second achieved), none dropped or failed; %d accepted by the collector and all stored\n",
		total, sent.Round(time.Millisecond), sim.workers, txns, sim.report.Achieved, accepted)
	fmt.Printf("end to end (all stored):    %s → %.0f spans/s\n", e2e.Round(time.Millisecond), float64(total)/e2e.Seconds())
	fmt.Printf("all equal to the truth:     %s → %.0f spans/s (%d of %d transactions: outcome and cause)\n",
		done.Sub(start).Round(time.Millisecond), float64(total)/done.Sub(start).Seconds(), equal, equal+len(diff))
	fmt.Printf("collector CPU:              %.2f s → %.2f µs/span\n", cpu, cpu/float64(total)*1e6)
	fmt.Print(serverShare(ctx, conn, server, db, start, total))
	fmt.Printf("simulator CPU:              %.2f s → %.2f µs/span (generating, the SDK's spans and exports, the ground truth)\n", sim.cpu, sim.cpu/float64(total)*1e6)
	fmt.Println(use.rss())
	if uint64(accepted) != uint64(total) {
		return fmt.Errorf("the simulator exported %d spans and the collector accepted %d", total, accepted)
	}
	if len(diff) > 0 {
		for _, d := range diff[:min(10, len(diff))] {
			fmt.Printf("  %s: truth %s/%s, stored %q/%q\n", d.txnID, d.wantOutcome, d.wantCause, d.storedOutcome, d.storedCause)
		}
		return fmt.Errorf("%d of %d transactions differ from the simulator's ground truth", len(diff), equal+len(diff))
	}
	return nil
}
