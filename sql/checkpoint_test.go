package sql_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"tellonce/clocktest"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// walTestBytes is what the tests write: more than SQLite's default
// auto-checkpoint size (1,000 pages), far less than ours.
const walTestBytes = 5 << 20

// fill writes about walTestBytes in 32 commits (each one a chance for a
// commit to checkpoint by itself) and returns the database file's size
// before and after.
func fill(t *testing.T, db *tsql.DB, path string) (before, after int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE ballast (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	before = fileSize(t, path)
	const rowBytes, commits = 4000, 32
	for range commits {
		if _, err := db.ExecContext(ctx,
			`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			 INSERT INTO ballast SELECT zeroblob(?) FROM n`, walTestBytes/rowBytes/commits, rowBytes); err != nil {
			t.Fatal(err)
		}
	}
	return before, fileSize(t, path)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// Commits do not copy the WAL into the database file (that stalls
// whatever waits for them); Checkpoint does, all of it.
func TestCommitsLeaveCheckpointsToCheckpoint(t *testing.T) {
	b := sqltest.Open(t, "sqlite")
	before, after := fill(t, b.DB, b.DSN)
	if after-before > walTestBytes/8 {
		t.Fatalf("database file grew from %d to %d bytes during the commits: a commit checkpointed", before, after)
	}
	frames, copied, err := b.DB.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if frames < walTestBytes/4096 || copied != frames {
		t.Errorf("checkpoint: %d of %d WAL frames copied; want all of at least %d", copied, frames, walTestBytes/4096)
	}
	if got := fileSize(t, b.DSN); got < walTestBytes {
		t.Errorf("database file is %d bytes after the checkpoint; want at least %d", got, walTestBytes)
	}
}

// RunCheckpoints copies the WAL in the background while writes go on, and
// stops when its context ends.
func TestRunCheckpointsCopiesTheWAL(t *testing.T) {
	b := sqltest.Open(t, "sqlite")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- b.DB.RunCheckpoints(ctx, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	fill(t, b.DB, b.DSN)
	clocktest.EventuallyNil(t, "the WAL checkpointed after the writes", 10*time.Second, func() error {
		if size := fileSize(t, b.DSN); size < walTestBytes {
			return fmt.Errorf("database file is %d bytes; want at least %d (nothing checkpointed)", size, walTestBytes)
		}
		return nil
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("RunCheckpoints returned %v after its context ended; want context.Canceled", err)
	}
}

// On PostgreSQL there is nothing to checkpoint: both return at once.
func TestCheckpointsAreSQLiteOnly(t *testing.T) {
	b := sqltest.Open(t, "postgres")
	if frames, copied, err := b.DB.Checkpoint(context.Background()); err != nil || frames != 0 || copied != 0 {
		t.Errorf("Checkpoint on PostgreSQL = %d, %d, %v; want 0, 0, nil", frames, copied, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.DB.RunCheckpoints(ctx, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Errorf("RunCheckpoints on PostgreSQL = %v; want nil at once", err)
	}
	if ctx.Err() != nil {
		t.Error("RunCheckpoints on PostgreSQL ran until its context ended; want an immediate return")
	}
}
