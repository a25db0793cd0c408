package paymentprocessor

import (
	"context"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/settlewatch/settlewatch/panmask"
)

// InvalidAttribute is the string-slice attribute that names the payment
// attributes whose values could not be cleaned (for example
// ["pos.amount.minor"] for an amount of "12.50"). The span is kept as sent.
const InvalidAttribute = "settlewatch.invalid"

// Rejection reasons, as found in the reason attribute of MetricRejected.
const (
	ReasonAmountNotInteger = "amount_not_integer"
	ReasonCurrencyInvalid  = "currency_invalid"
)

// A checked field is a pos.* attribute whose value can be flagged invalid.
type checkedField int

const (
	fieldAmount checkedField = iota
	fieldBatchAmount
	fieldBatchTxnCount
	fieldCurrency
	numChecked
)

var checkedFields = [numChecked]struct{ key, reason string }{
	fieldAmount:        {"pos.amount.minor", ReasonAmountNotInteger},
	fieldBatchAmount:   {"pos.batch.amount.minor", ReasonAmountNotInteger},
	fieldBatchTxnCount: {"pos.batch.txn_count", ReasonAmountNotInteger},
	fieldCurrency:      {"pos.currency", ReasonCurrencyInvalid},
}

// invalidSet is a bit set of checked fields.
type invalidSet uint8

func (s invalidSet) has(f checkedField) bool { return s&(1<<f) != 0 }

func bit(f checkedField) invalidSet { return 1 << f }

type paymentProcessor struct {
	logger    *zap.Logger
	mask      bool
	keepFirst int
	keepLast  int
	normalize bool
	tel       *telemetry
}

func newPaymentProcessor(set processor.Settings, cfg *Config) (*paymentProcessor, error) {
	tel, err := newTelemetry(set.MeterProvider)
	if err != nil {
		return nil, err
	}
	logger := set.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	return &paymentProcessor{
		logger:    logger,
		mask:      cfg.MaskPANs,
		keepFirst: cfg.KeepFirst,
		keepLast:  cfg.KeepLast,
		normalize: cfg.Normalize,
		tel:       tel,
	}, nil
}

// batchStats is what one batch did; it is turned into metrics and at most one
// log line when the batch is done.
type batchStats struct {
	pans        [numLocations]int64
	spans       int64
	spansMasked int64
	rejected    [numChecked]int64

	// The first rejection of the batch, for the log line.
	firstSet   bool
	firstTxnID string
	firstField checkedField
	firstValue string
}

func (p *paymentProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	var st batchStats
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		pans, invalid := p.cleanAttributes(res)
		if p.mask {
			pans += p.maskString(rs.SchemaUrl(), rs.SetSchemaUrl)
		}
		st.pans[locResource] += pans
		if invalid != 0 {
			p.flagInvalid(res, invalid, &st)
		}

		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			if p.mask {
				scope := ss.Scope()
				st.pans[locScope] += p.maskMap(scope.Attributes()) +
					p.maskString(scope.Name(), scope.SetName) +
					p.maskString(scope.Version(), scope.SetVersion) +
					p.maskString(ss.SchemaUrl(), ss.SetSchemaUrl)
			}
			spans := ss.Spans()
			st.spans += int64(spans.Len())
			for k := 0; k < spans.Len(); k++ {
				if p.processSpan(spans.At(k), &st) {
					st.spansMasked++
				}
			}
		}
	}
	p.tel.record(ctx, &st)
	if st.firstSet {
		p.logRejections(&st)
	}
	return td, nil
}

// processSpan cleans one span and reports whether a PAN was masked in it.
func (p *paymentProcessor) processSpan(span ptrace.Span, st *batchStats) bool {
	attrs := span.Attributes()
	pans, invalid := p.cleanAttributes(attrs)
	st.pans[locSpanAttribute] += pans
	if invalid != 0 {
		p.flagInvalid(attrs, invalid, st)
	}
	if !p.mask {
		return false
	}
	masked := pans > 0

	if n := p.maskString(span.Name(), span.SetName); n > 0 {
		st.pans[locSpanName] += n
		masked = true
	}
	status := span.Status()
	if n := p.maskString(status.Message(), status.SetMessage); n > 0 {
		st.pans[locSpanStatus] += n
		masked = true
	}
	if n := p.maskTraceState(span.TraceState()); n > 0 {
		st.pans[locTraceState] += n
		masked = true
	}
	events := span.Events()
	for i := 0; i < events.Len(); i++ {
		ev := events.At(i)
		n := p.maskString(ev.Name(), ev.SetName) + p.maskMap(ev.Attributes())
		if n > 0 {
			st.pans[locEvent] += n
			masked = true
		}
	}
	links := span.Links()
	for i := 0; i < links.Len(); i++ {
		link := links.At(i)
		if n := p.maskMap(link.Attributes()); n > 0 {
			st.pans[locLink] += n
			masked = true
		}
		if n := p.maskTraceState(link.TraceState()); n > 0 {
			st.pans[locTraceState] += n
			masked = true
		}
	}
	return masked
}

// maskTraceState masks the W3C tracestate of a span or link ('*' is a legal
// tracestate value character).
func (p *paymentProcessor) maskTraceState(ts pcommon.TraceState) int64 {
	return p.maskString(ts.AsRaw(), ts.FromRaw)
}

// cleanAttributes masks PANs in, and normalises the pos.* attributes of, one
// attribute map in a single pass. It returns the PANs masked and the fields
// found invalid.
func (p *paymentProcessor) cleanAttributes(m pcommon.Map) (pans int64, invalid invalidSet) {
	if !p.mask && !p.normalize {
		return 0, 0
	}
	for k, v := range m.All() {
		if p.mask {
			pans += p.maskValue(v)
		}
		if p.normalize && strings.HasPrefix(k, "pos.") {
			invalid |= normalizeValue(k, v)
		}
	}
	return pans, invalid
}

// maskString masks s and calls set only when something was masked.
func (p *paymentProcessor) maskString(s string, set func(string)) int64 {
	out, n := panmask.MaskWith(s, p.keepFirst, p.keepLast)
	if n == 0 {
		return 0
	}
	set(out)
	return int64(n)
}

func (p *paymentProcessor) maskMap(m pcommon.Map) int64 {
	var n int64
	for _, v := range m.All() {
		n += p.maskValue(v)
	}
	return n
}

// maskValue masks every string (and byte string) in v, however deeply nested.
func (p *paymentProcessor) maskValue(v pcommon.Value) int64 {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		out, n := panmask.MaskWith(v.Str(), p.keepFirst, p.keepLast)
		if n == 0 {
			return 0
		}
		v.SetStr(out)
		return int64(n)
	case pcommon.ValueTypeMap:
		return p.maskMap(v.Map())
	case pcommon.ValueTypeSlice:
		var n int64
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			n += p.maskValue(sl.At(i))
		}
		return n
	case pcommon.ValueTypeBytes:
		return p.maskBytes(v.Bytes())
	}
	return 0
}

// maskBytes masks a bytes value as if it were text: a PAN written as ASCII
// digits is no safer in a bytes attribute than in a string one.
func (p *paymentProcessor) maskBytes(b pcommon.ByteSlice) int64 {
	if b.Len() < panmask.MinDigits {
		return 0
	}
	digits := 0
	for i := 0; i < b.Len() && digits < panmask.MinDigits; i++ {
		if c := b.At(i); c >= '0' && c <= '9' {
			digits++
		}
	}
	if digits < panmask.MinDigits {
		return 0
	}
	out, n := panmask.MaskWith(string(b.AsRaw()), p.keepFirst, p.keepLast)
	if n == 0 {
		return 0
	}
	b.FromRaw([]byte(out))
	return int64(n)
}

type caseFold int

const (
	keepCase caseFold = iota
	upperCase
	lowerCase
)

// normalizeValue cleans one pos.* attribute value in place and returns the
// field's bit when the value is invalid.
func normalizeValue(k string, v pcommon.Value) invalidSet {
	switch k {
	case "pos.amount.minor":
		return checkInteger(v, fieldAmount)
	case "pos.batch.amount.minor":
		return checkInteger(v, fieldBatchAmount)
	case "pos.batch.txn_count":
		return checkInteger(v, fieldBatchTxnCount)
	case "pos.currency":
		return checkCurrency(v)
	case "pos.response.code":
		cleanString(v, upperCase)
	case "pos.txn.type", "pos.card.scheme", "pos.card.funding", "pos.card.entry_mode",
		"pos.response.source", "pos.batch.result", "pos.settlement.status":
		cleanString(v, lowerCase)
	default:
		cleanString(v, keepCase)
	}
	return 0
}

// cleanString trims and case-folds a string value, writing only on change.
func cleanString(v pcommon.Value, fold caseFold) string {
	if v.Type() != pcommon.ValueTypeStr {
		return ""
	}
	s := v.Str()
	t := strings.TrimSpace(s)
	switch fold {
	case upperCase:
		t = strings.ToUpper(t)
	case lowerCase:
		t = strings.ToLower(t)
	}
	if t != s {
		v.SetStr(t)
	}
	return t
}

// checkInteger makes v an int when it holds an integer (int, integral double,
// or a string of decimal digits); otherwise it leaves v alone and reports f.
func checkInteger(v pcommon.Value, f checkedField) invalidSet {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return 0
	case pcommon.ValueTypeDouble:
		d := v.Double()
		if d == math.Trunc(d) && d >= math.MinInt64 && d < -float64(math.MinInt64) {
			v.SetInt(int64(d))
			return 0
		}
	case pcommon.ValueTypeStr:
		if n, ok := parseInt(strings.TrimSpace(v.Str())); ok {
			v.SetInt(n)
			return 0
		}
	}
	return bit(f)
}

// parseInt parses an optionally signed decimal integer without allocating on
// failure (strconv.ParseInt allocates its error).
func parseInt(s string) (int64, bool) {
	digits := s
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		digits = digits[1:]
	}
	if digits == "" {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// checkCurrency upper-cases an ISO 4217 alpha code and reports it unless it is
// exactly three letters.
func checkCurrency(v pcommon.Value) invalidSet {
	if v.Type() != pcommon.ValueTypeStr {
		return bit(fieldCurrency)
	}
	c := cleanString(v, upperCase)
	if len(c) != 3 {
		return bit(fieldCurrency)
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return bit(fieldCurrency)
		}
	}
	return 0
}

// flagInvalid names the invalid fields in m's settlewatch.invalid attribute
// (once each) and counts them.
func (p *paymentProcessor) flagInvalid(m pcommon.Map, invalid invalidSet, st *batchStats) {
	var list pcommon.Slice
	if v, ok := m.Get(InvalidAttribute); ok && v.Type() == pcommon.ValueTypeSlice {
		list = v.Slice()
	} else {
		var previous string
		if ok {
			previous = v.AsString()
		}
		list = m.PutEmptySlice(InvalidAttribute)
		if previous != "" {
			list.AppendEmpty().SetStr(previous)
		}
	}
	for f := range numChecked {
		if !invalid.has(f) {
			continue
		}
		st.rejected[f]++
		key := checkedFields[f].key
		if !sliceHasString(list, key) {
			list.AppendEmpty().SetStr(key)
		}
		if !st.firstSet {
			st.firstSet = true
			st.firstField = f
			if v, ok := m.Get("pos.txn.id"); ok {
				st.firstTxnID = v.AsString()
			}
			if v, ok := m.Get(key); ok {
				st.firstValue = v.AsString()
			}
		}
	}
}

func sliceHasString(s pcommon.Slice, want string) bool {
	for i := 0; i < s.Len(); i++ {
		if v := s.At(i); v.Type() == pcommon.ValueTypeStr && v.Str() == want {
			return true
		}
	}
	return false
}

// logRejections writes the batch's one warning.
func (p *paymentProcessor) logRejections(st *batchStats) {
	var total int64
	for _, n := range st.rejected {
		total += n
	}
	// The value goes through the masker whatever the configuration: logs are
	// not an opt-out place for card numbers.
	value, _ := panmask.Mask(st.firstValue)
	if len(value) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(value[cut]) {
			cut--
		}
		value = value[:cut] + "…"
	}
	f := checkedFields[st.firstField]
	p.logger.Warn("payment attribute invalid: span kept and flagged in "+InvalidAttribute,
		zap.String("txn_id", st.firstTxnID),
		zap.String("field", f.key),
		zap.String("reason", f.reason),
		zap.String("value", value),
		zap.Int64("rejected_in_batch", total),
		zap.Int64("spans_in_batch", st.spans),
	)
}
