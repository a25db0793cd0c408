package chtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/chconn"
	"github.com/settlewatch/settlewatch/chschema"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewGivesEachTestItsOwnDatabase(t *testing.T) {
	var names []string
	for range 2 {
		t.Run("sub", func(t *testing.T) {
			db := New(t)
			names = append(names, db.Name)
			if n := db.Count(t, "SELECT count() FROM system.databases WHERE name = ?", db.Name); n != 1 {
				t.Fatalf("database %s not created", db.Name)
			}
			db.Exec(t, "CREATE TABLE t (x UInt8) ENGINE = Memory")
			if n := db.Count(t, "SELECT count() FROM system.tables WHERE database = currentDatabase()"); n != 1 {
				t.Errorf("connection is not on the test database: %d tables", n)
			}
		})
	}
	if names[0] == names[1] || !strings.HasPrefix(names[0], "t_testnewgiveseachtestitsown") {
		t.Errorf("names %v", names)
	}
	db := New(t)
	for _, name := range names {
		if n := db.Count(t, "SELECT count() FROM system.databases WHERE name = ?", name); n != 0 {
			t.Errorf("database %s left behind after its test", name)
		}
	}
}

func TestMigrated(t *testing.T) {
	db := Migrated(t)
	v, err := chschema.Status(t.Context(), db.Conn, db.Name)
	if err != nil || v != chschema.LatestVersion() {
		t.Errorf("Status = %d, %v", v, err)
	}
}

func TestDBNames(t *testing.T) {
	for _, in := range []string{"TestX/sub case#01", strings.Repeat("Long", 30), "Тест"} {
		got := dbName(in)
		if !identOK(got) || len(got) > 60 {
			t.Errorf("dbName(%q) = %q", in, got)
		}
	}
}

func identOK(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func TestWriteConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a&b")
	if err := WriteConfig(dir, 1234, 5678); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<tcp_port>1234</tcp_port>", "<http_port>5678</http_port>", "a&amp;b/data/</path>", "<listen_host>127.0.0.1</listen_host>", "<yandex>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config.xml lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "users.xml")); err != nil {
		t.Error(err)
	}
	if err := WriteConfig("relative/dir", 1, 2); err == nil {
		t.Error("relative directory accepted")
	}
}

// The path scripts take: start a server that outlives its starter, find it by
// its pid file, stop it from "another process" (StopDir).
func TestStartServerAndStopDir(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartServer(dir, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if err := Ping(t.Context(), srv.Addr()); err != nil {
		t.Fatal(err)
	}
	pid, err := RunningPID(dir)
	if err != nil || pid != srv.PID() {
		t.Fatalf("RunningPID = %d, %v; want %d", pid, err, srv.PID())
	}
	if err := StopDir(dir); err != nil {
		t.Fatal(err)
	}
	if pid, _ := RunningPID(dir); pid != 0 {
		t.Errorf("still running: pid %d", pid)
	}
	if err := Ping(context.Background(), srv.Addr()); err == nil {
		t.Error("server still answers after StopDir")
	}
	if err := StopDir(dir); err != nil {
		t.Errorf("StopDir with nothing running: %v", err)
	}
}

func TestStartServerReportsFailure(t *testing.T) {
	srv, err := StartServer(t.TempDir(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	// The port is taken, so the second server cannot start; the error must say why.
	_, err = StartServer(t.TempDir(), srv.TCPPort, 0)
	if err == nil {
		t.Fatal("second server on a taken port started")
	}
	if !strings.Contains(err.Error(), "exited during startup") {
		t.Errorf("error does not explain: %v", err)
	}
	t.Logf("%v", err)
}

// The test server merges every part column by column, as
// deploy/compose/clickhouse/legacy/settlewatch-merges.xml asks of 18.16
// servers: benchmarks run against this configuration.
func TestServerMergesVertically(t *testing.T) {
	db := New(t)
	if got := db.Lines(t, "SELECT value FROM system.merge_tree_settings WHERE name = 'vertical_merge_algorithm_min_rows_to_activate'"); got != "1" {
		t.Errorf("vertical_merge_algorithm_min_rows_to_activate = %q, want 1", got)
	}
}

// The test server runs a query on every core: 18.16 counts one physical core
// on some virtual machines, and benchmarks would then measure one core of two.
func TestServerUsesEveryCore(t *testing.T) {
	db := New(t)
	if got, want := db.Lines(t, "SELECT value FROM system.settings WHERE name = 'max_threads'"), strconv.Itoa(runtime.NumCPU()); got != want {
		t.Errorf("max_threads = %q, want %s (the machine's logical CPUs)", got, want)
	}
}

// A server started here gets AllocatorConf unless MALLOC_CONF is set, and
// with it the memory of a large query sits on transparent huge pages (where
// the kernel allows them).
func TestServerAllocatorConf(t *testing.T) {
	for _, c := range []struct {
		name, set, want string
	}{
		{"default", "-", AllocatorConf},
		{"operator's own", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.set != "-" {
				t.Setenv("MALLOC_CONF", c.set)
			} else if v, ok := os.LookupEnv("MALLOC_CONF"); ok {
				// t.Setenv restores it afterwards; unset it for this case.
				t.Setenv("MALLOC_CONF", v)
				os.Unsetenv("MALLOC_CONF")
			}
			srv, err := StartServer(t.TempDir(), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop()
			env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", srv.PID()))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, kv := range strings.Split(string(env), "\x00") {
				if v, ok := strings.CutPrefix(kv, "MALLOC_CONF="); ok {
					got = v
				}
			}
			if got != c.want {
				t.Fatalf("server's MALLOC_CONF = %q, want %q", got, c.want)
			}
			if c.want == "" {
				return
			}
			if thp, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil || strings.Contains(string(thp), "[never]") {
				t.Logf("the kernel gives no huge pages (%q, %v): the allocator's part not checked", thp, err)
				return
			}
			conn, err := chconn.Open(t.Context(), srv.Settings())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// 20M UInt64 in one array: 160 MB of fresh memory.
			if err := conn.Exec(t.Context(), "SELECT length(groupArray(number)) FROM numbers(20000000) FORMAT Null"); err != nil {
				t.Fatal(err)
			}
			smaps, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", srv.PID()))
			if err != nil {
				t.Fatal(err)
			}
			var kb int
			for _, line := range strings.Split(string(smaps), "\n") {
				if v, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
					kb, _ = strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				}
			}
			if kb == 0 {
				t.Errorf("no memory of the server on huge pages after a 160 MB query")
			}
			t.Logf("AnonHugePages %d kB", kb)
		})
	}
}
