package sql_test

import (
	"context"
	"testing"

	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

func TestMigrationsAreNumberedForBothDialects(t *testing.T) {
	pg, err := tsql.Migrations(tsql.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	lite, err := tsql.Migrations(tsql.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) == 0 || len(pg) != len(lite) {
		t.Fatalf("migrations: postgres has %d, sqlite %d; want the same non-zero count", len(pg), len(lite))
	}
	for i := range pg {
		if pg[i].Name != lite[i].Name {
			t.Errorf("migration %d: postgres %q, sqlite %q; want the same name", i+1, pg[i].Name, lite[i].Name)
		}
	}
}

func TestMigrateIsIdempotentAndReady(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		want, _ := tsql.Migrations(b.DB.Dialect)
		v, err := b.DB.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v != len(want) {
			t.Fatalf("Version() = %d; want %d", v, len(want))
		}
		n, err := b.DB.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("second Migrate() applied %d; want 0", n)
		}
		if err := b.DB.Ready(ctx); err != nil {
			t.Errorf("Ready() = %v; want nil", err)
		}
	})
}

func TestReadyFailsWhileSchemaIsBehind(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		if _, err := b.DB.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`); err != nil {
			t.Fatal(err)
		}
		if err := b.DB.Ready(ctx); err == nil {
			t.Fatal("Ready() = nil with a migration missing; want an error")
		}
	})
}

func TestConstraintErrorsAreRecognised(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		ins := b.DB.Rebind(`INSERT INTO agencies (id, name, description, created_at, updated_at) VALUES (?, ?, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
		if _, err := b.DB.ExecContext(ctx, ins, "a1", "A"); err != nil {
			t.Fatal(err)
		}
		_, err := b.DB.ExecContext(ctx, ins, "a1", "A")
		if !tsql.IsUniqueViolation(err) {
			t.Errorf("duplicate insert: IsUniqueViolation(%v) = false; want true", err)
		}
		_, err = b.DB.ExecContext(ctx, b.DB.Rebind(`INSERT INTO users (username, name, password_hash, role, agency_id, skills, max_chats, pii, created_at, updated_at)
			VALUES ('u', 'U', 'x', 'agent', ?, '{}', 1, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`), "nope", false)
		if !tsql.IsForeignKeyViolation(err) {
			t.Errorf("dangling agency: IsForeignKeyViolation(%v) = false; want true", err)
		}
	})
}
