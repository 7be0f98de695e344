// Package sqltest gives tests a fresh, migrated database on every backend
// tellonce supports: an SQLite file in a temporary directory, and a private
// schema in the PostgreSQL server named by $TELLONCE_TEST_POSTGRES (which
// `make test` starts). Without that variable the PostgreSQL run is skipped
// locally, but fails when $CI is set, so CI can never pass by skipping.
package sqltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	tsql "tellonce/sql"
)

// EnvPostgres names the variable holding the test server's URL.
const EnvPostgres = "TELLONCE_TEST_POSTGRES"

// Backend is one database to run a test against.
type Backend struct {
	Name string
	DB   *tsql.DB
	// DSN reopens the same database (for a second process, say).
	DSN string
}

// Each runs fn once per backend, as subtests named after the backend, each
// with a fresh migrated database.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			fn(t, Open(t, name))
		})
	}
}

// Open returns a fresh migrated database of the named backend ("sqlite" or
// "postgres"), removed when the test ends.
func Open(t testing.TB, name string) Backend {
	t.Helper()
	dsn := DSN(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := tsql.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s: %v", name, err)
	}
	return Backend{Name: name, DB: db, DSN: dsn}
}

// DSN returns the address of a fresh, empty database of the named backend
// without opening it, for tests that start a server process of their own.
func DSN(t testing.TB, name string) string {
	t.Helper()
	switch name {
	case "sqlite":
		return filepath.Join(t.TempDir(), "tellonce.db")
	case "postgres":
		return postgresSchema(t)
	}
	t.Fatalf("sqltest: unknown backend %q", name)
	return ""
}

// postgresSchema creates a private schema for one test and returns a URL
// whose search_path points at it (then public, where extensions live).
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (use make test)", EnvPostgres)
		}
		t.Skipf("%s is not set; run make test for the PostgreSQL runs", EnvPostgres)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := tsql.Open(ctx, base)
	if err != nil {
		t.Fatalf("connect to test postgres: %v", err)
	}
	defer admin.Close()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := tsql.Open(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	return u.String()
}
