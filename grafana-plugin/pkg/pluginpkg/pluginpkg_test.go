package pluginpkg

import (
	"archive/zip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// binaries builds the stand-in executable once per test binary, for both
// architectures, stamped with a version.
var built = map[string]string{}

func binary(t *testing.T, arch, version string) []byte {
	t.Helper()
	key := arch + "/" + version
	if p, ok := built[key]; ok {
		b, _ := os.ReadFile(p)
		return b
	}
	out := filepath.Join(os.TempDir(), "pluginpkg-test-"+strings.ReplaceAll(key, "/", "-")+"-"+runtime.Version())
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+version, "-o", out, "./testdata/fakeplugin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in: %v: %s", err, b)
	}
	built[key] = out
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pluginJSON(mut func(m map[string]any)) []byte {
	m := map[string]any{
		"type": "datasource", "name": "settlewatch", "id": PluginID, "backend": true, "alerting": true, "annotations": true, "metrics": true,
		"executable": Executable,
		"info": map[string]any{"version": "1.2.3", "updated": "2026-11-25", "description": "d",
			"logos": map[string]any{"small": "img/logo.svg", "large": "img/logo.svg"}},
		"dependencies": map[string]any{"grafanaDependency": ">=12.0.0"},
	}
	if mut != nil {
		mut(m)
	}
	b, _ := json.Marshal(m)
	return b
}

// dist writes a package directory: name → content (mode 0755 for gpx_*).
func dist(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(filepath.Base(name), "gpx_") {
			mode = 0o755
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func good(t *testing.T) map[string][]byte {
	return map[string][]byte{
		"plugin.json":                 pluginJSON(nil),
		"module.js":                   []byte(`define(["@grafana/data"],function(e){return {password:""}});`),
		"img/logo.svg":                []byte("<svg/>"),
		"README.md":                   []byte("# settlewatch\nPut the password in secureJsonData.\n"),
		"gpx_settlewatch_linux_amd64": binary(t, "amd64", "1.2.3"),
		"gpx_settlewatch_linux_arm64": binary(t, "arm64", "1.2.3"),
	}
}

func TestGoodPackageDirAndZip(t *testing.T) {
	dir := dist(t, good(t))
	if p := Check(dir); len(p) != 0 {
		t.Fatalf("problems in a good dist: %v", p)
	}
	z := filepath.Join(t.TempDir(), "p.zip")
	if err := Zip(dir, z); err != nil {
		t.Fatal(err)
	}
	if p := Check(z); len(p) != 0 {
		t.Fatalf("problems in a good zip: %v", p)
	}
	zr, err := zip.OpenReader(z)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, PluginID+"/") {
			t.Errorf("zip entry %s outside %s/", f.Name, PluginID)
		}
		if strings.Contains(f.Name, "gpx_") && f.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s lost its executable bit", f.Name)
		}
	}
}

func TestBadPackages(t *testing.T) {
	for _, c := range []struct {
		name string
		mut  func(files map[string][]byte)
		want string
	}{
		{"wrong id", func(f map[string][]byte) {
			f["plugin.json"] = pluginJSON(func(m map[string]any) { m["id"] = "settlewatch" })
		}, "id"},
		{"version not replaced", func(f map[string][]byte) {
			f["plugin.json"] = pluginJSON(func(m map[string]any) { m["info"].(map[string]any)["version"] = "%VERSION%" })
		}, "not a version"},
		{"alerting off", func(f map[string][]byte) {
			f["plugin.json"] = pluginJSON(func(m map[string]any) { m["alerting"] = false })
		}, "alerting false"},
		{"wrong executable", func(f map[string][]byte) {
			f["plugin.json"] = pluginJSON(func(m map[string]any) { m["executable"] = "gpx_other" })
		}, "executable"},
		{"no module.js", func(f map[string][]byte) { delete(f, "module.js") }, "module.js is missing"},
		{"module.js not AMD", func(f map[string][]byte) { f["module.js"] = []byte("export const plugin = 1;") }, "AMD"},
		{"no arm64 binary", func(f map[string][]byte) { delete(f, "gpx_settlewatch_linux_arm64") }, "gpx_settlewatch_linux_arm64 is missing"},
		{"arm64 binary is amd64", func(f map[string][]byte) { f["gpx_settlewatch_linux_arm64"] = f["gpx_settlewatch_linux_amd64"] }, "built for"},
		{"binary is a script", func(f map[string][]byte) { f["gpx_settlewatch_linux_amd64"] = []byte("#!/bin/sh\necho hi\n") }, "not a Linux (ELF) executable"},
		{"binary stamped with another version", func(f map[string][]byte) {
			f["gpx_settlewatch_linux_amd64"] = binary(t, "amd64", "9.9.9")
			f["gpx_settlewatch_linux_arm64"] = binary(t, "arm64", "9.9.9")
		}, "was built as"},
		{"missing logo", func(f map[string][]byte) { delete(f, "img/logo.svg") }, "logo"},
		{"a password in a provisioning file", func(f map[string][]byte) {
			f["provisioning.yaml"] = []byte("secureJsonData:\n  password: \"hunter2\"\n")
		}, "a password with a value"},
		{"credentials in a URL", func(f map[string][]byte) { f["README.md"] = []byte("clickhouse://grafana:s3cret@ch:9000") }, "credentials in a URL"},
		{"a private key", func(f map[string][]byte) { f["certs/ca.txt"] = []byte("-----BEGIN RSA PRIVATE KEY-----\nMII...") }, "a private key"},
		{"an env file", func(f map[string][]byte) { f[".env"] = []byte("X=1") }, "credentials file"},
		{"Go source", func(f map[string][]byte) { f["main.go"] = []byte("package main") }, "does not belong"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := good(t)
			c.mut(files)
			problems := Check(dist(t, files))
			found := false
			for _, p := range problems {
				if strings.Contains(p.Error(), c.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %v, want one about %q", problems, c.want)
			}
		})
	}
	// A zip whose files are not under the plugin's folder.
	z := filepath.Join(t.TempDir(), "flat.zip")
	f, _ := os.Create(z)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("plugin.json")
	_, _ = w.Write(pluginJSON(nil))
	_ = zw.Close()
	_ = f.Close()
	if p := Check(z); len(p) == 0 || !strings.Contains(p[0].Error(), "must be under") {
		t.Errorf("flat zip: %v", p)
	}
}
