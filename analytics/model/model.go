// Package model holds the vocabulary shared by the analytics jobs and the
// query layer: the dimensions users slice by (an allow-list mapping names to
// columns), rollup granularities, the latency histogram, unsettled age
// buckets, and validation of what users type (filter values, transaction ids).
// Nothing here does I/O.
package model

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Dimension is one attribute users slice by. Name is what users type and the
// JSON key; Column is the column of the transactions table. Only the values
// of Dimensions ever reach SQL as identifiers.
type Dimension struct {
	Name   string
	Column string
	// Fine dimensions are rolled up every 5 minutes; the others (merchant,
	// terminal: thousands of values) only per hour and day.
	Fine bool
}

// All is the pseudo-dimension of the totals (value "").
const All = "all"

// Dimensions are the slices of the issue, in display order.
var Dimensions = []Dimension{
	{"gateway", "gateway_id", true},
	{"merchant", "merchant_id", false},
	{"terminal", "terminal_id", false},
	{"region", "region", true},
	{"acquirer", "acquirer_id", true},
	{"issuer", "issuer_id", true},
	{"card_scheme", "card_scheme", true},
	{"funding", "card_funding", true},
	{"entry_mode", "entry_mode", true},
	{"response_code", "response_code", true},
}

// DimensionNames lists the names users may type.
func DimensionNames() []string {
	out := make([]string, len(Dimensions))
	for i, d := range Dimensions {
		out[i] = d.Name
	}
	return out
}

// LookupDimension finds a dimension by name (case-insensitive; a few common
// aliases such as "gateway_id" and "card_funding" are accepted).
func LookupDimension(name string) (Dimension, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, d := range Dimensions {
		if n == d.Name || n == d.Column {
			return d, nil
		}
	}
	return Dimension{}, fmt.Errorf("unknown dimension %q: want one of %s", clip(name), strings.Join(DimensionNames(), ", "))
}

// Granularity is a rollup bucket width.
type Granularity uint32

// The rollup granularities.
const (
	FiveMinutes Granularity = 300
	Hour        Granularity = 3600
	Day         Granularity = 86400
)

// Granularities from finest to coarsest.
var Granularities = []Granularity{FiveMinutes, Hour, Day}

// Duration of one bucket.
func (g Granularity) Duration() time.Duration { return time.Duration(g) * time.Second }

// Truncate returns the start of t's bucket (UTC).
func (g Granularity) Truncate(t time.Time) time.Time {
	s := t.Unix()
	return time.Unix(s-mod(s, int64(g)), 0).UTC()
}

// Ceil returns the first bucket start at or after t.
func (g Granularity) Ceil(t time.Time) time.Time {
	f := g.Truncate(t)
	if f.Equal(t) {
		return f
	}
	return f.Add(g.Duration())
}

// Aligned reports whether t is a bucket start.
func (g Granularity) Aligned(t time.Time) bool {
	return t.Nanosecond() == 0 && mod(t.Unix(), int64(g)) == 0
}

func (g Granularity) String() string {
	switch g {
	case FiveMinutes:
		return "5m"
	case Hour:
		return "1h"
	case Day:
		return "1d"
	}
	return fmt.Sprintf("%ds", uint32(g))
}

// ParseGranularity accepts 5m, 1h (or hour), 1d (or day).
func ParseGranularity(s string) (Granularity, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "5m", "5min", "300", "300s":
		return FiveMinutes, nil
	case "1h", "h", "hour", "60m", "3600", "3600s":
		return Hour, nil
	case "1d", "d", "day", "24h", "86400", "86400s":
		return Day, nil
	}
	return 0, fmt.Errorf("interval %q: want 5m, 1h or 1d", clip(s))
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// LatencyBoundsMs are the upper bounds (exclusive) of the latency histogram
// buckets in milliseconds; a last bucket holds everything from the final
// bound up. Candidate terminal timeouts are taken from these bounds, so
// "how many would have timed out" is exact for them.
var LatencyBoundsMs = []uint64{
	25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1250, 1500, 2000, 2500,
	3000, 4000, 5000, 6000, 8000, 10000, 12500, 15000, 20000, 25000, 30000,
	40000, 45000, 60000, 90000, 120000,
}

// HistBuckets is the length of a latency histogram.
var HistBuckets = len(LatencyBoundsMs) + 1

// HistBucketOf returns the histogram bucket of a latency.
func HistBucketOf(ms uint64) int {
	i, _ := slices.BinarySearch(LatencyBoundsMs, ms+1)
	// BinarySearch finds the first bound >= ms+1, i.e. > ms.
	return i
}

// HistSQL is the one-hot histogram bucket of a millisecond column as an
// array literal, for summing with sumForEach. 18.16 cannot capture columns
// in lambdas, so no arrayMap; the bounds are constants of this package.
func HistSQL(col string) string {
	b := LatencyBoundsMs
	parts := make([]string, 0, len(b)+1)
	for i := range len(b) + 1 {
		switch {
		case i == 0:
			parts = append(parts, fmt.Sprintf("toUInt64(%s < %d)", col, b[0]))
		case i == len(b):
			parts = append(parts, fmt.Sprintf("toUInt64(%s >= %d)", col, b[i-1]))
		default:
			parts = append(parts, fmt.Sprintf("toUInt64(%s >= %d AND %s < %d)", col, b[i-1], col, b[i]))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// HistIndexSQL is the histogram bucket (0 … len(LatencyBoundsMs)) of a
// millisecond column: how many bounds it reaches.
func HistIndexSQL(col string) string {
	parts := make([]string, len(LatencyBoundsMs))
	for i, b := range LatencyBoundsMs {
		parts[i] = fmt.Sprintf("(%s >= %d)", col, b)
	}
	return "toUInt8(" + strings.Join(parts, " + ") + ")"
}

// HistFromBucketsSQL is the histogram of arr, an array of bucket indexes
// (HistIndexSQL values, e.g. groupArray of them): how many equal each index.
// One countEqual per bucket with the index a literal: a lambda of 18.16
// cannot capture arr, and passing it in as a lambda argument copied it once
// per bucket, which cost twice as much (docs/benchmarks.md).
func HistFromBucketsSQL(arr string) string {
	parts := make([]string, len(LatencyBoundsMs)+1)
	for i := range parts {
		parts[i] = fmt.Sprintf("countEqual(%s, %d)", arr, i)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// AddHist adds b into a (growing a if needed).
func AddHist(a, b []uint64) []uint64 {
	if len(a) < len(b) {
		a = append(a, make([]uint64, len(b)-len(a))...)
	}
	for i, v := range b {
		a[i] += v
	}
	return a
}

// Quantile estimates the q-quantile (0..1) in milliseconds from a histogram,
// interpolating linearly inside the bucket. It returns 0 for an empty
// histogram; the open last bucket reports its lower bound.
func Quantile(hist []uint64, q float64) float64 {
	var total uint64
	for _, v := range hist {
		total += v
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for i, v := range hist {
		if v == 0 {
			continue
		}
		if seen+float64(v) >= rank {
			lo := 0.0
			if i > 0 {
				lo = float64(LatencyBoundsMs[i-1])
			}
			if i >= len(LatencyBoundsMs) {
				return lo
			}
			hi := float64(LatencyBoundsMs[i])
			return lo + (hi-lo)*(rank-seen)/float64(v)
		}
		seen += float64(v)
	}
	return float64(LatencyBoundsMs[len(LatencyBoundsMs)-1])
}

// AtOrAbove counts the histogram's entries of at least ms, which must be one
// of LatencyBoundsMs (0 counts everything).
func AtOrAbove(hist []uint64, ms uint64) (uint64, error) {
	start := 0
	if ms > 0 {
		i := slices.Index(LatencyBoundsMs, ms)
		if i < 0 {
			return 0, fmt.Errorf("%d ms is not a histogram bound", ms)
		}
		start = i + 1
	}
	var n uint64
	for i := start; i < len(hist); i++ {
		n += hist[i]
	}
	return n, nil
}

// Age buckets of unsettled transactions, by time since the transaction.
const (
	AgeUnder1d = "<1d"
	Age1to2d   = "1-2d"
	Age2to5d   = "2-5d"
	AgeOver5d  = ">5d"
)

// AgeBuckets in order.
var AgeBuckets = []string{AgeUnder1d, Age1to2d, Age2to5d, AgeOver5d}

// AgeBucket names the bucket of an age.
func AgeBucket(age time.Duration) string {
	switch {
	case age < 24*time.Hour:
		return AgeUnder1d
	case age < 48*time.Hour:
		return Age1to2d
	case age < 120*time.Hour:
		return Age2to5d
	}
	return AgeOver5d
}

// MaxValueLen bounds a filter value.
const MaxValueLen = 128

// ValidateValue checks a dimension value typed by a user: printable, at most
// MaxValueLen bytes, letters, digits, space and . _ - : / @ + # only. Values
// are always bound, never spliced into SQL; this check is there so that an
// obvious injection attempt or garbage gets a clear error instead of an
// empty answer.
func ValidateValue(v string) error {
	if v == "" {
		return nil // the empty value is legitimate: "not reported"
	}
	if len(v) > MaxValueLen || !utf8.ValidString(v) {
		return fmt.Errorf("value %q: at most %d characters of valid UTF-8", clip(v), MaxValueLen)
	}
	for _, r := range v {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" ._-:/@+#", r) {
			continue
		}
		return fmt.Errorf("value %q: character %q is not allowed (letters, digits, space and . _ - : / @ + # only)", clip(v), r)
	}
	return nil
}

var txnIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/\-]{0,63}$`)

// ValidateTxnID checks a pos.txn.id typed by a user (RRN-like: 1 to 64 of
// letters, digits and . _ : / -, starting with a letter or digit).
func ValidateTxnID(id string) error {
	if !txnIDRE.MatchString(id) {
		return fmt.Errorf("transaction id %q is malformed: want 1 to 64 letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit", clip(id))
	}
	return nil
}

// ErrEmptyRange is returned for ranges that select nothing.
var ErrEmptyRange = errors.New("empty time range")

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
