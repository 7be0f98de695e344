package transcripts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tellonce/cases"
	tsql "tellonce/sql"
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
// One batch is written at a time, so the store always holds a prefix of
// the router's events. On PostgreSQL a batch is one statement, committed
// on its own (one round trip and the WAL flush); on SQLite one transaction
// of one statement per table, in process.
func (j *Journal) Run(ctx context.Context) error {
	if err := j.markRunning(); err != nil {
		return err
	}
	if j.opts.Deliver != nil {
		j.deliveries = make(chan delivery, j.opts.DeliverQueue)
		done := make(chan struct{})
		go j.deliverLoop(done)
		defer func() { // what was committed is delivered before Run returns
			close(j.deliveries)
			<-done
		}()
	}
	for {
		if !j.awaitPending(ctx) {
			return j.flush(ctx, nil)
		}
		batch := j.take(nil)
		if stop, rerr := j.settle(ctx, batch, j.write(ctx, batch)); stop {
			return rerr
		}
	}
}

// settle deals with a batch whose commit returned: records it, or retries
// it until it commits. stop says Run must return rerr (ctx ended).
func (j *Journal) settle(ctx context.Context, batch []cases.Event, err error) (stop bool, rerr error) {
	if err != nil {
		if errors.Is(err, errFenced) {
			return true, j.fenced(batch, err)
		}
		return j.recover(ctx, batch, err)
	}
	j.finish(batch)
	return false, nil
}

// errFenced marks a commit that Options.Fence refused.
var errFenced = errors.New("fenced")

// fenced stops the journal for good after a refused commit: the batch's
// waiters, and everyone else's, are answered unavailable, never acked.
func (j *Journal) fenced(batch []cases.Event, err error) error {
	j.fail(batch, err)
	j.log.Error("case log: commit refused; this server no longer leads", "first_seq", batch[0].Seq, "err", err)
	j.stop(err)
	return err
}

// DeliverTo adds receivers of the committed events, called in the order
// given after Options.Deliver, as Options.Deliver is (see there). The
// parts that hear the journal are made after the router that writes to
// it, so they join here, before Run; after Run has started it fails.
func (j *Journal) DeliverTo(fns ...func([]cases.Event)) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.st.running || j.st.stopped {
		return errors.New("case log: DeliverTo after Run")
	}
	if prev := j.opts.Deliver; prev != nil {
		fns = append([]func([]cases.Event){prev}, fns...)
	}
	j.opts.Deliver = func(evs []cases.Event) {
		for _, f := range fns {
			f(evs)
		}
	}
	return nil
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

// write stores batch and commits it. Run's own context does not cancel a
// write in progress (see writeTimeout).
func (j *Journal) write(ctx context.Context, batch []cases.Event) error {
	fail := func(err error) error {
		return fmt.Errorf("case log batch %d-%d: %w", batch[0].Seq, batch[len(batch)-1].Seq, err)
	}
	start := time.Now()
	rows, err := j.rowsOf(batch)
	if err != nil {
		return fail(err)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if j.db.Dialect == tsql.Postgres && (j.opts.Fence == nil || j.opts.FenceQuery != nil) {
		if err := j.writeRowsPG(wctx, nil, rows); err != nil {
			if errors.Is(err, errNotCurrent) {
				err = j.whyFenced(wctx)
			}
			return fail(err)
		}
		j.metrics.committed(len(batch), time.Since(start))
		return nil
	}
	tx, err := j.db.BeginTxx(wctx, nil)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	if j.opts.Fence != nil {
		if err := j.opts.Fence(wctx, tx); err != nil {
			tx.Rollback()
			return fail(fmt.Errorf("%w: %w", errFenced, err))
		}
	}
	if j.db.Dialect == tsql.Postgres {
		err = j.writeRowsPG(wctx, tx, rows)
	} else {
		err = j.writeRows(wctx, tx, rows)
	}
	if err != nil {
		tx.Rollback()
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	j.metrics.committed(len(batch), time.Since(start))
	return nil
}

// errNotCurrent is a batch statement whose fence yielded no row: nothing
// was written.
var errNotCurrent = errors.New("the fence refused the batch")

// whyFenced asks Options.Fence, in a transaction of its own that writes
// nothing, why the fence folded into a batch refused it. The refusal is
// final either way: a lease that was not current at the commit may be
// someone else's by now.
func (j *Journal) whyFenced(ctx context.Context) error {
	tx, err := j.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: the lease was not current at the commit (begin: %w)", errFenced, err)
	}
	defer tx.Rollback()
	if err := j.opts.Fence(ctx, tx); err != nil {
		return fmt.Errorf("%w: %w", errFenced, err)
	}
	return fmt.Errorf("%w: the lease was not current at the commit", errFenced)
}

// finish records a committed batch: its waiters are released, then it is
// delivered.
func (j *Journal) finish(batch []cases.Event) {
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
	now := time.Now()
	j.metrics.durableAt(j.published, now)
	j.published = j.published[:0]
	if j.deliveries != nil {
		j.deliveries <- delivery{evs: batch, at: now}
	}
}

// deliverLoop hands committed batches to Deliver, in commit order, until
// Run closes deliveries; then it closes done. Delivering off the writer's
// goroutine lets the next commit start at once: a fan-out to many sockets
// never delays an acknowledgement.
func (j *Journal) deliverLoop(done chan<- struct{}) {
	defer close(done)
	for d := range j.deliveries {
		j.opts.Deliver(d.evs)
		j.metrics.delivered(time.Since(d.at))
	}
}

// recover retries a failed batch, one transaction at a time with a
// growing backoff, taking in what is published meanwhile, until it
// commits (false) or ctx ends (true, with what flushing returned).
func (j *Journal) recover(ctx context.Context, batch []cases.Event, err error) (bool, error) {
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
		if errors.Is(err, errFenced) {
			return true, j.fenced(batch, err)
		}
	}
}

// fail tells the waiters of a failed batch, and those who come to wait for
// it before it commits, that it is not durable.
func (j *Journal) fail(batch []cases.Event, err error) {
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
func (j *Journal) flush(ctx context.Context, batch []cases.Event) error {
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
		if errors.Is(err, errFenced) {
			return j.fenced(batch, err)
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
