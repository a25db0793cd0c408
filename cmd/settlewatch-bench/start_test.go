package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/settlewatch/settlewatch/chconn"
)

// A collector that cannot bind a port chosen for it is reported as such
// (and started again by startCollector), not waited on for 30 s; every
// attempt is counted in the file the stand-in collector appends to.
func TestStartCollectorRetriesATakenPort(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir) // the queue directories the attempts leave
	starts := filepath.Join(dir, "starts")
	bin := filepath.Join(dir, "collector")
	script := "#!/bin/sh\necho start >> " + starts + "\necho 'listen tcp 127.0.0.1:1: bind: address already in use'\nexec sleep 60\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := startCollector(bin, "collector/config.yaml", chconn.Settings{Addr: []string{"127.0.0.1:1"}})
	if !errors.Is(err, errPortTaken) {
		t.Fatalf("err %v, want errPortTaken", err)
	}
	out, err := os.ReadFile(starts)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out) / len("start\n"); n != 3 {
		t.Errorf("the collector was started %d times, want 3", n)
	}
}
