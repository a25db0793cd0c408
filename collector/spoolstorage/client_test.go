package spoolstorage

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

var ctx = context.Background()

func open(t *testing.T, dir string) *client {
	t.Helper()
	c, err := openClient(dir, false, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	return c
}

func mustGet(t *testing.T, c storage.Client, key string) []byte {
	t.Helper()
	v, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return v
}

// files lists the directory's files other than the lock.
func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if e.Name() != lockName {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestSetGetDelete(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	keys := []string{"qmv0", "0", "123", "a/b", "../up", "", "ключ"}
	for i, k := range keys {
		if err := c.Set(ctx, k, []byte(strings.Repeat("v", i+1))); err != nil {
			t.Fatalf("set %q: %v", k, err)
		}
	}
	for i, k := range keys {
		if got := mustGet(t, c, k); string(got) != strings.Repeat("v", i+1) {
			t.Errorf("get %q = %q", k, got)
		}
	}
	if got := mustGet(t, c, "absent"); got != nil {
		t.Errorf("an absent key gave %q, want nil", got)
	}
	if err := c.Set(ctx, "123", []byte("new")); err != nil || string(mustGet(t, c, "123")) != "new" {
		t.Errorf("overwrite: %v %q", err, mustGet(t, c, "123"))
	}
	for _, k := range append(keys, "absent") {
		if err := c.Delete(ctx, k); err != nil {
			t.Fatalf("delete %q: %v", k, err)
		}
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("files left after deleting every key: %v", got)
	}
	// Values survive the client: a new one over the directory reads them.
	if err := c.Set(ctx, "kept", []byte("value")); err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	if err := c.Set(ctx, "x", nil); !errors.Is(err, errClosed) {
		t.Errorf("set after close: %v", err)
	}
	if got := mustGet(t, open(t, dir), "kept"); string(got) != "value" {
		t.Errorf("after reopening: %q", got)
	}
}

// The queue's own shapes: (meta, new item), (meta, get item), (meta, delete
// item); a Get sees the batch's earlier writes.
func TestBatchInOrder(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	if err := c.Batch(ctx, storage.SetOperation("qmv0", []byte("w1")), storage.SetOperation("0", []byte("request 0"))); err != nil {
		t.Fatal(err)
	}
	get := storage.GetOperation("0")
	if err := c.Batch(ctx, storage.SetOperation("qmv0", []byte("r1")), get); err != nil || string(get.Value) != "request 0" {
		t.Fatalf("get in a batch: %v %q", err, get.Value)
	}
	g1, g2, g3 := storage.GetOperation("k"), storage.GetOperation("k"), storage.GetOperation("0")
	if err := c.Batch(ctx, storage.SetOperation("k", []byte("a")), g1, storage.DeleteOperation("k"), g2,
		storage.DeleteOperation("0"), g3, storage.SetOperation("k", []byte("b"))); err != nil {
		t.Fatal(err)
	}
	if string(g1.Value) != "a" || g2.Value != nil || g3.Value != nil {
		t.Errorf("gets in the batch saw %q %q %q, want a, nil, nil", g1.Value, g2.Value, g3.Value)
	}
	if string(mustGet(t, c, "k")) != "b" || mustGet(t, c, "0") != nil || string(mustGet(t, c, "qmv0")) != "r1" {
		t.Errorf("after the batch: k=%q 0=%q qmv0=%q", mustGet(t, c, "k"), mustGet(t, c, "0"), mustGet(t, c, "qmv0"))
	}
	if got := files(t, dir); len(got) != 2 { // k and qmv0; no journal or temporary file
		t.Errorf("files after the batches: %v", got)
	}
	if err := c.Batch(ctx, &storage.Operation{Key: "x", Type: storage.OpType(9)}); err == nil || !strings.Contains(err.Error(), "unknown type") {
		t.Errorf("unknown operation: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Set(cancelled, "x", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// crashAt leaves the directory as a batch setting a, b and deleting gone
// would after a crash at the given point.
func crashAt(t *testing.T, dir, point string) {
	t.Helper()
	c := open(t, dir)
	for _, k := range []string{"a", "gone"} {
		if err := c.Set(ctx, k, []byte("old "+k)); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close(ctx)
	write := func(name, v string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	key := func(k string) string { return keyPrefix + hex.EncodeToString([]byte(k)) }
	write("t-1", "new a")
	write("t-2", "new b")
	journal := "S " + key("a") + " t-1\nS " + key("b") + " t-2\nD " + key("gone") + "\n"
	switch point {
	case "before the journal":
		write(journalTmp, journal) // written, never renamed
	case "torn journal":
		write(journalName, journal) // no END line
	case "after the commit":
		write(journalName, journal+journalEnd+"\n")
	case "half applied":
		write(journalName, journal+journalEnd+"\n")
		if err := os.Rename(filepath.Join(dir, "t-1"), filepath.Join(dir, key("a"))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecoveryAfterACrash(t *testing.T) {
	for _, tc := range []struct {
		point        string
		a, b, gone   string // values after reopening; "" absent
		wantErrorLog bool
	}{
		{point: "before the journal", a: "old a", gone: "old gone"},
		{point: "torn journal", a: "old a", gone: "old gone", wantErrorLog: true},
		{point: "after the commit", a: "new a", b: "new b"},
		{point: "half applied", a: "new a", b: "new b"},
	} {
		t.Run(tc.point, func(t *testing.T) {
			dir := t.TempDir()
			crashAt(t, dir, tc.point)
			core, logs := observer.New(zap.InfoLevel)
			c, err := openClient(dir, true, zap.New(core))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			for k, want := range map[string]string{"a": tc.a, "b": tc.b, "gone": tc.gone} {
				if got := mustGet(t, c, k); string(got) != want || (want == "") != (got == nil) {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for _, f := range files(t, dir) {
				if !strings.HasPrefix(f, keyPrefix) {
					t.Errorf("%s left after recovery", f)
				}
			}
			torn := logs.FilterMessage("Discarding a torn journal: the batch it held is lost").Len()
			if (torn == 1) != tc.wantErrorLog {
				t.Errorf("%d error logs of a torn journal, want %t", torn, tc.wantErrorLog)
			}
		})
	}
}

func TestOneCollectorPerDirectory(t *testing.T) {
	dir := t.TempDir()
	first := open(t, dir)
	if _, err := openClient(dir, false, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "another collector") {
		t.Fatalf("second client over the same directory: %v", err)
	}
	_ = first.Close(ctx)
	open(t, dir)

	ext, err := NewFactory().Create(ctx, extensiontest.NewNopSettings(componentType), &Config{Directory: t.TempDir(), CreateDirectory: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ext.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	s := ext.(storage.Extension)
	id := component.MustNewIDWithName("settlewatch_clickhouse", "a/b")
	c1, err := s.GetClient(ctx, component.KindExporter, id, "traces")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetClient(ctx, component.KindExporter, id, "traces"); err == nil || !strings.Contains(err.Error(), "already open") {
		t.Errorf("the same component twice: %v", err)
	}
	c2, err := s.GetClient(ctx, component.KindExporter, id, "logs")
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.Set(ctx, "k", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if v := mustGet(t, c2, "k"); v != nil {
		t.Errorf("another storage name sees %q", v)
	}
	dirs, _ := os.ReadDir(ext.(*spool).cfg.Directory)
	var names []string
	for _, d := range dirs {
		names = append(names, d.Name())
	}
	if want := []string{"exporter_settlewatch_clickhouse_a~b_logs", "exporter_settlewatch_clickhouse_a~b_traces"}; !slices.Equal(names, want) {
		t.Errorf("client directories %v, want %v", names, want)
	}
	_ = c1.Close(ctx)
	if _, err := s.GetClient(ctx, component.KindExporter, id, "traces"); err != nil {
		t.Errorf("reopening after close: %v", err)
	}
}

// A full disk is the storage API's ErrStorageFull (root: a 64 KiB tmpfs).
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	c := open(t, dir)
	err := c.Set(ctx, "big", bytes.Repeat([]byte("x"), 256<<10))
	if !errors.Is(err, storage.ErrStorageFull) {
		t.Fatalf("set beyond the disk: %v, want ErrStorageFull", err)
	}
	if v := mustGet(t, c, "big"); v != nil {
		t.Errorf("a failed set left %d bytes", len(v))
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("a failed set left files %v", got)
	}
	if err := c.Set(ctx, "small", []byte("fits")); err != nil || string(mustGet(t, c, "small")) != "fits" {
		t.Errorf("after the failure: %v", err)
	}
}

func TestKeys(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	for _, k := range []string{"qmv0", "7", "a/b"} {
		if err := c.Set(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(ctx, "7"); err != nil {
		t.Fatal(err)
	}
	keys, err := Keys(dir)
	slices.Sort(keys)
	if err != nil || !slices.Equal(keys, []string{"a/b", "qmv0"}) {
		t.Fatalf("keys %q, %v", keys, err)
	}
	if err := os.WriteFile(filepath.Join(dir, keyPrefix+"zz"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Keys(dir); err == nil || !strings.Contains(err.Error(), "not a key's file") {
		t.Errorf("a stray file: %v", err)
	}
}

// BenchmarkQueuedRequest is one request's way through the persistent queue:
// stored with the write index, read with the read index, deleted with the
// list of dispatched items (the three batches of the collector's
// persistentQueue, two changes each), a request of 256 KiB; without and
// with fsync.
func BenchmarkQueuedRequest(b *testing.B) {
	for _, fsync := range []bool{false, true} {
		b.Run("fsync="+strconv.FormatBool(fsync), func(b *testing.B) { benchmarkQueuedRequest(b, fsync) })
	}
}

func benchmarkQueuedRequest(b *testing.B, fsync bool) {
	c, err := openClient(b.TempDir(), fsync, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(ctx) })
	request := []byte(strings.Repeat("r", 256<<10))
	index := []byte("12345678")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := strconv.Itoa(i)
		i++
		get := storage.GetOperation(key)
		for _, ops := range [][]*storage.Operation{
			{storage.SetOperation("wi", index), storage.SetOperation(key, request)},
			{storage.SetOperation("ri", index), get},
			{storage.SetOperation("di", index), storage.DeleteOperation(key)},
		} {
			if err := c.Batch(ctx, ops...); err != nil {
				b.Fatal(err)
			}
		}
		if len(get.Value) != len(request) {
			b.Fatalf("read %d bytes of %d", len(get.Value), len(request))
		}
	}
}
