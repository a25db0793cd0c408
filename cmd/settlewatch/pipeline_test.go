package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/collector/distribution"
)

// The analyst commands over data that came through the real collector, sent
// as hand-written OTLP by an outside client following the contract.

func port(t *testing.T) string {
	addr, err := chtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// collector runs the shipped collector config in-process against db and
// returns an OTLP/gRPC client.
func collector(t *testing.T, db *chtest.DB) ptraceotlp.GRPCClient {
	t.Helper()
	grpcAddr := port(t)
	env := map[string]string{
		"SETTLEWATCH_CH_ADDR": db.Settings.Addr[0], "SETTLEWATCH_CH_DATABASE": db.Name,
		"SETTLEWATCH_OTLP_GRPC_ENDPOINT": grpcAddr, "SETTLEWATCH_OTLP_HTTP_ENDPOINT": port(t),
		"SETTLEWATCH_HEALTH_ENDPOINT": port(t), "SETTLEWATCH_METRICS_PORT": strings.Split(port(t), ":")[1],
		"SETTLEWATCH_QUEUE_DIR": filepath.Join(t.TempDir(), "queue"), "SETTLEWATCH_LOG_LEVEL": "warn",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	col, err := distribution.Start([]string{"file:" + filepath.Join("..", "..", "collector", "config.yaml")}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := col.Stop(30 * time.Second); err != nil {
			t.Errorf("collector: %v", err)
		}
	})
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return ptraceotlp.NewGRPCClient(conn)
}

func tid(s string) pcommon.TraceID {
	h := sha256.Sum256([]byte("t/" + s))
	return pcommon.TraceID(h[:16])
}

func sid(s string) pcommon.SpanID {
	h := sha256.Sum256([]byte("s/" + s))
	return pcommon.SpanID(h[:8])
}

type spanDef struct {
	trace, id, parent, name, errType string
	kind                             ptrace.SpanKind
	start                            time.Time
	dur                              time.Duration
	attrs                            map[string]any
}

func addSpans(td ptrace.Traces, service string, res map[string]any, defs ...spanDef) {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	putAll(rs.Resource().Attributes(), res)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for _, d := range defs {
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid(d.trace))
		sp.SetSpanID(sid(d.id))
		if d.parent != "" {
			sp.SetParentSpanID(sid(d.parent))
		}
		sp.SetName(d.name)
		sp.SetKind(d.kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(d.start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(d.start.Add(d.dur)))
		putAll(sp.Attributes(), d.attrs)
		if d.errType != "" {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Attributes().PutStr("error.type", d.errType)
		}
	}
}

func putAll(m pcommon.Map, attrs map[string]any) {
	for k, v := range attrs {
		switch x := v.(type) {
		case string:
			m.PutStr(k, x)
		case int:
			m.PutInt(k, int64(x))
		}
	}
}

// sale adds the terminal and (optionally) gateway spans of one attempt.
func sale(td ptrace.Traces, txn string, at time.Time, code, terminal, batch, hostErr, issuerErr string) {
	root := map[string]any{"pos.txn.id": txn, "pos.txn.type": "sale", "pos.amount.minor": 12345, "pos.currency": "CNY",
		"pos.gateway.id": "gw-9", "pos.card.scheme": "unionpay", "pos.card.funding": "debit", "pos.card.entry_mode": "chip", "pos.batch.number": batch}
	if code != "" {
		root["pos.response.code"] = code
	}
	addSpans(td, "pos-terminal", map[string]any{"pos.terminal.id": terminal, "pos.merchant.id": "M-42", "pos.merchant.region": "east"},
		spanDef{trace: txn, id: txn + "/root", name: "pos.transaction", kind: ptrace.SpanKindInternal, start: at, dur: 3 * time.Second, attrs: root},
		spanDef{trace: txn, id: txn + "/card", parent: txn + "/root", name: "pos.card.read", kind: ptrace.SpanKindInternal,
			start: at.Add(20 * time.Millisecond), dur: 400 * time.Millisecond, attrs: map[string]any{"pos.txn.id": txn}},
		spanDef{trace: txn, id: txn + "/host", parent: txn + "/root", name: "pos.host.request", kind: ptrace.SpanKindClient,
			start: at.Add(500 * time.Millisecond), dur: 2 * time.Second, errType: hostErr, attrs: map[string]any{"pos.txn.id": txn, "server.address": "gw-9.example"}})
	gwCode := code
	if gwCode == "" {
		gwCode = "96"
	}
	addSpans(td, "payment-gateway", map[string]any{"pos.gateway.id": "gw-9"},
		spanDef{trace: txn, id: txn + "/auth", parent: txn + "/host", name: "gateway.authorize", kind: ptrace.SpanKindServer,
			start: at.Add(550 * time.Millisecond), dur: 1800 * time.Millisecond, attrs: map[string]any{"pos.txn.id": txn, "pos.response.code": gwCode}},
		spanDef{trace: txn, id: txn + "/issuer", parent: txn + "/auth", name: "gateway.issuer.request", kind: ptrace.SpanKindClient,
			start: at.Add(600 * time.Millisecond), dur: 1500 * time.Millisecond, errType: issuerErr,
			attrs: map[string]any{"pos.txn.id": txn, "pos.acquirer.id": "acq-1", "pos.issuer.id": "iss-7"}})
}

func TestAnalystCommandsOverThePipeline(t *testing.T) {
	db := chtest.Migrated(t)
	client := collector(t, db)
	now := time.Now().UTC().Truncate(time.Millisecond)
	td := ptrace.NewTraces()
	sale(td, "F-DEEP", now.Add(-time.Hour), "", "T-1", "000001", "timeout", "database_error")
	sale(td, "A-OLD", now.Add(-40*time.Hour), "00", "T-NET", "000777", "", "")
	sale(td, "D-51", now.Add(-2*time.Hour), "51", "T-1", "000001", "", "")
	addSpans(td, "pos-terminal", map[string]any{"pos.terminal.id": "T-NET", "pos.merchant.id": "M-42"},
		spanDef{trace: "batch-777", id: "batch-777/close", name: "pos.batch.close", kind: ptrace.SpanKindInternal, start: now.Add(-30 * time.Hour),
			dur: 2 * time.Second, errType: "upload_failed", attrs: map[string]any{"pos.batch.number": "000777", "pos.batch.result": "failed"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		// transactions_by_time too: the view's part is committed after the
		// transactions part of the same insert, and the time-range commands
		// (unsettled, causes) read it.
		if db.Count(t, "SELECT count() FROM "+chtest.Txns+" WHERE (txn_id = 'F-DEEP' AND cause = 'system') OR (txn_id = 'A-OLD' AND cause = 'network') OR txn_id = 'D-51'") == 3 &&
			db.Count(t, "SELECT count() FROM (SELECT * FROM transactions_by_time FINAL) WHERE deleted = 0 AND ((txn_id = 'F-DEEP' AND cause = 'system') OR (txn_id = 'A-OLD' AND cause = 'network') OR txn_id = 'D-51')") == 3 &&
			db.Count(t, "SELECT count() FROM spans FINAL") == 16 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pipeline did not assemble the transactions")
		}
	}

	code, out, stderr := cli(t, db, "txn", "F-DEEP", "-format", "json")
	if code != 0 {
		t.Fatalf("txn: %d %s", code, stderr)
	}
	var story struct {
		TxnID        string `json:"txn_id"`
		Outcome      string `json:"outcome"`
		Cause        string `json:"cause"`
		ResponseCode string `json:"response_code"`
		ErrorType    string `json:"error_type"`
		Currency     string `json:"currency"`
		AmountMinor  int64  `json:"amount_minor"`
		Spans        []struct {
			Name         string  `json:"name"`
			Service      string  `json:"service"`
			Status       string  `json:"status"`
			ErrorType    string  `json:"error_type"`
			ResponseCode string  `json:"response_code"`
			Depth        int     `json:"depth"`
			DurationMs   float64 `json:"duration_ms"`
		} `json:"spans"`
	}
	if err := json.Unmarshal([]byte(out), &story); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	keys := objectKeys(t, []byte(out))
	for _, k := range []string{"txn_id", "outcome", "cause", "response_code", "error_type", "amount_minor", "currency", "spans"} {
		if !strings.Contains(strings.Join(keys, ","), k) {
			t.Errorf("txn JSON lacks %q: %v", k, keys)
		}
	}
	var names []string
	for _, s := range story.Spans {
		names = append(names, fmt.Sprintf("%s/%s/%d/%s", s.Service, s.Name, s.Depth, s.ErrorType))
	}
	want := "pos-terminal/pos.transaction/0/,pos-terminal/pos.card.read/1/,pos-terminal/pos.host.request/1/timeout," +
		"payment-gateway/gateway.authorize/2/,payment-gateway/gateway.issuer.request/3/database_error"
	if story.TxnID != "F-DEEP" || story.Outcome != "failed" || story.Cause != "system" || story.AmountMinor != 12345 || story.Currency != "CNY" || strings.Join(names, ",") != want {
		t.Errorf("story %+v\nspans %s\nwant  %s", story, strings.Join(names, ","), want)
	}
	if story.Spans[3].ResponseCode != "96" || story.Spans[0].DurationMs != 3000 || story.Spans[4].Status != "error" {
		t.Errorf("span details %+v", story.Spans)
	}
	// The table says the same for people.
	code, out, _ = cli(t, db, "txn", "F-DEEP")
	t.Logf("settlewatch txn F-DEEP:\n%s", out)
	if code != 0 || !strings.Contains(out, "outcome:           failed") || !strings.Contains(out, "      gateway.issuer.request") || !strings.Contains(out, "database_error") {
		t.Errorf("txn table: %d\n%s", code, out)
	}
	// The unsettled sale's story includes its failed batch close, which is its cause.
	code, out, _ = cli(t, db, "txn", "A-OLD", "-format", "json")
	if code != 0 || !strings.Contains(out, `"cause": "network"`) || !strings.Contains(out, `"name": "pos.batch.close"`) || !strings.Contains(out, `"error_type": "upload_failed"`) {
		t.Errorf("unsettled story: %d\n%s", code, out)
	}
	code, out, _ = cli(t, db, "unsettled", "-format", "json")
	rows := jsonRows(t, out)
	if code != 0 || len(rows) != 1 || rows[0]["txn_id"] != "A-OLD" || rows[0]["cause"] != "network" || rows[0]["amount_minor"] != float64(12345) {
		t.Logf("transactions_by_time of A-OLD:\n%s", db.Lines(t, "SELECT concat(toString(txn_hour), ' ', toString(version), ' ', toString(outcome), ' ', toString(cause), ' ', toString(deleted), ' ', toString(assembled_at)) FROM transactions_by_time WHERE txn_id = 'A-OLD'"))
		t.Logf("transactions of A-OLD:\n%s", db.Lines(t, "SELECT concat(toString(txn_time), ' ', toString(version), ' ', toString(outcome), ' ', toString(cause), ' ', toString(assembled_at)) FROM transactions_by_time WHERE deleted = 0 AND txn_id = 'A-OLD'"))
		t.Fatalf("unsettled: %d %v", code, rows)
	}
	if age := rows[0]["age_hours"].(float64); age < 39.9 || age > 40.5 {
		t.Errorf("age %v hours, want 40", age)
	}
	code, out, _ = cli(t, db, "causes", "-since", "3h", "-format", "csv")
	if code != 0 || !strings.Contains(out, "system,soft,CNY,1,12345") || !strings.Contains(out, "account,soft,CNY,1,12345") {
		t.Errorf("causes csv: %d\n%s", code, out)
	}
}
