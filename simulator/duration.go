package simulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that YAML and flags write as "30m", "1h30m",
// "36h" or with a day unit, "2d" or "1d12h".
type Duration time.Duration

// ParseDuration parses a Go duration with an optional leading day count ("2d", "1d6h").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	neg := false
	body := s
	if body[0] == '-' || body[0] == '+' {
		neg = body[0] == '-'
		body = body[1:]
	}
	var days time.Duration
	if i := strings.IndexByte(body, 'd'); i > 0 {
		n, err := strconv.ParseFloat(body[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = time.Duration(n * float64(24*time.Hour))
		body = body[i+1:]
	}
	var rest time.Duration
	if body != "" {
		d, err := time.ParseDuration(body)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 30m, 1h30m, 36h, 2d)", s)
		}
		rest = d
	}
	d := days + rest
	if neg {
		d = -d
	}
	return d, nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a string such as 30m or 36h", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }
