package simulator

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// ExporterConfig says where and how to send OTLP.
type ExporterConfig struct {
	Protocol    string            // grpc (default) or http
	Endpoint    string            // host:port, or a URL; default 127.0.0.1:4317 (grpc) or 127.0.0.1:4318 (http)
	Insecure    bool              // plaintext instead of TLS
	Headers     map[string]string // extra request headers
	Compression string            // gzip or "" for none
	Timeout     time.Duration     // per export request; 0: 10s
	// RetryMaxElapsed bounds the exporter's retries of one request: 0 keeps
	// the exporter's default (1 minute), a negative value disables retries.
	RetryMaxElapsed time.Duration
}

// DefaultEndpoint returns the default collector endpoint for a protocol.
func DefaultEndpoint(protocol string) string {
	if protocol == "http" {
		return "127.0.0.1:4318"
	}
	return "127.0.0.1:4317"
}

// NewOTLPExporter builds the SDK's OTLP trace exporter (gRPC or HTTP/protobuf).
func NewOTLPExporter(ctx context.Context, c ExporterConfig) (sdktrace.SpanExporter, error) {
	if c.Protocol == "" {
		c.Protocol = "grpc"
	}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint(c.Protocol)
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	isURL := strings.Contains(c.Endpoint, "://")
	if isURL && c.Protocol == "http" {
		// A bare collector URL means its standard traces path.
		if u, err := url.Parse(c.Endpoint); err == nil && (u.Path == "" || u.Path == "/") {
			u.Path = "/v1/traces"
			c.Endpoint = u.String()
		}
	}
	switch c.Protocol {
	case "grpc":
		opts := []otlptracegrpc.Option{otlptracegrpc.WithTimeout(c.Timeout)}
		if isURL {
			opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
		} else {
			opts = append(opts, otlptracegrpc.WithEndpoint(c.Endpoint))
		}
		if c.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(c.Headers))
		}
		if c.Compression == "gzip" {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		if c.RetryMaxElapsed != 0 {
			rc := otlptracegrpc.RetryConfig{Enabled: c.RetryMaxElapsed > 0, InitialInterval: 200 * time.Millisecond,
				MaxInterval: 5 * time.Second, MaxElapsedTime: c.RetryMaxElapsed}
			opts = append(opts, otlptracegrpc.WithRetry(rc))
		}
		return otlptracegrpc.New(ctx, opts...)
	case "http":
		opts := []otlptracehttp.Option{otlptracehttp.WithTimeout(c.Timeout)}
		if isURL {
			opts = append(opts, otlptracehttp.WithEndpointURL(c.Endpoint))
		} else {
			opts = append(opts, otlptracehttp.WithEndpoint(c.Endpoint))
		}
		if c.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if len(c.Headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(c.Headers))
		}
		if c.Compression == "gzip" {
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}
		if c.RetryMaxElapsed != 0 {
			rc := otlptracehttp.RetryConfig{Enabled: c.RetryMaxElapsed > 0, InitialInterval: 200 * time.Millisecond,
				MaxInterval: 5 * time.Second, MaxElapsedTime: c.RetryMaxElapsed}
			opts = append(opts, otlptracehttp.WithRetry(rc))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("unknown protocol %q (grpc or http)", c.Protocol)
}

// countingExporter counts what the wrapped exporter accepted and refused.
type countingExporter struct {
	inner    sdktrace.SpanExporter
	exported atomic.Int64
	failed   atomic.Int64
	calls    atomic.Int64
	errs     atomic.Int64
	lastErr  atomic.Value // string
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.inner.ExportSpans(ctx, spans)
	c.calls.Add(1)
	if err != nil {
		c.failed.Add(int64(len(spans)))
		c.errs.Add(1)
		c.lastErr.Store(err.Error())
		return err
	}
	c.exported.Add(int64(len(spans)))
	return nil
}

func (c *countingExporter) Shutdown(ctx context.Context) error { return c.inner.Shutdown(ctx) }

// sharedProcessor lets many TracerProviders feed one batch span processor:
// a provider's Shutdown must not shut the shared processor down (the emitter
// flushes and shuts it down once, at the end).
type sharedProcessor struct{ sdktrace.SpanProcessor }

func (sharedProcessor) Shutdown(context.Context) error { return nil }
