// Command gen writes the settlewatch Grafana dashboards (package dashboards)
// as JSON into dashboards/json/, the folder Grafana provisions them from,
// and removes any other *.json there:
//
//	go run ./dashboards/cmd/gen            # from anywhere in the repository
//	go run ./dashboards/cmd/gen -out DIR   # somewhere else
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/settlewatch/settlewatch/dashboards"
)

func main() {
	out := flag.String("out", "", "directory to write the JSON into (default: dashboards/json of the repository around the working directory)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if out == "" {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		out = filepath.Join(root, "dashboards", "json")
	}
	files, err := dashboards.Write(out)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Println(filepath.Join(out, f))
	}
	return nil
}

// repoRoot is the nearest directory at or above the working directory that
// holds go.mod and dashboards/.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isDir(filepath.Join(dir, "dashboards")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the settlewatch repository (no go.mod with dashboards/ above the working directory): give -out")
		}
		dir = parent
	}
}

func isFile(p string) bool { st, err := os.Stat(p); return err == nil && st.Mode().IsRegular() }
func isDir(p string) bool  { st, err := os.Stat(p); return err == nil && st.IsDir() }
