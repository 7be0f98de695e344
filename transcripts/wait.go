package transcripts

import (
	"container/heap"
	"context"
	"fmt"
	"time"
)

// Wait blocks until every event with Seq <= seq is committed. It returns an
// error wrapping ErrUnavailable when the commit of those events failed, when
// AckTimeout passed, when ctx ended or when the journal stopped before
// committing them. Seq 0 (nothing published) returns nil at once.
func (j *Journal) Wait(ctx context.Context, seq uint64) error {
	if seq == 0 || j.committed.Load() >= seq {
		return nil
	}
	j.mu.Lock()
	switch {
	case j.st.committed >= seq:
		j.mu.Unlock()
		return nil
	case j.st.failedTo >= seq:
		err := j.st.failErr
		j.mu.Unlock()
		return fmt.Errorf("%w: commit failed: %w", ErrUnavailable, err)
	case j.st.stopped:
		j.mu.Unlock()
		return fmt.Errorf("%w: journal stopped", ErrUnavailable)
	}
	w := &waiter{seq: seq, done: make(chan error, 1)}
	heap.Push(&j.st.waiters, w)
	j.mu.Unlock()

	t := time.NewTimer(j.opts.AckTimeout)
	defer t.Stop()
	select {
	case err := <-w.done:
		return err
	case <-t.C:
		return fmt.Errorf("%w: event %d not committed within %s", ErrUnavailable, seq, j.opts.AckTimeout)
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for event %d: %w", ErrUnavailable, seq, ctx.Err())
	}
}

// waiter is one Wait call: done receives nil once seq is committed, or the
// error that makes it unavailable. A waiter that gave up stays in the heap
// until its seq commits or fails; the buffered channel takes the result
// without blocking anyone.
type waiter struct {
	seq  uint64
	done chan error
}

// waitHeap orders waiters by seq so a commit releases exactly the prefix it
// covers without looking at the others.
type waitHeap []*waiter

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, k int) bool { return h[i].seq < h[k].seq }
func (h waitHeap) Swap(i, k int)      { h[i], h[k] = h[k], h[i] }
func (h *waitHeap) Push(x any)        { *h = append(*h, x.(*waiter)) }
func (h *waitHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return w
}

// release sends err to every waiter with seq <= upTo and removes them.
func (h *waitHeap) release(upTo uint64, err error) {
	for h.Len() > 0 && (*h)[0].seq <= upTo {
		heap.Pop(h).(*waiter).done <- err
	}
}
