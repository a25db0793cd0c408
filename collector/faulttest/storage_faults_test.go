package faulttest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/deploy/chusers"
)

// The shipped ClickHouse users (deploy/README.md, ClickHouse users): the
// portable file and the 18.16 database overlay.
var shippedUsers = []string{
	filepath.Join("..", "..", "deploy", "compose", "clickhouse", "users.d", "settlewatch.xml"),
	filepath.Join("..", "..", "deploy", "compose", "clickhouse", "legacy", "settlewatch-databases.xml"),
}

const (
	schemaOwner   = "settlewatch"
	collectorUser = "settlewatch_collector"
)

// installUsers puts the shipped users files into a server directory and
// random passwords for the schema owner and the collector in this process's
// environment (the server started next inherits them). It returns the
// passwords by user.
func installUsers(t *testing.T, dir string) map[string]string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "users.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range shippedUsers {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "users.d", filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pw := map[string]string{}
	for user, env := range map[string]string{
		schemaOwner: "SETTLEWATCH_CH_PASSWORD", collectorUser: "SETTLEWATCH_COLLECTOR_CH_PASSWORD",
		"settlewatch_analytics": "SETTLEWATCH_ANALYTICS_CH_PASSWORD", "grafana": "GRAFANA_CH_PASSWORD",
	} {
		var rnd [12]byte
		_, _ = rand.Read(rnd[:])
		pw[user] = hex.EncodeToString(rnd[:])
		t.Setenv(env, pw[user])
	}
	return pw
}

// migrateAs applies the schema as user (the schema owner: the collector's
// user may not run DDL).
func migrateAs(t *testing.T, srv *chtest.Server, user, password string) {
	t.Helper()
	s := srv.Settings()
	s.Username, s.Password, s.Database = user, password, db
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := chconn.OpenNoDatabase(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	v, err := chconn.ServerVersion(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chschema.Migrate(ctx, conn, db, chschema.DialectFor(v, ""), nil); err != nil {
		t.Fatalf("migrate as %s: %v", user, err)
	}
}

// waitReadonly waits until a new connection as user gets readonly=want (the
// server reloads users files every few seconds) and returns how long it took.
func waitReadonly(t *testing.T, srv *chtest.Server, user, password, want string) time.Duration {
	t.Helper()
	s := srv.Settings()
	s.Username, s.Password, s.Database = user, password, db
	start := time.Now()
	for time.Since(start) < 30*time.Second {
		conn, err := chconn.Open(context.Background(), s)
		if err == nil {
			var v string
			err = conn.QueryRow(context.Background(), "SELECT value FROM system.settings WHERE name = 'readonly'").Scan(&v)
			_ = conn.Close()
			if err == nil && v == want {
				return time.Since(start)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("user %s: readonly did not become %s within 30 s of the users file change", user, want)
	return 0
}

// metricSum adds the values of a counter's series whose labels contain label.
func metricSum(metrics, name, label string) float64 {
	var sum float64
	for _, line := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// logLine returns the first line of the collector's log containing every
// one of parts, or "".
func (c *collector) logLine(t *testing.T, parts ...string) string {
	t.Helper()
	f, err := os.Open(c.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		for _, p := range parts {
			if !strings.Contains(sc.Text(), p) {
				continue next
			}
		}
		return sc.Text()
	}
	return ""
}

// alive fails t unless the collector process runs and reports healthy.
func (c *collector) alive(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the collector process is gone: %v", err)
	}
	if c.metricsText(t) == "" {
		t.Fatal("the collector serves no metrics")
	}
}

// faultWindow samples the collector's RSS and queue size for d.
func faultWindow(col *collector, d time.Duration) (maxRSS, maxQueue float64) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Second) {
		maxRSS = max(maxRSS, col.rssMiB())
		maxQueue = max(maxQueue, col.queueMiB())
	}
	return maxRSS, maxQueue
}

func waitSent(t *testing.T, sent <-chan error) {
	t.Helper()
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("client: %v", err)
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("client did not finish within 5 minutes")
	}
}

// checkAllStored waits until every span and transaction of the test is in
// ClickHouse and returns how long that took. loadgen's span ids repeat
// across seeds (its trace ids do not): spans are counted by both.
func checkAllStored(t *testing.T, conn driver.Conn, spans, txns int) time.Duration {
	t.Helper()
	took := waitCount(t, conn, "SELECT uniqExact(trace_id, span_id) FROM spans", uint64(spans), 5*time.Minute)
	if got := count(t, conn, "SELECT count() FROM spans FINAL"); got != uint64(spans) {
		t.Errorf("spans FINAL %d, want %d", got, spans)
	}
	waitCount(t, conn, "SELECT count() FROM "+chtest.Txns, uint64(txns), 2*time.Minute)
	if got := count(t, conn, "SELECT countIf(span_count = 5) FROM "+chtest.Txns); got != uint64(txns) {
		t.Errorf("%d of %d transactions saw all 5 spans", got, txns)
	}
	return took
}

// The collector's ClickHouse user becomes read-only under load (an operator
// changes its profile): inserts fail with a clear error, the data stays
// queued, and it all lands once the profile is restored. The collector runs
// as the least-privileged user of the shipped users file, without DDL.
func TestCollectorUserTurnedReadOnlyUnderLoad(t *testing.T) {
	var pw map[string]string
	srv := clickhouseWith(t, func(dir string) { pw = installUsers(t, dir) })
	migrateAs(t, srv, schemaOwner, pw[schemaOwner])
	userEnv := []string{"SETTLEWATCH_CH_USER=" + collectorUser, "SETTLEWATCH_CH_PASSWORD=" + pw[collectorUser],
		"SETTLEWATCH_CH_CREATE_SCHEMA=false"}
	col := newCollector(t, srv, db, userEnv...)
	conn := connect(t, srv, db)

	// The collector stores and assembles as its own user (no DDL needed).
	first, sent := sendInBackground(col.grpc, 2_000, 21)
	waitSent(t, sent)
	checkAllStored(t, conn, first, 2_000)

	const txns = 20_000
	users := filepath.Join(srv.Dir, "users.d", "settlewatch.xml")
	writable, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	readonly := chusers.SetProfile(writable, collectorUser, "readonly") // chtest's users.xml: readonly=1
	if string(readonly) == string(writable) {
		t.Fatal("no profile for the collector user in the users file")
	}
	if err := chusers.Rewrite(users, readonly); err != nil {
		t.Fatal(err)
	}
	reload := waitReadonly(t, srv, collectorUser, pw[collectorUser], "1")
	// A profile reaches new connections only (deploy/chusers): the pooled
	// ones keep writing until they close. Restart the collector, as a
	// rollout would, so that it connects afresh under the new profile.
	col.stop(t)
	col.start(t)
	// The load starts under the read-only profile, so that inserts are
	// refused whatever the machine's speed.
	second, sent := sendInBackground(col.grpc, txns, 22)
	down := outage(t)
	storedBefore := count(t, conn, "SELECT uniqExact(trace_id, span_id) FROM spans")
	maxRSS, maxQueue := faultWindow(col, down)
	col.alive(t)
	if got := count(t, conn, "SELECT uniqExact(trace_id, span_id) FROM spans"); got != storedBefore {
		t.Errorf("%d spans stored while the user was read-only (from %d)", got-storedBefore, storedBefore)
	}
	line := col.logLine(t, "ClickHouse insert failed", `"table":"spans"`, "readonly")
	if line == "" {
		b, _ := os.ReadFile(col.log)
		t.Errorf("no log line names the table and the read-only refusal:\n%s", tail(string(b), 10))
	}
	fails := metricSum(col.metricsText(t), "settlewatch_exporter_write_failures_total", `table="spans"`)
	if fails == 0 {
		t.Error("the refused inserts were not counted in settlewatch_exporter_write_failures_total")
	}
	if maxQueue == 0 {
		t.Error("nothing was queued on disk during the fault")
	}

	if err := chusers.Rewrite(users, writable); err != nil {
		t.Fatal(err)
	}
	fixed := time.Now()
	waitReadonly(t, srv, collectorUser, pw[collectorUser], "0")
	waitSent(t, sent)
	checkAllStored(t, conn, first+second, 2_000+txns)
	recovered := time.Since(fixed)
	if b, _ := os.ReadFile(col.log); strings.Contains(string(b), pw[collectorUser]) {
		t.Error("the collector logged its ClickHouse password")
	}
	t.Logf("read-only user: profile change seen by new connections after %s; %s of faults: %.0f failed inserts, RSS ≤ %.0f MiB, queue on disk ≤ %.1f MiB; "+
		"after the fix all %d spans and %d transactions stored in %s",
		reload.Round(100*time.Millisecond), down, fails, maxRSS, maxQueue, first+second, 2_000+txns, recovered.Round(time.Second))
	t.Logf("logged: %s", line)
}

// ClickHouse's disk fills up under load: inserts fail, the collector keeps
// the data queued and stays up; once space is freed everything lands. The
// data path is a small tmpfs of its own; mounting needs root.
func TestClickHouseDiskFullUnderLoad(t *testing.T) {
	var data string
	srv := clickhouseWith(t, func(dir string) {
		data = filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("tmpfs", data, "tmpfs", 0, "size=256m,mode=0755"); err != nil {
			t.Skipf("cannot mount a tmpfs for ClickHouse's data (needs root or CAP_SYS_ADMIN): %v", err)
		}
		t.Cleanup(func() { // after the server's Stop, registered later
			if err := syscall.Unmount(data, 0); err != nil {
				_ = syscall.Unmount(data, syscall.MNT_DETACH)
			}
		})
	})
	col := newCollector(t, srv, db)
	conn := connect(t, srv, db)
	first, sent := sendInBackground(col.grpc, 2_000, 31)
	waitSent(t, sent)
	checkAllStored(t, conn, first, 2_000)

	const txns = 20_000
	filler := filepath.Join(data, "filler")
	fill(t, filler)
	// The load starts on the full disk, so that inserts fail whatever the
	// machine's speed (a fast one finished it before the disk filled).
	second, sent := sendInBackground(col.grpc, txns, 32)
	down := outage(t)
	maxRSS, maxQueue := faultWindow(col, down)
	col.alive(t)
	pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := chtest.Ping(pctx, srv.Addr()); err != nil {
		t.Errorf("ClickHouse on a full disk does not answer: %v", err)
	}
	line := col.logLine(t, "ClickHouse insert failed", "No space left on device")
	if line == "" {
		b, _ := os.ReadFile(col.log)
		t.Errorf("no log line says an insert failed for lack of space:\n%s", tail(string(b), 10))
	}
	fails := metricSum(col.metricsText(t), "settlewatch_exporter_write_failures_total", `table="`)
	if fails == 0 {
		t.Error("the failed inserts were not counted in settlewatch_exporter_write_failures_total")
	}
	if maxQueue == 0 {
		t.Error("nothing was queued on disk during the fault")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	fixed := time.Now()
	waitSent(t, sent)
	checkAllStored(t, conn, first+second, 2_000+txns)
	recovered := time.Since(fixed)

	// Nothing the full disk broke shows only at the next start: restart
	// ClickHouse on the same data and count again.
	enospc := strings.Count(serverErrors(t, srv.Dir), "No space left on device")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted, err := chtest.StartServer(srv.Dir, srv.TCPPort, srv.HTTPPort)
	if err != nil {
		t.Fatalf("ClickHouse does not start again after the full disk: %v", err)
	}
	t.Cleanup(func() { _ = restarted.Stop() })
	conn = connect(t, restarted, db)
	if got := count(t, conn, "SELECT count() FROM spans FINAL"); got != uint64(first+second) {
		t.Errorf("after a restart spans FINAL %d, want %d", got, first+second)
	}
	if got := count(t, conn, "SELECT countIf(span_count = 5) FROM "+chtest.Txns); got != 2_000+txns {
		t.Errorf("after a restart %d complete transactions, want %d", got, 2_000+txns)
	}
	if detached := detachedParts(t, data); len(detached) > 0 {
		t.Errorf("ClickHouse detached parts after the full disk: %v", detached)
	}
	t.Logf("full disk: %s of faults: %.0f failed inserts, RSS ≤ %.0f MiB, queue on disk ≤ %.1f MiB; "+
		"after freeing space all %d spans and %d transactions stored in %s; ClickHouse logged %d ENOSPC errors, "+
		"kept serving reads, and restarted with every row and no detached part",
		down, fails, maxRSS, maxQueue, first+second, 2_000+txns, recovered.Round(time.Second), enospc)
	t.Logf("logged: %s", line)
}

// serverErrors is ClickHouse's error log.
func serverErrors(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "log", "clickhouse-server.err.log"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// fill writes path until the filesystem has no byte left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, size := range []int{1 << 20, 4 << 10, 1} {
		buf := make([]byte, size)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", path, err)
				}
				break
			}
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("filled ClickHouse's data filesystem: %d bytes free", st.Bavail*uint64(st.Bsize))
}

// detachedParts lists what ClickHouse moved to a table's detached/
// directory (parts it found broken).
func detachedParts(t *testing.T, data string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(data, "data", db)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && filepath.Base(filepath.Dir(p)) == "detached" {
			out = append(out, strings.TrimPrefix(p, root+string(filepath.Separator)))
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
