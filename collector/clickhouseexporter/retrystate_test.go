package clickhouseexporter

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestRetryTokenNamesItsRowsOnce(t *testing.T) {
	r := newRetryState(time.Minute)
	now := time.Unix(1_800_000_000, 0)
	a, b := &rowSet{nSpans: 1}, &rowSet{nSpans: 2}
	ta, tb := r.put(a, now), r.put(b, now)
	if ta.SpanCount() != 0 || tb.SpanCount() != 0 {
		t.Fatalf("a token carries spans: %d, %d", ta.SpanCount(), tb.SpanCount())
	}
	if got, _, ok := r.take(tb, now); !ok || got != b {
		t.Fatalf("take(token b) = %v, %v; want rows b", got, ok)
	}
	if got, _, ok := r.take(tb, now); !ok || got != nil {
		t.Fatalf("second take(token b) = %v, %v; want a token whose rows are gone", got, ok)
	}
	if got, _, ok := r.take(ta, now); got != a || !ok {
		t.Fatalf("take(token a) = %v, %v; want rows a", got, ok)
	}
	if len(r.kept) != 0 {
		t.Fatalf("%d row sets still kept", len(r.kept))
	}
}

func TestRetryStateDropsRowsTheHelperGaveUpOn(t *testing.T) {
	r := newRetryState(time.Minute)
	now := time.Unix(1_800_000_000, 0)
	old := r.put(&rowSet{}, now)
	fresh := r.put(&rowSet{}, now.Add(50*time.Second))
	// The next put or take prunes what waited longer than the TTL.
	if got, _, ok := r.take(fresh, now.Add(61*time.Second)); !ok || got == nil {
		t.Fatal("rows retried within the TTL were dropped")
	}
	if got, _, ok := r.take(old, now.Add(61*time.Second)); !ok || got != nil {
		t.Fatal("rows not retried for longer than the TTL are still kept")
	}
}

func TestOnlyThisExportersTokensAreTokens(t *testing.T) {
	r := newRetryState(time.Minute)
	other := newRetryState(time.Minute)
	now := time.Unix(1_800_000_000, 0)
	tok := r.put(&rowSet{}, now)
	attr, _ := tok.ResourceSpans().At(0).Resource().Attributes().Get(retryTokenKey)

	withSpan := ptrace.NewTraces()
	rs := withSpan.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(retryTokenKey, attr.Str())
	rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("pos.txn")

	extraAttr := ptrace.NewTraces()
	m := extraAttr.ResourceSpans().AppendEmpty().Resource().Attributes()
	m.PutStr(retryTokenKey, attr.Str())
	m.PutStr("service.name", "pos-terminal")

	twoResources := ptrace.NewTraces()
	twoResources.ResourceSpans().AppendEmpty().Resource().Attributes().PutStr(retryTokenKey, attr.Str())
	twoResources.ResourceSpans().AppendEmpty()

	for name, td := range map[string]ptrace.Traces{
		"a client's spans carrying the attribute": withSpan,
		"a resource with other attributes":        extraAttr,
		"two resources":                           twoResources,
		"another exporter's token":                other.put(&rowSet{}, now),
		"an empty request":                        ptrace.NewTraces(),
	} {
		if _, _, ok := r.take(td, now); ok {
			t.Errorf("%s was taken for a token", name)
		}
	}
	if len(r.kept) != 1 {
		t.Fatalf("the real token's rows went missing: %d kept", len(r.kept))
	}
}

func TestRetryTTLOutlastsTheLongestPause(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	pause := time.Duration(float64(cfg.BackOffConfig.MaxInterval) * (1 + cfg.BackOffConfig.RandomizationFactor))
	if ttl := retryTTL(cfg); ttl <= pause+cfg.TimeoutConfig.Timeout {
		t.Fatalf("retryTTL = %v: not beyond the helper's longest pause %v plus an attempt's timeout %v", ttl, pause, cfg.TimeoutConfig.Timeout)
	}
}
