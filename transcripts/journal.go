package transcripts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"tellonce/cases"
	tsql "tellonce/sql"
)

// ErrUnavailable is returned by Wait when the events could not be confirmed
// durable: the commit failed, the wait timed out, the caller gave up or the
// journal stopped. Handlers map it to the contract's "unavailable" error.
var ErrUnavailable = errors.New("case log unavailable")

// Defaults for Options.
const (
	DefaultMaxBatch   = 2000
	DefaultAckTimeout = 5 * time.Second
	// DefaultMaxPending is how many published events may wait for the writer
	// before Publish blocks (and with it the router): backpressure for a
	// store that has fallen far behind, not a limit normal load reaches.
	DefaultMaxPending = 100_000
)

// Retry backoff after a failed commit, and how long Run keeps trying to
// flush what is pending once its context has ended.
const (
	minBackoff   = 50 * time.Millisecond
	maxBackoff   = 5 * time.Second
	flushTimeout = 15 * time.Second
)

// Options configures a Journal.
type Options struct {
	// MaxBatch bounds the events written in one transaction (default 2000).
	// The events of one Publish call are never split, so a single larger
	// call still goes in one transaction.
	MaxBatch int
	// AckTimeout is how long Wait blocks before giving up (default 5s).
	AckTimeout time.Duration
	// Deliver is called after each commit, in commit order and never
	// concurrently with itself, with the committed events (fan-out to
	// sockets); it may be nil. It runs on a goroutine of its own, so the
	// writer commits the next batch meanwhile; if it falls behind by
	// DeliverQueue batches the writer waits for it. It must not call the
	// router's write methods.
	Deliver func([]cases.Event)
	// DeliverQueue is how many committed batches may wait for Deliver
	// (default 1024).
	DeliverQueue int
	// Log defaults to slog.Default().
	Log *slog.Logger
	// Fence, when set, runs inside every commit's transaction before its
	// rows (lease.Term.Fence): an error refuses the commit, and is final,
	// since this process may no longer write; the journal stops and every
	// waiter is answered unavailable.
	Fence func(ctx context.Context, tx *sqlx.Tx) error
	// FenceQuery, with Fence, on PostgreSQL, is Fence as a query to fold
	// into the batch's own statement (lease.Term.FenceQuery): a row while
	// this process may write, none once it may not, parameters numbered
	// from first. The batch's rows are written only when it yields a row,
	// so check and rows commit as one statement, in one round trip,
	// instead of a transaction of four (BEGIN, the check, the rows,
	// COMMIT). When it yields none, Fence says why, and the refusal is
	// final as Fence's is.
	FenceQuery func(first int) (query string, args []any)
}

// Journal is the durable sink for router events: see the package doc.
type Journal struct {
	db   *tsql.DB
	opts Options
	log  *slog.Logger
	sqls *statements // SQL and prepared statements for this dialect
	// assigned holds the last row written for each assigned contact, owned
	// by the writer: when one is re-queued, its ended leg comes from here.
	assigned map[string]contactRow
	// pgJSON is the buffer the writer encodes PostgreSQL batches in.
	pgJSON     jsonWriter
	maxPending int
	kick       chan struct{} // wakes Run when something is published

	// Retry timing; tests shorten it.
	minBackoff, maxBackoff, flushTimeout time.Duration
	// commits counts committed transactions (tests and benchmarks read it).
	commits atomic.Int64
	// attemptFailed, when set (by tests), hears of every failed commit.
	attemptFailed func(error)
	// committed mirrors state.committed for lock-free reads.
	committed atomic.Uint64

	// metrics, when registered, hear of every commit.
	metrics *journalMetrics

	// deliveries carries committed batches to the deliverer (Run starts
	// it when Options.Deliver is set, and stops it before returning).
	deliveries chan delivery
	// published holds when each router transaction of the batch being
	// written was published, owned by the writer: the metrics' waits.
	published []time.Time

	mu      sync.Mutex
	notFull *sync.Cond // signalled when pending shrinks or the journal stops
	st      state
}

// state is what Publish, Run and Wait share, guarded by Journal.mu.
type state struct {
	pending  []pendingGroup // Publish groups not yet taken by the writer
	nPending int
	running  bool
	stopped  bool // Run has returned: nothing more will commit
	// committed is the highest Seq known durable; failedTo and failErr
	// describe the latest failed attempt until its events commit.
	committed uint64
	failedTo  uint64
	failErr   error
	waiters   waitHeap
}

// pendingGroup is the events of one Publish call and when it was made.
type pendingGroup struct {
	evs []cases.Event
	at  time.Time
}

// delivery is a committed batch on its way to Deliver, and when it
// committed.
type delivery struct {
	evs []cases.Event
	at  time.Time
}

// NewJournal makes a journal writing to db. Start Run before relying on
// Wait; events published before that wait for it.
func NewJournal(db *tsql.DB, opts Options) *Journal {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = DefaultAckTimeout
	}
	if opts.DeliverQueue <= 0 {
		opts.DeliverQueue = 1024
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	j := &Journal{
		db: db, opts: opts, log: opts.Log, sqls: newStatements(db),
		assigned:   map[string]contactRow{},
		maxPending: DefaultMaxPending, kick: make(chan struct{}, 1),
		minBackoff: minBackoff, maxBackoff: maxBackoff, flushTimeout: flushTimeout,
	}
	j.notFull = sync.NewCond(&j.mu)
	return j
}

// Publish queues the events of one router transaction for the writer. It
// implements router.Sink: the router calls it before the next write group
// runs, in commit order, so it only blocks when the writer has fallen more than
// DefaultMaxPending events behind. Events published after Run has stopped
// cannot be stored; they are logged and their Wait calls fail.
func (j *Journal) Publish(evs []cases.Event) {
	if len(evs) == 0 {
		return
	}
	at := time.Now()
	j.mu.Lock()
	for j.st.running && j.st.nPending >= j.maxPending {
		j.notFull.Wait()
	}
	if j.st.stopped {
		j.mu.Unlock()
		j.log.Error("case log: events published after the journal stopped are not stored",
			"first_seq", evs[0].Seq, "last_seq", evs[len(evs)-1].Seq)
		return
	}
	j.st.pending = append(j.st.pending, pendingGroup{evs: evs, at: at})
	j.st.nPending += len(evs)
	j.mu.Unlock()
	j.poke()
}

// poke wakes the writer without blocking.
func (j *Journal) poke() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// Committed is the highest router Event.Seq known to be committed.
func (j *Journal) Committed() uint64 { return j.committed.Load() }

// take appends whole Publish groups to batch while they fit in MaxBatch
// (always at least one, so an oversized group still goes through), and
// their publishing times to j.published. Only the writer calls it.
func (j *Journal) take(batch []cases.Event) []cases.Event {
	from := len(j.published)
	j.mu.Lock()
	n := 0
	for _, g := range j.st.pending {
		if len(batch) > 0 && len(batch)+len(g.evs) > j.opts.MaxBatch {
			break
		}
		batch = append(batch, g.evs...)
		j.published = append(j.published, g.at)
		j.st.nPending -= len(g.evs)
		n++
	}
	if n > 0 {
		clear(j.st.pending[:n]) // let the taken groups be collected
		j.st.pending = j.st.pending[n:]
		j.notFull.Broadcast()
	}
	if j.st.nPending > 0 {
		j.poke() // more than one batch was waiting
	}
	j.mu.Unlock()
	j.metrics.taken(j.published[from:], time.Now())
	return batch
}

func (j *Journal) pendingCount() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st.nPending
}

// stopIfIdle stops the journal if nothing is pending, atomically with
// Publish, so no event slips in between the last check and the stop.
func (j *Journal) stopIfIdle() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.st.nPending > 0 {
		return false
	}
	j.stopLocked(nil)
	return true
}

// stop marks the journal stopped: waiters still waiting fail, and a blocked
// Publish returns.
func (j *Journal) stop(cause error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stopLocked(cause)
}

func (j *Journal) stopLocked(cause error) {
	j.st.running, j.st.stopped = false, true
	err := fmt.Errorf("%w: journal stopped", ErrUnavailable)
	if cause != nil {
		err = fmt.Errorf("%w: journal stopped: %w", ErrUnavailable, cause)
	}
	j.st.waiters.release(^uint64(0), err)
	j.st.pending, j.st.nPending = nil, 0
	j.notFull.Broadcast()
}
