package faulttest

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/collector/spoolstorage"
)

var collectorBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "settlewatch-faulttest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	collectorBin = filepath.Join(dir, "settlewatch-collector")
	build := exec.Command("go", "build", "-o", collectorBin, "../cmd/settlewatch-collector")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build collector:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// clickhouse starts a private server the test may stop and restart.
func clickhouse(t *testing.T) *chtest.Server { return clickhouseWith(t, nil) }

// clickhouseWith calls prepare with the server's directory before starting
// it (to install users files, or put its data on a filesystem of its own).
func clickhouseWith(t *testing.T, prepare func(dir string)) *chtest.Server {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ch")
	if prepare != nil {
		prepare(dir)
	}
	srv, err := chtest.StartServer(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func connect(t *testing.T, srv *chtest.Server, db string) driver.Conn {
	t.Helper()
	s := srv.Settings()
	s.Database = db
	var conn driver.Conn
	var err error
	for i := 0; i < 100; i++ {
		if conn, err = chconn.Open(context.Background(), s); err == nil {
			t.Cleanup(func() { conn.Close() })
			return conn
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("connect: %v", err)
	return nil
}

// count runs a count query, retrying while the server is coming back.
func count(t *testing.T, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	var err error
	for i := 0; i < 50; i++ {
		if err = conn.QueryRow(context.Background(), q).Scan(&n); err == nil {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v", q, err)
	return 0
}

// collector is the real collector binary with the shipped config.
type collector struct {
	cmd                          *exec.Cmd
	grpc, health, metrics, queue string
	env                          []string
	log                          string
}

// newCollector starts the collector on srv's database db; env adds or
// overrides environment variables (NAME=value).
func newCollector(t *testing.T, srv *chtest.Server, db string, env ...string) *collector {
	t.Helper()
	port := func() string {
		p, err := chtest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		return strconv.Itoa(p)
	}
	c := &collector{grpc: "127.0.0.1:" + port(), health: "127.0.0.1:" + port(), metrics: port(),
		queue: filepath.Join(t.TempDir(), "queue"), log: filepath.Join(t.TempDir(), "collector.log")}
	c.env = append(os.Environ(),
		"SETTLEWATCH_CH_ADDR="+srv.Addr(), "SETTLEWATCH_CH_DATABASE="+db,
		"SETTLEWATCH_OTLP_GRPC_ENDPOINT="+c.grpc, "SETTLEWATCH_OTLP_HTTP_ENDPOINT=127.0.0.1:"+port(),
		"SETTLEWATCH_HEALTH_ENDPOINT="+c.health, "SETTLEWATCH_METRICS_PORT="+c.metrics,
		"SETTLEWATCH_QUEUE_DIR="+c.queue, "SETTLEWATCH_LOG_LEVEL=warn")
	c.env = append(c.env, env...) // the last value of a name wins
	c.start(t)
	t.Cleanup(func() {
		if c.cmd != nil && c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
			_, _ = c.cmd.Process.Wait()
		}
		if t.Failed() {
			if b, err := os.ReadFile(c.log); err == nil {
				t.Logf("collector log (tail):\n%s", tail(string(b), 30))
			}
		}
	})
	return c
}

func (c *collector) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	c.cmd = exec.Command(collectorBin, "--config", "../config.yaml")
	c.cmd.Env = c.env
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if resp, err := http.Get("http://" + c.health + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("collector not healthy after 30s")
}

// stop sends SIGTERM and waits for the collector to exit; its persistent
// queue keeps what it had not stored.
func (c *collector) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stuck := time.AfterFunc(time.Minute, func() { _ = c.cmd.Process.Kill() })
	_, _ = c.cmd.Process.Wait()
	if !stuck.Stop() {
		t.Error("the collector did not exit within a minute of SIGTERM (killed)")
	}
}

// kill sends SIGKILL: no shutdown, no flush.
func (c *collector) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = c.cmd.Process.Wait()
}

// killWhileQueued kills the collector with SIGKILL as soon as its persistent
// queue holds at least min requests (polled), or fails after within.
func (c *collector) killWhileQueued(t *testing.T, min int, within time.Duration) {
	t.Helper()
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if c.queuedRequests(t) >= min {
			c.kill(t)
			return
		}
	}
	t.Fatalf("the persistent queue never held %d requests within %s", min, within)
}

// rssMiB reads the collector's resident memory.
func (c *collector) rssMiB() float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(sc.Text())[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// queueMiB is the size of the persistent queue on disk.
func (c *collector) queueMiB() float64 {
	var total int64
	_ = filepath.WalkDir(c.queue, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return float64(total) / (1 << 20)
}

// queuedRequests counts the requests the persistent queue holds on disk:
// the keys settlewatch_spool stores in its client directories, other than
// the queue's metadata key (qmv0).
func (c *collector) queuedRequests(t *testing.T) int {
	t.Helper()
	dirs, err := os.ReadDir(c.queue)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		keys, err := spoolstorage.Keys(filepath.Join(c.queue, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k != "qmv0" {
				n++
			}
		}
	}
	return n
}

func (c *collector) metricsText(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + c.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitCount polls until q returns want or the deadline passes; it returns
// how long it took.
func waitCount(t *testing.T, conn driver.Conn, q string, want uint64, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var got uint64
	for time.Since(start) < limit {
		if got = count(t, conn, q); got == want {
			return time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: %d after %s, want %d", q, got, limit, want)
	return 0
}
