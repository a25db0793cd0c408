package simulator

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Trace and span ids are derived from the seed and the entity they belong to,
// so a re-run of the same seed and range re-sends byte-identical spans (the
// store's idempotency can be tested by running twice).

func traceIDFrom(key uint64) trace.TraceID {
	var id trace.TraceID
	binary.BigEndian.PutUint64(id[:8], fmix(key^0x5bd1e9955bd1e995))
	binary.BigEndian.PutUint64(id[8:], fmix(key+0x9e3779b97f4a7c15))
	if !id.IsValid() {
		id[15] = 1
	}
	return id
}

func spanIDFrom(key uint64, i int) trace.SpanID {
	var id trace.SpanID
	binary.BigEndian.PutUint64(id[:], mix(key, uint64(i)+0x51ab))
	if !id.IsValid() {
		id[7] = 1
	}
	return id
}

// txnID builds pos.txn.id: terminal id, local business date and the
// microsecond of the local day, joined by letters, e.g.
// 42788908D261103T00014701415. Letters (not '-' or ' ') between the digit
// groups matter: card numbers are often written in dash- or space-separated
// groups, so a PAN masker joins such groups, and 8+6 or 6+11 digits could
// then pass the Luhn check and be masked.
func (ts *termState) txnID(t time.Time, loc *time.Location) string {
	lt := t.In(loc)
	day := lt.Format("060102")
	midnight := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	us := lt.Sub(midnight).Microseconds()
	if day == ts.lastIDDay && us <= ts.lastIDMicros {
		us = ts.lastIDMicros + 1 // two attempts in the same microsecond on one terminal
	}
	ts.lastIDDay, ts.lastIDMicros = day, us
	return fmt.Sprintf("%sD%sT%011d", ts.t.ID, day, us)
}

// plannedIDs carries the ids a span must get through the context to the SDK's
// IDGenerator, so that the emitted spans have exactly the plan's ids.
type plannedIDs struct {
	trace trace.TraceID
	span  trace.SpanID
}

type plannedIDsKey struct{}

func withPlannedIDs(ctx context.Context, tid trace.TraceID, sid trace.SpanID) context.Context {
	return context.WithValue(ctx, plannedIDsKey{}, plannedIDs{tid, sid})
}

// idGenerator is an sdktrace.IDGenerator that uses the planned ids when the
// context has them and random ones otherwise.
type idGenerator struct{}

func (idGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if p, ok := ctx.Value(plannedIDsKey{}).(plannedIDs); ok && p.trace.IsValid() && p.span.IsValid() {
		return p.trace, p.span
	}
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = crand.Read(tid[:])
	_, _ = crand.Read(sid[:])
	return tid, sid
}

func (idGenerator) NewSpanID(ctx context.Context, _ trace.TraceID) trace.SpanID {
	if p, ok := ctx.Value(plannedIDsKey{}).(plannedIDs); ok && p.span.IsValid() {
		return p.span
	}
	var sid trace.SpanID
	_, _ = crand.Read(sid[:])
	return sid
}
