package sql_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// secure_delete is a per-connection setting: every connection of the pool
// must have it, not only the first.
func TestEverySQLiteConnectionDeletesSecurely(t *testing.T) {
	b := sqltest.Open(t, "sqlite")
	ctx := context.Background()
	var conns []*sql.Conn
	for range 4 { // held at once, so the pool must open four
		c, err := b.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var on int
		if err := c.QueryRowContext(ctx, `PRAGMA secure_delete`).Scan(&on); err != nil {
			t.Fatal(err)
		}
		if on != 1 {
			t.Errorf("connection %d: secure_delete = %d; want 1 (on, not FAST)", i, on)
		}
	}
}

// On SQLite, Scrub leaves nothing in the WAL: its frames are in the
// database file and the file is empty.
func TestScrubTruncatesTheWAL(t *testing.T) {
	b := sqltest.Open(t, "sqlite")
	fill(t, b.DB, b.DSN)
	if fileSize(t, b.DSN+"-wal") == 0 {
		t.Fatal("the WAL is empty before Scrub: the test proves nothing")
	}
	if err := b.DB.Scrub(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := fileSize(t, b.DSN+"-wal"); n != 0 {
		t.Errorf("the WAL holds %d bytes after Scrub; want 0", n)
	}
	var rows int
	if err := b.DB.GetContext(context.Background(), &rows, `SELECT COUNT(*) FROM ballast`); err != nil || rows == 0 {
		t.Errorf("after Scrub the table holds %d rows (%v); want what was written", rows, err)
	}
}

// A reader of older pages keeps the WAL from being truncated: Scrub keeps
// trying, but holds the write lock only briefly each time, so commits go
// on meanwhile rather than wait for their busy timeout; once the reader
// ends, Scrub succeeds.
func TestScrubWaitsForReadersWithoutStallingCommits(t *testing.T) {
	b := sqltest.Open(t, "sqlite")
	ctx := context.Background()
	fill(t, b.DB, b.DSN)
	reader, err := b.DB.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	var n int
	if err := reader.GetContext(ctx, &n, `SELECT COUNT(*) FROM ballast`); err != nil {
		t.Fatal(err)
	}
	// Something to checkpoint past the reader's snapshot.
	if _, err := b.DB.ExecContext(ctx, `INSERT INTO ballast VALUES (zeroblob(100))`); err != nil {
		t.Fatal(err)
	}

	scrubCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var scrubErr error
	wg.Go(func() { scrubErr = b.DB.Scrub(scrubCtx) })
	var slowest time.Duration
	for scrubCtx.Err() == nil {
		start := time.Now()
		if _, err := b.DB.ExecContext(ctx, `INSERT INTO ballast VALUES (zeroblob(100))`); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	if !errors.Is(scrubErr, context.DeadlineExceeded) {
		t.Errorf("Scrub with a reader open = %v; want it to keep trying until its context ended", scrubErr)
	}
	// Each try holds the write lock for at most a quarter second; a commit
	// that waited for the pool's busy timeout would wait as long as Scrub
	// tried (its context ended it).
	if slowest > 1500*time.Millisecond {
		t.Errorf("a commit took %v while Scrub waited for the reader; want well under the busy timeout", slowest)
	}
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := b.DB.Scrub(ctx); err != nil {
		t.Fatalf("Scrub after the reader ended = %v", err)
	}
	if n := fileSize(t, b.DSN+"-wal"); n != 0 {
		t.Errorf("the WAL holds %d bytes after Scrub; want 0", n)
	}
}

// On PostgreSQL Scrub VACUUMs the tables it is given, on a connection
// outside any transaction (VACUUM fails inside one); it refuses anything
// that is not a plain table name.
func TestScrubVacuums(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		ctx := context.Background()
		for _, q := range []string{`CREATE TABLE scrubbed (x TEXT NOT NULL)`,
			`INSERT INTO scrubbed (x) VALUES ('gone'), ('kept')`, `DELETE FROM scrubbed WHERE x = 'gone'`} {
			if _, err := b.DB.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.DB.Scrub(ctx, "scrubbed"); err != nil {
			t.Fatal(err)
		}
		if b.DB.Dialect == tsql.Postgres {
			var at *time.Time
			if err := b.DB.GetContext(ctx, &at, `SELECT last_vacuum FROM pg_stat_user_tables
				WHERE schemaname = current_schema() AND relname = 'scrubbed'`); err != nil {
				t.Fatal(err)
			}
			if at == nil {
				t.Error("the table was never vacuumed")
			}
		} else if n := fileSize(t, b.DSN+"-wal"); n != 0 {
			t.Errorf("the WAL holds %d bytes after Scrub; want 0", n)
		}
		for _, bad := range []string{"scrubbed; DROP TABLE scrubbed", "Scrubbed", ""} {
			if err := b.DB.Scrub(ctx, bad); err == nil {
				t.Errorf("Scrub(%q) = nil; want an error", bad)
			}
		}
	})
}
