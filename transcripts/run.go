package transcripts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"tellonce/router"
)

// writeTimeout bounds one transaction, so a store that stopped answering
// turns into a failed commit (and a retry) rather than a writer stuck for
// ever. Run's own context does not cancel a write in progress: shutdown
// waits for it and then flushes.
const writeTimeout = 30 * time.Second

// Run is the single writer: it commits what is published, batch after
// batch, until ctx ends; then it flushes what is pending (for up to 15s)
// and returns nil, or the error that kept it from flushing. Run once.
//
// On PostgreSQL the writer overlaps two transactions: while one commits
// (waiting for its WAL flush), the next batch is written on another
// connection, and committed as soon as the first commit returns. Commits
// stay in order, so the store always holds a prefix of the router's
// events, and a failed commit takes the batch written behind it into the
// retry. SQLite has one writer at a time, so there the writer does one
// transaction after the other.
func (j *Journal) Run(ctx context.Context) error {
	if err := j.markRunning(); err != nil {
		return err
	}
	var prev *flight // committing while the next batch is written
	for {
		var batch []router.Event
		if prev == nil {
			if !j.awaitPending(ctx) {
				return j.flush(ctx, nil)
			}
			batch = j.take(nil)
		} else {
			select {
			case err := <-prev.done:
				p := prev
				prev = nil
				if stop, rerr := j.settle(ctx, p.batch, err); stop {
					return rerr
				}
				continue
			case <-j.kick:
				if batch = j.take(nil); len(batch) == 0 {
					continue
				}
			case <-ctx.Done():
				if err := <-prev.done; err != nil {
					return j.flush(ctx, prev.batch)
				}
				j.finish(prev.batch)
				return j.flush(ctx, nil)
			}
		}

		cur, err := j.begin(ctx, batch)
		if prev != nil {
			p := prev
			prev = nil
			if perr := <-p.done; perr != nil {
				// The batch behind a failed one must not commit before it.
				if cur != nil {
					cur.rollback()
				}
				if stop, rerr := j.recover(ctx, append(p.batch, batch...), perr); stop {
					return rerr
				}
				continue
			}
			if err == nil {
				cur.commitAsync() // only now: commits stay in order
				prev = cur
			}
			j.finish(p.batch)
			if err == nil {
				continue
			}
		} else if err == nil && j.pipelined {
			cur.commitAsync()
			prev = cur
			continue
		} else if err == nil {
			err = cur.commit()
		}
		if stop, rerr := j.settle(ctx, batch, err); stop {
			return rerr
		}
	}
}

// settle deals with a batch whose commit returned: records it, or retries
// it until it commits. stop says Run must return rerr (ctx ended).
func (j *Journal) settle(ctx context.Context, batch []router.Event, err error) (stop bool, rerr error) {
	if err != nil {
		return j.recover(ctx, batch, err)
	}
	j.finish(batch)
	return false, nil
}

func (j *Journal) markRunning() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.st.running || j.st.stopped {
		return errors.New("case log: Run called twice")
	}
	j.st.running = true
	return nil
}

// awaitPending blocks until something is pending; false when ctx ended.
func (j *Journal) awaitPending(ctx context.Context) bool {
	for {
		if j.pendingCount() > 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-j.kick:
		}
	}
}

// flight is a batch written in an open transaction, about to commit.
type flight struct {
	batch  []router.Event
	tx     *sqlx.Tx
	cancel context.CancelFunc
	done   chan error // commitAsync's result
}

// begin writes batch in a new transaction and leaves it open.
func (j *Journal) begin(ctx context.Context, batch []router.Event) (*flight, error) {
	fail := func(err error) error {
		return fmt.Errorf("case log batch %d-%d: %w", batch[0].Seq, batch[len(batch)-1].Seq, err)
	}
	rows, err := j.rowsOf(batch)
	if err != nil {
		return nil, fail(err)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	tx, err := j.db.BeginTxx(wctx, nil)
	if err != nil {
		cancel()
		return nil, fail(fmt.Errorf("begin: %w", err))
	}
	if err := j.writeRows(wctx, tx, rows); err != nil {
		tx.Rollback()
		cancel()
		return nil, fail(err)
	}
	return &flight{batch: batch, tx: tx, cancel: cancel, done: make(chan error, 1)}, nil
}

func (f *flight) commit() error {
	defer f.cancel()
	if err := f.tx.Commit(); err != nil {
		return fmt.Errorf("case log batch %d-%d: commit: %w", f.batch[0].Seq, f.batch[len(f.batch)-1].Seq, err)
	}
	return nil
}

func (f *flight) commitAsync() { go func() { f.done <- f.commit() }() }

func (f *flight) rollback() {
	f.tx.Rollback()
	f.cancel()
}

// write stores batch in one transaction and commits it.
func (j *Journal) write(ctx context.Context, batch []router.Event) error {
	f, err := j.begin(ctx, batch)
	if err != nil {
		return err
	}
	return f.commit()
}

// finish records a committed batch: its waiters are released, then it is
// delivered.
func (j *Journal) finish(batch []router.Event) {
	j.commits.Add(1)
	last := batch[len(batch)-1].Seq
	j.mu.Lock()
	j.st.committed = max(j.st.committed, last)
	j.committed.Store(j.st.committed)
	if j.st.failedTo <= j.st.committed {
		j.st.failedTo, j.st.failErr = 0, nil
	}
	j.st.waiters.release(j.st.committed, nil)
	j.mu.Unlock()
	if j.opts.Deliver != nil {
		j.opts.Deliver(batch)
	}
}

// recover retries a failed batch, one transaction at a time with a
// growing backoff, taking in what is published meanwhile, until it
// commits (false) or ctx ends (true, with what flushing returned).
func (j *Journal) recover(ctx context.Context, batch []router.Event, err error) (bool, error) {
	backoff := j.minBackoff
	for {
		if ctx.Err() != nil {
			return true, j.flush(ctx, batch)
		}
		j.fail(batch, err)
		j.log.Error("case log: commit failed; retrying", "events", len(batch),
			"first_seq", batch[0].Seq, "last_seq", batch[len(batch)-1].Seq, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return true, j.flush(ctx, batch)
		case <-t.C:
		}
		backoff = min(2*backoff, j.maxBackoff)
		batch = j.take(batch)
		if err = j.write(ctx, batch); err == nil {
			j.finish(batch)
			return false, nil
		}
	}
}

// fail tells the waiters of a failed batch, and those who come to wait for
// it before it commits, that it is not durable.
func (j *Journal) fail(batch []router.Event, err error) {
	last := batch[len(batch)-1].Seq
	j.mu.Lock()
	j.st.failedTo = max(j.st.failedTo, last)
	j.st.failErr = err
	j.st.waiters.release(last, fmt.Errorf("%w: commit failed: %w", ErrUnavailable, err))
	j.mu.Unlock()
	if j.attemptFailed != nil {
		j.attemptFailed(err)
	}
}

// flush commits batch and everything still pending after ctx ended, with a
// fresh deadline, then marks the journal stopped. Whatever it cannot commit
// is lost to the store (none of it was acknowledged) and reported.
func (j *Journal) flush(ctx context.Context, batch []router.Event) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.flushTimeout)
	defer cancel()
	backoff := j.minBackoff
	for {
		batch = j.take(batch)
		if len(batch) == 0 {
			if j.stopIfIdle() {
				return nil
			}
			continue // published meanwhile
		}
		err := j.write(fctx, batch)
		if err == nil {
			j.finish(batch)
			batch, backoff = nil, j.minBackoff
			continue
		}
		j.fail(batch, err)
		t := time.NewTimer(backoff)
		select {
		case <-fctx.Done():
			t.Stop()
			j.log.Error("case log: could not flush on shutdown; events not stored",
				"events", len(batch)+j.pendingCount(), "first_seq", batch[0].Seq, "err", err)
			j.stop(err)
			return fmt.Errorf("flush case log: %w", err)
		case <-t.C:
		}
		backoff = min(2*backoff, j.maxBackoff)
	}
}
