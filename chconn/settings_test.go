package chconn

import (
	"flag"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultSettingsAreValid(t *testing.T) {
	s := DefaultSettings()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Addr, []string{"127.0.0.1:9000"}) || s.Database != "settlewatch" || s.Username != "default" || s.Password != "" {
		t.Errorf("defaults: %+v", s)
	}
}

func TestFromEnv(t *testing.T) {
	s := FromEnv(env(map[string]string{
		EnvAddr:         " ch1:9000, ch2:9440 ,,",
		EnvDatabase:     "pos",
		EnvUser:         "writer",
		EnvPassword:     "s3cret",
		EnvSecure:       "true",
		EnvQueryTimeout: "2m",
	}))
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Addr, []string{"ch1:9000", "ch2:9440"}) || s.Database != "pos" || s.Username != "writer" ||
		s.Password != "s3cret" || !s.Secure || s.QueryTimeout != 2*time.Minute {
		t.Errorf("from env: %+v", s)
	}
	if strings.Contains(s.String(), "s3cret") {
		t.Errorf("String() shows the password: %s", s)
	}
	if got := FromEnv(env(nil)); !slices.Equal(got.Addr, DefaultSettings().Addr) || got.Database != "settlewatch" {
		t.Errorf("empty env: %+v", got)
	}
}

func TestFromEnvReportsBadValues(t *testing.T) {
	s := FromEnv(env(map[string]string{EnvSecure: "yes please", EnvQueryTimeout: "10"}))
	err := s.Validate()
	if err == nil {
		t.Fatal("bad env accepted")
	}
	for _, want := range []string{EnvSecure, EnvQueryTimeout} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Settings)
		want   string
	}{
		{"no address", func(s *Settings) { s.Addr = nil }, "none given"},
		{"no port", func(s *Settings) { s.Addr = []string{"localhost"} }, "want host:port"},
		{"bad port", func(s *Settings) { s.Addr = []string{"localhost:http"} }, "port must be a number"},
		{"port range", func(s *Settings) { s.Addr = []string{"localhost:70000"} }, "port must be a number"},
		{"empty host", func(s *Settings) { s.Addr = []string{":9000"} }, "empty host"},
		{"database", func(s *Settings) { s.Database = "pos-prod" }, `database "pos-prod"`},
		{"injection", func(s *Settings) { s.Database = "x; DROP TABLE y" }, "database"},
		{"user", func(s *Settings) { s.Username = "" }, "user: empty"},
		{"skip verify", func(s *Settings) { s.InsecureSkipVerify = true }, "secure (TLS) is off"},
		{"dial", func(s *Settings) { s.DialTimeout = 0 }, "dial timeout"},
		{"query timeout", func(s *Settings) { s.QueryTimeout = 500 * time.Millisecond }, "at least 1s"},
		{"conns", func(s *Settings) { s.MaxOpenConns = 0 }, "max open connections"},
		{"compression", func(s *Settings) { s.Compression = "gzip" }, "lz4, zstd or none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := DefaultSettings()
			tc.change(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want error containing %q", err, tc.want)
			}
		})
	}
	s := DefaultSettings()
	s.Addr, s.Compression = nil, "br"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "address") || !strings.Contains(err.Error(), "compression") {
		t.Errorf("want every problem reported at once, got %v", err)
	}
}

func TestRegisterFlags(t *testing.T) {
	s := FromEnv(env(map[string]string{EnvAddr: "envhost:9000", EnvDatabase: "fromenv", EnvPassword: "pw"}))
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	s.RegisterFlags(fs)
	for name, want := range map[string]string{"ch-addr": "envhost:9000", "ch-database": "fromenv", "ch-user": "default", "ch-password": "", "ch-secure": "false", "ch-query-timeout": "1m0s"} {
		f := fs.Lookup(name)
		if f == nil {
			t.Fatalf("flag -%s missing", name)
		}
		if f.DefValue != want {
			t.Errorf("-%s default %q, want %q", name, f.DefValue, want)
		}
	}
	if err := fs.Parse([]string{"-ch-addr", "a:1,b:2", "-ch-user", "u", "-ch-secure", "-ch-query-timeout", "5s"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Addr, []string{"a:1", "b:2"}) || s.Username != "u" || !s.Secure || s.QueryTimeout != 5*time.Second ||
		s.Database != "fromenv" || s.Password != "pw" {
		t.Errorf("after flags: %+v", s)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{
		"18.16.1":       {18, 16, 1},
		"24.8.4.13":     {24, 8, 4},
		"25.3.2.39-lts": {25, 3, 2},
		" 23.8 ":        {23, 8, 0},
	} {
		got, err := ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "18", "x.y.z", "18.-1.0"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
	v := Version{20, 3, 0}
	if !v.AtLeast(20, 3) || !v.AtLeast(19, 9) || v.AtLeast(20, 4) || v.AtLeast(21, 0) || v.String() != "20.3.0" {
		t.Error("AtLeast/String")
	}
}
