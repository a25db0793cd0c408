package chschema

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/chconn"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the generated DDL")

// goldenDialects are pinned in testdata/golden/<name>.sql.
var goldenDialects = map[string]Dialect{
	"portable":         DialectFor(chconn.Version{Major: 18, Minor: 16, Patch: 1}, ""),
	"modern":           {Modern: true, RetentionDays: 90},
	"cluster_portable": {Cluster: "settlewatch"},
}

func TestGoldenDDL(t *testing.T) {
	for name, d := range goldenDialects {
		t.Run(name, func(t *testing.T) {
			got, err := Script("settlewatch", d)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".sql")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./chschema -run TestGoldenDDL -update)", err)
			}
			if got != string(want) {
				t.Errorf("DDL for %s differs from %s; if the change is intended, run\n"+
					"  go test ./chschema -run TestGoldenDDL -update\nand review the diff.\n%s",
					name, path, firstDiff(string(want), got))
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return ""
}
