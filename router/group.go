package router

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// The write path: every change is a call of write. Concurrent calls are
// committed as a group — apply the calls one after the other to the open
// memdb transaction, publish the soonest deadlines and each call's
// events — by whichever caller leads at the moment; memdb's commit waits
// for a reader (publish.go). A call may be run more than once: when another call of
// its group fails, the group is rolled back and the others re-run, so a
// write call's fn must do nothing outside its transaction (it may not
// count, send or log as if it had committed).

// writeGroup is the queue of write calls waiting to be committed.
type writeGroup struct {
	mu        sync.Mutex
	pending   []*writeOp // guarded by mu
	leading   bool       // a leader is running batches; guarded by mu
	lastGroup int        // calls in the last group taken; owned by the leader of the moment
	// ops are finished writeOps for the next calls: a call's record and
	// its wake channel are the same size every time.
	ops sync.Pool
}

// write runs fn in the open memdb write transaction, runs matching, and
// publishes the events. An error undoes everything fn did: no state, no
// events.
//
// Concurrent calls are committed as a group: each call queues its change,
// and one caller at a time (the leader) runs everything queued so far, each
// change after the one before it, as if the calls had come one by one in
// queue order. go-memdb copies the path to the leaf of every index it
// writes, but only once per transaction, so calls that share a transaction
// pay the copying once; the transaction outlives the group until a reader
// needs it (publish.go). A change that fails is isolated: the group is
// rolled back and re-run without it, so its error leaves no trace and the
// others commit. The Sink gets each change's events in commit order, one
// Publish per change as before.
func (r *Router) write(fn func(w *writer) error) ([]Event, error) {
	op, _ := r.group.ops.Get().(*writeOp)
	if op == nil {
		op = &writeOp{wake: make(chan struct{}, 1)}
	}
	op.fn = fn
	r.group.mu.Lock()
	// The call's time is read once, here, in queue order: a re-run after
	// another call's failure applies the same change at the same time, and
	// the same calls from the same state make the same decisions.
	op.now = r.clock.Now()
	r.group.pending = append(r.group.pending, op)
	if r.group.leading {
		r.group.mu.Unlock()
		<-op.wake // done by another leader, or handed the lead
	} else {
		r.group.leading = true
		r.group.mu.Unlock()
	}
	if !op.done {
		r.lead()
	}
	if op.panicked != nil {
		panic(op.panicked)
	}
	events, err := op.events, op.err
	// A call that led its own group was answered on its own channel too;
	// every send to it is done once lead has returned.
	select {
	case <-op.wake:
	default:
	}
	*op = writeOp{wake: op.wake}
	r.group.ops.Put(op)
	return events, err
}

// writeOp is one queued write call.
type writeOp struct {
	fn   func(w *writer) error
	now  time.Time     // the call's time
	wake chan struct{} // done, or the caller is the leader now
	// Set by the leader before wake; read by the caller after it.
	done      bool
	committed bool
	events    []Event
	err       error
	panicked  any
}

// maxBatch bounds a group: memdb remembers the nodes a transaction already
// copied in a cache of 8192 nodes per index, and a long batch delays the
// first caller's answer.
const maxBatch = 32

// lead runs one batch of queued calls, including the leader's own, then
// hands the lead to the first caller still waiting, if any.
func (r *Router) lead() {
	// Let the callers the last group woke queue their next calls first, so
	// groups grow under load. After a group of one there is nobody to wait
	// for (anyone who came meanwhile is queued already), and for a lone
	// caller the trip through the scheduler is a sizeable share of a write.
	if r.group.lastGroup > 1 {
		runtime.Gosched()
	}
	r.group.mu.Lock()
	n := min(len(r.group.pending), maxBatch)
	r.group.lastGroup = n
	batch := slices.Clone(r.group.pending[:n])
	r.group.pending = slices.Delete(r.group.pending, 0, n)
	r.group.mu.Unlock()

	var observed func()
	defer func() {
		// Even if the group failed outside any one call (in a commit, say),
		// answer its callers and pass the lead on, so the router stays usable.
		p := recover()
		// The events go to the sink after the write lock is released
		// (the deferred unlock below runs first), in commit order: the
		// next group does not start before handOff.
		if r.sink != nil {
			for _, op := range batch {
				if op.committed && len(op.events) > 0 {
					publish(r.sink, op, op.events)
				}
			}
		}
		if observed != nil {
			observed()
		}
		r.handOff(batch, p)
		if p != nil {
			panic(p)
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.Writes != nil {
		observed = r.cfg.Writes.WriteGroup(n)
	}
	r.runBatch(batch)
}

// handOff wakes the next leader and answers the batch's callers; p is a
// panic that stopped the batch, if any.
func (r *Router) handOff(batch []*writeOp, p any) {
	r.group.mu.Lock()
	if len(r.group.pending) > 0 {
		r.group.pending[0].wake <- struct{}{}
	} else {
		r.group.leading = false
	}
	r.group.mu.Unlock()
	for _, op := range batch {
		if p != nil && !op.committed && op.err == nil && op.panicked == nil {
			op.err = fmt.Errorf("write group aborted: %v", p)
		}
		op.done = true
		op.wake <- struct{}{}
	}
	r.poke()
}

// runBatch runs the calls in one transaction; callers hold r.mu. A failed
// call is dropped and the transaction re-run with the others.
func (r *Router) runBatch(ops []*writeOp) {
	defer func() {
		// A panic outside the calls leaves no half-applied matching state
		// and no half-written transaction; after a group's end the log is
		// empty.
		if len(r.match.undo) > 0 {
			r.match.rollback()
			r.abortOpen()
		}
	}()
	for len(ops) > 0 {
		txn := r.openTxn()
		writers := r.writers(len(ops), txn, ops)
		failed := -1
		for i, op := range ops {
			if err := runOp(op, writers[i]); err != nil || op.panicked != nil {
				op.err, failed = err, i
				break
			}
		}
		if failed >= 0 {
			// The matching state and the stored rows go back to the
			// group's start, and the transaction with them.
			r.match.rollback()
			r.abortOpen()
			ops = slices.Delete(slices.Clone(ops), failed, failed+1)
			continue
		}
		r.match.forget()
		r.openCalls += len(ops)
		if r.writesOther || r.openCalls >= maxUnpublished {
			r.publishOpen()
		}
		r.linesMu.Lock()
		r.stale = r.open != nil
		r.match.publishDeadlines(r)
		r.linesMu.Unlock()
		for i, w := range writers {
			// One copy for the sink and the caller alike (both only read
			// it); the writer's own buffer serves the next call.
			ops[i].events, ops[i].committed = slices.Clone(w.finish()), true
		}
		return
	}
}

// writers are n writers on txn for ops, reused from call to call (their
// maps and event buffers keep their room); the caller holds r.mu.
func (r *Router) writers(n int, txn *memdb.Txn, ops []*writeOp) []*writer {
	for len(r.spare) < n {
		r.spare = append(r.spare, &writer{})
	}
	for i, w := range r.spare[:n] {
		clear(w.events) // let the last call's views go
		*w = writer{r: r, txn: txn, m: r.match, now: ops[i].now,
			cases: w.cases, contacts: w.contacts, agents: w.agents, queues: w.queues, side: w.side, touched: w.touched,
			freed: w.freed, waiting: w.waiting, ids: w.ids[:0], events: w.events[:0]}
		clear(w.cases)
		clear(w.contacts)
		clear(w.agents)
		clear(w.queues)
		clear(w.side)
		clear(w.touched)
		clear(w.freed)
		clear(w.waiting)
	}
	return r.spare[:n]
}

// runOp runs one call and its matching on w; a panic is kept for the caller.
func runOp(op *writeOp, w *writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			op.panicked = p
		}
	}()
	if err := op.fn(w); err != nil {
		return err
	}
	if err := w.settle(); err != nil {
		return fmt.Errorf("match: %w", err)
	}
	if err := w.flush(); err != nil {
		return err
	}
	return w.flushErr
}

// publish hands events to the sink; a panicking sink panics in the caller
// whose change it was, not in the leader.
func publish(sink Sink, op *writeOp, events []Event) {
	defer func() {
		if p := recover(); p != nil {
			op.panicked = p
		}
	}()
	sink.Publish(events)
}
