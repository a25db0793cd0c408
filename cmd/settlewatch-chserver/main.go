// Command settlewatch-chserver starts, stops and checks a local ClickHouse
// server configured exactly as the integration tests configure theirs
// (chtest.StartServer), for scripts: CI, the demo, benchmarks.
//
//	settlewatch-chserver start  -dir .run/clickhouse -tcp-port 19000 -http-port 18123
//	settlewatch-chserver status -dir .run/clickhouse -tcp-port 19000
//	settlewatch-chserver stop   -dir .run/clickhouse
//	settlewatch-chserver config -dir .run/clickhouse -tcp-port 19000 -http-port 18123
//
// start returns once the server answers a ping and leaves it running in the
// background; its pid is in <dir>/clickhouse.pid. Exit status: 0 ok, 1 failure,
// 2 usage, 3 (status) not running. config only writes config.xml and users.xml
// (to read them, or to run clickhouse-server --config-file=DIR/config.xml by hand).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/settlewatch/settlewatch/chtest"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: settlewatch-chserver start|stop|status|config [-dir DIR] [-tcp-port N] [-http-port N]")
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("settlewatch-chserver "+verb, flag.ContinueOnError)
	dir := fs.String("dir", ".run/clickhouse", "server directory: config, data, logs, pid file")
	tcpPort := fs.Int("tcp-port", 19000, "native protocol port on 127.0.0.1")
	httpPort := fs.Int("http-port", 18123, "HTTP port on 127.0.0.1")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*tcpPort))
	var err error
	switch verb {
	case "start":
		err = start(log, *dir, *tcpPort, *httpPort, addr)
	case "stop":
		err = chtest.StopDir(*dir)
		if err == nil {
			log.Info("clickhouse-server stopped", "dir", *dir)
		}
	case "status":
		return status(log, *dir, addr)
	case "config":
		if err = writeConfig(*dir, *tcpPort, *httpPort); err == nil {
			log.Info("clickhouse config written", "config", filepath.Join(*dir, "config.xml"))
		}
	default:
		usage()
		return 2
	}
	if err != nil {
		log.Error(verb+" failed", "error", err)
		return 1
	}
	return 0
}

func start(log *slog.Logger, dir string, tcpPort, httpPort int, addr string) error {
	pid, err := chtest.RunningPID(dir)
	if err != nil {
		return err
	}
	if pid != 0 {
		if err := chtest.Ping(context.Background(), addr); err != nil {
			return fmt.Errorf("clickhouse-server pid %d already runs from %s but does not answer on %s: %w", pid, dir, addr, err)
		}
		log.Info("clickhouse-server already running", "pid", pid, "addr", addr, "dir", dir)
		return nil
	}
	t0 := time.Now()
	srv, err := chtest.StartServer(dir, tcpPort, httpPort)
	if err != nil {
		return err
	}
	log.Info("clickhouse-server started", "pid", srv.PID(), "addr", srv.Addr(), "http_port", srv.HTTPPort,
		"dir", srv.Dir, "elapsed", time.Since(t0).Round(time.Millisecond))
	return nil
}

func writeConfig(dir string, tcpPort, httpPort int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	return chtest.WriteConfig(abs, tcpPort, httpPort)
}

func status(log *slog.Logger, dir, addr string) int {
	pid, err := chtest.RunningPID(dir)
	if err != nil {
		log.Error("status failed", "error", err)
		return 1
	}
	if pid == 0 {
		log.Info("clickhouse-server not running", "dir", dir)
		return 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := chtest.Ping(ctx, addr); err != nil {
		log.Error("clickhouse-server running but not answering", "pid", pid, "addr", addr, "error", errors.Unwrap(err))
		return 1
	}
	log.Info("clickhouse-server running", "pid", pid, "addr", addr, "dir", dir)
	return 0
}
