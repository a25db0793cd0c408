package distribution

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/settlewatch/settlewatch/chtest"
)

// tlsFiles are a throwaway CA and a loopback server certificate signed by it.
type tlsFiles struct {
	certFile, keyFile string
	roots             *x509.CertPool
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newTLSFiles(t *testing.T, dir string) tlsFiles {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "settlewatch test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "settlewatch-collector"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := tlsFiles{certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key"), roots: x509.NewCertPool()}
	writePEM(t, f.certFile, "CERTIFICATE", leafDER)
	writePEM(t, f.keyFile, "PRIVATE KEY", keyDER)
	f.roots.AddCert(ca)
	return f
}

// logBuffer keeps every log entry of the collector, whatever the configured
// level, so the test can search them for the token.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) Sync() error { return nil }

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// productionCollector is the collector command as shipped, run with the two
// --config flags of a production deployment; start returns when its health
// check reports ready (which also shows the overlay kept health_check).
type productionCollector struct {
	grpcAddr, httpAddr, healthAddr, queueDir string
	logs                                     *logBuffer
	exited                                   chan struct{} // closed when the command returns
	err                                      error         // its result, once exited is closed
}

func productionEnv(t *testing.T, db *chtest.DB, files tlsFiles, tokenFile string) *productionCollector {
	t.Helper()
	pc := &productionCollector{
		grpcAddr:   fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		httpAddr:   fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		healthAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		queueDir:   filepath.Join(t.TempDir(), "queue"),
		logs:       &logBuffer{},
		exited:     make(chan struct{}),
	}
	for k, v := range map[string]string{
		"SETTLEWATCH_CH_ADDR":            db.Settings.Addr[0],
		"SETTLEWATCH_CH_DATABASE":        db.Name,
		"SETTLEWATCH_OTLP_GRPC_ENDPOINT": pc.grpcAddr,
		"SETTLEWATCH_OTLP_HTTP_ENDPOINT": pc.httpAddr,
		"SETTLEWATCH_HEALTH_ENDPOINT":    pc.healthAddr,
		"SETTLEWATCH_METRICS_PORT":       fmt.Sprint(freePort(t)),
		"SETTLEWATCH_QUEUE_DIR":          pc.queueDir,
		"SETTLEWATCH_LOG_LEVEL":          "debug",
		"SETTLEWATCH_TLS_CERT_FILE":      files.certFile,
		"SETTLEWATCH_TLS_KEY_FILE":       files.keyFile,
		"SETTLEWATCH_OTLP_TOKEN_FILE":    tokenFile,
	} {
		t.Setenv(k, v)
	}
	return pc
}

// run starts the command in the background; pc.exited closes when it returns.
// Cancelling the returned function stops it.
func (pc *productionCollector) run(t *testing.T) context.CancelFunc {
	t.Helper()
	set := Settings(nil) // as main does: the URIs come from the flags
	set.LoggingOptions = []zap.Option{zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, zapcore.NewCore(
			zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), pc.logs, zapcore.DebugLevel))
	})}
	cmd := otelcol.NewCommand(set)
	cmd.SetArgs([]string{"--config", "../config.yaml", "--config", "../config.production.yaml"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		pc.err = cmd.ExecuteContext(ctx)
		close(pc.exited)
	}()
	t.Cleanup(cancel)
	return cancel
}

func (pc *productionCollector) start(t *testing.T) {
	t.Helper()
	stop := pc.run(t)
	t.Cleanup(func() {
		stop()
		select {
		case <-pc.exited:
			if pc.err != nil && !t.Failed() {
				t.Errorf("collector run: %v", pc.err)
			}
		case <-time.After(30 * time.Second):
			t.Error("collector did not stop within 30s")
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-pc.exited:
			t.Fatalf("collector stopped during start-up: %v\n%s", pc.err, pc.logs)
		default:
		}
		resp, err := http.Get("http://" + pc.healthAddr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not ready within 60s\n%s", pc.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probe is one OTLP request carrying a single span with its own id.
func probe(name string) (ptrace.Traces, string) {
	td := ptrace.NewTraces()
	sp := addSpan(scope(td, "pos-terminal", map[string]any{"pos.terminal.id": "T-AUTH"}), spanSpec{
		trace: "auth/" + name, id: "auth/" + name, name: "auth.probe." + name,
		kind: ptrace.SpanKindClient, start: time.Now().UTC(), dur: time.Millisecond,
	})
	id := sp.SpanID()
	return td, strings.ToUpper(hex.EncodeToString(id[:]))
}

func exportGRPC(addr string, creds credentials.TransportCredentials, authorization string, td ptrace.Traces) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if authorization != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", authorization)
	}
	_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	return err
}

// postHTTP sends td over OTLP/HTTP; it returns the status and body, or the
// transport error.
func postHTTP(url string, tlsCfg *tls.Config, authorization string, td ptrace.Traces) (int, string, error) {
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestOTLPNeedsTLSAndToken runs the collector as production does (base
// config plus config.production.yaml) against real ClickHouse: only a
// request over TLS with the right bearer token stores its span.
func TestOTLPNeedsTLSAndToken(t *testing.T) {
	db := chtest.Migrated(t)
	dir := t.TempDir()
	files := newTLSFiles(t, dir)
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	token := "sw-" + hex.EncodeToString(secret)
	tokenFile := filepath.Join(dir, "otlp-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pc := productionEnv(t, db, files, tokenFile)
	pc.start(t)

	// The overlay kept the base's settlewatch_spool: the persistent queue is open.
	if entries, err := os.ReadDir(pc.queueDir); err != nil || len(entries) == 0 {
		t.Errorf("queue directory %s: %d entries, %v: settlewatch_spool is not running", pc.queueDir, len(entries), err)
	}

	tlsGRPC := credentials.NewTLS(&tls.Config{RootCAs: files.roots})
	httpsURL := "https://" + pc.httpAddr + "/v1/traces"
	bearer := "Bearer " + token
	wrong := "Bearer sw-" + strings.Repeat("0", len(secret)*2)

	// Refused requests first: had any been accepted, its span would be queued
	// ahead of the accepted ones the test waits for below.
	var refused []string
	grpcRefused := []struct{ name, authorization string }{
		{"grpc-no-token", ""},
		{"grpc-wrong-token", wrong},
		{"grpc-bare-token", token}, // right token without the Bearer scheme
	}
	for _, c := range grpcRefused {
		td, id := probe(c.name)
		refused = append(refused, id)
		err := exportGRPC(pc.grpcAddr, tlsGRPC, c.authorization, td)
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: got %v, want Unauthenticated", c.name, err)
		}
		if err != nil && strings.Contains(err.Error(), token) {
			t.Errorf("%s: the error returned to the client holds the token", c.name)
		}
	}
	for _, c := range []struct{ name, authorization string }{
		{"http-no-token", ""},
		{"http-wrong-token", wrong},
	} {
		td, id := probe(c.name)
		refused = append(refused, id)
		code, body, err := postHTTP(httpsURL, &tls.Config{RootCAs: files.roots}, c.authorization, td)
		if err != nil || code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, %v, want 401", c.name, code, err)
		}
		if strings.Contains(body, token) {
			t.Errorf("%s: the response body holds the token", c.name)
		}
	}
	// Plaintext to the TLS ports, even with the right token.
	{
		td, id := probe("grpc-plaintext")
		refused = append(refused, id)
		err := exportGRPC(pc.grpcAddr, insecure.NewCredentials(), bearer, td)
		if err == nil || status.Code(err) == codes.OK {
			t.Errorf("plaintext gRPC with the token: got %v, want a failed connection", err)
		}
	}
	{
		td, id := probe("http-plaintext")
		refused = append(refused, id)
		code, _, err := postHTTP("http://"+pc.httpAddr+"/v1/traces", nil, bearer, td)
		if err == nil && code == http.StatusOK {
			t.Error("plaintext HTTP with the token: 200 OK, want refused")
		}
	}
	// TLS below 1.2 is refused at the handshake.
	{
		td, id := probe("http-tls11")
		refused = append(refused, id)
		old := &tls.Config{RootCAs: files.roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
		code, _, err := postHTTP(httpsURL, old, bearer, td)
		if err == nil {
			t.Errorf("TLS 1.1 client: status %d, want a failed handshake", code)
		}
	}

	// Accepted: gRPC over TLS 1.3 and HTTP over TLS 1.2, with the token.
	tdGRPC, idGRPC := probe("grpc-ok")
	if err := exportGRPC(pc.grpcAddr, tlsGRPC, bearer, tdGRPC); err != nil {
		t.Fatalf("gRPC with TLS and token: %v", err)
	}
	tdHTTP, idHTTP := probe("http-ok")
	tls12 := &tls.Config{RootCAs: files.roots, MaxVersion: tls.VersionTLS12}
	if code, body, err := postHTTP(httpsURL, tls12, bearer, tdHTTP); err != nil || code != http.StatusOK {
		t.Fatalf("HTTP with TLS 1.2 and token: status %d %q, %v", code, body, err)
	}
	waitFor(t, db, 2, "SELECT count() FROM spans FINAL WHERE hex(span_id) IN (?, ?)", idGRPC, idHTTP)

	args := make([]any, len(refused))
	for i, id := range refused {
		args[i] = id
	}
	q := "SELECT count() FROM spans WHERE hex(span_id) IN (?" + strings.Repeat(", ?", len(refused)-1) + ")"
	refusedStored := db.Count(t, q, args...)
	if refusedStored != 0 {
		t.Errorf("%d spans stored from the %d refused requests, want 0", refusedStored, len(refused))
	}
	total := db.Count(t, "SELECT count() FROM spans FINAL")
	if total != 2 {
		t.Errorf("spans table holds %d rows, want the 2 accepted spans", total)
	}

	logs := pc.logs.String()
	if !strings.Contains(logs, "Everything is ready") {
		t.Fatalf("the log capture saw no start-up message; captured:\n%s", logs)
	}
	if strings.Contains(logs, token) {
		t.Error("the collector logged the bearer token")
	}
	if strings.Contains(logs, keyLine(t, files.keyFile)) {
		t.Error("the collector logged the TLS private key")
	}
	t.Logf("refused requests: %d, their spans stored: %d; spans stored in all: %d; debug log: %d bytes, token found: %v",
		len(refused), refusedStored, total, len(logs), strings.Contains(logs, token))
}

// keyLine is the first base64 line of a PEM private key: what a log of the
// key would contain.
func keyLine(t *testing.T, path string) string {
	t.Helper()
	lines := strings.Split(string(readFileT(t, path)), "\n")
	if len(lines) < 3 || len(lines[1]) < 32 {
		t.Fatalf("%s: not a PEM key", path)
	}
	return lines[1]
}

func readFileT(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEmptyTokenFileStopsStartup: an empty token file is a deployment error;
// the production config refuses to start instead of running with no token.
func TestEmptyTokenFileStopsStartup(t *testing.T) {
	db := chtest.New(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "otlp-token")
	if err := os.WriteFile(tokenFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pc := productionEnv(t, db, newTLSFiles(t, dir), tokenFile)
	pc.run(t)
	select {
	case <-pc.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("collector still running after 60s with an empty token file")
	}
	err := pc.err
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("collector run: %v, want a start-up error about the empty token file", err)
	}
	if resp, herr := http.Get("http://" + pc.healthAddr + "/"); herr == nil {
		resp.Body.Close()
		t.Errorf("health check answers %d after a failed start", resp.StatusCode)
	}
}
