package deploytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// root is the repository root, relative to this package.
const root = "../.."

func repoPath(p ...string) string { return filepath.Join(append([]string{root}, p...)...) }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// yamlDocs decodes every document of a YAML file, strictly.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	var docs []map[string]any
	for i := 0; i < 100; i++ { // a manifest has a handful of documents
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, i+1, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	t.Fatalf("%s: more than 100 YAML documents", path)
	return nil
}

func yamlDoc(t *testing.T, path string) map[string]any {
	t.Helper()
	docs := yamlDocs(t, path)
	if len(docs) != 1 {
		t.Fatalf("%s: %d YAML documents, want 1", path, len(docs))
	}
	return docs[0]
}

// get walks a path of map keys and list indexes ("spec", "template", 0).
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := get(v, path...).([]any)
	return l
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// pluginID is the Grafana plugin's id from its plugin.json.
func pluginID(t *testing.T) string {
	t.Helper()
	var p struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(readFile(t, repoPath("grafana-plugin", "src", "plugin.json")), &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != "settlewatch-settlement-datasource" {
		t.Fatalf("plugin id %q changed: update deploy/ and this test", p.ID)
	}
	return p.ID
}

var tagRE = regexp.MustCompile(`^[a-z0-9./_-]+:[A-Za-z0-9._-]+$`)

// checkPinned fails unless image names a tag that is not latest.
func checkPinned(t *testing.T, where, image string) {
	t.Helper()
	if !tagRE.MatchString(image) {
		t.Errorf("%s: image %q has no tag: pin one", where, image)
		return
	}
	if tag := image[strings.LastIndex(image, ":")+1:]; tag == "latest" || tag == "main" || tag == "nightly" {
		t.Errorf("%s: image %q uses the moving tag %q", where, image, tag)
	}
}
