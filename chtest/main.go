package chtest

import (
	"fmt"
	"os"
	"testing"

	"github.com/settlewatch/settlewatch/chconn"
)

// EnvAddr names a running server (host:port, native protocol) for tests to use
// instead of starting their own; CI starts one server and exports it.
const EnvAddr = "SETTLEWATCH_TEST_CH_ADDR"

// server is what New connects to; set by Main.
var server *chconn.Settings

// Main is the body of TestMain for packages with ClickHouse tests: it finds or
// starts a server, runs the tests, stops the server it started and exits.
// A missing clickhouse-server fails the run: these tests must not be skipped.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if addrs := chconn.SplitAddrs(os.Getenv(EnvAddr)); len(addrs) > 0 {
		s := localSettings(addrs[0])
		s.Addr = addrs
		server = &s
		return m.Run()
	}
	if _, err := ServerBinary(); err != nil {
		fmt.Fprintf(os.Stderr, "chtest: these tests need a real ClickHouse server: %v\n"+
			"(or set %s=host:port of a running server)\n", err, EnvAddr)
		return 1
	}
	dir, err := os.MkdirTemp("", "settlewatch-clickhouse-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "chtest: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	srv, err := startTestServer(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chtest: no ClickHouse server for the tests: %v\n", err)
		return 1
	}
	s := srv.Settings()
	server = &s
	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "chtest: stop clickhouse-server: %v\n", err)
	}
	return code
}

// startTestServer retries on fresh ports: between FreePort and the server's
// bind, another test binary may take the same port.
func startTestServer(dir string) (*Server, error) {
	var err error
	for range 3 {
		var srv *Server
		if srv, err = startServer(dir, 0, 0, true); err == nil {
			return srv, nil
		}
	}
	return nil, err
}
