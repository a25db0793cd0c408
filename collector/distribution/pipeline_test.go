package distribution

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chtest"
)

type want struct{ outcome, cause string }

// spanIDs collects the distinct span ids of what was sent.
func spanIDs(set map[string]bool, tds ...ptrace.Traces) {
	for _, td := range tds {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				spans := sss.At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					id := spans.At(k).SpanID()
					set[string(id[:])] = true
				}
			}
		}
	}
}

// stored reads outcome and cause of every transaction (latest version).
func stored(t *testing.T, db *chtest.DB) map[string]want {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.Conn.Query(ctx, "SELECT txn_id, toString(outcome), toString(cause) FROM "+chtest.Txns)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]want{}
	for rows.Next() {
		var id string
		var w want
		if err := rows.Scan(&id, &w.outcome, &w.cause); err != nil {
			t.Fatal(err)
		}
		got[id] = w
	}
	return got
}

// waitOutcomes polls until every transaction has its expected outcome and
// cause, then fails with the differences if the deadline passes.
func waitOutcomes(t *testing.T, db *chtest.DB, exp map[string]want) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var diff []string
	for {
		got := stored(t, db)
		diff = diff[:0]
		for id, w := range exp {
			if got[id] != w {
				diff = append(diff, fmt.Sprintf("%s: got %s/%s, want %s/%s", id, got[id].outcome, got[id].cause, w.outcome, w.cause))
			}
		}
		for id := range got {
			if _, ok := exp[id]; !ok {
				diff = append(diff, "unexpected transaction "+id)
			}
		}
		if len(diff) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(diff)
			t.Fatalf("transactions differ from the contract:\n%s", strings.Join(diff, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestPipelineClassifiesEveryOutcomeAndCause(t *testing.T) {
	db := chtest.Migrated(t)
	rc := startCollector(t, db, nil)

	now := time.Now().UTC().Truncate(time.Millisecond)
	recent, old := now.Add(-time.Hour), now.Add(-48*time.Hour)
	exp := map[string]want{}
	first := ptrace.NewTraces()  // gRPC
	second := ptrace.NewTraces() // HTTP, later
	add := func(a attempt, w want) {
		if a.batch == "" {
			a.batch = "000001"
		}
		terminalSpans(first, a)
		gatewaySpans(first, a)
		exp[a.txn] = w
	}
	// Every decline cause, from the response code on pos.transaction.
	for code, cause := range map[string]string{"51": "account", "05": "bank_policy", "55": "authorization", "13": "operator",
		"61": "limit", "14": "card", "92": "gateway", "96": "system", "68": "timeout", "77": "settlement", "N7": "unknown", "5c": "bank_policy"} {
		add(attempt{txn: "D-" + code, typ: "sale", code: code, at: recent, amount: 1000, gatewayCode: strings.ToUpper(code)}, want{"declined", cause})
	}
	// A decline with a gateway error underneath: the code decides.
	add(attempt{txn: "D-91-UNDER", typ: "sale", code: "91", at: recent, amount: 1000, gatewayCode: "91", issuerErr: "timeout"}, want{"declined", "gateway"})
	// Technical failures.
	add(attempt{txn: "F-ROOT", typ: "sale", at: recent, amount: 500, rootErr: "connection_refused"}, want{"failed", "network"})
	add(attempt{txn: "F-DEEP", typ: "sale", at: recent, amount: 500, hostErr: "timeout", issuerErr: "database_error", gatewayCode: ""}, want{"failed", "system"})
	add(attempt{txn: "F-HOST", typ: "sale", at: recent, amount: 500, hostErr: "tls_failure"}, want{"failed", "network"})
	add(attempt{txn: "F-NONE", typ: "sale", at: recent, amount: 500}, want{"failed", "unknown"})
	add(attempt{txn: "F-ODD", typ: "sale", at: recent, amount: 500, rootErr: "cosmic_ray"}, want{"failed", "unknown"})
	// The deepest failure sits on a gateway span that carries no pos.txn.id.
	add(attempt{txn: "F-NOTXN", typ: "sale", at: recent, amount: 500, issuerErr: "hardware_fault", dropTxnIDGateway: true}, want{"failed", "system"})
	// Approvals.
	add(attempt{txn: "A-REFUND", typ: "refund", code: "00", at: recent, amount: 700, gatewayCode: "00"}, want{"approved", "none"})
	add(attempt{txn: "A-PENDING", typ: "sale", code: "00", at: recent, amount: 700, gatewayCode: "00"}, want{"pending", "none"})
	add(attempt{txn: "A-SETTLED", typ: "sale", code: "00", at: old, amount: 700, gatewayCode: "00"}, want{"settled", "none"})
	add(attempt{txn: "A-COMPLETION", typ: "completion", code: "Y1", at: old, amount: 700, gatewayCode: "00"}, want{"settled", "none"})
	add(attempt{txn: "A-REJ95", typ: "sale", code: "00", at: old, amount: 700, gatewayCode: "00"}, want{"settlement_rejected", "settlement"})
	add(attempt{txn: "A-REJ51", typ: "sale", code: "00", at: old, amount: 700, gatewayCode: "00"}, want{"settlement_rejected", "account"})
	add(attempt{txn: "A-UNSETTLED", typ: "sale", code: "00", at: old, amount: 700, gatewayCode: "00"}, want{"unsettled", "settlement"})
	add(attempt{txn: "A-UNSET-NET", typ: "sale", code: "00", at: old, amount: 700, gatewayCode: "00", terminal: "T-NET", batch: "000777"}, want{"unsettled", "network"})
	// Failed and declined transactions are never unsettled, even in a failed batch.
	add(attempt{txn: "D-OLD-IN-FAILED-BATCH", typ: "sale", code: "51", at: old, amount: 700, gatewayCode: "51", terminal: "T-NET", batch: "000777"}, want{"declined", "account"})
	// The terminal's spans alone (no answer): failed for an unknown reason,
	// until the gateway's failure arrives in a later request (below).
	lateFailure := attempt{txn: "F-NOTXN-LATER", typ: "sale", at: recent, amount: 500, batch: "000001", issuerErr: "hardware_fault", dropTxnIDGateway: true}
	terminalSpans(first, lateFailure)
	exp[lateFailure.txn] = want{"failed", "unknown"}
	// Out of order: the gateway's spans arrive first, the terminal's later over HTTP.
	ooo := attempt{txn: "O-LATE-ROOT", typ: "sale", code: "57", at: recent, amount: 900, gatewayCode: "57", batch: "000001"}
	gatewaySpans(first, ooo)
	terminalSpans(second, ooo)
	exp[ooo.txn] = want{"declined", "bank_policy"}

	third := ptrace.NewTraces()
	settlementSpan(third, "A-SETTLED", "settled", "00", "", old.Add(20*time.Hour), 700)
	settlementSpan(third, "A-COMPLETION", "settled", "", "", old.Add(20*time.Hour), 700)
	settlementSpan(third, "A-REJ95", "rejected", "95", "", old.Add(20*time.Hour), 700)
	settlementSpan(third, "A-REJ51", "rejected", "51", "", old.Add(20*time.Hour), 700)
	batchClose(third, "T-NET", "000777", "failed", "upload_failed", old.Add(12*time.Hour))

	rc.sendGRPC(t, first)
	rc.sendHTTP(t, second)
	rc.sendGRPC(t, third)
	waitOutcomes(t, db, exp)

	// Duplicates re-sent change nothing.
	rc.sendGRPC(t, first)
	rc.sendHTTP(t, third)

	// A settlement arriving after the approval was assembled as pending.
	late := ptrace.NewTraces()
	settlementSpan(late, "A-PENDING", "settled", "00", "", now, 700)
	rc.sendGRPC(t, late)
	exp["A-PENDING"] = want{"settled", "none"}
	waitOutcomes(t, db, exp)

	// The gateway's failure, without pos.txn.id, in a request of its own
	// after everything else was assembled: only its trace ties it to the
	// transaction (assembly looks the trace up in spans).
	lateGateway := ptrace.NewTraces()
	gatewaySpans(lateGateway, lateFailure)
	rc.sendGRPC(t, lateGateway)
	exp[lateFailure.txn] = want{"failed", "system"}
	waitOutcomes(t, db, exp)

	ids := map[string]bool{}
	spanIDs(ids, first, second, third, late, lateGateway)
	waitFor(t, db, uint64(len(ids)), "SELECT count() FROM spans FINAL")
	if got := db.Count(t, "SELECT uniqExact(span_id) FROM spans"); got != uint64(len(ids)) {
		t.Errorf("distinct stored spans %d, sent %d", got, len(ids))
	}
	if got := db.Count(t, "SELECT count() FROM "+chtest.Txns); got != uint64(len(exp)) {
		t.Errorf("transactions %d, want %d", got, len(exp))
	}
	// Facts: every span with a pos.txn.id or a failure (batch closes go to their own table).
	if got := db.Count(t, "SELECT count() FROM payment_facts_by_arrival FINAL WHERE name = 'settlement.transaction'"); got != 5 {
		t.Errorf("settlement facts %d, want 5", got)
	}
	if got := db.Count(t, "SELECT count() FROM batch_closes FINAL"); got != 1 {
		t.Errorf("batch closes %d, want 1", got)
	}
	// A transaction's traces are its facts' trace ids; settled ones have two.
	if got := db.Count(t, "SELECT uniqExact(trace_id) FROM payment_facts_by_arrival FINAL WHERE txn_id = 'A-SETTLED'"); got != 2 {
		t.Errorf("A-SETTLED traces %d, want 2", got)
	}
	// Money and dimensions carried through, integer minor units.
	if got := db.Count(t, "SELECT toUInt64(sum(amount_minor)) FROM "+chtest.Txns+" WHERE txn_id IN ('A-SETTLED', 'A-REJ95')"); got != 1400 {
		t.Errorf("amounts %d, want 1400", got)
	}
	if got := db.Count(t, "SELECT count() FROM "+chtest.Txns+" WHERE txn_id = 'D-91-UNDER' AND issuer_id = 'iss-4' AND acquirer_id = 'acq-1' AND gateway_id = 'gw-1' AND terminal_id = 'T-100' AND region = 'east' AND cause_class = 'soft' AND response_code = '91'"); got != 1 {
		t.Error("D-91-UNDER lost dimensions from gateway spans")
	}
	if got := db.Count(t, "SELECT count() FROM "+chtest.Txns+" WHERE txn_id = 'D-5c' AND response_code = '5C' AND cause_class = 'hard'"); got != 1 {
		t.Error("lower-case response code not normalised")
	}
}

// Pieces of one transaction sent as separate requests, concurrently and in
// random order, reach different batches and the two queue consumers: the
// row that wins must still be the one that saw every piece.
func TestConcurrentPiecesAssembleCompletely(t *testing.T) {
	db := chtest.Migrated(t)
	rc := startCollector(t, db, nil)
	recent := time.Now().UTC().Add(-time.Hour)
	const n = 120
	var pieces []ptrace.Traces
	exp := map[string]want{}
	for i := 0; i < n; i++ {
		a := attempt{txn: fmt.Sprintf("C-%03d", i), typ: "sale", code: "51", at: recent, amount: 100, gatewayCode: "51", batch: "000009"}
		term, gw := ptrace.NewTraces(), ptrace.NewTraces()
		terminalSpans(term, a)
		gatewaySpans(gw, a)
		pieces = append(pieces, term, gw)
		exp[a.txn] = want{"declined", "account"}
	}
	rng := rand.New(rand.NewSource(7))
	rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
	var wg sync.WaitGroup
	work := make(chan ptrace.Traces)
	errs := make(chan error, len(pieces))
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for td := range work {
				if err := rc.exportGRPC(td); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, p := range pieces {
		work <- p
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitOutcomes(t, db, exp)
	// Five facts per transaction (root, card, host, authorize, issuer).
	waitFor(t, db, n, "SELECT count() FROM "+chtest.Txns+" WHERE span_count = 5")
	if got := db.Count(t, "SELECT count() FROM "+chtest.Txns+" WHERE issuer_id = 'iss-4' AND terminal_id = 'T-100'"); got != n {
		t.Errorf("%d of %d final rows have both terminal and gateway dimensions", got, n)
	}
}

// A terminal's spans and its gateway's arrive in separate requests. The
// first request's transactions are classified from the facts it stored;
// the second's hold rows the second request did not write, so they are read
// back whole, and come out as if everything had arrived at once.
func TestTransactionSpreadOverRequests(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	attempts := []attempt{
		{txn: "S-APPROVED", typ: "sale", code: "00", gatewayCode: "00", at: now.Add(-time.Hour), amount: 1200, batch: "000001"},
		{txn: "S-DECLINED", typ: "sale", code: "51", gatewayCode: "51", at: now.Add(-time.Hour), amount: 800, batch: "000001"},
		{txn: "S-FAILED", typ: "sale", at: now.Add(-time.Hour), amount: 300, batch: "000001", issuerErr: "hardware_fault"},
	}
	exp := map[string]want{"S-APPROVED": {"pending", "none"}, "S-DECLINED": {"declined", "account"}, "S-FAILED": {"failed", "system"}}
	db := chtest.Migrated(t)
	rc := startCollector(t, db, nil)
	terminal, gateway := ptrace.NewTraces(), ptrace.NewTraces()
	for _, a := range attempts {
		terminalSpans(terminal, a)
		gatewaySpans(gateway, a)
	}
	rc.sendGRPC(t, terminal)
	waitFor(t, db, uint64(len(attempts)), "SELECT count() FROM "+chtest.Txns)
	rc.sendGRPC(t, gateway)
	waitOutcomes(t, db, exp)
	waitFor(t, db, uint64(len(attempts)), "SELECT count() FROM "+chtest.Txns+" WHERE span_count = 5")
	var m string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if m = rc.metrics(t); counter(m, "settlewatch_exporter_assembly_sources_total") >= 2*float64(len(attempts)) {
			break
		}
	}
	mem, ch := counter(m, "settlewatch_exporter_assembly_sources_total", `source="memory"`), counter(m, "settlewatch_exporter_assembly_sources_total", `source="clickhouse"`)
	if n := float64(len(attempts)); mem != n || ch != n {
		t.Errorf("assembled from memory %v, from ClickHouse %v; want %v each", mem, ch, n)
	}
	// Every span counted once: the version says five facts.
	got := db.Lines(t, "SELECT concat(txn_id, ' ', toString(span_count), ' ', toString(amount_minor)) FROM "+chtest.Txns+" ORDER BY txn_id")
	if want := "S-APPROVED 5 1200\nS-DECLINED 5 800\nS-FAILED 5 300"; got != want {
		t.Errorf("rows:\n%s\nwant:\n%s", got, want)
	}
}

// The collector that migrates the schema also drops the days that fell out
// of recent_fact_counts_by_hash and merges closed days of the facts into one
// part, on its first request and then hourly; the facts keep everything.
func TestCollectorPrunesAndCompactsOldDays(t *testing.T) {
	db := chtest.Migrated(t)
	old := time.Now().Add(-10 * 24 * time.Hour)
	// The old day in two parts (merges stopped while they are written).
	db.Exec(t, "SYSTEM STOP MERGES payment_facts_by_arrival")
	for _, span := range []string{"oldspan1", "oldspan2"} {
		db.Exec(t, "INSERT INTO payment_facts_by_arrival (txn_id, span_id, start_time, ingested_ns) SELECT 'OLD-1', ?, toDateTime(?), ?",
			span, old.Unix(), uint64(old.UnixNano()))
	}
	db.Exec(t, "SYSTEM START MERGES payment_facts_by_arrival")
	oldParts := "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'payment_facts_by_arrival' AND active AND partition = '" +
		old.UTC().Format("20060102") + "'"
	if n := db.Count(t, oldParts); n != 2 {
		t.Fatalf("the old day holds %d parts before the collector starts, want 2", n)
	}
	// The view counts only facts of the recent days; counts left from when
	// this one was recent:
	db.Exec(t, "INSERT INTO recent_fact_counts_by_hash (txn_hash, ingested_ns, facts) SELECT cityHash64('OLD-1'), ?, 1", uint64(old.UnixNano()))
	rc := startCollector(t, db, nil)
	now := time.Now().UTC().Truncate(time.Millisecond)
	td := ptrace.NewTraces()
	terminalSpans(td, attempt{txn: "P-NEW", typ: "sale", code: "00", gatewayCode: "00", at: now.Add(-time.Minute), amount: 500, batch: "000001"})
	rc.sendGRPC(t, td)
	waitFor(t, db, 1, "SELECT count() FROM "+chtest.Txns+" WHERE txn_id = 'P-NEW'")
	waitFor(t, db, 0, "SELECT count() FROM recent_fact_counts_by_hash WHERE txn_hash = cityHash64('OLD-1')")
	if n := db.Count(t, "SELECT sum(facts) FROM recent_fact_counts_by_hash WHERE txn_hash = cityHash64('P-NEW')"); n == 0 {
		t.Error("the new transaction's facts are not counted")
	}
	waitFor(t, db, 1, oldParts)
	// The server would merge the two parts on its own too, in time: the
	// query log tells that the collector did.
	db.Exec(t, "SYSTEM FLUSH LOGS")
	if n := db.Count(t, "SELECT count() FROM system.query_log WHERE type = 2 AND query LIKE ?",
		"OPTIMIZE TABLE `"+db.Name+"`.`payment_facts_by_arrival` PARTITION "+old.UTC().Format("20060102")+" FINAL"); n != 1 {
		t.Errorf("the collector compacted the old day %d times, want once", n)
	}
	if n := db.Count(t, "SELECT count() FROM payment_facts_by_arrival WHERE txn_id = 'OLD-1'"); n != 2 {
		t.Errorf("payment_facts_by_arrival holds %d rows of the old transaction, want 2", n)
	}
}
