package model

import (
	"strings"
	"testing"
	"time"
)

func TestLookupDimension(t *testing.T) {
	for in, want := range map[string]string{"gateway": "gateway_id", "GATEWAY": "gateway_id", "gateway_id": "gateway_id",
		"funding": "card_funding", "card_funding": "card_funding", " terminal ": "terminal_id"} {
		d, err := LookupDimension(in)
		if err != nil || d.Column != want {
			t.Errorf("LookupDimension(%q) = %+v, %v", in, d, err)
		}
	}
	for _, bad := range []string{"", "colour", "gateway_id; DROP TABLE x", "all", "txn_id"} {
		if _, err := LookupDimension(bad); err == nil || !strings.Contains(err.Error(), "unknown dimension") {
			t.Errorf("LookupDimension(%q) accepted: %v", bad, err)
		}
	}
	if len(DimensionNames()) != 10 {
		t.Errorf("dimensions %v", DimensionNames())
	}
}

func TestValidation(t *testing.T) {
	for _, ok := range []string{"", "gw-1", "M-0001", "east", "iss 7", "商户-1", "a.b_c:d/e@f+g#h"} {
		if err := ValidateValue(ok); err != nil {
			t.Errorf("ValidateValue(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"x' OR 1=1 --", "a;b", "a\"b", "a\\b", "a\nb", strings.Repeat("x", 129), "\xff"} {
		if err := ValidateValue(bad); err == nil {
			t.Errorf("ValidateValue(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"T1", "RRN-202611250001", "a.b:c/d_e", strings.Repeat("9", 64)} {
		if err := ValidateTxnID(ok); err != nil {
			t.Errorf("ValidateTxnID(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-T1", "T 1", "T1'", strings.Repeat("9", 65), "T1;DROP"} {
		if err := ValidateTxnID(bad); err == nil {
			t.Errorf("ValidateTxnID(%q) accepted", bad)
		}
	}
}

func TestGranularity(t *testing.T) {
	at := time.Date(2026, 11, 24, 14, 37, 12, 5, time.UTC)
	for g, want := range map[Granularity]time.Time{
		FiveMinutes: time.Date(2026, 11, 24, 14, 35, 0, 0, time.UTC),
		Hour:        time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC),
		Day:         time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC),
	} {
		if got := g.Truncate(at); !got.Equal(want) || !g.Aligned(got) || g.Aligned(at) {
			t.Errorf("%s: Truncate = %v", g, got)
		}
		if got := g.Ceil(at); !got.Equal(want.Add(g.Duration())) || !g.Ceil(want).Equal(want) {
			t.Errorf("%s: Ceil = %v", g, got)
		}
		p, err := ParseGranularity(g.String())
		if err != nil || p != g {
			t.Errorf("ParseGranularity(%s) = %v, %v", g, p, err)
		}
	}
	if _, err := ParseGranularity("7m"); err == nil {
		t.Error("7m accepted")
	}
}

func TestAgeBuckets(t *testing.T) {
	for age, want := range map[time.Duration]string{0: AgeUnder1d, 23 * time.Hour: AgeUnder1d, 24 * time.Hour: Age1to2d,
		36 * time.Hour: Age1to2d, 48 * time.Hour: Age2to5d, 119 * time.Hour: Age2to5d, 120 * time.Hour: AgeOver5d} {
		if got := AgeBucket(age); got != want {
			t.Errorf("AgeBucket(%s) = %s, want %s", age, got, want)
		}
	}
}

func TestHistSQLHasOneTermPerBucket(t *testing.T) {
	s := HistSQL("ms")
	if n := strings.Count(s, "toUInt64("); n != HistBuckets {
		t.Errorf("%d terms, want %d", n, HistBuckets)
	}
}
