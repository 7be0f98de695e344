package transcripts

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"tellonce/sql/sqltest"
)

// caseFiles is a CaseFiles that remembers which cases it was told to
// delete, and fails when told to.
type caseFiles struct {
	mu     sync.Mutex
	purged []string
	fail   error
}

func (f *caseFiles) PurgeCase(_ context.Context, caseID string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	f.purged = append(f.purged, caseID)
	return 1, nil
}

func (f *caseFiles) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.purged)
}

func withFiles(t *testing.T, w *world, files *caseFiles) {
	t.Helper()
	rv, err := NewReview(w.db, ReviewOptions{Retention: w.rv.keep, Now: w.clock.Now, Log: quiet, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	w.rv = rv
}

// TestEraseDeletesTheCaseAndItsRecordings: an erasure deletes a closed
// case's rows and its files in one operation, leaves the other cases,
// refuses an open case and says so for an unknown one; when the files
// cannot be deleted, the rows stay too.
func TestEraseDeletesTheCaseAndItsRecordings(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		files := &caseFiles{}
		withFiles(t, w, files)
		ctx := context.Background()
		gone := w.chat("gov110.general", "resolved", "지울 상담")
		kept := w.chat("gov110.general", "resolved", "남길 상담")
		open := w.open("gov110.cert", "진행 중")

		files.fail = errors.New("disk on fire")
		if err := w.rv.Erase(ctx, gone); err == nil {
			t.Fatal("Erase succeeded although the recordings could not be deleted")
		}
		if rows := rowsOf(t, b.DB, gone); rows["cases"] != 1 {
			t.Fatalf("a failed erasure deleted rows: %v", rows)
		}
		files.fail = nil

		if err := w.rv.Erase(ctx, gone); err != nil {
			t.Fatal(err)
		}
		for table, n := range rowsOf(t, b.DB, gone) {
			if n != 0 {
				t.Errorf("%s still holds %d rows of the erased case", table, n)
			}
		}
		if got := files.got(); !slices.Equal(got, []string{gone}) {
			t.Errorf("recordings deleted for %v; want the erased case's only", got)
		}
		if _, err := w.rv.Timeline(ctx, kept); err != nil {
			t.Errorf("the other case: %v", err)
		}
		if err := w.rv.Erase(ctx, gone); !errors.Is(err, ErrNotFound) {
			t.Errorf("erasing twice: %v; want ErrNotFound", err)
		}
		if err := w.rv.Erase(ctx, open.CaseID); !errors.Is(err, ErrCaseOpen) {
			t.Errorf("erasing an open case: %v; want ErrCaseOpen", err)
		}
	})
}

// TestPurgeDeletesTheRecordings: the retention purge deletes the purged
// cases' recordings, and a purge whose files cannot be deleted keeps the
// case for the next purge.
func TestPurgeDeletesTheRecordings(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{Cases: 24 * time.Hour})
		files := &caseFiles{fail: errors.New("disk on fire")}
		withFiles(t, w, files)
		ctx := context.Background()
		old := w.chat("gov110.general", "resolved", "오래된 상담")
		w.clock.Advance(48 * time.Hour)
		recent := w.chat("gov110.general", "resolved", "최근 상담")
		if n, err := w.rv.Purge(ctx, w.clock.Now()); err == nil || n != 0 {
			t.Fatalf("Purge with undeletable files = %d, %v; want 0 and an error", n, err)
		}
		files.fail = nil
		if n, err := w.rv.Purge(ctx, w.clock.Now()); err != nil || n != 1 {
			t.Fatalf("Purge = %d, %v; want 1", n, err)
		}
		if got := files.got(); !slices.Equal(got, []string{old}) {
			t.Errorf("recordings deleted for %v; want %s only (not %s)", got, old, recent)
		}
	})
}
