package router

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
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
	// ("of"). The default is a counter prefixed by the start time, unique
	// across restarts of one process clock.
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
}

// Default global timings.
const (
	DefaultReconnectGrace = 30 * time.Second
	DefaultStickyWait     = 10 * time.Second
	DefaultDirectWait     = 60 * time.Second
	DefaultWarmWait       = 60 * time.Second
)

// Router holds the live routing state in go-memdb. It is safe for
// concurrent use: writes are serialized by one lock (memdb allows one
// writer anyway) and reads run lock-free on immutable snapshots.
type Router struct {
	clock Clock
	sink  Sink
	newID func(kind string) string
	cfg   Config

	mu       sync.Mutex // serializes writes, Restore and the sink
	db       atomic.Pointer[memdb.MemDB]
	seq      uint64 // enqueue sequence, guarded by mu
	eventSeq uint64 // guarded by mu
	idSeq    uint64 // guarded by mu
	idPrefix string
	wake     chan struct{}
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
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	r := &Router{
		clock:    cfg.Clock,
		sink:     cfg.Sink,
		newID:    cfg.NewID,
		cfg:      cfg,
		idPrefix: strconv.FormatInt(cfg.Clock.Now().UnixNano(), 36),
		wake:     make(chan struct{}, 1),
	}
	r.db.Store(db)
	return r, nil
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
	r.idSeq++
	return kind + "-" + r.idPrefix + "-" + strconv.FormatUint(r.idSeq, 36)
}

// write runs fn in one memdb write transaction, runs matching, commits, and
// publishes the events. An error aborts everything: no state, no events.
func (r *Router) write(fn func(w *writer) error) ([]Event, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	txn := r.db.Load().Txn(true)
	defer txn.Abort()
	w := &writer{r: r, txn: txn, now: r.clock.Now()}
	if err := fn(w); err != nil {
		return nil, err
	}
	if err := w.settle(); err != nil {
		return nil, fmt.Errorf("match: %w", err)
	}
	txn.Commit()
	events := w.finish()
	if r.sink != nil && len(events) > 0 {
		r.sink.Publish(events)
	}
	r.poke()
	return slices.Clone(events), nil
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
