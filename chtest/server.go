package chtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/settlewatch/settlewatch/chconn"
)

// InstallHint tells what to do when the server binary is missing.
const InstallHint = "install clickhouse-server: apt-get install -y clickhouse-server"

const (
	pidFile      = "clickhouse.pid"
	readyTimeout = 30 * time.Second
	stopTimeout  = 15 * time.Second
)

// Server is a clickhouse-server process rooted at Dir, listening on 127.0.0.1.
type Server struct {
	Dir      string
	TCPPort  int
	HTTPPort int

	id   string // value of the serverIDMacro in its config
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
}

// Addr is the native-protocol address.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.TCPPort)) }

// PID is the server's process id (also its process group id).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Settings connect to the server's "default" database as user default.
func (s *Server) Settings() chconn.Settings { return localSettings(s.Addr()) }

func localSettings(addr string) chconn.Settings {
	cs := chconn.DefaultSettings()
	cs.Addr = []string{addr}
	cs.Database = "default"
	cs.DialTimeout = 2 * time.Second
	return cs
}

// StartServer starts clickhouse-server with configuration rendered into dir
// (created if needed; data persists there between runs) and waits until it
// answers a ping. A port of 0 picks a free one. The server runs in its own
// process group and outlives the calling process unless Stop is called; its
// pid is written to dir/clickhouse.pid for StopDir.
func StartServer(dir string, tcpPort, httpPort int) (*Server, error) {
	return startServer(dir, tcpPort, httpPort, false)
}

// startServer with tied set asks the kernel to kill the server when this
// process dies, so an aborted test binary leaves no server behind.
func startServer(dir string, tcpPort, httpPort int, tied bool) (*Server, error) {
	bin, err := ServerBinary()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("start clickhouse: %w", err)
	}
	for _, p := range []*int{&tcpPort, &httpPort} {
		if *p == 0 {
			if *p, err = FreePort(); err != nil {
				return nil, fmt.Errorf("start clickhouse: %w", err)
			}
		}
	}
	id, err := writeConfig(dir, tcpPort, httpPort)
	if err != nil {
		return nil, err
	}
	out, err := os.OpenFile(filepath.Join(dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start clickhouse: %w", err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if tied {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start clickhouse-server: %w", err)
	}
	s := &Server{Dir: dir, TCPPort: tcpPort, HTTPPort: httpPort, id: id, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(s.PID())+"\n"), 0o644); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("start clickhouse: %w", err)
	}
	if err := s.waitReady(); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// AllocatorConf is the jemalloc configuration (MALLOC_CONF) of the servers
// started here: the allocator's memory on transparent huge pages, and pages
// it freed kept 30 s for reuse before they go back to the system. On the
// project's 2-vCPU virtual machine a page fault is dear (14 % of the
// server's CPU in faults during a backfill), and 18.16 touches fresh pages
// for every block it aggregates or merges: with this the hourly rollup of
// 1M transactions ran in 2.0-2.2 s instead of 3.9 s (docs/benchmarks.md,
// "One thread a query, and page faults"). Debian's 18.16 links the
// system's jemalloc, which reads MALLOC_CONF; other allocators ignore it.
const AllocatorConf = "thp:always,metadata_thp:auto,dirty_decay_ms:30000"

// serverEnv is the server's environment: this process's, with AllocatorConf
// unless MALLOC_CONF is set already (an operator's own, or empty for the
// allocator's defaults).
func serverEnv() []string {
	env := os.Environ()
	if _, ok := os.LookupEnv("MALLOC_CONF"); ok {
		return env
	}
	return append(env, "MALLOC_CONF="+AllocatorConf)
}

// ServerBinary finds clickhouse-server: in PATH, or where Debian installs it
// (/usr/sbin is not in every PATH).
func ServerBinary() (string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("clickhouse-server not found in PATH nor /usr/sbin; %s", InstallHint)
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("clickhouse-server exited during startup (%v): %s",
				s.cmd.ProcessState, logTail(s.Dir))
		default:
		}
		if last = s.pingOwn(); last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("clickhouse-server on %s not ready after %v: %w; %s", s.Addr(), readyTimeout, last, logTail(s.Dir))
}

// pingOwn succeeds only when the server answering on the port is this one: a
// port given by the caller may be held by another server, and this one will
// fail to bind it.
func (s *Server) pingOwn() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := chconn.Open(ctx, s.Settings())
	if err != nil {
		return err
	}
	defer conn.Close()
	var id string
	err = conn.QueryRow(ctx, "SELECT substitution FROM system.macros WHERE macro = ?", serverIDMacro).Scan(&id)
	if err == nil && id != s.id {
		err = fmt.Errorf("another server answers on %s (port taken?)", s.Addr())
	}
	return err
}

// Ping connects to addr's default database and pings it.
func Ping(ctx context.Context, addr string) error {
	conn, err := chconn.Open(ctx, localSettings(addr))
	if err != nil {
		return err
	}
	return conn.Close()
}

// Stop ends the server (SIGTERM to its process group, SIGKILL after 15 s) and
// waits for it to exit.
func (s *Server) Stop() error {
	defer os.Remove(filepath.Join(s.Dir, pidFile))
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = syscall.Kill(-s.PID(), syscall.SIGTERM)
	select {
	case <-s.done:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = syscall.Kill(-s.PID(), syscall.SIGKILL)
	<-s.done
	return nil
}

// RunningPID returns the pid recorded in dir by StartServer when that process
// is still a running clickhouse-server, else 0.
func RunningPID(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read clickhouse pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("clickhouse pid file %s: not a pid: %q", filepath.Join(dir, pidFile), b)
	}
	if !isClickHouse(pid) {
		return 0, nil
	}
	return pid, nil
}

// isClickHouse guards against a stale pid file whose pid now belongs to some
// other process: only a live clickhouse-server counts.
func isClickHouse(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		// Field 3 (after "(comm) ") is the state; Z is a zombie that has exited.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return bytes.Contains(cmdline, []byte("clickhouse"))
}

// StopDir stops the server that StartServer started in dir, possibly from
// another process, and removes its pid file. It is not an error if none runs.
func StopDir(dir string) error {
	pid, err := RunningPID(dir)
	if err != nil {
		return err
	}
	defer os.Remove(filepath.Join(dir, pidFile))
	if pid == 0 {
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for deadline := time.Now().Add(stopTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !isClickHouse(pid) {
			return nil
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !isClickHouse(pid) {
			return nil
		}
	}
	return fmt.Errorf("clickhouse-server pid %d did not exit", pid)
}

// FreePort finds a free TCP port on 127.0.0.1 for a server to listen on
// shortly after. It picks below Linux's ephemeral range (32768 and up by
// default): a port the kernel hands out for ":0" can be taken, before the
// server binds it, as the source port of any outgoing connection (tests make
// many), and a loaded run failed on "address already in use" that way.
func FreePort() (int, error) {
	for range 100 {
		p := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			l.Close()
			return p, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeAddr is FreePort as a loopback host:port.
func FreeAddr() (string, error) {
	p, err := FreePort()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

// logTail is the end of the server's error log, for startup failures.
func logTail(dir string) string {
	var parts []string
	for _, name := range []string{"clickhouse-server.err.log", "stdout.log"} {
		b, err := os.ReadFile(filepath.Join(dir, "log", name))
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		parts = append(parts, name+": "+strings.TrimSpace(string(b)))
	}
	if len(parts) == 0 {
		return "no server log output in " + filepath.Join(dir, "log")
	}
	return strings.Join(parts, "\n")
}
