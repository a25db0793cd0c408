package deploytest

import (
	"bytes"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var k8sDir = repoPath("deploy", "kubernetes")

type object struct {
	file string
	doc  map[string]any
}

func (o object) kind() string { return str(o.doc, "kind") }
func (o object) name() string { return str(o.doc, "metadata", "name") }

// kustomize loads the kustomization and every resource it lists.
func kustomize(t *testing.T) (map[string]any, map[string]object) {
	t.Helper()
	k := yamlDoc(t, filepath.Join(k8sDir, "kustomization.yaml"))
	objs := map[string]object{}
	res := list(k, "resources")
	if len(res) == 0 {
		t.Fatal("kustomization lists no resources")
	}
	for _, r := range res {
		p := filepath.Join(k8sDir, r.(string))
		if !exists(p) {
			t.Errorf("kustomization lists %s, which does not exist", r)
			continue
		}
		for _, d := range yamlDocs(t, p) {
			o := object{file: r.(string), doc: d}
			if o.kind() == "" || o.name() == "" || str(d, "apiVersion") == "" {
				t.Errorf("%s: a document without apiVersion, kind or name", r)
			}
			objs[o.kind()+"/"+o.name()] = o
		}
	}
	return k, objs
}

func TestKustomizationFiles(t *testing.T) {
	k, objs := kustomize(t)
	if str(k, "namespace") != "settlewatch" {
		t.Errorf("namespace %q", str(k, "namespace"))
	}
	want := []string{
		"Deployment/settlewatch-analytics", "Deployment/settlewatch-collector",
		"HorizontalPodAutoscaler/settlewatch-collector", "Namespace/settlewatch",
		"PodDisruptionBudget/settlewatch-collector",
		"Service/settlewatch-analytics", "Service/settlewatch-collector",
	}
	if got := slices.Sorted(maps.Keys(objs)); !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	// Generated ConfigMaps: their files exist; every ConfigMap a manifest
	// references is generated here (the credentials Secret is the operator's).
	generated := map[string]bool{}
	for _, g := range list(k, "configMapGenerator") {
		generated[str(g, "name")] = true
		for _, f := range list(g, "files") {
			_, src, _ := strings.Cut(f.(string), "=")
			if !exists(filepath.Join(k8sDir, src)) {
				t.Errorf("configMapGenerator %s: file %s does not exist", str(g, "name"), src)
			}
		}
	}
	for _, o := range objs {
		for _, ref := range refs(o.doc, "configMapRef", "configMap") {
			if !generated[ref] {
				t.Errorf("%s references ConfigMap %s, which the kustomization does not generate", o.file, ref)
			}
		}
	}
	// The collector config and its production overlay are copies of the
	// shipped ones (kustomize cannot read outside its folder): no drift.
	for _, f := range []string{"config.yaml", "config.production.yaml"} {
		if !bytes.Equal(readFile(t, filepath.Join(k8sDir, "collector", f)), readFile(t, repoPath("collector", f))) {
			t.Errorf("deploy/kubernetes/collector/%s differs from collector/%s: copy it again", f, f)
		}
	}
	// Images are pinned, and set for every image the manifests use.
	tags := map[string]string{}
	for _, im := range list(k, "images") {
		tags[str(im, "name")] = str(im, "newTag")
	}
	for _, o := range objs {
		for _, c := range containers(o.doc) {
			img := str(c, "image")
			checkPinned(t, o.file+" "+str(c, "name"), img)
			name, tag, _ := strings.Cut(img, ":")
			if tags[name] != tag {
				t.Errorf("%s: image %s; kustomization images sets %s to %q", o.file, img, name, tags[name])
			}
		}
	}
}

// refs finds the names under keys like configMapRef/configMap anywhere in v.
func refs(v any, keys ...string) []string {
	var out []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 30 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if slices.Contains(keys, k) {
					if n := str(c, "name"); n != "" {
						out = append(out, n)
					}
				}
				walk(c, depth+1)
			}
		case []any:
			for _, c := range x {
				walk(c, depth+1)
			}
		}
	}
	walk(v, 0)
	return out
}

func containers(doc map[string]any) []any {
	return slices.Concat(list(doc, "spec", "template", "spec", "initContainers"), list(doc, "spec", "template", "spec", "containers"))
}

func envOf(c any) map[string]string {
	out := map[string]string{}
	for _, e := range list(c, "env") {
		v := str(e, "value")
		if s := str(e, "valueFrom", "secretKeyRef", "name"); s != "" {
			v = "secret:" + s + "/" + str(e, "valueFrom", "secretKeyRef", "key")
		}
		out[str(e, "name")] = v
	}
	return out
}

func TestKubernetesCollector(t *testing.T) {
	k, objs := kustomize(t)
	dep := objs["Deployment/settlewatch-collector"].doc
	hpa := objs["HorizontalPodAutoscaler/settlewatch-collector"].doc
	svc := objs["Service/settlewatch-collector"].doc
	if str(hpa, "spec", "scaleTargetRef", "kind") != "Deployment" || str(hpa, "spec", "scaleTargetRef", "name") != str(dep, "metadata", "name") ||
		str(hpa, "spec", "scaleTargetRef", "apiVersion") != "apps/v1" {
		t.Errorf("HPA targets %v, want the collector Deployment", get(hpa, "spec", "scaleTargetRef"))
	}
	if min, _ := get(hpa, "spec", "minReplicas").(int); min < 2 {
		t.Errorf("HPA minReplicas %v", get(hpa, "spec", "minReplicas"))
	}
	// The Service selects the pods and reaches their OTLP ports.
	sel := get(svc, "spec", "selector").(map[string]any)
	labels := get(dep, "spec", "template", "metadata", "labels").(map[string]any)
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("Service selector %s=%v does not match the pod labels %v", k, v, labels)
		}
	}
	cs := list(dep, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("collector pod has %d containers", len(cs))
	}
	c := cs[0]
	cports := map[string]int{}
	for _, p := range list(c, "ports") {
		cports[str(p, "name")], _ = get(p, "containerPort").(int)
	}
	gotPorts := map[int]int{}
	for _, p := range list(svc, "spec", "ports") {
		port, _ := get(p, "port").(int)
		gotPorts[port] = cports[str(p, "targetPort")]
	}
	if !maps.Equal(gotPorts, map[int]int{4317: 4317, 4318: 4318}) {
		t.Errorf("Service ports → container ports %v, want OTLP 4317 and 4318", gotPorts)
	}
	env := envOf(c)
	for k, want := range map[string]string{
		"SETTLEWATCH_OTLP_GRPC_ENDPOINT": "0.0.0.0:4317",
		"SETTLEWATCH_OTLP_HTTP_ENDPOINT": "0.0.0.0:4318",
		"SETTLEWATCH_HEALTH_ENDPOINT":    fmt.Sprintf("0.0.0.0:%d", cports["health"]),
		"SETTLEWATCH_CH_USER":            "settlewatch_collector",
		"SETTLEWATCH_CH_PASSWORD":        "secret:settlewatch-clickhouse-credentials/collector-password",
		"SETTLEWATCH_CH_CREATE_SCHEMA":   "false",
	} {
		if env[k] != want {
			t.Errorf("collector env %s=%q, want %q", k, env[k], want)
		}
	}
	// The queue directory is a volume, and the config is the generated ConfigMap.
	mounts := map[string]string{}
	for _, m := range list(c, "volumeMounts") {
		mounts[str(m, "mountPath")] = str(m, "name")
	}
	vols := map[string]any{}
	for _, v := range list(dep, "spec", "template", "spec", "volumes") {
		vols[str(v, "name")] = v
	}
	q := mounts[env["SETTLEWATCH_QUEUE_DIR"]]
	if q == "" || (get(vols[q], "emptyDir") == nil && get(vols[q], "persistentVolumeClaim") == nil) {
		t.Errorf("queue dir %q is not on an emptyDir or PVC volume (mounts %v)", env["SETTLEWATCH_QUEUE_DIR"], mounts)
	}
	// The shipped config, then the production overlay (TLS, bearer tokens),
	// both from the generated ConfigMap.
	args := list(c, "args")
	want := []any{"--config", "/etc/settlewatch/config.yaml", "--config", "/etc/settlewatch/config.production.yaml"}
	if !slices.Equal(args, want) {
		t.Fatalf("collector args %v, want %v", args, want)
	}
	cmKeys := map[string]bool{}
	for _, g := range list(k, "configMapGenerator") {
		if str(g, "name") == "settlewatch-collector-config" {
			for _, f := range list(g, "files") {
				key, _, _ := strings.Cut(f.(string), "=")
				cmKeys[key] = true
			}
		}
	}
	for _, a := range []any{args[1], args[3]} {
		path := a.(string)
		if str(vols[mounts[filepath.Dir(path)]], "configMap", "name") != "settlewatch-collector-config" || !cmKeys[filepath.Base(path)] {
			t.Errorf("collector config %s is not a key of the settlewatch-collector-config ConfigMap (keys %v)", path, cmKeys)
		}
	}
	// The overlay replaces service.extensions whole (the collector merges
	// maps, not lists): it must keep every extension of the base.
	base := yamlDoc(t, filepath.Join(k8sDir, "collector", "config.yaml"))
	overlay := yamlDoc(t, filepath.Join(k8sDir, "collector", "config.production.yaml"))
	ext := list(overlay, "service", "extensions")
	for _, e := range list(base, "service", "extensions") {
		if !slices.Contains(ext, e) {
			t.Errorf("config.production.yaml service.extensions %v drops the base's %v", ext, e)
		}
	}
	if !slices.Contains(ext, any("bearertokenauth")) {
		t.Errorf("config.production.yaml service.extensions %v lacks bearertokenauth", ext)
	}
	// TLS certificate, key and tokens are files from Secret volumes; the
	// environment holds only their paths.
	for _, name := range []string{"SETTLEWATCH_TLS_CERT_FILE", "SETTLEWATCH_TLS_KEY_FILE", "SETTLEWATCH_OTLP_TOKEN_FILE"} {
		path := env[name]
		if !strings.HasPrefix(path, "/") {
			t.Errorf("collector env %s=%q, want a file path", name, path)
			continue
		}
		if str(vols[mounts[filepath.Dir(path)]], "secret", "secretName") == "" {
			t.Errorf("collector %s=%s is not on a Secret volume (mounts %v)", name, path, mounts)
		}
		if !bytes.Contains(readFile(t, filepath.Join(k8sDir, "collector", "config.production.yaml")), []byte("${env:"+name+":-")) {
			t.Errorf("config.production.yaml does not read %s", name)
		}
	}
	if str(c, "readinessProbe", "httpGet", "port") != "health" {
		t.Error("collector readiness is not the health_check extension")
	}
	// ClickHouse is an existing service, named in the generated ConfigMap.
	from := list(c, "envFrom")
	if len(from) != 1 || str(from[0], "configMapRef", "name") != "settlewatch-clickhouse" {
		t.Errorf("collector envFrom %v, want the settlewatch-clickhouse ConfigMap", from)
	}
}

func TestKubernetesAnalytics(t *testing.T) {
	k, objs := kustomize(t)
	dep := objs["Deployment/settlewatch-analytics"].doc
	if r, _ := get(dep, "spec", "replicas").(int); r != 1 {
		t.Errorf("analytics replicas %v, want exactly 1", get(dep, "spec", "replicas"))
	}
	if s := str(dep, "spec", "strategy", "type"); s != "Recreate" {
		t.Errorf("analytics strategy %q, want Recreate (never two schedulers during a rollout)", s)
	}
	if !bytes.Contains(readFile(t, filepath.Join(k8sDir, "analytics", "deployment.yaml")), []byte("idempotent")) {
		t.Error("the analytics manifest must say why two daemons would still be safe")
	}
	init := list(dep, "spec", "template", "spec", "initContainers")
	if len(init) != 1 || fmt.Sprint(list(init[0], "args")) != "[migrate]" || !strings.HasPrefix(str(init[0], "image"), "settlewatch/settlewatch:") {
		t.Errorf("analytics init containers %v, want settlewatch migrate", init)
	}
	// The ClickHouse ConfigMap names chconn's variables.
	var literals []string
	for _, g := range list(k, "configMapGenerator") {
		if str(g, "name") == "settlewatch-clickhouse" {
			for _, l := range list(g, "literals") {
				name, _, _ := strings.Cut(l.(string), "=")
				literals = append(literals, name)
			}
		}
	}
	slices.Sort(literals)
	if want := []string{"SETTLEWATCH_CH_ADDR", "SETTLEWATCH_CH_DATABASE", "SETTLEWATCH_CH_USER"}; !slices.Equal(literals, want) {
		t.Errorf("settlewatch-clickhouse literals %v, want %v", literals, want)
	}
}

func TestKubernetesGrafanaProvisioning(t *testing.T) {
	ds := yamlDoc(t, filepath.Join(k8sDir, "grafana", "datasource.yaml"))
	if got := str(ds, "datasources", 0, "type"); got != pluginID(t) {
		t.Errorf("data source type %q, want %q", got, pluginID(t))
	}
	if got := str(ds, "datasources", 0, "jsonData", "username"); got != "grafana" {
		t.Errorf("data source user %q, want the read-only grafana user", got)
	}
	if str(ds, "datasources", 0, "secureJsonData", "password") != "$GRAFANA_CH_PASSWORD" {
		t.Error("the data source password must come from $GRAFANA_CH_PASSWORD")
	}
	dp := yamlDoc(t, filepath.Join(k8sDir, "grafana", "dashboards-provider.yaml"))
	if str(dp, "providers", 0, "type") != "file" || str(dp, "providers", 0, "options", "path") == "" {
		t.Errorf("dashboards provider %v", get(dp, "providers", 0))
	}
}
