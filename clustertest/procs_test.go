package clustertest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chtest"
)

// Bounds of every wait on a process.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// proc is a child process in its own process group that the kernel kills
// when the test binary dies (so an aborted run leaves nothing behind).
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(dir, logName string, name string, args ...string) (*proc, error) {
	out, err := os.OpenFile(filepath.Join(dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, SIGKILL after stopTimeout.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(stopTimeout):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := chtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ZooKeeper from Debian's zookeeper package, standalone, on a loopback port of
// its own with its data in a private directory.

const zkJar = "/usr/share/java/zookeeper.jar"

type zookeeper struct {
	port int
	p    *proc
}

func (z *zookeeper) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port)) }

func startZooKeeper(t *testing.T) *zookeeper {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found: install Debian's zookeeper package (deploy/clickhouse-cluster/test.sh does): %v", err)
	}
	if _, err := os.Stat(zkJar); err != nil {
		t.Fatalf("%s missing: apt-get install zookeeper (deploy/clickhouse-cluster/test.sh does): %v", zkJar, err)
	}
	dir := t.TempDir()
	z := &zookeeper{port: freePort(t)}
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=srvr\n", filepath.Join(dir, "data"), z.port)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The jar's manifest names its dependencies; slf4j without a binding
	// logs nothing, which is what a test wants.
	z.p, err = startProc(dir, "zookeeper.log", java, "-Xmx256m", "-Dzookeeper.admin.enableServer=false",
		"-cp", zkJar, "org.apache.zookeeper.server.ZooKeeperServerMain", filepath.Join(dir, "zoo.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(z.p.stop)
	deadline := time.Now().Add(startTimeout)
	for {
		if z.p.exited() {
			b, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
			t.Fatalf("zookeeper exited during start-up: %s", tail(b))
		}
		if ok := z.serving(); ok {
			return z
		}
		if time.Now().After(deadline) {
			t.Fatalf("zookeeper on %s not ready after %v", z.addr(), startTimeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serving asks ZooKeeper for its status ("srvr"). Its "ruok" answers "imok"
// before the server takes sessions, and a ClickHouse 18.16 whose first
// ZooKeeper handshake failed crashes (SIGSEGV) on its next ON CLUSTER query.
func (z *zookeeper) serving() bool {
	c, err := net.DialTimeout("tcp", z.addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "Zookeeper version")
}

// A ClickHouse replica: chtest's configuration (loopback, private directory)
// plus the shipped cluster files from deploy/clickhouse-cluster with the
// example host names and ports replaced by this machine's.

const shipped = "../deploy/clickhouse-cluster"

type replica struct {
	name                   string // clickhouse-1, clickhouse-2: the shipped macros file
	dir                    string
	tcp, http, interserver int
	p                      *proc
}

func (r *replica) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.tcp)) }

// clusterFiles renders the shipped files for loopback: each replacement must
// match exactly as often as expected, so a change of the shipped files that
// the test no longer understands fails here instead of testing something else.
func clusterFiles(t *testing.T, all []*replica, me *replica, zk *zookeeper) map[string]string {
	t.Helper()
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(shipped, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	replace := func(file, s string, re *regexp.Regexp, want int, repl func(m []string) string) string {
		n := 0
		out := re.ReplaceAllStringFunc(s, func(m string) string {
			n++
			return repl(re.FindStringSubmatch(m))
		})
		if n != want {
			t.Fatalf("%s: %s matched %d times, want %d (shipped file changed?)", file, re, n, want)
		}
		return out
	}
	cluster := read("config.d/cluster.xml")
	cluster = replace("cluster.xml", cluster, regexp.MustCompile(`<host>clickhouse-(\d)</host>(\s*)<port>9000</port>`), len(all),
		func(m []string) string {
			i, _ := strconv.Atoi(m[1])
			return "<host>127.0.0.1</host>" + m[2] + "<port>" + strconv.Itoa(all[i-1].tcp) + "</port>"
		})
	cluster = replace("cluster.xml", cluster, regexp.MustCompile(`<host>zookeeper</host>(\s*)<port>2181</port>`), 1,
		func(m []string) string {
			return "<host>127.0.0.1</host>" + m[1] + "<port>" + strconv.Itoa(zk.port) + "</port>"
		})
	cluster = replace("cluster.xml", cluster, regexp.MustCompile(`<interserver_http_port>9009</interserver_http_port>`), 1,
		func([]string) string {
			return "<interserver_http_port>" + strconv.Itoa(me.interserver) + "</interserver_http_port>"
		})
	macros := read("replicas/" + me.name + ".xml")
	macros = replace(me.name+".xml", macros, regexp.MustCompile(`<interserver_http_host>`+me.name+`</interserver_http_host>`), 1,
		func([]string) string { return "<interserver_http_host>127.0.0.1</interserver_http_host>" })
	return map[string]string{
		"config.d/cluster.xml":            cluster,
		"config.d/macros.xml":             macros,
		"users.d/settlewatch-cluster.xml": read("users.d/settlewatch-cluster.xml"),
	}
}

func newReplicas(t *testing.T, zk *zookeeper, names ...string) []*replica {
	t.Helper()
	var all []*replica
	for _, n := range names {
		all = append(all, &replica{name: n, dir: filepath.Join(t.TempDir(), n),
			tcp: freePort(t), http: freePort(t), interserver: freePort(t)})
	}
	for _, r := range all {
		if err := chtest.WriteConfig(r.dir, r.tcp, r.http); err != nil {
			t.Fatal(err)
		}
		for p, content := range clusterFiles(t, all, r, zk) {
			path := filepath.Join(r.dir, p)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r.start(t)
		t.Cleanup(func() {
			r.p.stop()
			if t.Failed() {
				b, _ := os.ReadFile(filepath.Join(r.dir, "log", "clickhouse-server.err.log"))
				t.Logf("%s error log: %s", r.name, tail(b))
			}
		})
	}
	return all
}

// start runs clickhouse-server on r's directory and waits until it answers
// as itself (its replica macro), so another server on the port cannot fool it.
func (r *replica) start(t *testing.T) {
	t.Helper()
	bin, err := chtest.ServerBinary()
	if err != nil {
		t.Fatal(err)
	}
	r.p, err = startProc(filepath.Join(r.dir, "log"), "stdout.log", bin, "--config-file="+filepath.Join(r.dir, "config.xml"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(startTimeout)
	var last error
	for {
		if r.p.exited() {
			b, _ := os.ReadFile(filepath.Join(r.dir, "log", "clickhouse-server.err.log"))
			t.Fatalf("%s exited during start-up: %s", r.name, tail(b))
		}
		if last = r.ping(); last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s not ready after %v: %v", r.name, r.addr(), startTimeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (r *replica) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := chconn.Open(ctx, r.settings("default"))
	if err != nil {
		return err
	}
	defer conn.Close()
	var name string
	if err := conn.QueryRow(ctx, "SELECT substitution FROM system.macros WHERE macro = 'replica'").Scan(&name); err != nil {
		return err
	}
	if name != r.name {
		return fmt.Errorf("%s answers on %s, want %s", name, r.addr(), r.name)
	}
	// Ready means connected to ZooKeeper too: replication and ON CLUSTER need it.
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n); err != nil {
		return fmt.Errorf("%s: zookeeper: %w", r.name, err)
	}
	return nil
}

func (r *replica) settings(db string) chconn.Settings {
	s := chconn.DefaultSettings()
	s.Addr = []string{r.addr()}
	s.Database = db
	s.DialTimeout = 2 * time.Second
	return s
}

// open connects to db on r for the rest of the test.
func (r *replica) open(t *testing.T, db string) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := chconn.Open(ctx, r.settings(db))
	if err != nil {
		t.Fatalf("connect to %s: %v", r.name, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return strings.TrimSpace(string(b))
}
