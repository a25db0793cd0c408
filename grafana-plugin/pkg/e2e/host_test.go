package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/settlewatch/settlewatch/chtest"
	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

// pluginBin is the plugin executable built once by TestMain, exactly as the
// build script builds it (static, stripped).
var pluginBin string

func TestMain(m *testing.M) {
	if bin := os.Getenv("SETTLEWATCH_TEST_PLUGIN_BIN"); bin != "" {
		// A plugin built elsewhere, e.g. an earlier commit's, to compare
		// benchmarks of two builds alternately (docs/benchmarks.md, "Plugin").
		pluginBin = bin
		chtest.Main(m)
		return
	}
	bin, err := buildPlugin()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build the plugin: %v\n", err)
		os.Exit(1)
	}
	pluginBin = bin
	chtest.Main(m)
}

// buildPlugin builds ../ (the plugin's main) into a fixed directory under
// the temp dir, so repeated runs reuse one file; the rename makes concurrent
// runs safe.
func buildPlugin() (string, error) {
	dir := filepath.Join(os.TempDir(), "settlewatch-grafana-plugin-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "gpx_settlewatch_linux_"+runtime.GOARCH)
	tmp := out + "." + strconv.Itoa(os.Getpid())
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-w -s", "-o", tmp, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, b)
	}
	return out, os.Rename(tmp, out)
}

// trackSources reads the plugin's Go sources once, from a test: go test
// caches a result by the files its tests open, and the plugin's package is
// built into the binary TestMain launches, not into this test's, so without
// this a change to it would be answered with a stale cached pass.
var trackSources sync.Once

func readSources(t testing.TB, dir string) {
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		_, err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatalf("read the plugin's sources: %v", err)
	}
}

// grafana plays Grafana's part: it launches the plugin binary through
// hashicorp/go-plugin with Grafana's handshake and plugin set, and sends it
// requests converted with backend.ToProto, as Grafana's plugin client does.
type grafana struct {
	client *goplugin.Client
	data   grpcplugin.DataClient
	diag   grpcplugin.DiagnosticsClient
	res    grpcplugin.ResourceClient
	pctx   backend.PluginContext
}

// launch starts the plugin for a data source configured with jsonData and a
// password; it is killed when the test ends.
func launch(t testing.TB, jsonData map[string]any, password string) *grafana {
	t.Helper()
	trackSources.Do(func() { readSources(t, "..") })
	raw, err := json.Marshal(jsonData)
	if err != nil {
		t.Fatal(err)
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
				"data":        &grpcplugin.DataGRPCPlugin{},
				"stream":      &grpcplugin.StreamGRPCPlugin{},
			},
		},
		Cmd:              exec.Command(pluginBin),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "grafana", Output: io.Discard, Level: hclog.Error}),
		StartTimeout:     time.Minute,
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		t.Fatalf("start the plugin: %v", err)
	}
	g := &grafana{client: client}
	for name, dst := range map[string]any{"data": &g.data, "diagnostics": &g.diag, "resource": &g.res} {
		v, err := rpc.Dispense(name)
		if err != nil {
			t.Fatalf("dispense %s: %v", name, err)
		}
		switch p := dst.(type) {
		case *grpcplugin.DataClient:
			*p = v.(grpcplugin.DataClient)
		case *grpcplugin.DiagnosticsClient:
			*p = v.(grpcplugin.DiagnosticsClient)
		case *grpcplugin.ResourceClient:
			*p = v.(grpcplugin.ResourceClient)
		}
	}
	g.pctx = backend.PluginContext{
		PluginID: plugin.PluginID,
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: 7, UID: "settlewatch-test", Name: "settlewatch", Type: plugin.PluginID,
			JSONData: raw, DecryptedSecureJSONData: map[string]string{"password": password},
			Updated: time.Now(),
		},
	}
	return g
}

// settingsFor points the data source at a test database.
func settingsFor(t testing.TB, db *chtest.DB) map[string]any {
	t.Helper()
	host, port, ok := strings.Cut(db.Settings.Addr[0], ":")
	if !ok {
		t.Fatalf("address %q", db.Settings.Addr[0])
	}
	p, _ := strconv.Atoi(port)
	return map[string]any{"host": host, "port": p, "database": db.Name, "username": db.Settings.Username, "queryTimeoutSeconds": 60}
}

// q is one query of a request: its JSON model and Grafana's envelope.
type q struct {
	RefID         string
	Type          string
	Model         map[string]any
	JSON          string // used instead of Model when set (malformed input)
	From, To      time.Time
	Interval      time.Duration
	MaxDataPoints int64
}

// dataQuery is x as Grafana sends it: the model's JSON with its refId, and
// Grafana's defaults for the interval and the points a panel can show.
func (x q) dataQuery() backend.DataQuery {
	raw := []byte(x.JSON)
	if x.JSON == "" {
		m := map[string]any{"refId": x.RefID}
		for k, v := range x.Model {
			m[k] = v
		}
		raw, _ = json.Marshal(m)
	}
	mdp := x.MaxDataPoints
	if mdp == 0 {
		mdp = 1000
	}
	iv := x.Interval
	if iv == 0 {
		iv = time.Minute
	}
	return backend.DataQuery{RefID: x.RefID, QueryType: x.Type, JSON: raw, TimeRange: backend.TimeRange{From: x.From, To: x.To},
		Interval: iv, MaxDataPoints: mdp}
}

func (g *grafana) query(t testing.TB, qs ...q) *backend.QueryDataResponse {
	t.Helper()
	resp, err := g.queryErr(context.Background(), nil, qs...)
	if err != nil {
		t.Fatalf("QueryData over gRPC: %v", err)
	}
	return resp
}

func (g *grafana) queryErr(ctx context.Context, headers map[string]string, qs ...q) (*backend.QueryDataResponse, error) {
	req := &backend.QueryDataRequest{PluginContext: g.pctx, Headers: headers}
	for _, x := range qs {
		req.Queries = append(req.Queries, x.dataQuery())
	}
	resp, err := g.data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		return nil, err
	}
	return backend.FromProto().QueryDataResponse(resp)
}

func (g *grafana) health(t testing.TB) *backend.CheckHealthResult {
	t.Helper()
	resp, err := g.diag.CheckHealth(context.Background(), &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(g.pctx)})
	if err != nil {
		t.Fatalf("CheckHealth over gRPC: %v", err)
	}
	return backend.FromProto().CheckHealthResponse(resp)
}

// resource calls a resource and returns its status and body.
func (g *grafana) resource(t testing.TB, method, path string, params url.Values) (int, []byte) {
	t.Helper()
	u := path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req := &backend.CallResourceRequest{PluginContext: g.pctx, Path: path, Method: method, URL: u}
	stream, err := g.res.CallResource(context.Background(), backend.ToProto().CallResourceRequest(req))
	if err != nil {
		t.Fatalf("CallResource over gRPC: %v", err)
	}
	status, body := 0, []byte{}
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("CallResource %s: %v", u, err)
		}
		res := backend.FromProto().CallResourceResponse(r)
		if res.Status != 0 {
			status = res.Status
		}
		body = append(body, res.Body...)
	}
	return status, body
}

// alive fails t if the plugin process has exited.
func (g *grafana) alive(t testing.TB) {
	t.Helper()
	if g.client.Exited() {
		t.Fatal("the plugin process exited")
	}
}
