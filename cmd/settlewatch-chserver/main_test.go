package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUsageAndStatus(t *testing.T) {
	if code := run(nil); code != 2 {
		t.Errorf("no verb: exit %d, want 2", code)
	}
	if code := run([]string{"restart"}); code != 2 {
		t.Errorf("unknown verb: exit %d, want 2", code)
	}
	if code := run([]string{"status", "-dir", t.TempDir()}); code != 3 {
		t.Errorf("status of an empty dir: exit %d, want 3", code)
	}
	if code := run([]string{"stop", "-dir", t.TempDir()}); code != 0 {
		t.Errorf("stop with nothing running: exit %d, want 0", code)
	}
	dir := t.TempDir()
	if code := run([]string{"config", "-dir", dir, "-tcp-port", "1", "-http-port", "2"}); code != 0 {
		t.Errorf("config: exit %d", code)
	}
	for _, f := range []string{"config.xml", "users.xml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
