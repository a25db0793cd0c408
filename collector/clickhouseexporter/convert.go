package clickhouseexporter

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/settlewatch/settlewatch/assembly"
	"github.com/settlewatch/settlewatch/chbatch"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/collector/otlpwire"
	"github.com/settlewatch/settlewatch/domain"
	"github.com/settlewatch/settlewatch/panmask"
)

// Reasons a value was changed or a row not written; each is a metric label
// and appears in the warning log of the batch.
const (
	reasonInvalidUTF8       = "invalid_utf8"
	reasonValueTruncated    = "value_truncated"
	reasonAmountNotInteger  = "amount_not_integer"
	reasonMissingTxnID      = "missing_txn_id"
	reasonBatchCloseKeys    = "batch_close_missing_keys"
	reasonTimestampRange    = "timestamp_out_of_range"
	reasonEndBeforeStart    = "end_before_start"
	reasonTimestampTooLarge = "timestamp_unstorable"
	// reasonPANAtExport: a card number reached the exporter, so the pipeline
	// lacks the payment processor. It is masked here as a last guard.
	reasonPANAtExport = "pan_masked_at_export"
	// reasonMalformed: a queued request's bytes could not be read to the
	// end (a damaged queue file); the spans before the fault are stored.
	reasonMalformed = "malformed_request"
)

// Spans with start times this far from the receive time are stored as sent
// but counted and logged: a terminal with a wrong clock is worth knowing of.
const (
	maxPast   = 400 * 24 * time.Hour
	maxFuture = time.Hour
)

// dateTimeMax is the last second ClickHouse's DateTime can hold.
var dateTimeMax = time.Date(2105, 12, 31, 23, 59, 59, 0, time.UTC)

// rowSet is one export request turned into rows of every table, column by
// column, plus the keys the assembler must revisit.
type rowSet struct {
	spans, facts, batches    chbatch.Columns
	nSpans, nFacts, nBatches int
	keys                     assembly.Keys
	factCols                 *factCols // for assembly's known facts
	issues                   map[string]int
	examples                 map[string]string // reason → one txn or span id, for the log
	malformed                error             // the first fault in the requests' bytes
	// assemblyFailed: an attempt's assembly failed, so retries assemble a
	// chunk at a time, resuming (chExporter.assemble).
	assemblyFailed bool
}

// insertTables is how many tables a batch's rows go to before assembly.
const insertTables = 3

// tableWrite is one of them, with its columns until they are stored.
type tableWrite struct {
	t    chschema.Table
	cols *chbatch.Columns
	n    int
}

// writes lists the tables rs still holds columns for (a stored table's are
// nil).
func (rs *rowSet) writes() [insertTables]tableWrite {
	return [insertTables]tableWrite{
		{chschema.Spans, &rs.spans, rs.nSpans},
		{chschema.PaymentFacts, &rs.facts, rs.nFacts},
		{chschema.BatchCloses, &rs.batches, rs.nBatches},
	}
}

// converter turns OTLP requests into rows. It is not safe for concurrent
// use; the exporter makes one per batch.
type converter struct {
	maxValueBytes int
	now           time.Time
	rs            *rowSet
	// The batch's columns, and what it has seen, while convert runs.
	sp           *spanCols
	fc           *factCols
	bc           batchCols
	seenTxn      map[string]bool
	seenTraceKey map[string]bool // traces of failed spans without a txn id
	// curTxn and curSpan name the span being converted, for the log; the
	// span id is only hex-encoded when an issue needs it.
	curTxn  string
	curSpan [8]byte
}

func newRowSet() *rowSet {
	return &rowSet{
		spans:    chbatch.Columns{},
		facts:    chbatch.Columns{},
		batches:  chbatch.Columns{},
		issues:   map[string]int{},
		examples: map[string]string{},
	}
}

func (c *converter) issue(reason string) {
	c.rs.issues[reason]++
	if _, ok := c.rs.examples[reason]; !ok {
		id := c.curTxn
		if id == "" {
			id = hex.EncodeToString(c.curSpan[:])
		}
		c.rs.examples[reason] = strings.Clone(id)
	}
}

// clean makes a string storable: valid UTF-8 and at most maxValueBytes long.
func (c *converter) clean(s string) string {
	if !utf8.ValidString(s) {
		c.issue(reasonInvalidUTF8)
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if masked, n := panmask.Mask(s); n > 0 {
		c.issue(reasonPANAtExport)
		s = masked
	}
	if c.maxValueBytes > 0 && len(s) > c.maxValueBytes {
		c.issue(reasonValueTruncated)
		cut := c.maxValueBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…[truncated]"
	}
	return s
}

// convert fills a rowSet from a batch of encoded requests (TracesData)
// holding n spans. The rows hold copies: each part is let go (set to nil)
// once converted.
func (c *converter) convert(parts [][]byte, n int) *rowSet {
	c.rs = newRowSet()
	// One ingest time per batch, the version of its rows: a retry writes
	// the same rows with it (they collapse), and spans a client sends again
	// get a later one, which is what the ReplacingMergeTree keeps.
	ingestNs := uint64(time.Now().UnixNano())
	c.sp = newSpanCols(n, ingestNs)
	c.fc = newFactCols(n, ingestNs, c.sp)
	c.bc = batchCols{ingestNs: ingestNs}
	// Sized for a transaction per five spans (the contract's usual trace):
	// grown from empty they were rehashed about ten times a batch.
	c.seenTxn = make(map[string]bool, n/5)
	c.seenTraceKey = map[string]bool{}
	for i, part := range parts {
		td := otlpwire.NewTraces(part)
		c.convertPart(td)
		if err := td.Err(); err != nil {
			c.curTxn, c.curSpan = "", [8]byte{}
			c.issue(reasonMalformed)
			if c.rs.malformed == nil {
				c.rs.malformed = err
			}
		}
		// Nothing converted views a request's bytes (the columns copy them,
		// and what else outlives the conversion is cloned), so each
		// request's bytes can go as soon as it is converted: at the end of a
		// batch the collector holds its rows, not its rows and its requests
		// (docs/benchmarks.md, "Requests let go as they are converted").
		parts[i] = nil
	}
	c.rs.spans, c.rs.nSpans = c.sp.columns(), c.sp.n
	c.rs.facts, c.rs.nFacts, c.rs.factCols = c.fc.columns(), c.fc.n, c.fc
	c.rs.batches, c.rs.nBatches = c.bc.columns(), c.bc.n
	return c.rs
}

// convertPart adds one request's spans to the batch's columns.
func (c *converter) convertPart(td otlpwire.Traces) {
	sp, fc, seenTxn, seenTraceKey := c.sp, c.fc, c.seenTxn, c.seenTraceKey
	for rs := range td.ResourceSpans() {
		var resPay payment
		resKeys, resVals := c.resourceAttrs(rs.Attributes(), &resPay)
		service := ""
		if v, ok := rs.Attributes().Get("service.name"); ok {
			service = c.clean(v.AsString())
		}
		for ss := range rs.ScopeSpans() {
			scope := c.clean(ss.ScopeName())
			for s := range ss.Spans() {
				traceID, spanID := s.TraceID(), s.SpanID()
				// What cleaning the span's attributes finds is named by its
				// resource's transaction, if any, else by the span id: its
				// own pos.txn.id is only known (cleaned) after the pass.
				c.curSpan, c.curTxn = spanID, resPay.txnID
				pay := resPay
				// The span's attributes go straight into their columns; its
				// row of them ends in sp.add.
				c.attrs(s.Attributes(), &pay, sp.attrKeys, sp.attrVals)
				c.curTxn = pay.txnID
				if pay.amountState == domain.AmountInvalid {
					c.issue(reasonAmountNotInteger)
				}
				startNs, durNs, startTime := c.times(s)
				name := c.clean(s.Name())
				status := statusOf(s.StatusCode())
				if pay.errorType != "" && status == domain.StatusUnset {
					// error.type without ERROR status still marks a failure.
					status = domain.StatusError
				}
				sp.add(spanRow{
					traceID: traceID, spanID: spanID, parentID: s.ParentSpanID(),
					start: startTime, startNs: startNs, durNs: durNs, service: service, name: name,
					kind: kindName(s.Kind()), status: statusOf(s.StatusCode()).String(),
					statusMsg: c.clean(s.StatusMessage()), txnID: pay.txnID, scope: scope,
					resKeys: resKeys, resVals: resVals,
				}, c, s)

				switch {
				case name == domain.SpanBatchClose:
					if pay.dims.TerminalID == "" || pay.dims.BatchNumber == "" {
						c.issue(reasonBatchCloseKeys)
						break
					}
					c.bc.add(&pay, string(traceID[:]), string(spanID[:]), startTime, startNs, status)
					last := c.bc.n - 1 // the close's own copies, not views of the request
					c.rs.keys.Batches = append(c.rs.keys.Batches, assembly.BatchKey{TerminalID: c.bc.terminalID[last], BatchNumber: c.bc.batchNum[last], CloseNs: startNs})
				case pay.txnID != "" || status == domain.StatusError:
					if pay.txnID == "" && name == domain.SpanTransaction {
						c.issue(reasonMissingTxnID)
					}
					fc.add(&pay, sp.n-1, startTime, startNs, durNs, status)
					if pay.txnID != "" {
						// The id is the fact's own copy in its column, not a
						// view of the request (see convert).
						txn := fc.txnID.At(fc.n - 1)
						if !seenTxn[txn] {
							seenTxn[txn] = true
							c.rs.keys.TxnIDs = append(c.rs.keys.TxnIDs, txn)
						}
					} else if !seenTraceKey[string(traceID[:])] {
						tid := string(traceID[:])
						seenTraceKey[tid] = true
						c.rs.keys.TraceIDs = append(c.rs.keys.TraceIDs, tid)
					}
				case name == domain.SpanTransaction:
					c.issue(reasonMissingTxnID)
				}
			}
		}
	}
}

// times returns start ns, duration ns and the DateTime to partition by.
func (c *converter) times(s *otlpwire.Span) (uint64, uint64, time.Time) {
	start, end := s.StartTimestamp(), s.EndTimestamp()
	var dur uint64
	if end >= start {
		dur = end - start
	} else {
		c.issue(reasonEndBeforeStart)
	}
	t := time.Unix(0, int64(start)).UTC()
	if start > uint64(1<<63-1) {
		t = dateTimeMax
	}
	if t.Before(c.now.Add(-maxPast)) || t.After(c.now.Add(maxFuture)) {
		c.issue(reasonTimestampRange)
	}
	if t.After(dateTimeMax) {
		// DateTime would wrap; keep start_ns as sent, partition by the cap.
		c.issue(reasonTimestampTooLarge)
		t = dateTimeMax
	}
	return start, dur, t
}

// attrs flattens a map into the current row of keys and vals (non-string
// values in their OTLP JSON form, so nothing is lost) and overlays its
// payment attributes on p, in one pass that cleans each value once. The
// caller ends the row.
func (c *converter) attrs(m otlpwire.Map, p *payment, keys, vals *chbatch.StringArrays) {
	m.Range(func(k string, v otlpwire.Value) bool {
		cleaned := c.clean(v.AsString())
		keys.Add(c.clean(k))
		vals.Add(cleaned)
		p.set(k, v, cleaned)
		return true
	})
	p.finish()
}

// resourceAttrs are a resource's attributes as parallel arrays, made once
// and shared by the rows of all its spans.
func (c *converter) resourceAttrs(m otlpwire.Map, p *payment) ([]string, []string) {
	var keys, vals chbatch.StringArrays
	c.attrs(m, p, &keys, &vals)
	keys.EndRow()
	vals.EndRow()
	return keys.Row(0), vals.Row(0)
}

func (c *converter) eventsAndLinks(s *otlpwire.Span) (evT []uint64, evN, evA, lT, lS []string) {
	if !s.HasEventsOrLinks() {
		return nil, nil, nil, nil, nil // empty arrays; most spans have neither
	}
	for e := range s.Events() {
		evT = append(evT, e.Timestamp)
		evN = append(evN, strings.Clone(c.clean(e.Name)))
		attrs := map[string]string{}
		e.Attributes().Range(func(k string, v otlpwire.Value) bool {
			attrs[c.clean(k)] = c.clean(v.AsString())
			return true
		})
		b, _ := json.Marshal(attrs) // a map of strings always marshals
		evA = append(evA, string(b))
	}
	for l := range s.Links() {
		lT = append(lT, hex.EncodeToString(l.TraceID[:]))
		lS = append(lS, hex.EncodeToString(l.SpanID[:]))
	}
	return
}

func statusOf(c ptrace.StatusCode) domain.SpanStatus {
	switch c {
	case ptrace.StatusCodeOk:
		return domain.StatusOK
	case ptrace.StatusCodeError:
		return domain.StatusError
	}
	return domain.StatusUnset
}

func kindName(k ptrace.SpanKind) string {
	switch k {
	case ptrace.SpanKindInternal:
		return "internal"
	case ptrace.SpanKindServer:
		return "server"
	case ptrace.SpanKindClient:
		return "client"
	case ptrace.SpanKindProducer:
		return "producer"
	case ptrace.SpanKindConsumer:
		return "consumer"
	}
	return "unspecified"
}
