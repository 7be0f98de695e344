package transcripts

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"tellonce/router"
	tsql "tellonce/sql"
)

var t0 = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// guard bounds every wait on a result channel: a guard against a hang, not a
// timing assumption (everything it guards happens at once).
const guard = 20 * time.Second

var quiet = slog.New(slog.DiscardHandler)

// seqIDs makes deterministic ids: ct1, ct2, cs1, of1...
func seqIDs(prefix string) func(string) string {
	var mu sync.Mutex
	n := map[string]int{}
	return func(kind string) string {
		mu.Lock()
		defer mu.Unlock()
		n[kind]++
		return prefix + kind + strconv.Itoa(n[kind])
	}
}

// delivered records what Deliver was given, checking it arrives in Seq
// order with no gap and no repeat, and signals each event on ch.
type delivered struct {
	t    testing.TB
	mu   sync.Mutex
	seqs []uint64
	ch   chan uint64
}

func newDelivered(t testing.TB) *delivered {
	return &delivered{t: t, ch: make(chan uint64, 1<<16)}
}

func (d *delivered) deliver(evs []router.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range evs {
		if n := len(d.seqs); n > 0 && e.Seq != d.seqs[n-1]+1 {
			d.t.Errorf("Deliver got seq %d after %d; want %d", e.Seq, d.seqs[n-1], d.seqs[n-1]+1)
		}
		d.seqs = append(d.seqs, e.Seq)
		d.ch <- e.Seq
	}
}

func (d *delivered) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seqs)
}

// awaitSeq waits until Deliver has been given seq.
func (d *delivered) awaitSeq(seq uint64) {
	d.t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case got := <-d.ch:
			if got >= seq {
				return
			}
		case <-deadline:
			d.t.Fatalf("Deliver never got seq %d", seq)
		}
	}
}

// running is a journal whose Run goroutine the test controls.
type running struct {
	j      *Journal
	cancel context.CancelFunc
	done   chan error
}

// start runs j until the test ends (or stop is called).
func start(t testing.TB, j *Journal) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{j: j, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- j.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// awaitEnd waits for Run to end on its own and checks it returned an
// error wrapping want.
func (r *running) awaitEnd(t testing.TB, want error) {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if !errors.Is(err, want) {
			t.Errorf("Run() = %v; want %v", err, want)
		}
	case <-time.After(guard):
		t.Fatal("Run kept going after the fence refused")
	}
}

// stop cancels Run and returns what it returned.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(guard):
		t.Fatal("Run did not return after its context ended")
		return nil
	}
}

// publisher stands in for the router: it numbers events and publishes them
// under one lock, in order, as the router does.
type publisher struct {
	mu  sync.Mutex
	seq uint64
	j   *Journal
	// caseSeq numbers each case's timeline.
	caseSeq map[string]int64
}

func newPublisher(j *Journal) *publisher {
	return &publisher{j: j, caseSeq: map[string]int64{}}
}

// say publishes n message events on caseID as one router transaction and
// returns the last Seq.
func (p *publisher) say(caseID string, n int) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	evs := make([]router.Event, n)
	for i := range evs {
		p.seq++
		p.caseSeq[caseID]++
		ce := &router.CaseEvent{Seq: p.caseSeq[caseID], At: t0, Type: router.CaseMessage,
			Actor: "citizen:c", Text: "message " + strconv.FormatInt(p.caseSeq[caseID], 10),
			Data: map[string]string{"contact_id": "ct-" + caseID}}
		evs[i] = router.Event{Seq: p.seq, Type: router.EventMessage, At: t0, CaseID: caseID,
			ContactID: "ct-" + caseID, Actor: ce.Actor, Text: ce.Text, CaseEvent: ce}
	}
	p.j.Publish(evs)
	return p.seq
}

func countRows(t testing.TB, db *tsql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, `SELECT COUNT(*) FROM `+table); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func mustExec(t testing.TB, db *tsql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), db.Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// outage makes every insert into case_events fail until the returned
// function ends it. A constraint (PostgreSQL) or trigger (SQLite) rather than
// a renamed table, because prepared statements follow a renamed table.
func outage(t testing.TB, db *tsql.DB) (end func()) {
	t.Helper()
	if db.Dialect == tsql.Postgres {
		mustExec(t, db, `ALTER TABLE case_events ADD CONSTRAINT outage CHECK (seq < 0) NOT VALID`)
		return func() { mustExec(t, db, `ALTER TABLE case_events DROP CONSTRAINT outage`) }
	}
	mustExec(t, db, `CREATE TRIGGER outage BEFORE INSERT ON case_events BEGIN SELECT RAISE(ABORT, 'outage'); END`)
	return func() { mustExec(t, db, `DROP TRIGGER outage`) }
}
