package panmask

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// ---- an independent reference: written differently from the package on purpose ----

// refLuhn is the textbook right-to-left Luhn check.
func refLuhn(digits []byte) bool {
	total := 0
	for i := 0; i < len(digits); i++ {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d = d/10 + d%10
			}
		}
		total += d
	}
	return total%10 == 0
}

// chainRE matches a maximal chain: digit groups joined by exactly one space or dash.
var chainRE = regexp.MustCompile(`[0-9]+(?:[ -][0-9]+)*`)

// refPAN is one Luhn-valid candidate: the byte offsets of its digits.
type refPAN struct{ pos []int }

// refFind returns every Luhn-valid 13-19 digit candidate made of consecutive
// whole groups of a chain, by brute force over all group ranges.
func refFind(s string) []refPAN {
	var out []refPAN
	for _, m := range chainRE.FindAllStringIndex(s, -1) {
		// groups as lists of byte offsets
		var groups [][]int
		var cur []int
		for i := m[0]; i < m[1]; i++ {
			if s[i] >= '0' && s[i] <= '9' {
				cur = append(cur, i)
				continue
			}
			groups = append(groups, cur)
			cur = nil
		}
		groups = append(groups, cur)
		for a := range groups {
			var pos []int
			for b := a; b < len(groups); b++ {
				pos = append(pos, groups[b]...)
				if len(pos) > 19 {
					break
				}
				if len(pos) < 13 {
					continue
				}
				digits := make([]byte, len(pos))
				for k, p := range pos {
					digits[k] = s[p]
				}
				if refLuhn(digits) {
					out = append(out, refPAN{pos: append([]int(nil), pos...)})
				}
			}
		}
	}
	return out
}

// checkMasked asserts everything Mask promises about out = MaskWith(in, kf, kl).
func checkMasked(t *testing.T, in, out string, n, kf, kl int) {
	t.Helper()
	if len(out) != len(in) {
		t.Fatalf("length changed: %d -> %d (%q -> %q)", len(in), len(out), in, out)
	}
	for i := 0; i < len(in); i++ {
		if out[i] != in[i] && !(out[i] == '*' && in[i] >= '0' && in[i] <= '9') {
			t.Fatalf("byte %d changed from %q to %q (%q -> %q)", i, in[i], out[i], in, out)
		}
	}
	if utf8.ValidString(in) && !utf8.ValidString(out) {
		t.Fatalf("output is not valid UTF-8: %q -> %q", in, out)
	}
	if left := refFind(out); len(left) > 0 {
		t.Fatalf("a Luhn-valid run survived at %v: %q -> %q", left[0].pos, in, out)
	}
	found := refFind(in)
	for _, p := range found {
		for k := kf; k < len(p.pos)-kl; k++ {
			if out[p.pos[k]] != '*' {
				t.Fatalf("digit %d of PAN at %v kept in clear: %q -> %q", k, p.pos, in, out)
			}
		}
	}
	if (len(found) > 0) != (n > 0) || n > len(found) {
		t.Fatalf("n = %d but reference found %d PAN candidates in %q", n, len(found), in)
	}
	if (n == 0) != (out == in) {
		t.Fatalf("n = %d but output changed=%v: %q -> %q", n, out != in, in, out)
	}
	again, n2 := MaskWith(out, kf, kl)
	if again != out || n2 != 0 {
		t.Fatalf("not idempotent: %q -> %q -> %q (n2=%d)", in, out, again, n2)
	}
}

// withCheck appends the Luhn check digit to body.
func withCheck(body string) string {
	for c := byte('0'); c <= '9'; c++ {
		s := body + string(c)
		if refLuhn([]byte(s)) {
			return s
		}
	}
	panic("unreachable")
}

// pans of every legal length, Luhn-valid.
var pans = map[int]string{
	13: "4222222222222",
	14: "30569309025904",
	15: "378282246310005",
	16: "4111111111111111",
	17: withCheck("6212345678901234"),
	18: withCheck("62123456789012345"),
	19: withCheck("621234567890123456"),
}

// refMask masks one bare PAN by hand.
func refMask(pan string, kf, kl int) string {
	return pan[:kf] + strings.Repeat("*", len(pan)-kf-kl) + pan[len(pan)-kl:]
}

func TestReferencePANsAreValid(t *testing.T) {
	for l, p := range pans {
		if len(p) != l || !refLuhn([]byte(p)) || !Luhn(p) {
			t.Fatalf("bad fixture %d: %q", l, p)
		}
	}
	if Luhn("") || Luhn("12a4") || Luhn("4111111111111112") {
		t.Fatal("Luhn accepted an invalid input")
	}
}

func TestMaskLengths(t *testing.T) {
	for l := 13; l <= 19; l++ {
		p := pans[l]
		for _, tc := range []struct{ in, want string }{
			{p, refMask(p, 6, 4)},
			{"pan=" + p, "pan=" + refMask(p, 6, 4)},
			{p + " end", refMask(p, 6, 4) + " end"},
			{"卡号:" + p + "。", "卡号:" + refMask(p, 6, 4) + "。"},
		} {
			got, n := Mask(tc.in)
			if got != tc.want || n != 1 {
				t.Errorf("%d digits: Mask(%q) = %q, %d; want %q, 1", l, tc.in, got, n, tc.want)
			}
			checkMasked(t, tc.in, got, n, 6, 4)
		}
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		n    int
	}{
		{"empty", "", "", 0},
		{"no digits", "approved by issuer", "approved by issuer", 0},
		{"short number", "amount 12345 CNY", "amount 12345 CNY", 0},
		{"twelve digits", "123456789012", "123456789012", 0},
		{"luhn invalid 16", "4111111111111112", "4111111111111112", 0},
		{"luhn invalid with text", "card 4111111111111112 x", "card 4111111111111112 x", 0},
		{"20 digit run holding a PAN", "41111111111111110000", "41111111111111110000", 0},
		{"20 digit run PAN at the end", "00004111111111111111", "00004111111111111111", 0},
		{"32 digit run", "12345678901234567890123456789012", "12345678901234567890123456789012", 0},
		{"spaces", "4111 1111 1111 1111", "4111 11** **** 1111", 1},
		{"dashes", "4111-1111-1111-1111", "4111-11**-****-1111", 1},
		{"mixed separators", "4111 1111-1111 1111", "4111 11**-**** 1111", 1},
		{"amex grouping", "3782 822463 10005", "3782 82**** *0005", 1},
		{"double space breaks the chain", "4111  1111  1111  1111", "4111  1111  1111  1111", 0},
		{"dash-space breaks the chain", "4111 -1111 -1111 -1111", "4111 -1111 -1111 -1111", 0},
		{"trailing separator", "4111-1111-1111-1111-", "4111-11**-****-1111-", 1},
		{"start", "4111111111111111 approved", "411111******1111 approved", 1},
		{"end", "approved 4111111111111111", "approved 411111******1111", 1},
		{"glued to letters", "x4111111111111111y", "x411111******1111y", 1},
		{"several", "a 4111111111111111 b 5555555555554444 c 378282246310005",
			"a 411111******1111 b 555555******4444 c 378282*****0005", 3},
		{"several adjacent by punctuation", "4111111111111111,5555555555554444",
			"411111******1111,555555******4444", 2},
		{"neighbour number not luhn", "qty 2 4111111111111111", "qty 2 411111******1111", 1},
		{"unicode around", "💳 4111-1111-1111-1111 ✓ ок", "💳 4111-11**-****-1111 ✓ ок", 1},
		{"json", `{"pan":"5555555555554444","exp":"12/30"}`, `{"pan":"555555******4444","exp":"12/30"}`, 1},
		{"decimal point is not a separator", "4111111111111111.00", "411111******1111.00", 1},
		{"phone number", "call +86 138 0013 8000", "call +86 138 0013 8000", 0},
		{"trace id", "trace 4bf92f3577b34da6a3ce929d0e0e4736", "trace 4bf92f3577b34da6a3ce929d0e0e4736", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := Mask(tc.in)
			if got != tc.want || n != tc.n {
				t.Fatalf("Mask(%q) = %q, %d; want %q, %d", tc.in, got, n, tc.want, tc.n)
			}
			checkMasked(t, tc.in, got, n, 6, 4)
		})
	}
}

func TestMaskNextToOtherNumbers(t *testing.T) {
	for _, in := range []string{
		"2024-05-01 4111-1111-1111-1111",
		"4111 1111 1111 1111 2030",
		"1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0",
		"12 4111 1111 1111 1111 99",
		"ref 000123 4111111111111111 77",
	} {
		got, n := Mask(in)
		if n == 0 && len(refFind(in)) > 0 {
			t.Fatalf("Mask(%q) masked nothing", in)
		}
		checkMasked(t, in, got, n, 6, 4)
	}
}

// TestMaskKeptDigitsFormNewPAN builds an input where the first pass leaves
// "411111" next to a 7-digit number with which it forms a new Luhn-valid
// 13-digit run; the output must still hold no PAN.
func TestMaskKeptDigitsFormNewPAN(t *testing.T) {
	var prefix string
	for x := 1000000; x < 1000100; x++ {
		p := strconv.Itoa(x)
		if refLuhn([]byte(p + "411111")) {
			prefix = p
			break
		}
	}
	if prefix == "" {
		t.Fatal("no prefix found")
	}
	in := prefix + " 4111111111111111"
	got, n := Mask(in)
	if n != 1 {
		t.Fatalf("n = %d, want 1 (%q -> %q)", n, in, got)
	}
	if !strings.Contains(got, "******1111") {
		t.Fatalf("PAN not masked: %q", got)
	}
	checkMasked(t, in, got, n, 6, 4)
}

func TestMaskWith(t *testing.T) {
	p := "4111111111111111"
	tests := []struct {
		kf, kl int
		want   string
	}{
		{6, 4, "411111******1111"},
		{0, 0, "****************"},
		{4, 4, "4111********1111"},
		{0, 4, "************1111"},
		{6, 0, "411111**********"},
		{10, 10, "411111******1111"}, // clamped to 6/4
		{-1, -5, "****************"},
	}
	for _, tc := range tests {
		got, n := MaskWith(p, tc.kf, tc.kl)
		if got != tc.want || n != 1 {
			t.Errorf("MaskWith(%q, %d, %d) = %q, %d; want %q", p, tc.kf, tc.kl, got, n, tc.want)
		}
		checkMasked(t, p, got, n, clamp(tc.kf, 6), clamp(tc.kl, 4))
	}
	got, _ := MaskWith("4111-1111-1111-1111", 0, 0)
	if got != "****-****-****-****" {
		t.Fatalf("got %q", got)
	}
}

func TestContains(t *testing.T) {
	if Contains("hello") || Contains("4111111111111112") || Contains("41111111111111110000") {
		t.Fatal("Contains reported a PAN that is not there")
	}
	if !Contains("x 4111 1111 1111 1111") {
		t.Fatal("Contains missed a PAN")
	}
}

func TestMaskDoesNotAllocateWhenClean(t *testing.T) {
	for _, s := range []string{
		"",
		"sale",
		"pos.terminal.id=T-000123",
		benchLongClean,
		"41111111111111110000 12345678901234567890123",
	} {
		allocs := testing.AllocsPerRun(100, func() {
			out, _ := Mask(s)
			if out != s {
				t.Fatal("changed")
			}
		})
		if allocs != 0 {
			t.Errorf("Mask(%.30q...) allocates %.1f times", s, allocs)
		}
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{
		"", "hello", "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111",
		"3782 822463 10005", "41111111111111110000", "qty 2 4111111111111111",
		"1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0", "卡号 6212345678901234567 ok",
	} {
		f.Add(s, uint8(6), uint8(4))
	}
	// keep is small on purpose: the fuzzer minimises integers by counting down.
	f.Fuzz(func(t *testing.T, s string, keepFirst, keepLast uint8) {
		kf, kl := int(keepFirst%7), int(keepLast%5)
		out, n := MaskWith(s, kf, kl)
		checkMasked(t, s, out, n, kf, kl)
		if Contains(s) != (len(refFind(s)) > 0) {
			t.Fatalf("Contains(%q) disagrees with the reference", s)
		}
		if kf == 6 && kl == 4 {
			if o2, n2 := Mask(s); o2 != out || n2 != n {
				t.Fatalf("Mask and MaskWith(6,4) differ on %q", s)
			}
		}
	})
}

const benchLongClean = `2024-05-01T10:15:30.123456Z INFO gateway.authorize txn=RRN000123456 ` +
	`terminal=T-000123 merchant=M-88001 trace=4bf92f3577b34da6a3ce929d0e0e4736 ` +
	`span=00f067aa0ba902b7 amount=12550 currency=CNY response=00 source=issuer ` +
	`latency_ms=183 retries=0 host=gw-3.example.internal:8443`

func BenchmarkMask(b *testing.B) {
	cases := []struct{ name, s string }{
		{"short_clean", "contactless"},
		{"id_clean", "T-000123"},
		{"long_clean", benchLongClean},
		{"long_digits_clean", "41111111111111110000 12345678901234567890123 2024-05-01 10:15:30"},
		{"pan", "card 4111111111111111 declined 51"},
		{"pan_separated", "card 4111 1111 1111 1111 declined 51"},
		{"long_with_pan", benchLongClean + " pan=5555555555554444"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.s)))
			for b.Loop() {
				Mask(c.s)
			}
		})
	}
}
