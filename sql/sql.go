// Package sql owns tellonce's durable storage plumbing: opening the
// production PostgreSQL store or the embedded SQLite default, and the
// append-only schema migrations for both, embedded in the binary.
//
// The same queries run on both backends: callers write them with `?`
// placeholders and pass them through DB.Rebind (sqlx does the rest).
package sql

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"  // PostgreSQL driver, the production store.
	"modernc.org/sqlite" // Pure-Go SQLite driver, the embedded default.
)

// Dialect names a supported backend.
type Dialect string

// The two supported backends.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DefaultSQLitePath is where the embedded database lives when nothing is
// configured.
const DefaultSQLitePath = "data/tellonce.db"

// sqliteBusyTimeoutMS is how long, in milliseconds, an SQLite connection
// waits for a lock before it fails with SQLITE_BUSY.
const sqliteBusyTimeoutMS = "10000"

// ErrNotFound is returned by lookups that match no row.
var ErrNotFound = errors.New("not found")

//go:embed migrations
var migrationFS embed.FS

// DB is an open database with its dialect.
type DB struct {
	*sqlx.DB
	Dialect Dialect
}

// Open connects to dsn and checks the connection. A dsn starting with
// postgres:// or postgresql:// opens PostgreSQL; anything else is a path to
// an SQLite file (created with its directory when missing), with "" meaning
// DefaultSQLitePath. Open does not migrate; call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

// postgresConns bounds the shared pool on PostgreSQL.
const postgresConns = 32

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	x, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// Every connection the pool opens may stay idle: with fewer idle
	// slots than open connections, a burst that opens them all closes
	// the surplus as it ends, and the next burst pays PostgreSQL a new
	// backend and each prepared statement again, on a request's way
	// (earlier cases before an offer, the journal's batch). Idle ones
	// still close after five minutes.
	x.SetMaxOpenConns(postgresConns)
	x.SetMaxIdleConns(postgresConns)
	x.SetConnMaxIdleTime(5 * time.Minute)
	if err := x.PingContext(ctx); err != nil {
		x.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	return &DB{DB: x, Dialect: Postgres}, nil
}

// sqlitePath is the file an SQLite dsn names.
func sqlitePath(dsn string) string {
	path := strings.TrimPrefix(dsn, "sqlite://")
	path = strings.TrimPrefix(path, "file:")
	if path == "" {
		path = DefaultSQLitePath
	}
	return path
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	path = sqlitePath(path)
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// WAL lets readers proceed while one writer commits; synchronous=FULL
	// makes every acknowledged commit survive a power cut, not just a crash;
	// _txlock=immediate takes the write lock at BEGIN so two writers queue
	// on busy_timeout instead of failing on a lock upgrade; commits leave
	// checkpoints to RunCheckpoints up to a large WAL. secure_delete zeroes
	// what a delete or an update removes, in its page, and every page it
	// frees (FAST would leave freed pages as they were), so that purged
	// data cannot be read back from the file (see Scrub); it costs a write
	// of each freed page. The driver runs these pragmas on every new
	// connection of the pool, and secure_delete is a per-connection
	// setting.
	dsn := "file:" + path + "?_txlock=immediate" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)" +
		"&_pragma=wal_autocheckpoint(" + strconv.Itoa(sqliteAutoCheckpointPages) + ")" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=secure_delete(1)" +
		"&_pragma=busy_timeout(" + sqliteBusyTimeoutMS + ")"
	x, err := sqlx.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	x.SetMaxOpenConns(8)
	x.SetMaxIdleConns(8)
	x.SetConnMaxIdleTime(0)
	if err := x.PingContext(ctx); err != nil {
		x.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{DB: x, Dialect: SQLite}, nil
}

// Migration is one numbered schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations for the dialect, in order.
// The schema version is the length of this list.
func Migrations(d Dialect) ([]Migration, error) {
	dir := "migrations/" + string(d)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations for %s: %w", d, err)
	}
	var ms []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", name)
		}
		body, err := fs.ReadFile(migrationFS, dir+"/"+name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations for %s: expected version %d, found %s", d, i+1, m.Name)
		}
	}
	return ms, nil
}

const createVersionTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TIMESTAMP NOT NULL
)`

// Migrate applies every migration newer than the database's version, each
// in its own transaction, and returns the number applied. On PostgreSQL an
// advisory lock keeps two starting servers from migrating at once.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return 0, err
	}
	if _, err := db.ExecContext(ctx, createVersionTable); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := 0
	for _, m := range ms {
		done, err := db.applyOne(ctx, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied++
		}
	}
	return applied, nil
}

// migrationLockKey is an arbitrary constant shared by every tellonce server.
const migrationLockKey = 7_263_110_1339

func (db *DB) applyOne(ctx context.Context, m Migration) (bool, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migration %s: begin: %w", m.Name, err)
	}
	defer tx.Rollback()
	if db.Dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
			return false, fmt.Errorf("migration %s: lock: %w", m.Name, err)
		}
	}
	var n int
	if err := tx.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.Version); err != nil {
		return false, fmt.Errorf("migration %s: check: %w", m.Name, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.Version, m.Name, time.Now().UTC()); err != nil {
		return false, fmt.Errorf("migration %s: record: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return true, nil
}

// Version returns the highest applied migration, 0 for an empty database.
func (db *DB) Version(ctx context.Context) (int, error) {
	var v int
	err := db.GetContext(ctx, &v, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Ready reports whether the database answers and its schema is current.
func (db *DB) Ready(ctx context.Context) error {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return err
	}
	v, err := db.Version(ctx)
	if err != nil {
		return err
	}
	if v < len(ms) {
		return fmt.Errorf("schema version %d, want %d: run tellonce migrate", v, len(ms))
	}
	return nil
}

// InTx runs fn in one transaction, committing when fn returns nil and
// rolling back otherwise, so a failed request leaves nothing behind.
func (db *DB) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// SQLite extended result codes (sqlite3.h).
const (
	sqliteConstraintForeignKey = 787
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// IsUniqueViolation reports whether err is a unique or primary-key
// constraint failure on either backend.
func IsUniqueViolation(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqliteConstraintUnique || se.Code() == sqliteConstraintPrimaryKey
	}
	return false
}

// IsForeignKeyViolation reports whether err is a foreign-key failure on
// either backend.
func IsForeignKeyViolation(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqliteConstraintForeignKey
	}
	return false
}
