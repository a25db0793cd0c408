package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/settlewatch/settlewatch/chconn"
)

// Settings is the data source configuration: jsonData from the config
// editor, and the password from secureJsonData (Grafana stores it encrypted
// and never sends it back to the browser).
type Settings struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Database string `json:"database"`
	Username string `json:"username"`
	// Secure connects with TLS; TLSSkipVerify skips certificate checks (only
	// with Secure; for test servers).
	Secure        bool `json:"secure"`
	TLSSkipVerify bool `json:"tlsSkipVerify"`
	// DialTimeoutSeconds bounds connecting; QueryTimeoutSeconds bounds one
	// ClickHouse query (paired with max_execution_time, and never longer
	// than what is left of Grafana's request deadline).
	DialTimeoutSeconds  int `json:"dialTimeoutSeconds"`
	QueryTimeoutSeconds int `json:"queryTimeoutSeconds"`
	// MaxRows caps every result; a capped frame carries a warning notice.
	MaxRows      int    `json:"maxRows"`
	MaxOpenConns int    `json:"maxOpenConns"`
	Compression  string `json:"compression"`
	// RollupStaleMinutes: the health check calls rollups stale when the
	// rollup job's last scheduled run is older than this.
	RollupStaleMinutes int `json:"rollupStaleMinutes"`

	Password string `json:"-"`
}

// Defaults and bounds of the settings.
const (
	DefaultPort         = 9000
	DefaultDatabase     = "settlewatch"
	DefaultUser         = "default"
	DefaultDialTimeout  = 10
	DefaultQueryTimeout = 30
	DefaultMaxRows      = 10000
	DefaultMaxOpenConns = 5
	DefaultRollupStale  = 30
	MaxQueryTimeout     = 300
	MaxMaxRows          = 1000000
)

// ParseSettings reads the instance settings and fills defaults. It fails
// only on JSON that cannot be read; Validate reports what is wrong with the
// values.
func ParseSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	out := Settings{}
	if len(s.JSONData) > 0 && string(s.JSONData) != "null" {
		if err := json.Unmarshal(s.JSONData, &out); err != nil {
			return Settings{}, fmt.Errorf("the data source settings (jsonData) are not valid JSON: %v", err)
		}
		// A password typed into jsonData would be stored in clear text and sent
		// to every browser that opens the dashboard: refuse it.
		var raw map[string]json.RawMessage
		if json.Unmarshal(s.JSONData, &raw) == nil {
			for k := range raw {
				if strings.EqualFold(k, "password") {
					return Settings{}, errors.New("a password was found in jsonData: it must be in secureJsonData.password (the config editor's Password field), which Grafana encrypts")
				}
			}
		}
	}
	out.Password = s.DecryptedSecureJSONData["password"]
	out.Host = strings.TrimSpace(out.Host)
	if out.Port == 0 {
		out.Port = DefaultPort
	}
	if out.Database == "" {
		out.Database = DefaultDatabase
	}
	if out.Username == "" {
		out.Username = DefaultUser
	}
	if out.DialTimeoutSeconds == 0 {
		out.DialTimeoutSeconds = DefaultDialTimeout
	}
	if out.QueryTimeoutSeconds == 0 {
		out.QueryTimeoutSeconds = DefaultQueryTimeout
	}
	if out.MaxRows == 0 {
		out.MaxRows = DefaultMaxRows
	}
	if out.MaxOpenConns == 0 {
		out.MaxOpenConns = DefaultMaxOpenConns
	}
	if out.Compression == "" {
		out.Compression = chconn.CompressionLZ4
	}
	if out.RollupStaleMinutes == 0 {
		out.RollupStaleMinutes = DefaultRollupStale
	}
	return out, nil
}

// Validate reports every problem at once, each naming the field of the
// config editor to fix.
func (s Settings) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case s.Host == "":
		add("Host: required (the ClickHouse server name or IP address, e.g. clickhouse.internal)")
	case strings.Contains(s.Host, "://"):
		add("Host %q: give the name only, without a scheme such as tcp:// or https:// (TLS is the Secure switch)", clip(s.Host))
	case strings.ContainsAny(s.Host, " /?#@,"):
		add("Host %q: not a host name or IP address", clip(s.Host))
	default:
		if h, p, err := net.SplitHostPort(s.Host); err == nil && h != "" && p != "" {
			add("Host %q: put the port in the Port field, not in Host", clip(s.Host))
		}
	}
	if s.Port < 1 || s.Port > 65535 {
		add("Port %d: must be 1-65535 (ClickHouse's native protocol listens on 9000, or 9440 with TLS; the HTTP port 8123 does not work)", s.Port)
	}
	if s.Port == 8123 || s.Port == 8443 {
		add("Port %d: that is ClickHouse's HTTP port; this data source speaks the native protocol (usually 9000, or 9440 with TLS)", s.Port)
	}
	if !chconn.ValidIdent(s.Database) {
		add("Database %q: must be a plain identifier (letters, digits, underscore; not starting with a digit)", clip(s.Database))
	}
	if s.TLSSkipVerify && !s.Secure {
		add("Skip TLS verify is on but Secure (TLS) is off: turn Secure on, or Skip TLS verify off")
	}
	if s.DialTimeoutSeconds < 1 || s.DialTimeoutSeconds > 120 {
		add("Dial timeout %ds: must be 1-120 seconds", s.DialTimeoutSeconds)
	}
	if s.QueryTimeoutSeconds < 1 || s.QueryTimeoutSeconds > MaxQueryTimeout {
		add("Query timeout %ds: must be 1-%d seconds", s.QueryTimeoutSeconds, MaxQueryTimeout)
	}
	if s.MaxRows < 1 || s.MaxRows > MaxMaxRows {
		add("Row cap %d: must be 1-%d", s.MaxRows, MaxMaxRows)
	}
	if s.MaxOpenConns < 1 || s.MaxOpenConns > 100 {
		add("Max open connections %d: must be 1-100", s.MaxOpenConns)
	}
	switch s.Compression {
	case chconn.CompressionLZ4, chconn.CompressionZSTD, chconn.CompressionNone:
	default:
		add("Compression %q: must be lz4, zstd or none", clip(s.Compression))
	}
	if s.RollupStaleMinutes < 1 {
		add("Rollups stale after %d minutes: must be at least 1", s.RollupStaleMinutes)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The shared connection settings have their own checks; they should pass
	// once the above do, but never let them disagree silently.
	if err := s.Conn().Validate(); err != nil {
		return err
	}
	return nil
}

// Conn converts to the connection settings every settlewatch program uses.
func (s Settings) Conn() chconn.Settings {
	c := chconn.DefaultSettings()
	c.Addr = []string{net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	c.Database = s.Database
	c.Username = s.Username
	c.Password = s.Password
	c.Secure = s.Secure
	c.InsecureSkipVerify = s.TLSSkipVerify
	c.DialTimeout = time.Duration(s.DialTimeoutSeconds) * time.Second
	c.QueryTimeout = s.QueryTimeout()
	c.MaxOpenConns = s.MaxOpenConns
	c.Compression = s.Compression
	return c
}

// QueryTimeout is the deadline of one query.
func (s Settings) QueryTimeout() time.Duration {
	return time.Duration(s.QueryTimeoutSeconds) * time.Second
}

// String describes the settings without the password, for logs.
func (s Settings) String() string {
	return fmt.Sprintf("host=%s port=%d database=%s user=%s secure=%t password_set=%t query_timeout=%ds max_rows=%d",
		s.Host, s.Port, s.Database, s.Username, s.Secure, s.Password != "", s.QueryTimeoutSeconds, s.MaxRows)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
