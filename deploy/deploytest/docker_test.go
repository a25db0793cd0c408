package deploytest

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"testing"
)

var dockerfile = repoPath("deploy", "docker", "Dockerfile")

type stage struct {
	from  string
	lines []string
}

// parseDockerfile returns the ARG defaults before the first FROM and the
// stages by name (continuation lines joined).
func parseDockerfile(t *testing.T) (map[string]string, map[string]*stage, []string) {
	t.Helper()
	args := map[string]string{}
	stages := map[string]*stage{}
	var order []string
	var cur *stage
	var joined []string
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, dockerfile)))
	var acc string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			acc += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		joined = append(joined, acc+line)
		acc = ""
	}
	fromRE := regexp.MustCompile(`^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$`)
	for _, l := range joined {
		if m := fromRE.FindStringSubmatch(l); m != nil {
			cur = &stage{from: m[1]}
			stages[m[2]] = cur
			order = append(order, m[2])
			continue
		}
		if cur == nil {
			if a, ok := strings.CutPrefix(l, "ARG "); ok {
				k, v, _ := strings.Cut(a, "=")
				args[k] = v
			}
			continue
		}
		cur.lines = append(cur.lines, l)
	}
	return args, stages, order
}

func dockerStages(t *testing.T) map[string]bool {
	t.Helper()
	_, stages, _ := parseDockerfile(t)
	out := map[string]bool{}
	for n := range stages {
		out[n] = true
	}
	return out
}

func TestDockerfile(t *testing.T) {
	args, stages, order := parseDockerfile(t)
	want := []string{"build", "collector", "analytics", "settlewatch", "simulator"}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("stages %v, want %v", order, want)
	}
	resolve := func(img string) string {
		if strings.HasPrefix(img, "${") {
			return args[strings.Trim(img, "${}")]
		}
		return img
	}
	for _, n := range order {
		img := resolve(stages[n].from)
		checkPinned(t, "stage "+n, img)
	}
	if !strings.HasPrefix(resolve(stages["build"].from), "golang:1.26") {
		t.Errorf("builder image %q: go.mod needs Go 1.26", resolve(stages["build"].from))
	}
	if rt := resolve(stages["collector"].from); !strings.HasPrefix(rt, "gcr.io/distroless/static") {
		t.Errorf("runtime image %q: want distroless static (no shell, no libc)", rt)
	}
	build := strings.Join(stages["build"].lines, "\n")
	if !strings.Contains(build, "CGO_ENABLED=0") {
		t.Error("the builder must set CGO_ENABLED=0 (static binaries for a distroless static base)")
	}
	// Every program built exists as a main package in the repository.
	pkgRE := regexp.MustCompile(`-o /out/([^\s;]+) (\./[^\s;]+)`)
	built := map[string]string{}
	for _, m := range pkgRE.FindAllStringSubmatch(build, -1) {
		built[m[1]] = m[2]
		main := readFile(t, repoPath(m[2], "main.go"))
		if !bytes.Contains(main, []byte("package main")) {
			t.Errorf("%s is not a main package", m[2])
		}
	}
	if len(built) != 4 {
		t.Errorf("built %v, want the 4 programs", built)
	}
	copyRE := regexp.MustCompile(`^COPY --from=build (?:--chown=\S+ )?(\S+) (\S+)$`)
	for _, n := range order[1:] {
		s := stages[n]
		var user, entry string
		for _, l := range s.lines {
			if u, ok := strings.CutPrefix(l, "USER "); ok {
				user = u
			}
			if e, ok := strings.CutPrefix(l, "ENTRYPOINT "); ok {
				entry = e
			}
			if m := copyRE.FindStringSubmatch(l); m != nil {
				src := m[1]
				if p, ok := strings.CutPrefix(src, "/src/"); ok && !exists(repoPath(p)) {
					t.Errorf("stage %s copies %s, which does not exist in the repository", n, p)
				}
				if p, ok := strings.CutPrefix(src, "/out/"); ok && p != "queue" && built[p] == "" {
					t.Errorf("stage %s copies /out/%s, which the builder does not build", n, p)
				}
			}
		}
		if user == "" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root") {
			t.Errorf("stage %s runs as %q, want a non-root user", n, user)
		}
		if !strings.Contains(entry, "/usr/local/bin/") {
			t.Errorf("stage %s entrypoint %q", n, entry)
		}
	}
	if !exists(dockerfile + ".dockerignore") {
		t.Error("deploy/docker/Dockerfile.dockerignore is missing: the context would include node_modules")
	}
}
