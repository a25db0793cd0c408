package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRunWritesTheDashboards(t *testing.T) {
	dir := t.TempDir()
	if err := run(dir); err != nil {
		t.Fatal(err)
	}
	js, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(js) != 4 {
		t.Errorf("wrote %v", js)
	}
}

func TestRepoRootFindsTheRepository(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "dashboards", "json")); err != nil {
		t.Errorf("root %s: %v", root, err)
	}
}
