package spoolstorage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// large is a value above inlineMax: it gets a file of its own.
func large(s string) []byte { return []byte(s + strings.Repeat(".", inlineMax)) }

// A queued request goes into a file; the metadata the queue rewrites on
// every batch stays in the log and in memory.
func TestSmallValuesInTheLogLargeInFiles(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	m1 := []byte("m1")
	if err := c.Batch(ctx, storage.SetOperation("meta", m1), storage.SetOperation("item", large("r1")),
		storage.SetOperation("empty", []byte{})); err != nil {
		t.Fatal(err)
	}
	m1[0] = 'x' // the caller's buffer is its own again
	if got := files(t, dir); !slices.Equal(got, []string{keyFile("item")}) {
		t.Errorf("files %v, want only the large value's", got)
	}
	if got := mustGet(t, c, "meta"); string(got) != "m1" {
		t.Errorf("meta = %q", got)
	}
	_ = c.Close(ctx)
	c = open(t, dir)
	if got := mustGet(t, c, "meta"); string(got) != "m1" {
		t.Errorf("meta after reopening = %q", got)
	}
	if got := mustGet(t, c, "item"); !bytes.Equal(got, large("r1")) {
		t.Errorf("item after reopening: %d bytes", len(got))
	}
	if got := mustGet(t, c, "empty"); got == nil || len(got) != 0 {
		t.Errorf("an empty value after reopening: %v (nil: %t), want set and empty", got, got == nil)
	}
}

// A key that turns from large to small and back ends with its last value,
// however often the log that holds the steps is replayed.
func TestKeyBetweenSmallAndLarge(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		value []byte // nil deletes
		file  bool   // the key's file exists after the step
	}{
		{large("v1"), true},
		{[]byte("v2"), false},
		{large("v3"), true},
		{nil, false},
		{[]byte("v5"), false},
		{large("v6"), true},
	}
	c := open(t, dir)
	for i, st := range steps {
		var err error
		if st.value == nil {
			err = c.Delete(ctx, "k")
		} else {
			err = c.Set(ctx, "k", st.value)
		}
		if err != nil {
			t.Fatal(err)
		}
		// Then reopened: that replays every record since the last snapshot,
		// each step's own, and, on a second reopening, the snapshot's.
		for j := range 3 {
			if j > 0 {
				_ = c.Close(ctx)
				c = open(t, dir)
			}
			if got := mustGet(t, c, "k"); !bytes.Equal(got, st.value) || (got == nil) != (st.value == nil) {
				t.Fatalf("step %d, reopened %d times: %d bytes, want %d", i, j, len(got), len(st.value))
			}
			_, err := os.Stat(filepath.Join(dir, keyFile("k")))
			if (err == nil) != st.file {
				t.Errorf("step %d, reopened %d times: the key's file exists: %t, want %t", i, j, err == nil, st.file)
			}
		}
	}
}

// appendByHand appends a record to dir's log as a collector would have
// before a crash.
func appendByHand(t *testing.T, dir string, rec []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(rec); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryAfterACrash(t *testing.T) {
	for _, tc := range []struct {
		point        string
		a, big, gone string // values after reopening; "" absent
		wantErrorLog bool
	}{
		{point: "before the commit", a: "old a", big: "old big", gone: "old gone"},
		{point: "torn record", a: "old a", big: "old big", gone: "old gone", wantErrorLog: true},
		{point: "after the commit", a: "new a", big: "new big"},
		{point: "half applied", a: "new a", big: "new big"},
	} {
		t.Run(tc.point, func(t *testing.T) {
			dir := t.TempDir()
			c := open(t, dir)
			if err := c.Batch(ctx, storage.SetOperation("a", []byte("old a")), storage.SetOperation("big", large("old big")),
				storage.SetOperation("gone", large("old gone"))); err != nil {
				t.Fatal(err)
			}
			_ = c.Close(ctx)
			if err := os.WriteFile(filepath.Join(dir, tmpName(7)), large("new big"), 0o600); err != nil {
				t.Fatal(err)
			}
			rec := appendRecord(nil, []change{
				{key: keyFile("a"), inline: true, value: []byte("new a")},
				{key: keyFile("big"), tmp: tmpName(7), seq: 7},
				{key: keyFile("gone")},
			})
			switch tc.point {
			case "torn record":
				appendByHand(t, dir, rec[:len(rec)-3])
			case "after the commit":
				appendByHand(t, dir, rec)
			case "half applied":
				appendByHand(t, dir, rec)
				if err := os.Rename(filepath.Join(dir, tmpName(7)), filepath.Join(dir, keyFile("big"))); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]string{"a": tc.a}
			for k, v := range map[string]string{"big": tc.big, "gone": tc.gone} {
				if v != "" {
					want[k] = string(large(v))
				} else {
					want[k] = ""
				}
			}
			reopenAfterCrash(t, dir, want, "Discarding the torn last record of the queue's log: the batch it held is lost", tc.wantErrorLog)
		})
	}
}

// The log is rewritten to a snapshot of the small values once it passes
// compactAt, and what it held survives.
func TestLogCompaction(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	value := []byte(strings.Repeat("m", 100))
	n := 3 * compactAt / len(value)
	for i := range n {
		if err := c.Batch(ctx, storage.SetOperation("meta", strconv.AppendInt(value[:90:90], int64(i), 10)),
			storage.SetOperation("i"+strconv.Itoa(i%7), []byte{byte(i)})); err != nil {
			t.Fatal(err)
		}
	}
	st, err := os.Stat(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > compactAt+512 {
		t.Errorf("log of %d bytes after %d batches, want it rewritten at %d", st.Size(), n, compactAt)
	}
	_ = c.Close(ctx)
	c = open(t, dir)
	if got, want := string(mustGet(t, c, "meta")), string(value[:90])+strconv.Itoa(n-1); got != want {
		t.Errorf("meta = %q, want %q", got, want)
	}
	for j := range 7 {
		last := n - 1 - (n-1-j)%7 // the last i with i%7 == j
		if got := mustGet(t, c, "i"+strconv.Itoa(j)); !bytes.Equal(got, []byte{byte(last)}) {
			t.Errorf("i%d = %v, want %d", j, got, byte(last))
		}
	}
	keys, err := Keys(dir)
	slices.Sort(keys)
	if want := []string{"i0", "i1", "i2", "i3", "i4", "i5", "i6", "meta"}; err != nil || !slices.Equal(keys, want) {
		t.Errorf("keys %q (%v), want %q", keys, err, want)
	}
}

// A record that does not fit on the disk fails the batch with
// ErrStorageFull and is cut off the log, so the batches after it, and a
// reopening, are whole (root: a 64 KiB tmpfs).
func TestFullDiskMidLog(t *testing.T) {
	dir := smallDisk(t)
	c := open(t, dir)
	if err := c.Set(ctx, "meta", []byte("before")); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 1024)); err != nil {
			break
		}
	}
	_ = f.Close()
	// Fill what is left of the page the log ends in, then one value more.
	var setErr error
	for i := 0; setErr == nil && i < 1000; i++ {
		setErr = c.Set(ctx, "meta", []byte("during "+strings.Repeat("x", 900)+strconv.Itoa(i)))
	}
	if !errors.Is(setErr, storage.ErrStorageFull) {
		t.Fatalf("set beyond the disk: %v, want ErrStorageFull", setErr)
	}
	last := string(mustGet(t, c, "meta"))
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "other", []byte("after")); err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	core, logs := observer.New(zap.InfoLevel)
	c, err = openClient(dir, false, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if got := string(mustGet(t, c, "meta")); got != last {
		t.Errorf("meta after reopening = %.12q…, want the last value that fitted, %.12q…", got, last)
	}
	if got := string(mustGet(t, c, "other")); got != "after" {
		t.Errorf("the batch after the failure: %q", got)
	}
	if logs.Len() != 0 {
		t.Errorf("reopening logged %v: the failed record was left in the log", logs.All()[0].Message)
	}
}
