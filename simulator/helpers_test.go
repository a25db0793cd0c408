package simulator

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"testing"
	"time"
)

// day0 is a Monday 00:00 in Asia/Shanghai.
var day0 = time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)

func mustParse(t testing.TB, y string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(y), "test.yaml")
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	return cfg
}

func mustGenerate(t testing.TB, cfg *Config, r Range) *Plan {
	t.Helper()
	p, err := Generate(cfg, r)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return p
}

func oneDay() Range { return Range{From: day0, To: day0.Add(24 * time.Hour)} }

// digest writes everything an event emits into h.
func digestEvent(h hash.Hash, e Event) {
	switch e.Kind {
	case EventTxn:
		t := e.Txn
		fmt.Fprintf(h, "T|%s|%s|%d|%s|%s|%s|%s|%d|%s|%s|%s|%s|%s|%v\n", t.ID, t.Type, t.Time.UnixNano(), t.Terminal.ID,
			t.Gateway.ID, t.Scheme, t.BIN, t.AmountMinor, t.Currency, t.BatchNumber, t.TraceID, t.IntendedOutcome, t.IntendedCause, t.PINAsked)
		for _, s := range t.Spans {
			fmt.Fprintf(h, " S|%s|%d|%d|%s|%d|%d|%s|%s|%s|%v|%v\n", s.Name, s.Parent, s.Kind, s.SpanID, s.Start.UnixNano(),
				s.End.UnixNano(), s.Code, s.Source, s.ErrType, s.Error, s.Attrs)
		}
	case EventBatchClose:
		b := e.Close
		fmt.Fprintf(h, "B|%s|%s|%d|%d|%d|%d|%s|%s|%s\n", b.Terminal.ID, b.BatchNumber, b.Start.UnixNano(), b.End.UnixNano(),
			b.TxnCount, b.AmountMinor, b.Result, b.ErrType, b.TraceID)
	case EventSettlement:
		f := e.File
		fmt.Fprintf(h, "F|%s|%s|%d|%s\n", f.Terminal.ID, f.BatchNumber, f.Time.UnixNano(), f.Date)
		for _, it := range f.Items {
			fmt.Fprintf(h, " I|%s|%s|%s|%s|%s|%d|%s\n", it.TxnID, it.Status, it.Code, it.ErrType, it.SpanID, it.Start.UnixNano(), it.TraceID)
		}
	}
}

func planDigest(p *Plan) string {
	h := sha256.New()
	for _, e := range p.Events {
		digestEvent(h, e)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func txnDigest(t *Txn) string {
	h := sha256.New()
	digestEvent(h, Event{Kind: EventTxn, Txn: t})
	return fmt.Sprintf("%x", h.Sum(nil))
}

func truthOf(p *Plan, window time.Duration) map[string]TruthRecord {
	rec := NewTruthRecorder(window)
	for _, e := range p.Events {
		rec.Observe(e)
	}
	out := map[string]TruthRecord{}
	for _, r := range rec.Records(p.Range.AsOf) {
		out[r.TxnID] = r
	}
	return out
}
