// Package pluginpkg packages the built plugin (dist/) into the zip Grafana
// installs, and checks a package the way Grafana's plugin validator would
// where it matters to us (that validator downloads a binary at run time and
// cannot run offline): plugin.json fields and id, the backend executables
// present, of the right architecture, static and runnable, module.js
// present, a version set, and no secrets in any file.
package pluginpkg

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Expected identity of the plugin.
const (
	PluginID   = "settlewatch-settlement-datasource"
	Executable = "gpx_settlewatch"
)

// Arches are the backend builds the package must carry (Grafana's naming:
// <executable>_<os>_<arch>).
var Arches = []string{"amd64", "arm64"}

// PluginJSON is the part of plugin.json the check reads.
type PluginJSON struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	ID          string `json:"id"`
	Backend     bool   `json:"backend"`
	Alerting    bool   `json:"alerting"`
	Annotations bool   `json:"annotations"`
	Metrics     bool   `json:"metrics"`
	Executable  string `json:"executable"`
	Info        struct {
		Version     string `json:"version"`
		Updated     string `json:"updated"`
		Description string `json:"description"`
		Logos       struct {
			Small string `json:"small"`
			Large string `json:"large"`
		} `json:"logos"`
	} `json:"info"`
	Dependencies struct {
		GrafanaDependency string `json:"grafanaDependency"`
	} `json:"dependencies"`
}

// file is one file of a package, read from a directory or a zip.
type file struct {
	name string // slash-separated, relative to the plugin's root
	mode fs.FileMode
	data []byte
}

// Zip writes dist into out as <plugin id>/<file>, keeping modes (the
// executables stay executable).
func Zip(dist, out string) error {
	files, err := readDir(dist)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for _, fl := range files {
		h := &zip.FileHeader{Name: PluginID + "/" + fl.name, Method: zip.Deflate, Modified: time.Now().UTC().Truncate(time.Second)}
		h.SetMode(fl.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			f.Close()
			return err
		}
		if _, err := w.Write(fl.data); err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readDir(dir string) ([]file, error) {
	var out []file
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, file{name: filepath.ToSlash(rel), mode: info.Mode().Perm(), data: b})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, err
}

func readZip(p string) ([]file, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var out []file
	var problems []error
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		root, rest, ok := strings.Cut(zf.Name, "/")
		if !ok || root != PluginID || rest == "" {
			problems = append(problems, fmt.Errorf("zip entry %q: every file must be under %s/", zf.Name, PluginID))
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, file{name: rest, mode: zf.Mode().Perm(), data: b})
	}
	return out, errors.Join(problems...)
}

// Check checks a package: a zip made by Zip, or a dist directory. It
// returns every problem found (nil when there is none).
func Check(p string) []error {
	var files []file
	var err error
	if strings.HasSuffix(p, ".zip") {
		files, err = readZip(p)
	} else {
		files, err = readDir(p)
	}
	var problems []error
	if err != nil {
		problems = append(problems, err)
		if files == nil {
			return problems
		}
	}
	byName := map[string]file{}
	for _, f := range files {
		byName[f.name] = f
	}
	bad := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }

	pj, ok := byName["plugin.json"]
	if !ok {
		bad("plugin.json is missing")
		return problems
	}
	var meta PluginJSON
	if err := json.Unmarshal(pj.data, &meta); err != nil {
		bad("plugin.json is not valid JSON: %v", err)
		return problems
	}
	problems = append(problems, checkMeta(meta, byName)...)

	if m, ok := byName["module.js"]; !ok || len(m.data) == 0 {
		bad("module.js is missing or empty: build the frontend (npm run build)")
	} else if !bytes.HasPrefix(bytes.TrimSpace(m.data), []byte("define(")) {
		bad("module.js is not an AMD module (Grafana loads plugins with define)")
	}
	for _, arch := range Arches {
		name := fmt.Sprintf("%s_linux_%s", meta.Executable, arch)
		f, ok := byName[name]
		if !ok {
			bad("backend executable %s is missing", name)
			continue
		}
		problems = append(problems, checkExecutable(f, arch, meta)...)
	}
	for _, f := range files {
		problems = append(problems, checkSecrets(f)...)
		if strings.HasSuffix(f.name, ".go") || strings.Contains(f.name, "node_modules/") || strings.HasPrefix(path.Base(f.name), ".") {
			bad("%s does not belong in a plugin package", f.name)
		}
	}
	return problems
}

var (
	idRE      = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*-(datasource|app|panel)$`)
	semverRE  = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)
	updatedRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

func checkMeta(m PluginJSON, files map[string]file) []error {
	var problems []error
	bad := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }
	if m.ID != PluginID {
		bad("plugin.json id %q, want %q", m.ID, PluginID)
	}
	if !idRE.MatchString(m.ID) {
		bad("plugin.json id %q does not follow <org>-<name>-<type>", m.ID)
	}
	if m.Type != "datasource" || !strings.HasSuffix(m.ID, "-"+m.Type) {
		bad("plugin.json type %q: want datasource, matching the id's suffix", m.Type)
	}
	if m.Name == "" {
		bad("plugin.json has no name")
	}
	if !m.Backend || m.Executable != Executable {
		bad("plugin.json: backend %t, executable %q; want true and %q", m.Backend, m.Executable, Executable)
	}
	if !m.Alerting || !m.Annotations || !m.Metrics {
		bad("plugin.json: alerting %t, annotations %t, metrics %t; want all true", m.Alerting, m.Annotations, m.Metrics)
	}
	if !semverRE.MatchString(m.Info.Version) {
		bad("plugin.json info.version %q is not a version (was %%VERSION%% replaced by the build?)", m.Info.Version)
	}
	if !updatedRE.MatchString(m.Info.Updated) {
		bad("plugin.json info.updated %q is not a date", m.Info.Updated)
	}
	if m.Info.Description == "" {
		bad("plugin.json has no info.description")
	}
	for _, logo := range []string{m.Info.Logos.Small, m.Info.Logos.Large} {
		if _, ok := files[logo]; logo == "" || !ok {
			bad("plugin.json logo %q is not in the package", logo)
		}
	}
	if m.Dependencies.GrafanaDependency == "" {
		bad("plugin.json has no dependencies.grafanaDependency")
	}
	return problems
}

// BuildInfo is what the executable prints with -buildinfo.
type BuildInfo struct {
	PluginID string `json:"pluginID"`
	Version  string `json:"version"`
	Time     int64  `json:"time"`
}

func checkExecutable(f file, arch string, m PluginJSON) []error {
	var problems []error
	bad := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }
	if f.mode&0o111 == 0 {
		bad("%s is not executable (mode %v)", f.name, f.mode)
	}
	ef, err := elf.NewFile(bytes.NewReader(f.data))
	if err != nil {
		bad("%s is not a Linux (ELF) executable: %v", f.name, err)
		return problems
	}
	defer ef.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if ef.Machine != want {
		bad("%s is built for %v, want %v", f.name, ef.Machine, want)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			bad("%s is dynamically linked: build with CGO_ENABLED=0", f.name)
		}
	}
	if arch != runtime.GOARCH || runtime.GOOS != "linux" {
		return problems // cannot run it here; the header checks above stand
	}
	// Runnable: the SDK's -buildinfo mode prints what the build stamped and exits.
	dir, err := os.MkdirTemp("", "pluginpkg-")
	if err != nil {
		bad("%v", err)
		return problems
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, path.Base(f.name))
	if err := os.WriteFile(bin, f.data, 0o755); err != nil {
		bad("%v", err)
		return problems
	}
	out, err := exec.Command(bin, "-buildinfo").Output()
	if err != nil {
		bad("%s -buildinfo does not run: %v", f.name, err)
		return problems
	}
	var bi BuildInfo
	if err := json.Unmarshal(bytes.TrimSpace(out), &bi); err != nil {
		bad("%s -buildinfo printed %q, not build info JSON (build with the SDK's buildinfo ldflags)", f.name, clip(string(out)))
		return problems
	}
	if bi.PluginID != m.ID || bi.Version != m.Info.Version {
		bad("%s was built as %s %s; plugin.json says %s %s", f.name, bi.PluginID, bi.Version, m.ID, m.Info.Version)
	}
	return problems
}

// Secret patterns: private keys, cloud keys, tokens, and credentials with a
// literal value in configuration-like text.
var secretREs = []struct {
	what string
	re   *regexp.Regexp
}{
	{"a private key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)},
	{"an AWS access key id", regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`)},
	{"a GitHub token", regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b`)},
	{"a Slack token", regexp.MustCompile(`\bxox[baprs]-[A-Za-z0-9-]{10,}`)},
	{"a Grafana service account token", regexp.MustCompile(`\bglsa_[A-Za-z0-9_]{32,}`)},
	{"a password with a value", regexp.MustCompile(`(?i)"?(password|passwd|secret|api[_-]?key|token)"?\s*[:=]\s*"[^"$%{}\s]{3,}"`)},
	{"credentials in a URL", regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^/\s:@"']+:[^/\s@"']+@`)},
}

var secretNames = regexp.MustCompile(`(?i)(^|/)(\.env(\..*)?|.*\.pem|.*\.key|.*\.p12|.*\.pfx|id_rsa.*|id_ed25519.*|\.npmrc|\.netrc|credentials.*)$`)

func checkSecrets(f file) []error {
	var problems []error
	if secretNames.MatchString(f.name) {
		problems = append(problems, fmt.Errorf("%s looks like a credentials file", f.name))
	}
	data := f.data
	if bytes.HasPrefix(data, []byte("\x7fELF")) {
		return problems // our own binaries: built from source in this repository
	}
	for _, s := range secretREs {
		if loc := s.re.FindIndex(data); loc != nil {
			line := 1 + bytes.Count(data[:loc[0]], []byte("\n"))
			problems = append(problems, fmt.Errorf("%s:%d holds what looks like %s", f.name, line, s.what))
		}
	}
	return problems
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
