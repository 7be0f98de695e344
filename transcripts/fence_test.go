package transcripts

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

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
		select {
		case err := <-r.done:
			r.done <- err
			if !errors.Is(err, deposed) {
				t.Errorf("Run() = %v; want the fence's refusal", err)
			}
		case <-time.After(guard):
			t.Fatal("Run kept going after the fence refused")
		}
		if got := countRows(t, b.DB, "case_events"); got != 2 {
			t.Errorf("case_events has %d rows; want the 2 committed before the refusal", got)
		}
		if err := j.Wait(context.Background(), p.say("cs-3", 1)); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Wait() after the journal stopped = %v; want ErrUnavailable", err)
		}
	})
}
