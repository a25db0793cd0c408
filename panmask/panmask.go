// Package panmask finds card numbers (PANs) in free text and masks them.
//
// # What counts as a PAN
//
// A PAN is a sequence of 13 to 19 ASCII digits that passes the Luhn check.
// People and programs write card numbers in groups, so the digits may be split
// into groups by a single space or a single dash ("4111 1111 1111 1111",
// "4111-1111-1111-1111", "3782 822463 10005"); a space and a dash may be mixed.
//
// Precisely: a group is a maximal run of contiguous ASCII digits; a chain is a
// maximal sequence of groups in which each two neighbours are separated by
// exactly one ' ' or '-'. A candidate is any sequence of consecutive whole
// groups of one chain holding 13 to 19 digits in total. A candidate that passes
// the Luhn check is a PAN. Groups are never split, so a contiguous run of 20 or
// more digits (an id, a nonce, a big number) is never touched, and neither is
// any part of it. Looking at every candidate of a chain (not just the whole
// chain) means a PAN is still found when an unrelated number sits next to it,
// as in "qty 2 4111111111111111" or "2024-05-01 4111-1111-1111-1111".
//
// Non-ASCII digits (for example full-width digits) are not considered digits.
//
// # How it is masked
//
// Every digit of a PAN except the first keepFirst and the last keepLast is
// replaced by '*' (at most 6 and 4: the most PCI DSS allows to display).
// Separators are kept where they were, so the output has exactly the same
// length in bytes as the input, only ASCII digits are ever replaced (by the
// ASCII byte '*'), and valid UTF-8 stays valid UTF-8.
//
// When candidates overlap (for instance a PAN with another number glued to it
// by a space, and both readings pass the Luhn check), the middle of every one of
// them is masked, so no PAN ever keeps more than its first keepFirst and last
// keepLast digits in clear, whichever reading is the real card number.
//
// Masking can make digits that were kept join a neighbouring group into a new
// Luhn-valid candidate ("1234567 4111111111111111" keeps "411111", which with
// "1234567" forms 13 digits that may pass the Luhn check). Mask therefore
// repeats until its output holds no PAN at all, which also makes it
// idempotent: Mask(Mask(s)) == Mask(s).
package panmask

// Defaults: the most digits the telemetry contract (and PCI DSS) allows to keep.
const (
	// MaxKeepFirst is the largest number of leading digits a masked PAN may keep.
	MaxKeepFirst = 6
	// MaxKeepLast is the largest number of trailing digits a masked PAN may keep.
	MaxKeepLast = 4
	// MinDigits and MaxDigits bound the length of a PAN.
	MinDigits = 13
	MaxDigits = 19
)

// Mask masks every PAN in s keeping the first 6 and the last 4 digits of each.
// It returns the masked string and the number of PANs masked (overlapping
// candidates count as one). When s holds no PAN, s itself is returned and
// nothing is allocated.
func Mask(s string) (masked string, n int) {
	return MaskWith(s, MaxKeepFirst, MaxKeepLast)
}

// MaskWith is Mask keeping keepFirst leading and keepLast trailing digits of
// each PAN. keepFirst is clamped to 0..6 and keepLast to 0..4.
func MaskWith(s string, keepFirst, keepLast int) (masked string, n int) {
	keepFirst = clamp(keepFirst, MaxKeepFirst)
	keepLast = clamp(keepLast, MaxKeepLast)

	// Fast path: most strings do not even hold 13 digits.
	if !hasMinDigits(s) {
		return s, 0
	}
	first, _ := scan(s, 0, keepFirst, keepLast, nil)
	if first < 0 {
		return s, 0
	}

	b := make([]byte, len(s))
	copy(b, s)
	_, n = scan(s, first, keepFirst, keepLast, b)

	// Digits kept by the first pass may have formed a new PAN with a
	// neighbouring group. Each further pass masks at least 3 more digits, so
	// the loop ends; in practice it almost never runs.
	for {
		p, _ := scan(b, 0, keepFirst, keepLast, nil)
		if p < 0 {
			break
		}
		src := string(b)
		scan(src, p, keepFirst, keepLast, b)
	}
	return string(b), n
}

// Contains reports whether s holds at least one PAN. It never allocates.
func Contains(s string) bool {
	if !hasMinDigits(s) {
		return false
	}
	p, _ := scan(s, 0, MaxKeepFirst, MaxKeepLast, nil)
	return p >= 0
}

// Luhn reports whether digits (ASCII '0'-'9' only) pass the Luhn check.
// It returns false for an empty string or one holding anything but digits.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func clamp(v, hi int) int {
	if v < 0 {
		return 0
	}
	if v > hi {
		return hi
	}
	return v
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isSep(c byte) bool   { return c == ' ' || c == '-' }

// hasMinDigits reports whether s holds at least MinDigits ASCII digits.
func hasMinDigits(s string) bool {
	if len(s) < MinDigits {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
			if n == MinDigits {
				return true
			}
		}
	}
	return false
}

// doubled is the Luhn contribution of a digit that is doubled.
var doubled = [10]int{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}

// text is what scan reads: the input string or the masked copy.
type text interface{ ~string | ~[]byte }

// scan walks the chains of s from byte p, which must be 0 or the start of a
// chain.
//
// With dst == nil it only looks: it returns the start of the first chain that
// holds a PAN, or -1. Otherwise it masks, in dst (a copy of s of the same
// length, which it may alias only when it is not being read, so callers pass a
// separate source), the middle of every PAN of every chain from p on, and
// returns the number of PANs, overlapping candidates counting once.
func scan[T text](s T, p, keepFirst, keepLast int, dst []byte) (first, count int) {
	i := p
	for i < len(s) {
		if !isDigit(s[i]) {
			i++
			continue
		}
		// i starts a chain. Most chains are too short to hold a PAN: measure
		// it first and skip it whole if so.
		chain := i
		if end, digits := chainEnd(s, i); digits < MinDigits {
			i = end
			continue
		}
		// Walk its groups, trying every group as a start.
		coveredTo := -1 // end of the last PAN found in this chain
		g := i
		for {
			end, ms, me := longestFrom(s, g, keepFirst, keepLast)
			if end >= 0 {
				if dst == nil {
					return chain, 0
				}
				if g >= coveredTo {
					count++
				}
				if end > coveredTo {
					coveredTo = end
				}
				for k := ms; k < me; k++ {
					if isDigit(s[k]) {
						dst[k] = '*'
					}
				}
			}
			e := g
			for e < len(s) && isDigit(s[e]) {
				e++
			}
			if e+1 < len(s) && isSep(s[e]) && isDigit(s[e+1]) {
				g = e + 1
				continue
			}
			i = e
			break
		}
	}
	if dst == nil {
		return -1, 0
	}
	return -1, count
}

// chainEnd returns the end of the chain starting at byte i and its number of digits.
func chainEnd[T text](s T, i int) (end, digits int) {
	for {
		for i < len(s) && isDigit(s[i]) {
			digits++
			i++
		}
		if i+1 < len(s) && isSep(s[i]) && isDigit(s[i+1]) {
			i++
			continue
		}
		return i, digits
	}
}

// longestFrom looks at the candidates that begin with the group starting at
// byte g and returns the longest one that passes the Luhn check: its end
// (exclusive byte index) and the byte range [ms, me) to mask. end is -1 when
// there is none. The middle of a shorter PAN from the same start lies inside
// the middle of the longest one, so the longest one is enough.
func longestFrom[T text](s T, g, keepFirst, keepLast int) (end, ms, me int) {
	var pos [MaxDigits]int
	// sum[0] doubles the digits at even indices from the left, sum[1] those at
	// odd ones; a run of n digits doubles the indices with the parity of n.
	var sum [2]int
	n := 0
	end = -1
	j := g
	for {
		for j < len(s) && isDigit(s[j]) {
			if n == MaxDigits {
				return end, ms, me
			}
			d := int(s[j] - '0')
			sum[n&1] += doubled[d]
			sum[(n&1)^1] += d
			pos[n] = j
			n++
			j++
		}
		if n >= MinDigits && sum[n&1]%10 == 0 {
			end = j
			ms = pos[keepFirst]
			me = pos[n-keepLast-1] + 1
		}
		if j+1 < len(s) && isSep(s[j]) && isDigit(s[j+1]) {
			j++
			continue
		}
		return end, ms, me
	}
}
