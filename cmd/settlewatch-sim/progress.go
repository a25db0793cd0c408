package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// isTerminal reports whether w is a character device (progress redraws in place).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// statusLine prints a progress line: redrawn in place on a terminal, one line at a time otherwise.
type statusLine struct {
	w    io.Writer
	tty  bool
	last int
}

func newStatusLine(w io.Writer) *statusLine { return &statusLine{w: w, tty: isTerminal(w)} }

func (s *statusLine) show(line string) {
	if !s.tty {
		fmt.Fprintln(s.w, line)
		return
	}
	pad := ""
	if n := s.last - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	s.last = len(line)
	fmt.Fprintf(s.w, "\r%s%s", line, pad)
}

func (s *statusLine) done() {
	if s.tty && s.last > 0 {
		fmt.Fprintln(s.w)
	}
	s.last = 0
}

func bar(f float64, width int) string {
	f = max(0, min(1, f))
	n := int(f * float64(width))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// num formats an integer with thousands separators.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtRate(r float64) string {
	if r >= 100 {
		return num(int64(r + 0.5))
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	if m > 0 {
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
