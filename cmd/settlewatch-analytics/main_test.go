package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/settlewatch/settlewatch/analytics/jobs"
	"github.com/settlewatch/settlewatch/analytics/rollup"
	"github.com/settlewatch/settlewatch/analytics/synth"
	"github.com/settlewatch/settlewatch/chtest"
)

// The test binary doubles as the daemon: with envDaemon set it runs the
// daemon (args in envArgs, one per line) instead of the tests, so the tests
// can kill a real daemon process mid-job.
const (
	envDaemon  = "SETTLEWATCH_ANALYTICS_TEST_DAEMON"
	envArgs    = "SETTLEWATCH_ANALYTICS_TEST_ARGS"
	envHangAt  = "SETTLEWATCH_ANALYTICS_TEST_HANG_AT"  // hang in the Nth rollup window, after its 5-minute rows
	envHangDir = "SETTLEWATCH_ANALYTICS_TEST_HANG_DIR" // where to say so
)

func TestMain(m *testing.M) {
	if os.Getenv(envDaemon) == "" {
		chtest.Main(m)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var h hooks
	if at := os.Getenv(envHangAt); at != "" {
		var n atomic.Int32
		h.beforeHourRows = func() {
			if fmt.Sprint(n.Add(1)) == at {
				_ = os.WriteFile(filepath.Join(os.Getenv(envHangDir), "hanging"), nil, 0o644)
				select {} // until killed
			}
		}
	}
	os.Exit(run(ctx, strings.Split(os.Getenv(envArgs), "\n"), os.Stderr, h))
}

type daemon struct {
	cmd    *exec.Cmd
	stderr *syncBuf
	done   chan error
}

// syncBuf is a buffer the daemon's stderr copier and the test share.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startDaemon(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append(env, envDaemon+"=1", envArgs+"="+strings.Join(args, "\n"))...)
	d := &daemon{cmd: cmd, stderr: &syncBuf{}, done: make(chan error, 1)}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.done
	})
	return d
}

// waitUntil polls cond until it holds; the daemon works asynchronously. The
// limit only stops a broken test from hanging, it is not what is tested.
func waitUntil(t *testing.T, d *daemon, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("daemon exited (%v) while waiting for %s; stderr:\n%s", err, what, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; stderr:\n%s", what, d.stderr)
		}
	}
}

func freeAddr(t *testing.T) string {
	addr, err := chtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func snapshot(t *testing.T, db *chtest.DB) map[string]string {
	t.Helper()
	snap, err := synth.RollupSnapshot(context.Background(), db.Conn, db.Name)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

const rollupOnly = `
jobs:
  rollup:
    schedule: "@every 1h"
    max_hours_per_window: 2
    day_refresh: 1ns   # re-derive today's day rows in every run, to compare them too
  sweep: {enabled: false}
  incidents: {enabled: false}
  timeouts: {enabled: false}
`

// Killing the daemon in the middle of a rollup window (after its 5-minute
// rows, before its hour rows) and starting it again gives exactly the
// rollups of an uninterrupted run, equal to the ground truth.
func TestKillMidJobAndRestart(t *testing.T) {
	db := chtest.Migrated(t)
	ref := chtest.Migrated(t)
	now := time.Now().UTC()
	cfg := synth.Config{Seed: 5, From: now.Add(-14 * time.Hour).Truncate(time.Hour), To: now.Add(-2 * time.Hour).Truncate(time.Hour), PerHour: 1500, USDShare: 0.1}
	txns := synth.Generate(cfg)
	for _, d := range []*chtest.DB{db, ref} {
		if err := synth.Insert(t.Context(), d.Conn, d.Name, synth.Rows(txns), now); err != nil {
			t.Fatal(err)
		}
	}
	// The reference: one uninterrupted run.
	r := &jobs.Runner{Env: jobs.Env{Conn: ref.Conn, Session: ref.Session, DB: ref.Name, Log: chtest.Logger(t)}}
	if _, err := r.Backfill(t.Context(), &rollup.Job{}, cfg.From, cfg.To, nil); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, ref)

	dir := t.TempDir()
	config := filepath.Join(dir, "analytics.yaml")
	if err := os.WriteFile(config, []byte(rollupOnly), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-ch-addr", db.Settings.Addr[0], "-ch-database", db.Name, "-config", config, "-run-now", "-log-format", "json"}
	first := startDaemon(t, []string{envHangAt + "=3", envHangDir + "=" + dir}, append(args, "-metrics-addr", "")...)
	waitUntil(t, first, "the third window to hang", func() bool { _, err := os.Stat(filepath.Join(dir, "hanging")); return err == nil })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	first.done <- nil
	// Mid-job indeed: two windows ok, one started and never finished, hours missing.
	if n := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE status = 'ok'"); n != 2 {
		t.Errorf("%d ok windows before the kill, want 2", n)
	}
	if n := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE status = 'running'"); n != 1 {
		t.Errorf("%d windows left running by the kill, want 1", n)
	}
	if got := snapshot(t, db); maps.Equal(got, want) {
		t.Fatal("the kill left complete rollups: it did not happen mid-job")
	}

	metrics := freeAddr(t)
	second := startDaemon(t, nil, append(args, "-metrics-addr", metrics)...)
	waitUntil(t, second, "a complete scheduled run", func() bool {
		return db.Count(t, "SELECT count() FROM job_runs FINAL WHERE status = 'ok' AND watermark > toDateTime(0)") == 1
	})
	if got := snapshot(t, db); !maps.Equal(got, want) {
		t.Errorf("after the restart the rollups differ from an uninterrupted run: %d rows vs %d", len(got), len(want))
		shown := 0
		for k, v := range want {
			if got[k] != v && shown < 8 {
				t.Logf("differs %s: got %q want %q", k, got[k], v)
				shown++
			}
		}
	}
	// Its own metrics and structured logs.
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The restarted daemon's windows: every ok window but the first daemon's two.
	okWindows := db.Count(t, "SELECT count() FROM job_runs FINAL WHERE status = 'ok'") - 2
	for _, want := range []string{fmt.Sprintf(`settlewatch_analytics_windows_total{job="rollup",status="ok"} %d`, okWindows), `settlewatch_analytics_runs_total{job="rollup",result="ok"} 1`,
		"settlewatch_analytics_last_success_timestamp_seconds", "settlewatch_analytics_window_duration_seconds_bucket"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Graceful stop: SIGTERM, exit 0.
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-second.done; err != nil {
		t.Errorf("daemon exit after SIGTERM: %v\n%s", err, second.stderr)
	}
	second.done <- nil
	logs := second.stderr.String()
	for _, want := range []string{`"msg":"window done"`, `"job":"rollup"`, `"rows":`, `"msg":"analytics daemon stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

func TestBadInvocations(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("jobs:\n  rollup:\n    schedule: 'sometimes'\n"), 0o644)
	for _, args := range [][]string{
		{"-config", bad},
		{"-config", filepath.Join(dir, "missing.yaml")},
		{"-log-format", "xml"},
		{"-ch-database", "x; DROP"},
		{"stray"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, &stderr, hooks{}); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
	// A database without the analytics tables: a clear error, exit 1.
	db := chtest.New(t)
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"-ch-addr", db.Settings.Addr[0], "-ch-database", db.Name, "-metrics-addr", ""}, &stderr, hooks{}); code != 1 ||
		!strings.Contains(stderr.String(), "settlewatch migrate") {
		t.Errorf("unmigrated database: exit %d: %s", code, stderr.String())
	}
}
