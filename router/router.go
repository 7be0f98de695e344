package router

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
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
// commit order: after the router has released its write lock, but before
// the change's caller is answered and before the next write group starts.
// A Sink may read the Router (a read publishes what it needs, see
// publish.go), but must not write to it: the write would wait for the
// group whose events the Sink holds.
type Sink interface{ Publish(events []Event) }

// Config holds the router's dependencies and its global timings.
type Config struct {
	// Clock defaults to the system clock.
	Clock Clock
	// Sink may be nil.
	Sink Sink
	// NewID makes opaque ids for contacts ("ct"), cases ("cs") and offers
	// ("of"). The default is MakeID at the call's time: an id is a name,
	// never a key, but one that cannot be guessed tells nobody which
	// contacts and cases exist. Tests inject counters to read their ids
	// back.
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
	// Writes, if set, hears of every write group (for metrics).
	Writes WriteObserver
}

// WriteObserver hears of the router's write groups. The router reads no
// clock for it and does no I/O: the observer times a group with its own
// clock, between WriteGroup and the call of the function it returns.
type WriteObserver interface {
	// WriteGroup is called as a leader takes a group of size calls; the
	// function it returns is called once the group's calls have been
	// applied (or failed) and their events were handed to the sink, before
	// the callers are answered. WriteGroup runs under the router's write
	// lock and done just after it is released: both must be quick.
	WriteGroup(size int) (done func())
	// Published is called when memdb's open transaction is committed
	// for readers, with the write calls it held (publish.go); under the
	// router's write lock, so it must be quick.
	Published(calls int)
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

	mu sync.Mutex // serializes writes, Restore and memdb's commits
	db atomic.Pointer[memdb.MemDB]
	// match is the writer's matching state (see matching.go); guarded by mu.
	match *matching
	// view is the lines as committed, read-only copies published with each
	// commit. linesMu pairs view with the snapshot it describes: a commit
	// and its publish happen under it, so a reader holding it for a moment
	// gets a snapshot and the lines as of that snapshot.
	view map[lineKey]*lineTree
	// offers is the pending offers as committed, by id, published with
	// view (the readers' Offer): memdb keeps no index of them.
	offers map[string]*offerRow
	// firstOffer is the soonest pending offer's expiry as committed (zero:
	// none), published with view for NextDeadline.
	firstOffer time.Time
	// firstTimer is the soonest timer's due time as committed (zero: none).
	firstTimer time.Time
	// spare are the writers of the last group, reused; guarded by mu.
	spare   []*writer
	linesMu sync.RWMutex
	seq     uint64 // enqueue sequence, guarded by mu
	// caseWrites counts case rows written to memdb, for the test that a
	// call writes its case once; guarded by mu.
	caseWrites uint64
	// midFlushes counts flushes before a call's end (writer.tx), for the
	// test that the calls of routing never read through the transaction;
	// guarded by mu.
	midFlushes uint64
	eventSeq   uint64 // guarded by mu
	// open is the memdb transaction holding the calls that have returned
	// since the last publication (nil: none), openCalls how many, and
	// writesOther whether one of them wrote queues or memberships, which
	// publishes at the group's end (see publish.go); publications counts
	// the commits. Guarded by mu.
	open         *memdb.Txn
	openCalls    int
	writesOther  bool
	publications uint64
	// stale: open holds changes readers have not seen; guarded by linesMu.
	stale bool
	wake  chan struct{}

	// Group commit: concurrent write calls queue here and one of them, the
	// leader, runs the queued batch in one memdb transaction (see write).
	group writeGroup
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
		match: newMatching(),
		view:  map[lineKey]*lineTree{}, offers: map[string]*offerRow{},
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

// id makes a new opaque id at the call's time.
func (w *writer) id(kind string) string {
	if w.r.newID != nil {
		return w.r.newID(kind)
	}
	return MakeID(kind, w.now)
}

// idEncoding spells ids in lower case without padding: they are valid ids
// (checkID) and read well in logs. Its alphabet is in byte order, so ids
// sort as the bits they spell.
var idEncoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// MakeID is kind, "-" and 26 characters spelling 128 bits: the time at in
// milliseconds (48 bits), then 80 random bits.
//
// The random bits make an id unguessable. The time first makes ids made
// close together share their leading characters: go-memdb keeps rows in
// radix trees by id, and ids that share a prefix share a path, so writes
// made close together copy fewer nodes and a write group copies a shared
// path once (router/BENCHMARKS.md); SQL indexes by id grow at one end
// instead of everywhere. Ids made in different milliseconds sort in the
// order they were made. What an id tells its holder besides is when it
// was made (docs/trust.md).
func MakeID(kind string, at time.Time) string {
	var b [16]byte
	ms := max(at.UnixMilli(), 0)
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	// crypto/rand.Read never fails on the platforms Go supports (it
	// panics inside rather than return a short read).
	_, _ = rand.Read(b[6:])
	return kind + "-" + idEncoding.EncodeToString(b[:])
}

// read runs fn on a consistent read-only snapshot.
func (r *Router) read(fn func(txn *memdb.Txn) error) error {
	return fn(r.snapshot())
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
	r.linesMu.RLock()
	offer, timer := r.firstOffer, r.firstTimer
	r.linesMu.RUnlock()
	switch {
	case offer.IsZero():
		return timer, !timer.IsZero()
	case timer.IsZero() || offer.Before(timer):
		return offer, true
	}
	return timer, true
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
	r   *Router
	txn *memdb.Txn
	m   *matching // shared by the writers of one transaction
	// The rows this call changed, not yet in txn (nil: deleted); see
	// flush.
	cases    map[string]*caseRow
	contacts map[string]*contactRow
	agents   map[string]*agentRow
	// queues are the queue rows this call read (writer.queue).
	queues map[string]*queueRow
	// side are the contacts whose row in memdb may be in a side table
	// (sideTables): flush takes them out of the ones they left.
	side     map[string]struct{}
	ids      []string // flush's scratch
	flushErr error    // a failed flush inside tx, failing the call
	now      time.Time
	events   []Event
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
