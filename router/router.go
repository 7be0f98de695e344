package router

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// Clock tells the router the time; tests inject a fake one.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Sink receives every committed change's events, synchronously and in
// commit order, while the router still holds its write lock: a Sink must
// not call back into the Router.
type Sink interface{ Publish(events []Event) }

// Config holds the router's dependencies and its global timings.
type Config struct {
	// Clock defaults to the system clock.
	Clock Clock
	// Sink may be nil.
	Sink Sink
	// NewID makes opaque ids for contacts ("ct"), cases ("cs") and offers
	// ("of"). The default is 128 random bits: an id is a name, never a
	// key, but one that cannot be guessed tells nobody which contacts and
	// cases exist. Tests inject counters to read their ids back.
	NewID func(kind string) string
	// ReconnectGrace is how long a disconnected agent keeps their contacts
	// (default 30s).
	ReconnectGrace time.Duration
	// StickyWait is how long a returning caller's contact is held for the
	// agent who last served the case (default 10s).
	StickyWait time.Duration
	// DirectWait is how long a transfer to a named agent waits for that
	// agent before it falls back to the agent's first queue (default 60s).
	DirectWait time.Duration
	// WarmWait bounds a pending warm transfer: if nobody accepts in time,
	// the first agent keeps the contact (default 60s).
	WarmWait time.Duration
	// SlotLength is the length of a callback time slot (default 30m).
	SlotLength time.Duration
	// SlotHorizon is how far ahead callback slots are offered (default 4h).
	SlotHorizon time.Duration
	// SlotLead is the least time between booking and a slot's start
	// (default 15m), so a booking is never due before anyone could plan it.
	SlotLead time.Duration
	// CallbackSharePct is the share of a slot's staffed time that booked
	// callbacks may take (default 25): the rest serves the live line.
	CallbackSharePct int
}

// Default global timings.
const (
	DefaultReconnectGrace = 30 * time.Second
	DefaultStickyWait     = 10 * time.Second
	DefaultDirectWait     = 60 * time.Second
	DefaultWarmWait       = 60 * time.Second
	DefaultSlotLength     = 30 * time.Minute
	DefaultSlotHorizon    = 4 * time.Hour
	DefaultSlotLead       = 15 * time.Minute
	DefaultCallbackShare  = 25
)

// Router holds the live routing state in go-memdb. It is safe for
// concurrent use: writes are serialized by one lock (memdb allows one
// writer anyway), concurrent ones committed in groups, and reads run
// lock-free on immutable snapshots.
type Router struct {
	clock Clock
	sink  Sink
	newID func(kind string) string
	cfg   Config

	mu    sync.Mutex // serializes writes, Restore and the sink
	db    atomic.Pointer[memdb.MemDB]
	lines map[string]int // waiting contacts per line (lineID) as committed; changed under mu and linesMu
	// linesMu pairs lines with the snapshot it describes: a commit and its
	// lines' update happen under it, so a reader holding it for a moment
	// gets a snapshot and the lengths as of that snapshot.
	linesMu  sync.RWMutex
	rounds   placeRounds // deep places counted for many callers at once
	tally    lineTally   // the running write group's changes to lines; guarded by mu
	seq      uint64      // enqueue sequence, guarded by mu
	eventSeq uint64      // guarded by mu
	wake     chan struct{}

	// Group commit: concurrent write calls queue here and one of them, the
	// leader, runs the queued batch in one memdb transaction (see write).
	qmu       sync.Mutex
	pending   []*writeOp // guarded by qmu
	leading   bool       // a leader is running batches; guarded by qmu
	lastGroup int        // calls in the last group taken; owned by the leader of the moment
}

// New makes an empty router.
func New(cfg Config) (*Router, error) {
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	cfg.ReconnectGrace = orDefault(cfg.ReconnectGrace, DefaultReconnectGrace)
	cfg.StickyWait = orDefault(cfg.StickyWait, DefaultStickyWait)
	cfg.DirectWait = orDefault(cfg.DirectWait, DefaultDirectWait)
	cfg.WarmWait = orDefault(cfg.WarmWait, DefaultWarmWait)
	cfg.SlotLength = orDefault(cfg.SlotLength, DefaultSlotLength)
	cfg.SlotHorizon = orDefault(cfg.SlotHorizon, DefaultSlotHorizon)
	cfg.SlotLead = orDefault(cfg.SlotLead, DefaultSlotLead)
	if cfg.CallbackSharePct <= 0 || cfg.CallbackSharePct > 100 {
		cfg.CallbackSharePct = DefaultCallbackShare
	}
	db, err := newMemDB()
	if err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	r := &Router{
		clock: cfg.Clock,
		sink:  cfg.Sink,
		newID: cfg.NewID,
		cfg:   cfg,
		wake:  make(chan struct{}, 1),
		lines: map[string]int{},
		tally: lineTally{},
	}
	r.db.Store(db)
	return r, nil
}

// newMemDB makes the router's database. It is go-memdb's "snapshot" of an
// empty database rather than the database itself: a snapshot is a full
// read-write database that does not track its mutations for watch
// channels. The router uses no watches (readers take snapshots; Run has
// its own wake-up), and tracking closed a channel for every radix node a
// write replaced, about 6 % of the garbage per routed contact.
func newMemDB() (*memdb.MemDB, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, err
	}
	return db.Snapshot(), nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// id makes a new opaque id; callers hold r.mu.
func (r *Router) id(kind string) string {
	if r.newID != nil {
		return r.newID(kind)
	}
	return RandomID(kind)
}

// idEncoding spells random ids in lower case without padding: they are
// valid ids (checkID) and read well in logs.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// RandomID is kind followed by 128 random bits.
func RandomID(kind string) string {
	var b [16]byte
	// crypto/rand.Read never fails on the platforms Go supports (it
	// panics inside rather than return a short read).
	_, _ = rand.Read(b[:])
	return kind + "-" + idEncoding.EncodeToString(b[:])
}

// write runs fn in a memdb write transaction, runs matching, commits, and
// publishes the events. An error aborts everything fn did: no state, no
// events.
//
// Concurrent calls are committed as a group: each call queues its change,
// and one caller at a time (the leader) runs everything queued so far in one
// memdb transaction, each change after the one before it, as if the calls
// had come one by one in queue order. go-memdb copies the path to the leaf
// of every index it writes, but only once per transaction, so a group pays
// the copying and the commit once instead of once per call. A change that
// fails is isolated: the group's transaction is aborted and re-run without
// it, so its error leaves no trace and the others commit. The Sink gets each
// change's events in commit order, one Publish per change as before.
func (r *Router) write(fn func(w *writer) error) ([]Event, error) {
	op := &writeOp{fn: fn, wake: make(chan struct{}, 1)}
	r.qmu.Lock()
	r.pending = append(r.pending, op)
	if r.leading {
		r.qmu.Unlock()
		<-op.wake // done by another leader, or handed the lead
	} else {
		r.leading = true
		r.qmu.Unlock()
	}
	if !op.done {
		r.lead()
	}
	if op.panicked != nil {
		panic(op.panicked)
	}
	return op.events, op.err
}

// writeOp is one queued write call.
type writeOp struct {
	fn   func(w *writer) error
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
	if r.lastGroup > 1 {
		runtime.Gosched()
	}
	r.qmu.Lock()
	n := min(len(r.pending), maxBatch)
	r.lastGroup = n
	batch := slices.Clone(r.pending[:n])
	r.pending = slices.Delete(r.pending, 0, n)
	r.qmu.Unlock()

	defer func() {
		// Even if the group failed outside any one call (in a commit, say),
		// answer its callers and pass the lead on, so the router stays usable.
		p := recover()
		r.handOff(batch, p)
		if p != nil {
			panic(p)
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runBatch(batch)
}

// handOff wakes the next leader and answers the batch's callers; p is a
// panic that stopped the batch, if any.
func (r *Router) handOff(batch []*writeOp, p any) {
	r.qmu.Lock()
	if len(r.pending) > 0 {
		r.pending[0].wake <- struct{}{}
	} else {
		r.leading = false
	}
	r.qmu.Unlock()
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
	for len(ops) > 0 {
		txn := r.db.Load().Txn(true)
		clear(r.tally) // a failed attempt's changes go with its transaction
		writers := make([]*writer, 0, len(ops))
		failed := -1
		for i, op := range ops {
			w := &writer{r: r, txn: txn, tally: r.tally, now: r.clock.Now()}
			if err := runOp(op, w); err != nil || op.panicked != nil {
				op.err, failed = err, i
				break
			}
			writers = append(writers, w)
		}
		if failed >= 0 {
			txn.Abort()
			ops = slices.Delete(slices.Clone(ops), failed, failed+1)
			continue
		}
		r.linesMu.Lock()
		txn.Commit()
		r.commitLines(r.tally)
		r.linesMu.Unlock()
		for i, w := range writers {
			events := w.finish()
			if r.sink != nil && len(events) > 0 {
				publish(r.sink, ops[i], events)
			}
			ops[i].events, ops[i].committed = slices.Clone(events), true
		}
		return
	}
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
	return nil
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

// read runs fn on a consistent read-only snapshot.
func (r *Router) read(fn func(txn *memdb.Txn) error) error {
	return fn(r.db.Load().Txn(false))
}

// poke wakes Run so it recomputes the next deadline.
func (r *Router) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Tick processes everything due at the clock's now: offer expiries and
// timers (overflow, widening, wrap-up end, reconnect grace end, sticky and
// direct holds, warm transfer limits), in due order, and returns the events.
func (r *Router) Tick() ([]Event, error) {
	return r.write(func(w *writer) error { return w.tickTxn() })
}

// NextDeadline is when Tick has something to do next.
func (r *Router) NextDeadline() (time.Time, bool) {
	var due time.Time
	var ok bool
	_ = r.read(func(txn *memdb.Txn) error {
		due, ok = nextDue(txn)
		return nil
	})
	return due, ok
}

// Wake makes a running Run recompute its deadline now (after a fake clock
// moved, say). Writes wake Run by themselves.
func (r *Router) Wake() { r.poke() }

// Run calls Tick whenever something falls due, until ctx ends. It is the
// only goroutine-friendly driver: it returns ctx.Err() when ctx is done.
// With a fake clock, call Wake after moving the clock.
func (r *Router) Run(ctx context.Context) error {
	const idle = time.Hour
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		wait := idle
		if due, ok := r.NextDeadline(); ok {
			wait = max(due.Sub(r.clock.Now()), 0)
		}
		if wait == 0 {
			if _, err := r.Tick(); err != nil {
				return fmt.Errorf("router tick: %w", err)
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.wake:
		case <-timer.C:
		}
		timer.Stop() // since Go 1.23 Stop and Reset leave no stale tick behind
	}
}

// writer is one write transaction in progress: the memdb txn, the time of
// the change, the events so far and the matching work it has created.
type writer struct {
	r      *Router
	txn    *memdb.Txn
	tally  lineTally // shared by the writers of one transaction
	now    time.Time
	events []Event
	// freed are agents who may take more work; waiting are contacts that
	// became routable; touched are queues whose waiting line changed.
	freed   map[string]struct{}
	waiting map[string]struct{}
	touched map[string]struct{}
}

func (w *writer) emit(e Event) {
	e.At = w.now
	w.events = append(w.events, e)
}

func (w *writer) markFreed(username string) {
	if w.freed == nil {
		w.freed = map[string]struct{}{}
	}
	w.freed[username] = struct{}{}
}

func (w *writer) markWaiting(contactID string) {
	if w.waiting == nil {
		w.waiting = map[string]struct{}{}
	}
	w.waiting[contactID] = struct{}{}
}

func (w *writer) touch(queue string) {
	if w.touched == nil {
		w.touched = map[string]struct{}{}
	}
	w.touched[queue] = struct{}{}
}

// finish adds one queue_changed event per queue whose line moved and
// numbers the events; it runs after commit, under the lock.
func (w *writer) finish() []Event {
	for _, q := range sortedKeys(w.touched) {
		w.emit(Event{Type: EventQueueChanged, Queue: q})
	}
	for i := range w.events {
		w.r.eventSeq++
		w.events[i].Seq = w.r.eventSeq
	}
	return w.events
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
