package sql_test

import (
	"context"
	"slices"
	"strings"
	"sync"
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

// The export permission's migration gives it to the admins and
// supervisors that exist when it runs, so an upgrade takes nothing from
// them; agents and gateways stay without it, and so does a user written
// after it who does not say otherwise.
func TestExportMigrationKeepsAdminsAndSupervisorsExporting(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db, err := tsql.Open(ctx, sqltest.DSN(t, backend))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ms, err := tsql.Migrations(db.Dialect)
			if err != nil {
				t.Fatal(err)
			}
			// Found by name, not number: it keeps its place if another
			// migration comes before it.
			before := slices.IndexFunc(ms, func(m tsql.Migration) bool { return strings.HasSuffix(m.Name, "_user_export.sql") })
			if before < 0 {
				t.Fatal("no migration *_user_export.sql")
			}
			if err := db.MigrateTo(ctx, before); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO agencies (id, name, description, created_at, updated_at) VALUES (?, ?, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`), "gov110", "110"); err != nil {
				t.Fatal(err)
			}
			insert := db.Rebind(`INSERT INTO users (username, name, password_hash, role, agency_id, skills, max_chats, pii, created_at, updated_at)
				VALUES (?, ?, 'x', ?, ?, '{}', 1, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`)
			agency := func(a string) any {
				if a == "" {
					return nil
				}
				return a
			}
			old := []struct {
				username, role, agency string
				export                 bool
			}{
				{"admin", "admin", "", true},
				{"sup", "supervisor", "gov110", true},
				{"agent", "agent", "gov110", false},
				{"gw", "gateway", "gov110", false},
			}
			for _, u := range old {
				if _, err := db.ExecContext(ctx, insert, u.username, u.username, u.role, agency(u.agency), false); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := db.Migrate(ctx); err != nil || n != len(ms)-before {
				t.Fatalf("Migrate() = %d, %v; want the %d remaining applied", n, err, len(ms)-before)
			}
			if _, err := db.ExecContext(ctx, insert, "new-sup", "new-sup", "supervisor", "gov110", false); err != nil {
				t.Fatal(err)
			}
			old = append(old, struct {
				username, role, agency string
				export                 bool
			}{"new-sup", "supervisor", "gov110", false})
			for _, u := range old {
				var got bool
				if err := db.GetContext(ctx, &got, db.Rebind(`SELECT can_export FROM users WHERE username = ?`), u.username); err != nil {
					t.Fatal(err)
				}
				if got != u.export {
					t.Errorf("%s (%s) can_export = %v after the migration; want %v", u.username, u.role, got, u.export)
				}
			}
		})
	}
}

// On PostgreSQL a burst that takes every connection of the pool keeps
// them all when it ends: none is closed for want of an idle slot, so the
// next burst pays no new backend and no statement prepared again.
func TestPostgresPoolKeepsEveryConnectionItOpened(t *testing.T) {
	b := sqltest.Open(t, "postgres")
	const burst = 32
	ctx := context.Background()
	var wg sync.WaitGroup
	release := make(chan struct{})
	conns := make(chan error, burst)
	for range burst {
		wg.Go(func() {
			c, err := b.DB.Conn(ctx)
			if err != nil {
				conns <- err
				return
			}
			defer c.Close()
			conns <- nil
			<-release // held until every one is open
		})
	}
	for range burst {
		if err := <-conns; err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	wg.Wait()
	st := b.DB.Stats()
	if st.MaxIdleClosed != 0 || st.Idle != burst {
		t.Errorf("after a burst of %d: %d idle, %d closed for want of an idle slot; want %d and none", burst, st.Idle, st.MaxIdleClosed, burst)
	}
}
