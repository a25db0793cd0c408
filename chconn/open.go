package chconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Open validates s, connects to s.Database over the native protocol and pings
// the server, so a returned connection is known to work.
func Open(ctx context.Context, s Settings) (driver.Conn, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	return open(ctx, s, s.Database)
}

// OpenSession is Open limited to one connection: one server session, so a
// temporary table created by one query is there for the next ones until
// the connection is closed (the native protocol keeps temporary tables per
// connection; a pool would hand out others).
func OpenSession(ctx context.Context, s Settings) (driver.Conn, error) {
	s.MaxOpenConns = 1
	return Open(ctx, s)
}

// Sessions is OpenSession bound to s, for jobs.Env.Session.
func Sessions(s Settings) func(context.Context) (driver.Conn, error) {
	return func(ctx context.Context) (driver.Conn, error) { return OpenSession(ctx, s) }
}

// OpenNoDatabase is Open connected to the server's "default" database, for
// work that must happen before s.Database exists (CREATE DATABASE, migrations).
// s is still validated, including s.Database.
func OpenNoDatabase(ctx context.Context, s Settings) (driver.Conn, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	return open(ctx, s, "default")
}

func open(ctx context.Context, s Settings, database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(options(s, database))
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", strings.Join(s.Addr, ","), err)
	}
	pctx, cancel := context.WithTimeout(ctx, s.DialTimeout)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ping clickhouse %s (database %s, user %s): %w",
			strings.Join(s.Addr, ","), database, s.Username, err)
	}
	return conn, nil
}

func options(s Settings, database string) *clickhouse.Options {
	o := &clickhouse.Options{
		Protocol: clickhouse.Native, // HTTP does not work with 18.16
		Addr:     append([]string(nil), s.Addr...),
		Auth: clickhouse.Auth{
			Database: database,
			Username: s.Username,
			Password: s.Password,
		},
		DialTimeout:      s.DialTimeout,
		MaxOpenConns:     s.MaxOpenConns,
		MaxIdleConns:     min(5, s.MaxOpenConns),
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
		ClientInfo:       clientInfo(),
	}
	if s.Secure {
		o.TLS = &tls.Config{InsecureSkipVerify: s.InsecureSkipVerify} //nolint:gosec // opt-in, validated to need Secure
	}
	switch s.Compression {
	case CompressionLZ4:
		o.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	case CompressionZSTD:
		o.Compression = &clickhouse.Compression{Method: clickhouse.CompressionZSTD}
	}
	return o
}

// clientInfo names the program in the client name the server logs with
// each query (system.query_log and system.processes, client_name), e.g.
// "settlewatch-collector/(devel) clickhouse-go/2.51.0 (…)": an operator sees
// which part of settlewatch runs a query, and the ingest benchmark tells
// its own queries from the collector's.
func clientInfo() clickhouse.ClientInfo {
	var ci clickhouse.ClientInfo
	version := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		version = bi.Main.Version
	}
	ci.Products = append(ci.Products, struct{ Name, Version string }{filepath.Base(os.Args[0]), version})
	return ci
}
