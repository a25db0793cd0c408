package distribution

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// luhnPAN completes prefix with digits and a check digit to length n.
func luhnPAN(prefix string, n int, seed int) string {
	s := prefix
	for i := 0; len(s) < n-1; i++ {
		s += strconv.Itoa((seed + i*7) % 10)
	}
	sum := 0
	for i := len(s) - 1; i >= 0; i -= 2 {
		d := int(s[i]-'0') * 2
		if d > 9 {
			d -= 9
		}
		sum += d
		if i > 0 {
			sum += int(s[i-1] - '0')
		}
	}
	return s + strconv.Itoa((10-sum%10)%10)
}

// luhnRuns finds whole 13–19 digit runs passing Luhn: an oracle written
// here, independent of the masker under test. (Separated forms are caught
// by the literal check in the test.)
func luhnRuns(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if run := s[i:j]; len(run) >= 13 && len(run) <= 19 && luhnOK(run) {
			out = append(out, run)
		}
		i = j
	}
	return out
}

func luhnOK(d string) bool {
	sum, alt := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if alt {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		alt = !alt
	}
	return sum%10 == 0
}

// storedStrings reads every value of every column of every table as text.
func storedStrings(t *testing.T, db *chtest.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tbl := range chschema.Tables() {
		if tbl.Name == chschema.Migrations.Name {
			continue // our own bookkeeping (hex checksums), not ingested data
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rows, err := db.Conn.Query(ctx, "SELECT * FROM "+tbl.Name)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		cols := rows.ColumnTypes()
		for rows.Next() {
			vals := make([]any, len(cols))
			for i, c := range cols {
				vals[i] = reflect.New(c.ScanType()).Interface()
			}
			if err := rows.Scan(vals...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if !strings.Contains(cols[i].DatabaseTypeName(), "String") {
					continue // numbers (timestamps) are not text a PAN could hide in
				}
				out[tbl.Name+"."+cols[i].Name()] = append(out[tbl.Name+"."+cols[i].Name()], fmt.Sprint(reflect.ValueOf(v).Elem().Interface()))
			}
		}
		rows.Close()
		cancel()
	}
	return out
}

func TestNoFullPANIsStoredAnywhere(t *testing.T) { injectPANs(t, 1) }

// TestTenThousandPANs puts 10,000 distinct Luhn-valid card numbers in every
// string place, as the reliability issue asks.
func TestTenThousandPANs(t *testing.T) { injectPANs(t, 362) }

// injectPANs sends rounds × 28 distinct card numbers (13–19 digits, four
// prefixes), each in every string place of its own span and again in a
// settlement span, and checks that none is stored anywhere.
func injectPANs(t *testing.T, rounds int) {
	db := chtest.Migrated(t)
	rc := startCollector(t, db, nil)
	now := time.Now().UTC()

	var pans []string
	seenPAN := map[string]bool{}
	for round := 0; round < rounds; round++ {
		for n := 13; n <= 19; n++ {
			for _, prefix := range []string{"4", "51", "62", "37"} {
				p := luhnPAN(prefix+strconv.Itoa(round), n, n*3+len(prefix)+round)
				if !seenPAN[p] {
					seenPAN[p] = true
					pans = append(pans, p)
				}
			}
		}
	}
	td := ptrace.NewTraces()
	for i, pan := range pans {
		spaced := pan[:4] + " " + pan[4:8] + " " + pan[8:]
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "pos-terminal "+pan)
		rs.Resource().Attributes().PutStr("pos.terminal.id", "T-"+pan)
		rs.Resource().Attributes().PutStr("pos.merchant.id", spaced)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("scope-" + pan)
		ss.Scope().Attributes().PutStr("scope.note", pan)
		sp := addSpan(ss.Spans(), spanSpec{trace: "pan-" + pan, id: "pan-" + pan, name: "pos.transaction " + pan, start: now, dur: time.Second,
			attrs: map[string]any{"pos.txn.id": "TXN-" + pan, "pos.txn.type": "sale", "pos.response.code": "51",
				"pos.card.bin": pan, "card": "card=" + pan + ";", "pos.batch.number": spaced}})
		sp.Attributes().PutEmptySlice("list").AppendEmpty().SetStr(pan)
		sp.Attributes().PutEmptyMap("nested").PutStr("pan", pan)
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage("declined card " + pan)
		ev := sp.Events().AppendEmpty()
		ev.SetName("read " + pan)
		ev.Attributes().PutStr("track2", pan+"=2512")
		link := sp.Links().AppendEmpty()
		link.SetTraceID(traceIDOf("other"))
		link.SetSpanID(spanIDOf(fmt.Sprint(i)))
		link.Attributes().PutStr("pan", pan)
		// The settlement span carries the PAN in its own trace too.
		settlementSpan(td, "TXN-"+pan, "rejected", "", "settlement_rejected "+pan, now, 100)
	}
	for _, part := range splitTraces(td, 500) {
		rc.sendGRPC(t, part)
	}
	waitFor(t, db, uint64(2*len(pans)), "SELECT count() FROM spans")
	waitFor(t, db, uint64(len(pans)), "SELECT count() FROM "+chtest.Txns)

	stored := storedStrings(t, db)
	checked := 0
	for col, vals := range stored {
		if strings.HasSuffix(col, "trace_id") || strings.HasSuffix(col, "span_id") {
			continue // hex of binary ids, not text a client wrote
		}
		for _, v := range vals {
			checked++
			if runs := luhnRuns(v); len(runs) > 0 {
				t.Errorf("%s holds a full card number %v in %q", col, runs, v)
			}
			// Every digit run, separators removed, looked up among the PANs sent.
			for _, run := range digitRuns(strings.NewReplacer(" ", "", "-", "").Replace(v)) {
				if seenPAN[run] {
					t.Errorf("%s holds PAN %s", col, run)
				}
			}
		}
	}
	t.Logf("%d card numbers sent in every string place; %d stored values checked, none holds one", len(pans), checked)
	if rounds > 1 && len(pans) < 10_000 {
		t.Fatalf("only %d distinct card numbers generated", len(pans))
	}
	if checked < 1000 {
		t.Fatalf("only %d values checked", checked)
	}
	// First 6 and last 4 are kept for investigation.
	p := pans[len(pans)-1]
	masked := p[:6] + strings.Repeat("*", len(p)-10) + p[len(p)-4:]
	if got := db.Count(t, "SELECT count() FROM spans WHERE has(attributes.value, ?)", masked); got != 1 {
		t.Errorf("masked bin %s stored %d times, want 1", masked, got)
	}
	m := rc.metrics(t)
	if got := counter(m, "settlewatch_processor_pans_masked_total"); got < float64(len(pans)*10) {
		t.Errorf("processor counted %v masked PANs, want ≥ %d", got, len(pans)*10)
	}
	if got := counter(m, "settlewatch_exporter_rejected_total", `reason="pan_masked_at_export"`); got != 0 {
		t.Errorf("%v PANs reached the exporter: the processor missed a place", got)
	}
}

func digitRuns(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

// splitTraces cuts td into requests of at most n resources, as clients batch.
func splitTraces(td ptrace.Traces, n int) []ptrace.Traces {
	var out []ptrace.Traces
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i += n {
		part := ptrace.NewTraces()
		for j := i; j < min(i+n, rss.Len()); j++ {
			rss.At(j).CopyTo(part.ResourceSpans().AppendEmpty())
		}
		out = append(out, part)
	}
	return out
}
