package transcripts

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"

	"tellonce/sql/sqltest"
)

// A fence runs in every commit's transaction; once it refuses, nothing of
// the batch is stored, its waiters are answered unavailable, and the
// journal stops for good instead of retrying.
func TestFenceRefusalIsFinal(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		deposed := errors.New("deposed")
		var refuse atomic.Bool
		var calls atomic.Int64
		fence := func(ctx context.Context, tx *sqlx.Tx) error {
			calls.Add(1)
			// The fence sees the commit's transaction, not a connection of its own.
			if _, err := tx.ExecContext(ctx, `SELECT 1`); err != nil {
				return err
			}
			if refuse.Load() {
				return deposed
			}
			return nil
		}
		j := NewJournal(b.DB, Options{Fence: fence, Log: quiet})
		p := newPublisher(j)
		r := start(t, j)
		if err := j.Wait(context.Background(), p.say("cs-1", 2)); err != nil {
			t.Fatalf("Wait() with the lease held = %v; want nil", err)
		}
		if calls.Load() == 0 {
			t.Fatal("the fence was not called for a commit")
		}
		refuse.Store(true)
		err := j.Wait(context.Background(), p.say("cs-2", 1))
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, deposed) {
			t.Fatalf("Wait() after the fence refused = %v; want ErrUnavailable wrapping the refusal", err)
		}
		r.awaitEnd(t, deposed)
		if got := countRows(t, b.DB, "case_events"); got != 2 {
			t.Errorf("case_events has %d rows; want the 2 committed before the refusal", got)
		}
		if err := j.Wait(context.Background(), p.say("cs-3", 1)); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Wait() after the journal stopped = %v; want ErrUnavailable", err)
		}
	})
}

// On PostgreSQL a fence given as a query is folded into the batch's own
// statement: a commit that holds the lease writes in one statement without
// calling Fence, and one that does not writes nothing, asks Fence why and
// stops the journal for good.
func TestFenceFoldedIntoTheBatch(t *testing.T) {
	b := sqltest.Open(t, "postgres")
	ctx := context.Background()
	if _, err := b.DB.ExecContext(ctx, `CREATE TABLE fence_row (id INT PRIMARY KEY, epoch BIGINT NOT NULL);
		INSERT INTO fence_row VALUES (1, 7)`); err != nil {
		t.Fatal(err)
	}
	deposed := errors.New("deposed")
	var calls atomic.Int64
	fence := func(ctx context.Context, tx *sqlx.Tx) error {
		calls.Add(1)
		var epoch int64
		if err := tx.GetContext(ctx, &epoch, `SELECT epoch FROM fence_row WHERE id = 1`); err != nil {
			return err
		}
		if epoch != 7 {
			return deposed
		}
		return nil
	}
	query := func(first int) (string, []any) {
		return fmt.Sprintf(`SELECT 1 FROM fence_row WHERE id = 1 AND epoch = $%d FOR KEY SHARE`, first), []any{int64(7)}
	}
	j := NewJournal(b.DB, Options{Fence: fence, FenceQuery: query, Log: quiet})
	p := newPublisher(j)
	r := start(t, j)
	for i := range 3 {
		if err := j.Wait(ctx, p.say(fmt.Sprintf("cs-%d", i), 2)); err != nil {
			t.Fatalf("Wait() with the lease held = %v; want nil", err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("Fence was called %d times for commits that held the lease; want none (the check is in the statement)", n)
	}
	if got := countRows(t, b.DB, "case_events"); got != 6 {
		t.Fatalf("case_events has %d rows; want 6", got)
	}

	if _, err := b.DB.ExecContext(ctx, `UPDATE fence_row SET epoch = 8`); err != nil {
		t.Fatal(err)
	}
	err := j.Wait(ctx, p.say("cs-late", 1))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, deposed) {
		t.Fatalf("Wait() after a takeover = %v; want ErrUnavailable wrapping Fence's reason", err)
	}
	r.awaitEnd(t, deposed)
	if got := countRows(t, b.DB, "case_events"); got != 6 {
		t.Errorf("case_events has %d rows; want the 6 committed before the takeover, none of the refused batch", got)
	}
}
