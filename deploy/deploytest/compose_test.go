package deploytest

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/chconn"
)

var composeDir = repoPath("deploy", "compose")

func compose(t *testing.T) map[string]any {
	t.Helper()
	return yamlDoc(t, filepath.Join(composeDir, "docker-compose.yaml"))
}

func services(t *testing.T) map[string]any {
	t.Helper()
	s, ok := compose(t)["services"].(map[string]any)
	if !ok {
		t.Fatal("docker-compose.yaml: no services")
	}
	return s
}

func TestComposeServices(t *testing.T) {
	svcs := services(t)
	want := []string{"analytics", "clickhouse", "collector", "grafana", "migrate", "simulator"}
	if got := slices.Sorted(maps.Keys(svcs)); !slices.Equal(got, want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	for name, s := range svcs {
		checkPinned(t, "service "+name, str(s, "image"))
	}
	if img := str(svcs, "clickhouse", "image"); !strings.HasPrefix(img, "clickhouse/clickhouse-server:25.") {
		t.Errorf("clickhouse image %q: the stack is for ClickHouse 25.x", img)
	}
	if img := str(svcs, "grafana", "image"); !strings.HasPrefix(img, "grafana/grafana:12.") {
		t.Errorf("grafana image %q: the plugin needs Grafana 12 (grafanaDependency >=12.0.0)", img)
	}
	// Our programs are built from the one Dockerfile, one target each.
	targets := dockerStages(t)
	for name, target := range map[string]string{"migrate": "settlewatch", "collector": "collector", "analytics": "analytics", "simulator": "simulator"} {
		b := get(svcs, name, "build")
		if str(b, "context") != "../.." {
			t.Errorf("%s: build context %q, want the repository root ../..", name, str(b, "context"))
		}
		df := str(b, "dockerfile")
		if !exists(filepath.Join(composeDir, str(b, "context"), df)) {
			t.Errorf("%s: dockerfile %q does not exist", name, df)
		}
		if got := str(b, "target"); got != target || !targets[got] {
			t.Errorf("%s: build target %q, want %q (stages: %v)", name, got, target, slices.Sorted(maps.Keys(targets)))
		}
	}
}

// published maps "container port" → host binding for a service.
func published(t *testing.T, svc any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range list(svc, "ports") {
		s, _ := p.(string)
		parts := strings.Split(s, ":")
		if len(parts) != 3 {
			t.Errorf("port %q: want host-ip:host-port:container-port", s)
			continue
		}
		out[parts[2]] = parts[0] + ":" + parts[1]
	}
	return out
}

func TestComposePorts(t *testing.T) {
	svcs := services(t)
	want := map[string]map[string]string{
		"clickhouse": {"8123": "127.0.0.1:8123", "9000": "127.0.0.1:9000"},
		"collector":  {"4317": "127.0.0.1:4317", "4318": "127.0.0.1:4318", "13133": "127.0.0.1:13133"},
		"analytics":  {"9464": "127.0.0.1:9464"},
		"grafana":    {"3000": "127.0.0.1:3000"},
		"migrate":    {},
		"simulator":  {},
	}
	for name, w := range want {
		if got := published(t, svcs[name]); !maps.Equal(got, w) {
			t.Errorf("%s publishes %v, want %v (loopback only)", name, got, w)
		}
	}
	// The collector listens where it publishes, and the simulator sends there.
	env := get(svcs, "collector", "environment")
	if str(env, "SETTLEWATCH_OTLP_GRPC_ENDPOINT") != "0.0.0.0:4317" || str(env, "SETTLEWATCH_OTLP_HTTP_ENDPOINT") != "0.0.0.0:4318" {
		t.Errorf("collector OTLP endpoints %v", env)
	}
	cmd := list(svcs, "simulator", "command")
	if len(cmd) == 0 || cmd[0] != "live" || !slices.Contains(cmd, "collector:4317") {
		t.Errorf("simulator command %v: want live mode sending to collector:4317", cmd)
	}
}

func TestComposeVolumes(t *testing.T) {
	c := compose(t)
	svcs := services(t)
	named := get(c, "volumes").(map[string]any)
	mounts := map[string]map[string]string{} // service → target → source
	for name, s := range svcs {
		mounts[name] = map[string]string{}
		for _, v := range list(s, "volumes") {
			parts := strings.Split(v.(string), ":")
			if len(parts) < 2 {
				t.Fatalf("%s: volume %q", name, v)
			}
			src, target := parts[0], parts[1]
			mounts[name][target] = src
			switch {
			case strings.HasPrefix(src, "."):
				if src == "../../dashboards" || src == "../../grafana-plugin/dist" {
					continue // written by other work / built; checked below
				}
				if !exists(filepath.Join(composeDir, src)) {
					t.Errorf("%s: bind mount source %s does not exist in the repository", name, src)
				}
			default:
				if _, ok := named[src]; !ok {
					t.Errorf("%s: volume %q is not declared under volumes", name, src)
				}
			}
		}
	}
	id := pluginID(t)
	checks := []struct{ svc, target, source string }{
		{"collector", "/etc/settlewatch/config.yaml", "../../collector/config.yaml"},
		{"collector", "/var/lib/settlewatch/queue", "collector-queue"},
		{"analytics", "/etc/settlewatch/analytics.yaml", "../../analytics/config.example.yaml"},
		{"simulator", "/etc/settlewatch/scenarios", "../../simulator/scenarios"},
		{"clickhouse", "/var/lib/clickhouse", "clickhouse-data"},
		{"clickhouse", "/etc/clickhouse-server/users.d/settlewatch.xml", "./clickhouse/users.d/settlewatch.xml"},
		{"clickhouse", "/etc/clickhouse-server/users.d/settlewatch-grants.xml", "./clickhouse/users.d/settlewatch-grants.xml"},
		{"grafana", "/var/lib/grafana/plugins/" + id, "../../grafana-plugin/dist"},
		{"grafana", "/etc/grafana/provisioning", "./grafana/provisioning"},
		{"grafana", "/var/lib/grafana/dashboards/settlewatch", "../../dashboards"},
	}
	for _, c := range checks {
		if got := mounts[c.svc][c.target]; got != c.source {
			t.Errorf("%s: %s is mounted from %q, want %q", c.svc, c.target, got, c.source)
		}
	}
	// The plugin is built into grafana-plugin/dist by grafana-plugin/scripts/build.sh.
	if !exists(repoPath("grafana-plugin", "scripts", "build.sh")) {
		t.Error("grafana-plugin/scripts/build.sh (which makes the mounted dist/) is gone")
	}
	// dashboards/ is written by other work; when present it must hold dashboards.
	if exists(repoPath("dashboards")) {
		js, _ := filepath.Glob(repoPath("dashboards", "*.json"))
		deep, _ := filepath.Glob(repoPath("dashboards", "*", "*.json"))
		if len(js)+len(deep) == 0 {
			t.Error("dashboards/ has no JSON dashboards for Grafana to provision")
		}
	} else {
		t.Log("dashboards/ does not exist yet: Grafana will provision no dashboards")
	}
	// The scenario the simulator runs exists.
	cmd := list(svcs, "simulator", "command")
	i := slices.Index(cmd, "-scenario")
	if i < 0 || i+1 >= len(cmd) {
		t.Fatalf("simulator command %v has no -scenario", cmd)
	}
	scen := cmd[i+1].(string)
	if scen != "/etc/settlewatch/scenarios/live-demo.yaml" || !exists(repoPath("simulator", "scenarios", filepath.Base(scen))) {
		t.Errorf("simulator scenario %q: want live-demo.yaml from simulator/scenarios", scen)
	}
}

func TestComposeEnvironment(t *testing.T) {
	svcs := services(t)
	// Our programs read chconn's variables; they must all reach the same
	// server and database, each as its own user (TestComposeClickHouseUsers
	// checks the passwords).
	for name, user := range map[string]string{"migrate": "settlewatch", "collector": "settlewatch_collector", "analytics": "settlewatch_analytics"} {
		env := get(svcs, name, "environment")
		for k, want := range map[string]string{chconn.EnvAddr: "clickhouse:9000", chconn.EnvDatabase: "settlewatch", chconn.EnvUser: user} {
			if got := str(env, k); got != want {
				t.Errorf("%s: %s=%q, want %q", name, k, got, want)
			}
		}
	}
	g := get(svcs, "grafana", "environment")
	if got := str(g, "GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"); got != pluginID(t) {
		t.Errorf("grafana allows unsigned plugin %q, want %q", got, pluginID(t))
	}
	if str(g, "GRAFANA_CH_PASSWORD") == "" || str(g, "GRAFANA_CH_PASSWORD") != str(svcs, "clickhouse", "environment", "GRAFANA_CH_PASSWORD") {
		t.Error("grafana and clickhouse must get the same GRAFANA_CH_PASSWORD")
	}
	for name, cond := range map[string][2]string{
		"migrate":   {"clickhouse", "service_healthy"},
		"collector": {"migrate", "service_completed_successfully"},
		"analytics": {"migrate", "service_completed_successfully"},
		"simulator": {"collector", "service_started"},
	} {
		if got := str(svcs, name, "depends_on", cond[0], "condition"); got != cond[1] {
			t.Errorf("%s depends on %s with %q, want %q", name, cond[0], got, cond[1])
		}
	}
	if got := list(svcs, "clickhouse", "healthcheck", "test"); len(got) == 0 {
		t.Error("clickhouse has no healthcheck: migrate would start before the server answers")
	}
}

// The stack's programs connect as the users of clickhouse/users.d (checked
// in chusers_test.go), with the passwords the server reads.
func TestComposeClickHouseUsers(t *testing.T) {
	users := portableUsers(t, filepath.Join(composeDir, "clickhouse", "users.d", "settlewatch.xml"))
	svcs := services(t)
	chEnv := get(svcs, "clickhouse", "environment")
	// Every password variable of the file is set on the server: an unset one
	// gives its user an empty password.
	for name, u := range users {
		if u.passwordEnv == "" || str(chEnv, u.passwordEnv) == "" {
			t.Errorf("user %s: password from_env %q is not set on the clickhouse service", name, u.passwordEnv)
		}
	}
	// Each program sends the password the server has for its user.
	for _, name := range []string{"migrate", "collector", "analytics"} {
		env := get(svcs, name, "environment")
		u, ok := users[str(env, chconn.EnvUser)]
		if !ok {
			t.Errorf("%s connects as %q, which users.d/settlewatch.xml does not define", name, str(env, chconn.EnvUser))
			continue
		}
		if got, want := str(env, chconn.EnvPassword), str(chEnv, u.passwordEnv); got == "" || got != want {
			t.Errorf("%s: %s=%q, but the server sets %s=%q", name, chconn.EnvPassword, got, u.passwordEnv, want)
		}
	}
	// Only the schema owner may run DDL: migrate runs as it, the collector
	// does not migrate, the analytics daemon is not asked to (-migrate).
	if u := str(svcs, "migrate", "environment", chconn.EnvUser); u != adminUser {
		t.Errorf("migrate runs as %q, want the schema owner %s", u, adminUser)
	}
	if got := str(svcs, "collector", "environment", "SETTLEWATCH_CH_CREATE_SCHEMA"); got != "false" {
		t.Errorf("collector SETTLEWATCH_CH_CREATE_SCHEMA=%q, want false: its user may not run DDL", got)
	}
	if slices.Contains(list(svcs, "analytics", "command"), "-migrate") {
		t.Error("analytics runs with -migrate, but its user may not run DDL: migrate does it")
	}
	// Grafana connects as the read-only user, with the server's password.
	ds := yamlDoc(t, filepath.Join(composeDir, "grafana", "provisioning", "datasources", "settlewatch.yaml"))
	g, ok := users[str(ds, "datasources", 0, "jsonData", "username")]
	if !ok || g.profile != grafanaProfile {
		t.Errorf("the data source connects as %q, want the read-only user grafana", str(ds, "datasources", 0, "jsonData", "username"))
	} else if gp := str(svcs, "grafana", "environment", g.passwordEnv); gp == "" || gp != str(chEnv, g.passwordEnv) {
		t.Errorf("grafana and clickhouse must get the same %s", g.passwordEnv)
	}
}

func TestComposeGrafanaProvisioning(t *testing.T) {
	id := pluginID(t)
	svcs := services(t)
	ds := yamlDoc(t, filepath.Join(composeDir, "grafana", "provisioning", "datasources", "settlewatch.yaml"))
	all := list(ds, "datasources")
	if len(all) != 1 {
		t.Fatalf("%d data sources, want 1", len(all))
	}
	d := all[0]
	if str(d, "type") != id {
		t.Errorf("data source type %q, want the plugin id %q", str(d, "type"), id)
	}
	host := str(d, "jsonData", "host")
	if _, ok := svcs[host]; !ok || host != "clickhouse" {
		t.Errorf("data source host %q is not the clickhouse service", host)
	}
	if p, _ := get(d, "jsonData", "port").(int); p != 9000 {
		t.Errorf("data source port %v, want the native port 9000", get(d, "jsonData", "port"))
	}
	if get(d, "jsonData", "password") != nil || str(d, "secureJsonData", "password") != "$GRAFANA_CH_PASSWORD" {
		t.Error("the password must come from $GRAFANA_CH_PASSWORD in secureJsonData only")
	}
	dp := yamlDoc(t, filepath.Join(composeDir, "grafana", "provisioning", "dashboards", "settlewatch.yaml"))
	path := str(dp, "providers", 0, "options", "path")
	mounted := false
	for _, v := range list(svcs, "grafana", "volumes") {
		if strings.HasPrefix(v.(string), "../../dashboards:"+path) {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("dashboards provider reads %q, where the repository's dashboards/ is not mounted", path)
	}
}
