package chschema

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/settlewatch/settlewatch/chconn"
)

// ddlTimeout bounds one DDL statement. ON CLUSTER statements wait for every
// node (distributed_ddl_task_timeout is 180 s by default), hence the margin.
const ddlTimeout = 5 * time.Minute

// Migrate brings database db up to LatestVersion and returns the versions it
// applied, in order (none when the database was already current).
//
// It is safe to run from several processes at once: all statements are
// idempotent, a statement that loses a creation race is retried (it then finds
// the object and does nothing), and a version recorded twice collapses in the
// ReplacingMergeTree. conn may be connected to any database; "default" is
// fine (see chconn.OpenNoDatabase).
func Migrate(ctx context.Context, conn driver.Conn, db string, d Dialect, logger *slog.Logger) (applied []uint32, err error) {
	if err := check(db, d); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("database", db)
	boot := bootstrap(db, d)
	if d.Cluster != "" {
		// An ON CLUSTER statement waits for every host of the cluster
		// (distributed_ddl_task_timeout, 180 s by default) and then fails, so
		// the idempotent bootstrap would stall a collector that reconnects
		// while one replica is down. Once the migrations table is here, a
		// current schema needs no DDL at all.
		exists, err := migrationsTableExists(ctx, conn, db)
		if err != nil {
			return nil, fmt.Errorf("migrate %s: %w", db, err)
		}
		if exists {
			boot = nil
		}
	}
	for _, stmt := range boot {
		if err := execDDL(ctx, conn, stmt, logger); err != nil {
			return nil, fmt.Errorf("migrate %s: create migrations table: %w", db, err)
		}
	}
	done, err := appliedChecksums(ctx, conn, db)
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", db, err)
	}
	for _, m := range AllMigrations() {
		stmts := m.Statements(db, d)
		sum := checksum(m, stmts)
		if old, ok := done[m.Version]; ok {
			if old != sum {
				logger.Warn("applied migration differs from this build's (code or server dialect changed since)",
					"version", m.Version, "name", m.Name, "recorded_checksum", old, "checksum", sum)
			}
			continue
		}
		// Another service migrating at once may have gone ahead since done
		// was read: a version it applied is skipped here, not run again over
		// the later versions that changed what it made.
		if done, err = appliedChecksums(ctx, conn, db); err != nil {
			return applied, fmt.Errorf("migrate %s: %w", db, err)
		}
		if _, ok := done[m.Version]; ok {
			continue
		}
		start := time.Now()
		err = apply(ctx, conn, db, d, m, stmts, logger)
		if err == nil && m.Once != nil {
			err = m.Once(ctx, conn, db, d)
		}
		if err != nil {
			// Another service may have applied it meanwhile, and perhaps
			// later versions that removed what this one needs (a view over a
			// table a later version dropped): then theirs stands.
			if now, rerr := appliedChecksums(ctx, conn, db); rerr == nil {
				if _, ok := now[m.Version]; ok {
					logger.Info("schema migration applied meanwhile by another migrator", "version", m.Version, "name", m.Name, "error", err)
					done = now
					continue
				}
			}
			return applied, fmt.Errorf("migrate %s: version %d (%s): %w", db, m.Version, m.Name, err)
		}
		if err := record(ctx, conn, db, m, sum); err != nil {
			return applied, fmt.Errorf("migrate %s: record version %d: %w", db, m.Version, err)
		}
		applied = append(applied, m.Version)
		logger.Info("schema migration applied", "version", m.Version, "name", m.Name,
			"statements", len(stmts), "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return applied, nil
}

func apply(ctx context.Context, conn driver.Conn, db string, d Dialect, m Migration, stmts []string, logger *slog.Logger) error {
	for _, stmt := range stmts {
		if err := execDDL(ctx, conn, stmt, logger); err != nil {
			return err
		}
	}
	if m.Run != nil {
		return m.Run(ctx, conn, db, d)
	}
	return nil
}

// Status returns the schema version of db: the highest applied migration, or
// 0 when db has never been migrated.
func Status(ctx context.Context, conn driver.Conn, db string) (uint32, error) {
	if err := checkDB(db); err != nil {
		return 0, fmt.Errorf("schema status: %w", err)
	}
	qctx, cancel := chconn.WithQuerySettings(ctx, 30*time.Second)
	defer cancel()
	var n uint64
	if err := conn.QueryRow(qctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?",
		db, Migrations.Name).Scan(&n); err != nil {
		return 0, fmt.Errorf("schema status of %s: %w", db, err)
	}
	if n == 0 {
		return 0, nil
	}
	var v uint32
	q := fmt.Sprintf("SELECT max(version) FROM %s.%s FINAL", db, Migrations.Name)
	if err := conn.QueryRow(qctx, q).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema status of %s: %w", db, err)
	}
	return v, nil
}

func migrationsTableExists(ctx context.Context, conn driver.Conn, db string) (bool, error) {
	return tableExists(ctx, conn, db, Migrations.Name)
}

// tableExists says whether db holds a table (or view) named name.
func tableExists(ctx context.Context, conn driver.Conn, db, name string) (bool, error) {
	qctx, cancel := chconn.WithQuerySettings(ctx, 30*time.Second)
	defer cancel()
	var n uint64
	if err := conn.QueryRow(qctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db, name).Scan(&n); err != nil {
		return false, fmt.Errorf("look for table %s: %w", name, err)
	}
	return n > 0, nil
}

func appliedChecksums(ctx context.Context, conn driver.Conn, db string) (map[uint32]string, error) {
	qctx, cancel := chconn.WithQuerySettings(ctx, 30*time.Second)
	defer cancel()
	rows, err := conn.Query(qctx, fmt.Sprintf("SELECT version, checksum FROM %s.%s FINAL", db, Migrations.Name))
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	defer rows.Close()
	done := map[uint32]string{}
	for rows.Next() {
		var v uint32
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
		done[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return done, nil
}

func record(ctx context.Context, conn driver.Conn, db string, m Migration, sum string) error {
	qctx, cancel := chconn.WithQuerySettings(ctx, 30*time.Second)
	defer cancel()
	batch, err := conn.PrepareBatch(qctx, Migrations.InsertSQL(db))
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer func() { _ = batch.Abort() }() // no-op once sent
	if err := batch.Append(m.Version, m.Name, sum, time.Now().UTC(), appliedBy()); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

func appliedBy() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return fmt.Sprintf("%s pid %d", host, os.Getpid())
}

// raceCodes are the server errors a concurrent twin of an idempotent DDL
// statement could cause; running the statement again then no-ops. 18.16
// serialises CREATE … IF NOT EXISTS (8 racing clients × 30 rounds: no error),
// so this is a guard for other servers and engines.
var raceCodes = []int32{
	15, // DUPLICATE_COLUMN
	44, // ILLEGAL_COLUMN ("column already exists")
	57, // TABLE_ALREADY_EXISTS
	82, // DATABASE_ALREADY_EXISTS
}

// execDDL runs one idempotent statement, retrying when it lost a race.
func execDDL(ctx context.Context, conn driver.Conn, stmt string, logger *slog.Logger) error {
	const attempts = 5
	for i := 1; ; i++ {
		qctx, cancel := chconn.WithQuerySettings(ctx, ddlTimeout)
		err := conn.Exec(qctx, stmt)
		cancel()
		if err == nil {
			return nil
		}
		var ex *clickhouse.Exception
		if i == attempts || !errors.As(err, &ex) || !slices.Contains(raceCodes, ex.Code) {
			return fmt.Errorf("%s: %w", firstLine(stmt), err)
		}
		logger.Info("DDL lost a race with another migrator; retrying", "attempt", i, "code", ex.Code, "error", ex.Message)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", firstLine(stmt), ctx.Err())
		case <-time.After(time.Duration(i) * 100 * time.Millisecond):
		}
	}
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}

// Repair re-runs every migration's statements, applied or not. They are all
// idempotent, so this only recreates what an operator dropped (a table the
// records say exists). The exporter calls it when an insert finds a table
// missing; nothing is recorded.
func Repair(ctx context.Context, conn driver.Conn, db string, d Dialect, logger *slog.Logger) error {
	if err := check(db, d); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, stmt := range bootstrap(db, d) {
		if err := execDDL(ctx, conn, stmt, logger); err != nil {
			return fmt.Errorf("repair %s: %w", db, err)
		}
	}
	for _, m := range AllMigrations() {
		if err := apply(ctx, conn, db, d, m, m.Statements(db, d), logger); err != nil {
			return fmt.Errorf("repair %s: version %d (%s): %w", db, m.Version, m.Name, err)
		}
	}
	return nil
}
