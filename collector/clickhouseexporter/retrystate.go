package clickhouseexporter

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Rows of a request that are converted but not all stored wait here between
// the exporter helper's retries, so that the request's decoded spans can be
// let go as soon as they are converted: under load they were two fifths of
// the collector's live heap, held only for a retry (docs/benchmarks.md,
// "Requests let go once converted"). The helper retries what a push hands
// back in a consumererror.Traces (the part of a request still to send); that
// part is a token naming the kept rows, a request with no span.
//
// A retry resumes where the last attempt stopped: tables already stored are
// not written again. A request from a persistent queue stays whole on disk
// until it is stored, so a crash or shutdown mid-retry loses nothing; the
// token only ever lives in memory.

// retryTokenKey is the resource attribute of a token request.
const retryTokenKey = "settlewatch.exporter.retry_token"

type keptRows struct {
	rows    *rowSet
	touched time.Time
}

// retryState holds the rows of requests that await a retry.
type retryState struct {
	// nonce is random per exporter, so that a token made elsewhere (another
	// exporter, an earlier process, a client) never names rows here.
	nonce string
	// ttl is how long rows may wait without a retry before the helper is
	// known to have given up on them (retry_on_failure.max_elapsed_time).
	ttl time.Duration

	mu   sync.Mutex
	next uint64
	kept map[uint64]keptRows
}

func newRetryState(ttl time.Duration) *retryState {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return &retryState{nonce: hex.EncodeToString(b[:]), ttl: ttl, kept: map[uint64]keptRows{}}
}

// put keeps rows and returns the token request that names them.
func (r *retryState) put(rows *rowSet, now time.Time) ptrace.Traces {
	r.mu.Lock()
	r.pruneLocked(now)
	r.next++
	tok := r.next
	r.kept[tok] = keptRows{rows: rows, touched: now}
	r.mu.Unlock()

	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().Resource().Attributes().PutStr(retryTokenKey, r.nonce+"-"+strconv.FormatUint(tok, 10))
	return td
}

// take removes and returns the rows td names. isToken reports whether td is
// a token request of this exporter at all; rows is nil when it is one but
// its rows are no longer kept.
func (r *retryState) take(td ptrace.Traces, now time.Time) (rows *rowSet, tok uint64, isToken bool) {
	tok, ok := r.tokenOf(td)
	if !ok {
		return nil, 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(now)
	k, found := r.kept[tok]
	if !found {
		return nil, tok, true
	}
	delete(r.kept, tok)
	return k.rows, tok, true
}

// tokenOf parses a token request: one resource, no spans, only the token
// attribute, with this exporter's nonce. Anything else is a request to store.
func (r *retryState) tokenOf(td ptrace.Traces) (uint64, bool) {
	rss := td.ResourceSpans()
	if rss.Len() != 1 || rss.At(0).ScopeSpans().Len() != 0 {
		return 0, false
	}
	attrs := rss.At(0).Resource().Attributes()
	if attrs.Len() != 1 {
		return 0, false
	}
	v, ok := attrs.Get(retryTokenKey)
	if !ok {
		return 0, false
	}
	num, ok := strings.CutPrefix(v.AsString(), r.nonce+"-")
	if !ok {
		return 0, false
	}
	tok, err := strconv.ParseUint(num, 10, 64)
	return tok, err == nil
}

// clear drops every kept row set (the exporter shuts down; the persistent
// queue still holds those requests whole).
func (r *retryState) clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.kept)
}

func (r *retryState) pruneLocked(now time.Time) {
	for tok, k := range r.kept {
		if now.Sub(k.touched) > r.ttl {
			delete(r.kept, tok)
		}
	}
}

// retryTTL is how long kept rows may wait for their next retry before they
// are dropped as abandoned (the helper gave up: max_elapsed_time): longer
// than the helper's longest pause between attempts, its interval stretched
// by the randomization, plus an attempt's timeout and a minute of slack.
func retryTTL(cfg *Config) time.Duration {
	b := cfg.BackOffConfig
	pause := time.Duration(float64(max(b.MaxInterval, b.InitialInterval)) * (1 + b.RandomizationFactor))
	return pause + cfg.TimeoutConfig.Timeout + time.Minute
}
