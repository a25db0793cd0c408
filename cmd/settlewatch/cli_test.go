package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var day0 = time.Date(2026, 9, 21, 0, 0, 0, 0, time.UTC)

// cli runs the command in-process and returns exit code, stdout, stderr.
func cli(t *testing.T, db *chtest.DB, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if db != nil && len(args) > 0 {
		args = append([]string{args[0], "-ch-addr", db.Settings.Addr[0], "-ch-database", db.Name}, args[1:]...)
	}
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func loaded(t *testing.T) (*chtest.DB, []synth.Txn) {
	t.Helper()
	db := chtest.Migrated(t)
	cfg := synth.Config{Seed: 9, From: day0, To: day0.Add(24 * time.Hour), AsOf: day0.Add(72 * time.Hour), PerHour: 200, USDShare: 0.2}
	txns := synth.Generate(cfg)
	if err := synth.Insert(t.Context(), db.Conn, db.Name, synth.Rows(txns), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := synth.InsertFacts(t.Context(), db.Conn, db.Name, txns); err != nil {
		t.Fatal(err)
	}
	return db, txns
}

// Bad input gets a clear message and exit status 2, and never reaches the
// server: these run against an address where nothing listens, so any
// attempt to query would fail differently (status 1).
func TestBadInputExitsTwoBeforeSQL(t *testing.T) {
	nowhere := []string{"-ch-addr", "127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"causes", "-by", "colour"}, "unknown dimension"},
		{[]string{"causes", "-by", "gateway_id; DROP TABLE transactions"}, "unknown dimension"},
		{[]string{"causes", "-from", "2026-09-22", "-to", "2026-09-21"}, "not before"},
		{[]string{"causes", "-from", "yesterday"}, "want RFC 3339"},
		{[]string{"causes", "-filter", "gateway=x' OR 1=1 --"}, "not allowed"},
		{[]string{"causes", "-filter", "gateway_id) OR (1=x"}, "unknown dimension"},
		{[]string{"causes", "-filter", "region"}, "DIMENSION=VALUE"},
		{[]string{"causes", "-cause", "bad_luck"}, "unknown cause"},
		{[]string{"causes", "-currency", "yuan"}, "currency"},
		{[]string{"causes", "-format", "xml"}, "table, csv or json"},
		{[]string{"causes", "-since", "forever"}, "since"},
		{[]string{"causes", "-source", "cache"}, "auto, rollup or raw"},
		{[]string{"outcomes", "-outcome", "lost"}, "unknown outcome"},
		{[]string{"trend", "-interval", "7m"}, "5m, 1h or 1d"},
		{[]string{"trend", "-baseline-weeks", "99"}, "baseline-weeks"},
		{[]string{"txn", "T1' OR '1'='1"}, "malformed"},
		{[]string{"txn"}, "exactly one transaction id"},
		{[]string{"txn", "a", "b"}, "exactly one transaction id"},
		{[]string{"unsettled", "-filter", "merchant=M-1;DELETE"}, "not allowed"},
		{[]string{"unsettled", "-lookback", "-3d"}, "lookback"},
		{[]string{"incidents", "-dimension", "planet"}, "unknown dimension"},
		{[]string{"incidents", "-value", "a\"b"}, "not allowed"},
		{[]string{"timeouts", "-candidates", "7"}, "histogram bounds"},
		{[]string{"timeouts", "-target", "5"}, "target"},
		{[]string{"timeouts", "-gateway", "gw-1'--"}, "not allowed"},
		{[]string{"backfill", "-job", "rollup", "-from", "2026-09-22", "-to", "2026-09-21"}, "not before"},
		{[]string{"backfill", "-job", "sweep", "-from", "2026-09-21", "-to", "2026-09-22"}, "current state only"},
		{[]string{"backfill", "-from", "2026-09-21"}, "needs -from and -to"},
		{[]string{"backfill", "-parallel", "0", "-from", "2026-09-21", "-to", "2026-09-22"}, "want 1 to 8"},
		{[]string{"jobs", "-job", "x;y"}, "job name"},
		{[]string{"prune", "-cluster", "c1; DROP DATABASE x"}, "cluster name"},
		{[]string{"compact", "-days", "0"}, "want at least 1"},
		{[]string{"compact", "-cluster", "c1; DROP DATABASE x"}, "cluster name"},
		{[]string{"sweep", "-late-since", "-1h"}, "late-since"},
		{[]string{"migrate", "-cluster", "c1 --"}, "cluster name"},
		{[]string{"causes", "-nonsense"}, "flag provided but not defined"},
	} {
		args := append([]string{tc.args[0]}, append(slices.Clone(nowhere), tc.args[1:]...)...)
		if tc.args[0] == "txn" { // the id comes first
			args = append(slices.Clone(tc.args), nowhere...)
		}
		code, _, stderr := cli(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
		if strings.Contains(stderr, "127.0.0.1:1") || strings.Contains(stderr, "Exception") {
			t.Errorf("%v reached for the server: %s", tc.args, stderr)
		}
	}
}

// Errors only the query layer can see (with the server's state) are still
// usage errors, without a server error in the message.
func TestQuestionErrorsAreUsageErrors(t *testing.T) {
	db := chtest.Migrated(t)
	for _, args := range [][]string{
		{"causes", "-source", "rollup", "-from", "2026-09-21T00:07:00Z", "-to", "2026-09-21T05:00:00Z"},
		{"causes", "-source", "rollup", "-by", "gateway", "-filter", "region=east", "-from", "2026-09-21", "-to", "2026-09-22"},
		{"trend", "-source", "rollup", "-interval", "5m", "-filter", "terminal=T-1", "-from", "2026-09-21", "-to", "2026-09-22"},
	} {
		code, _, stderr := cli(t, db, args...)
		if code != 2 || !strings.Contains(stderr, "cannot answer from rollups") || strings.Contains(stderr, "Exception") {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	if code, _, stderr := cli(t, db, "txn", "NO-SUCH-TXN"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("missing txn: exit %d: %s", code, stderr)
	}
}

func jsonRows(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not a JSON array of objects: %v\n%s", err, out)
	}
	return rows
}

// keysOf returns the keys of the first object of a JSON array, in order.
func keysOf(t *testing.T, out string) []string {
	t.Helper()
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(out), &arr); err != nil || len(arr) == 0 {
		t.Fatalf("want a non-empty JSON array: %v\n%s", err, out)
	}
	return objectKeys(t, arr[0])
}

func objectKeys(t *testing.T, obj []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", obj)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestFormatsAndStableKeys(t *testing.T) {
	db, txns := loaded(t)
	code, _, stderr := cli(t, db, "backfill", "-job", "all", "-from", "2026-09-21", "-to", "2026-09-22", "-quiet")
	if code != 0 {
		t.Fatalf("backfill: %d %s", code, stderr)
	}
	rng := []string{"-from", "2026-09-21", "-to", "2026-09-22"}

	code, out, stderr := cli(t, db, append([]string{"causes", "-by", "gateway", "-format", "json"}, rng...)...)
	if code != 0 {
		t.Fatalf("causes: %d %s", code, stderr)
	}
	if k := keysOf(t, out); !slices.Equal(k, []string{"gateway", "cause", "class", "currency", "transactions", "amount_minor", "share", "failure_rate"}) {
		t.Errorf("causes keys %v", k)
	}
	var failures float64
	for _, r := range jsonRows(t, out) {
		failures += r["transactions"].(float64)
	}
	var want float64
	for _, x := range txns {
		if x.Cause != "none" {
			want++
		}
	}
	if failures != want {
		t.Errorf("causes JSON counts %v failures, want %v", failures, want)
	}

	code, out, _ = cli(t, db, append([]string{"outcomes", "-format", "json"}, rng...)...)
	if k := keysOf(t, out); code != 0 || !slices.Equal(k, []string{"outcome", "currency", "transactions", "amount_minor"}) {
		t.Errorf("outcomes: %d keys %v", code, k)
	}
	code, out, _ = cli(t, db, "unsettled", "-format", "json", "-as-of", "2026-09-24T00:00:00Z", "-lookback", "30d")
	if k := keysOf(t, out); code != 0 || !slices.Equal(k[:4], []string{"txn_id", "cause", "amount_minor", "currency"}) || !slices.Contains(k, "age_hours") {
		t.Errorf("unsettled: %d keys %v", code, k)
	}
	code, out, _ = cli(t, db, append([]string{"trend", "-format", "csv", "-interval", "1h"}, rng...)...)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || !slices.Equal(recs[0], []string{"bucket", "cause", "failures", "transactions", "rate", "baseline", "change", "ratio", "baseline_weeks"}) || len(recs) < 24 {
		t.Errorf("trend csv: %d %v %v", code, err, recs[:1])
	}
	code, out, _ = cli(t, db, append([]string{"series", "-format", "json", "-by", "region"}, rng...)...)
	if k := keysOf(t, out); code != 0 || !slices.Equal(k, []string{"bucket", "region", "transactions", "failures", "failure_rate", "p50_ms", "p90_ms", "p99_ms"}) {
		t.Errorf("series: %d keys %v", code, k)
	}
	code, out, _ = cli(t, db, append([]string{"timeouts", "-format", "json"}, rng...)...)
	if code != 0 || !strings.Contains(out, `"recommended_ms"`) || !strings.Contains(out, `"would_timeout"`) {
		t.Errorf("timeouts json: %d %s", code, out)
	}
	// Tables are aligned: every line of the body starts its columns at the same offsets.
	code, out, _ = cli(t, db, append([]string{"causes", "-by", "region"}, rng...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < 4 || !strings.Contains(lines[0], "from 1d rollups") {
		t.Fatalf("causes table: %d\n%s", code, out)
	}
	head := lines[2]
	at := strings.Index(head, "cause")
	for _, l := range lines[3:] {
		if len(l) < at || l[at-1] != ' ' || l[at] == ' ' {
			t.Errorf("misaligned line %q (header %q)", l, head)
		}
	}
	code, out, _ = cli(t, db, "jobs", "-format", "json")
	if code != 0 || !strings.Contains(out, `"job": "rollup"`) || !strings.Contains(out, `"status": "ok"`) {
		t.Errorf("jobs: %d %s", code, out)
	}
	// Existing commands still work.
	if code, out, stderr := cli(t, db, "summary", "-since", "2400h"); code != 0 || !strings.Contains(out, "Failures by cause") {
		t.Errorf("summary: %d %s %s", code, out, stderr)
	}
}

// prune drops the days that fell out of recent_fact_counts_by_hash and says which;
// the facts stay.
func TestPruneDropsOldDaysOfRecentFactCounts(t *testing.T) {
	db := chtest.Migrated(t)
	old := time.Now().Add(-10 * 24 * time.Hour)
	for i, at := range []time.Time{old, time.Now()} {
		db.Exec(t, "INSERT INTO "+db.Name+".payment_facts_by_arrival (txn_id, span_id, start_time, ingested_ns) SELECT 'T1', toString(?), toDateTime(?), ?",
			i, at.Unix(), uint64(at.UnixNano()))
	}
	code, stdout, stderr := cli(t, db, "prune")
	if code != 0 || !strings.Contains(stdout, "dropped 1 old day(s) of recent_fact_counts_by_hash ["+old.UTC().Format("20060102")+"]") {
		t.Fatalf("prune: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".recent_fact_counts_by_hash"); n != 1 {
		t.Errorf("recent_fact_counts_by_hash holds %d rows after prune, want today's", n)
	}
	if n := db.Count(t, "SELECT count() FROM "+db.Name+".payment_facts_by_arrival"); n != 2 {
		t.Errorf("payment_facts_by_arrival holds %d rows, want both", n)
	}
}

// compact merges a closed day of the facts left in two parts into one and
// says which; the rows stay.
func TestCompactMergesClosedDays(t *testing.T) {
	db := chtest.Migrated(t)
	facts := db.Name + ".payment_facts_by_arrival"
	old := time.Now().Add(-5 * 24 * time.Hour)
	day := old.UTC().Format("20060102")
	db.Exec(t, "SYSTEM STOP MERGES "+facts)
	for i := range 2 {
		db.Exec(t, "INSERT INTO "+facts+" (txn_id, span_id, start_time, ingested_ns) SELECT 'T1', toString(?), toDateTime(?), ?",
			i, old.Unix(), uint64(old.UnixNano()))
	}
	db.Exec(t, "SYSTEM START MERGES "+facts)
	parts := func() uint64 {
		return db.Count(t, "SELECT count() FROM system.parts WHERE database = ? AND table = 'payment_facts_by_arrival' AND partition = ? AND active", db.Name, day)
	}
	if n := parts(); n != 2 {
		t.Fatalf("the day holds %d parts before compact, want 2", n)
	}
	code, stdout, stderr := cli(t, db, "compact", "-days", "1")
	if code != 0 || !strings.Contains(stdout, "compacted 1 closed day(s) of payment_facts_by_arrival ["+day+"]") ||
		!strings.Contains(stdout, "compacted 0 closed day(s) of spans []") {
		t.Fatalf("compact: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if n := parts(); n != 1 {
		t.Errorf("the day holds %d parts after compact, want 1", n)
	}
	if n := db.Count(t, "SELECT count() FROM "+facts); n != 2 {
		t.Errorf("payment_facts_by_arrival holds %d rows, want both", n)
	}
}
