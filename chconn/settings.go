package chconn

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Environment variables read by FromEnv.
const (
	EnvAddr         = "SETTLEWATCH_CH_ADDR"
	EnvDatabase     = "SETTLEWATCH_CH_DATABASE"
	EnvUser         = "SETTLEWATCH_CH_USER"
	EnvPassword     = "SETTLEWATCH_CH_PASSWORD"
	EnvSecure       = "SETTLEWATCH_CH_SECURE"
	EnvQueryTimeout = "SETTLEWATCH_CH_QUERY_TIMEOUT"
)

// Compression methods accepted in Settings.Compression.
const (
	CompressionLZ4  = "lz4"
	CompressionZSTD = "zstd"
	CompressionNone = "none"
)

// Settings describe how to reach ClickHouse. The zero value is not usable:
// start from DefaultSettings or FromEnv.
type Settings struct {
	Addr               []string // host:port of native-protocol endpoints
	Database           string
	Username           string
	Password           string
	Secure             bool
	InsecureSkipVerify bool // only meaningful with Secure
	DialTimeout        time.Duration
	QueryTimeout       time.Duration // default deadline for one query
	MaxOpenConns       int
	Compression        string // lz4 | zstd | none

	// envErr remembers an unparsable environment value so that Validate can
	// report it instead of FromEnv silently falling back to a default.
	envErr error
}

// DefaultSettings are the settings of a local single-node server.
func DefaultSettings() Settings {
	return Settings{
		Addr:         []string{"127.0.0.1:9000"},
		Database:     "settlewatch",
		Username:     "default",
		DialTimeout:  10 * time.Second,
		QueryTimeout: 60 * time.Second,
		MaxOpenConns: 10,
		Compression:  CompressionLZ4,
	}
}

// FromEnv returns DefaultSettings overridden by the SETTLEWATCH_CH_* variables
// that are set (non-empty). getenv is usually os.Getenv. Unparsable values are
// reported by Validate.
func FromEnv(getenv func(string) string) Settings {
	s := DefaultSettings()
	var errs []error
	if v := getenv(EnvAddr); v != "" {
		s.Addr = SplitAddrs(v)
	}
	if v := getenv(EnvDatabase); v != "" {
		s.Database = v
	}
	if v := getenv(EnvUser); v != "" {
		s.Username = v
	}
	s.Password = getenv(EnvPassword)
	if v := getenv(EnvSecure); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a boolean (use true or false)", EnvSecure, v))
		}
		s.Secure = b
	}
	if v := getenv(EnvQueryTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a duration (e.g. 30s, 2m)", EnvQueryTimeout, v))
		} else {
			s.QueryTimeout = d
		}
	}
	s.envErr = errors.Join(errs...)
	return s
}

// SplitAddrs splits a comma separated address list, dropping blanks.
func SplitAddrs(v string) []string {
	var out []string
	for a := range strings.SplitSeq(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidIdent reports whether name is a plain ClickHouse identifier that can be
// put in SQL without quoting. Database and table names must be.
func ValidIdent(name string) bool { return identRE.MatchString(name) }

// Validate reports every problem at once, each naming the setting involved.
func (s Settings) Validate() error {
	errs := []error{s.envErr}
	if len(s.Addr) == 0 {
		errs = append(errs, errors.New("clickhouse address: none given (want host:port, e.g. 127.0.0.1:9000)"))
	}
	for _, a := range s.Addr {
		if err := validateAddr(a); err != nil {
			errs = append(errs, err)
		}
	}
	if !ValidIdent(s.Database) {
		errs = append(errs, fmt.Errorf("clickhouse database %q: must match ^[A-Za-z_][A-Za-z0-9_]*$", s.Database))
	}
	if s.Username == "" {
		errs = append(errs, errors.New("clickhouse user: empty (the server's default user is \"default\")"))
	}
	if s.InsecureSkipVerify && !s.Secure {
		errs = append(errs, errors.New("clickhouse insecure-skip-verify is set but secure (TLS) is off"))
	}
	if s.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("clickhouse dial timeout %v: must be positive", s.DialTimeout))
	}
	// max_execution_time is whole seconds, so a shorter deadline cannot be paired.
	if s.QueryTimeout < time.Second {
		errs = append(errs, fmt.Errorf("clickhouse query timeout %v: must be at least 1s", s.QueryTimeout))
	}
	if s.MaxOpenConns < 1 {
		errs = append(errs, fmt.Errorf("clickhouse max open connections %d: must be at least 1", s.MaxOpenConns))
	}
	switch s.Compression {
	case CompressionLZ4, CompressionZSTD, CompressionNone:
	default:
		errs = append(errs, fmt.Errorf("clickhouse compression %q: must be lz4, zstd or none", s.Compression))
	}
	return errors.Join(errs...)
}

func validateAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("clickhouse address %q: want host:port: %w", a, err)
	}
	if host == "" {
		return fmt.Errorf("clickhouse address %q: empty host", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("clickhouse address %q: port must be a number from 1 to 65535", a)
	}
	return nil
}

// String describes the settings without the password, for logs.
func (s Settings) String() string {
	return fmt.Sprintf("clickhouse{addr=%s db=%s user=%s secure=%t compression=%s}",
		strings.Join(s.Addr, ","), s.Database, s.Username, s.Secure, s.Compression)
}
