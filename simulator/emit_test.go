package simulator

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func resAttr(s tracetest.SpanStub, key string) (string, bool) {
	v, ok := s.Resource.Set().Value(attribute.Key(key))
	return v.AsString(), ok
}

func spanAttr(s tracetest.SpanStub, key string) (attribute.Value, bool) {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value, true
		}
	}
	return attribute.Value{}, false
}

// keepSpans is an in-memory exporter whose Shutdown keeps what it got
// (tracetest's resets on Shutdown).
type keepSpans struct{ *tracetest.InMemoryExporter }

func (keepSpans) Shutdown(context.Context) error { return nil }

func emitPlan(t *testing.T, p *Plan, o EmitterOptions) (*tracetest.InMemoryExporter, EmitStats) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	em := NewEmitter(keepSpans{exp}, o)
	for _, e := range p.Events {
		if err := em.Emit(e); err != nil {
			t.Fatal(err)
		}
	}
	st, err := em.Shutdown(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Emit(p.Events[0]); err != ErrClosed {
		t.Fatalf("Emit after Shutdown: %v", err)
	}
	return exp, st
}

func TestEmitterSpanShape(t *testing.T) {
	cfg := mustParse(t, allScenariosYAML)
	cfg.Fleet.Merchants = 10
	cfg.Scenarios = cfg.Scenarios[:2] // the gateway outage and the network degradation
	cfg.Baseline.OmitRootErrorType = 0.3
	p := mustGenerate(t, cfg, oneDay())
	exp, st := emitPlan(t, p, EmitterOptions{Blocking: true})
	got := exp.GetSpans()
	want := 0
	for _, e := range p.Events {
		want += e.Spans()
	}
	if len(got) != want || st.SpansEnded != int64(want) || st.SpansExported != int64(want) || st.SpansDropped != 0 || st.SpansFailed != 0 {
		t.Fatalf("exported %d spans, stats %+v, want %d", len(got), st, want)
	}
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range got {
		byID[s.SpanContext.SpanID()] = s
	}
	seen := map[string]int{}
	for _, e := range p.Events {
		switch e.Kind {
		case EventTxn:
			tx := e.Txn
			for i, plan := range tx.Spans {
				s, ok := byID[plan.SpanID]
				if !ok {
					t.Fatalf("%s: span %s not exported", tx.ID, plan.Name)
				}
				if s.SpanContext.TraceID() != tx.TraceID || s.Name != plan.Name || s.SpanKind != plan.Kind {
					t.Fatalf("%s: %s exported as %s kind %v trace %s", tx.ID, plan.Name, s.Name, s.SpanKind, s.SpanContext.TraceID())
				}
				if !s.StartTime.Equal(plan.Start) || !s.EndTime.Equal(plan.End) {
					t.Fatalf("%s: %s times %v..%v, planned %v..%v", tx.ID, plan.Name, s.StartTime, s.EndTime, plan.Start, plan.End)
				}
				svc, _ := resAttr(s, "service.name")
				if svc != plan.Service.ServiceName() {
					t.Fatalf("%s: %s from %s", tx.ID, plan.Name, svc)
				}
				if id, _ := spanAttr(s, AttrTxnID); id.AsString() != tx.ID {
					t.Fatalf("%s: %s has pos.txn.id %q", tx.ID, plan.Name, id.AsString())
				}
				if i == 0 {
					if s.Parent.IsValid() {
						t.Fatalf("%s: root has a parent", tx.ID)
					}
					if v, _ := spanAttr(s, "pos.amount.minor"); v.Type() != attribute.INT64 || v.AsInt64() != tx.AmountMinor {
						t.Fatalf("%s: pos.amount.minor %v", tx.ID, v)
					}
					if tid, _ := resAttr(s, "pos.terminal.id"); tid != tx.Terminal.ID {
						t.Fatalf("%s: resource pos.terminal.id %q", tx.ID, tid)
					}
					if mid, _ := resAttr(s, "pos.merchant.id"); mid != tx.Terminal.Merchant.ID {
						t.Fatalf("%s: resource pos.merchant.id %q", tx.ID, mid)
					}
					for _, k := range []string{"pos.txn.type", "pos.currency", "pos.gateway.id", "pos.card.scheme", "pos.card.funding",
						"pos.card.entry_mode", "pos.batch.number"} {
						if _, ok := spanAttr(s, k); !ok {
							t.Fatalf("%s: root without %s", tx.ID, k)
						}
					}
				} else {
					parent := tx.Spans[plan.Parent]
					if s.Parent.SpanID() != parent.SpanID || s.Parent.TraceID() != tx.TraceID {
						t.Fatalf("%s: %s's parent is %s, want %s", tx.ID, plan.Name, s.Parent.SpanID(), parent.SpanID)
					}
					if s.Parent.IsRemote() != (parent.Service != plan.Service) {
						t.Fatalf("%s: %s parent remote=%v", tx.ID, plan.Name, s.Parent.IsRemote())
					}
				}
				if plan.Name == SpanAuthorize {
					seen["authorize"]++
					if parent := tx.Spans[plan.Parent]; parent.Name != SpanHostRequest || !s.Parent.IsRemote() {
						t.Fatalf("%s: gateway.authorize under %s (remote %v)", tx.ID, parent.Name, s.Parent.IsRemote())
					}
					if gid, _ := resAttr(s, "pos.gateway.id"); gid != tx.Gateway.ID {
						t.Fatalf("%s: gateway resource pos.gateway.id %q", tx.ID, gid)
					}
				}
				if plan.Code != "" {
					if v, _ := spanAttr(s, AttrResponseCode); v.AsString() != plan.Code {
						t.Fatalf("%s: %s response code %q, planned %q", tx.ID, plan.Name, v.AsString(), plan.Code)
					}
				}
				et, hasET := spanAttr(s, AttrErrorType)
				if hasET != (plan.ErrType != "") || et.AsString() != plan.ErrType {
					t.Fatalf("%s: %s error.type %q, planned %q", tx.ID, plan.Name, et.AsString(), plan.ErrType)
				}
				if (s.Status.Code == codes.Error) != plan.Error {
					t.Fatalf("%s: %s status %v, planned error %v", tx.ID, plan.Name, s.Status, plan.Error)
				}
				if plan.Error {
					seen["error"]++
				}
			}
		case EventBatchClose:
			b := e.Close
			s := byID[b.SpanID]
			if s.Name != SpanBatchClose || s.SpanContext.TraceID() != b.TraceID || s.Parent.IsValid() {
				t.Fatalf("batch close exported as %s, trace %s, parent %v", s.Name, s.SpanContext.TraceID(), s.Parent)
			}
			if v, _ := spanAttr(s, "pos.batch.result"); v.AsString() != b.Result {
				t.Fatalf("pos.batch.result %q, want %s", v.AsString(), b.Result)
			}
			if b.Failed() {
				seen["failed close"]++
				if et, _ := spanAttr(s, AttrErrorType); s.Status.Code != codes.Error || et.AsString() != b.ErrType {
					t.Fatalf("failed close: status %v error.type %q", s.Status, et.AsString())
				}
			}
		case EventSettlement:
			for _, it := range e.File.Items {
				s := byID[it.SpanID]
				seen["settlement"]++
				if s.Name != SpanSettlementTxn || s.SpanContext.TraceID() != it.TraceID {
					t.Fatalf("settlement exported as %s", s.Name)
				}
				if svc, _ := resAttr(s, "service.name"); svc != "settlement-service" {
					t.Fatalf("settlement from %s", svc)
				}
				if id, _ := spanAttr(s, AttrTxnID); id.AsString() != it.TxnID {
					t.Fatalf("settlement pos.txn.id %q", id.AsString())
				}
				for _, k := range []string{"pos.settlement.status", "pos.settlement.date", "pos.batch.number", "pos.amount.minor"} {
					if _, ok := spanAttr(s, k); !ok {
						t.Fatalf("settlement without %s", k)
					}
				}
			}
		}
	}
	// Settlement traces are not transaction traces.
	txnTraces := map[trace.TraceID]bool{}
	for _, tx := range p.Txns() {
		txnTraces[tx.TraceID] = true
	}
	for _, f := range p.Files() {
		for _, it := range f.Items {
			if txnTraces[it.TraceID] {
				t.Fatal("a settlement span in a transaction's trace")
			}
		}
	}
	for _, k := range []string{"authorize", "error", "failed close", "settlement"} {
		if seen[k] == 0 {
			t.Errorf("nothing of kind %q was emitted", k)
		}
	}
}

func TestEmitterPooledResources(t *testing.T) {
	cfg := mustParse(t, "fleet: {merchants: 4}\nbaseline: {settlement_traces: per_file}\n")
	p := mustGenerate(t, cfg, Range{From: day0, To: day0.Add(24 * time.Hour)})
	exp, st := emitPlan(t, p, EmitterOptions{Resources: ResourcePooled, DuplicateRate: 1})
	got := exp.GetSpans()
	if st.SpansDropped != 0 || int64(len(got)) != st.SpansEnded {
		t.Fatalf("stats %+v, %d spans", st, len(got))
	}
	terminalResources := map[string]bool{}
	for _, s := range got {
		svc, _ := resAttr(s, "service.name")
		if svc != "pos-terminal" {
			continue
		}
		if _, ok := resAttr(s, "pos.terminal.id"); ok {
			t.Fatal("pooled terminal resource carries pos.terminal.id")
		}
		if v, ok := spanAttr(s, "pos.terminal.id"); !ok || v.AsString() == "" {
			t.Fatalf("pooled terminal span %s without pos.terminal.id", s.Name)
		}
		if _, ok := spanAttr(s, "pos.merchant.id"); !ok {
			t.Fatalf("pooled terminal span %s without pos.merchant.id", s.Name)
		}
		model, _ := resAttr(s, "pos.terminal.model")
		ver, _ := resAttr(s, "service.version")
		terminalResources[model+ver] = true
	}
	if len(terminalResources) >= len(p.Fleet.Terminals) && len(p.Fleet.Terminals) > 6 {
		t.Errorf("%d terminal resources for %d terminals: not pooled", len(terminalResources), len(p.Fleet.Terminals))
	}
	// DuplicateRate 1: every transaction span twice, with the same ids.
	txnSpans, ids := 0, map[trace.SpanID]int{}
	for _, e := range p.Events {
		if e.Kind == EventTxn {
			txnSpans += len(e.Txn.Spans)
			for _, s := range e.Txn.Spans {
				ids[s.SpanID] = 0
			}
		}
	}
	for _, s := range got {
		if _, ok := ids[s.SpanContext.SpanID()]; ok {
			ids[s.SpanContext.SpanID()]++
		}
	}
	for id, n := range ids {
		if n != 2 {
			t.Fatalf("span %s sent %d times, want 2", id, n)
		}
	}
	// per_file settlement: one trace per file, the first item is the parent of the rest.
	for _, f := range p.Files() {
		for k, it := range f.Items {
			if it.TraceID != f.Items[0].TraceID || (k > 0 && it.ParentID != f.Items[0].SpanID) {
				t.Fatal("per_file settlement items not in one trace under the first")
			}
		}
	}
}
