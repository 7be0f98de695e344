package router

import (
	"errors"
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"

	memdb "github.com/hashicorp/go-memdb"

	"tellonce/clocktest"
)

var t0 = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

type recSink struct {
	mu     sync.Mutex
	events []Event
	ch     chan Event // optional: every event is also sent here
}

func (s *recSink) Publish(evs []Event) {
	s.mu.Lock()
	s.events = append(s.events, evs...)
	s.mu.Unlock()
	if s.ch != nil {
		for _, e := range evs {
			s.ch <- e
		}
	}
}

// seqIDs makes deterministic ids: ct1, ct2, cs1, of1...
func seqIDs() func(string) string { return (&idSeq{}).next }

// idSeq counts ids per kind; a copy goes on from where the original is.
type idSeq struct{ n map[string]int }

func (s *idSeq) next(kind string) string {
	if s.n == nil {
		s.n = map[string]int{}
	}
	s.n[kind]++
	return kind + strconv.Itoa(s.n[kind])
}

func (s *idSeq) clone() *idSeq { return &idSeq{n: maps.Clone(s.n)} }

type fixture struct {
	t     testing.TB
	ids   *idSeq
	r     *Router
	clock *clocktest.Clock
	sink  *recSink
}

func newFixture(t testing.TB, queues []QueueConfig, agents []AgentProfile) *fixture {
	t.Helper()
	f := &fixture{t: t, ids: &idSeq{}, clock: clocktest.New(t0), sink: &recSink{}}
	r, err := New(Config{Clock: f.clock, Sink: f.sink, NewID: f.ids.next})
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	for _, q := range queues {
		if _, err := r.UpsertQueue(q); err != nil {
			t.Fatalf("UpsertQueue(%s) = %v", q.ID, err)
		}
	}
	for _, a := range agents {
		if _, err := r.UpsertAgent(a); err != nil {
			t.Fatalf("UpsertAgent(%s) = %v", a.Username, err)
		}
	}
	return f
}

func queue(id string, mod ...func(*QueueConfig)) QueueConfig {
	q := QueueConfig{ID: id, Agency: "gov", Name: id, Channels: []Channel{ChannelVoice, ChannelChat, ChannelCallback},
		Wrapup: -1}
	for _, m := range mod {
		m(&q)
	}
	return q
}

func agent(name string, queues ...string) AgentProfile {
	p := AgentProfile{Username: name, Name: name, Agency: "gov", Queues: map[string]int{}, Skills: map[string]int{}}
	for _, q := range queues {
		p.Queues[q] = 1
	}
	return p
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// online connects agents and makes them available, one clock tick apart so
// longest-idle order is the argument order.
func (f *fixture) online(names ...string) {
	f.t.Helper()
	for _, n := range names {
		_, _, err := f.r.Connect(n)
		f.must(err)
		_, err = f.r.SetState(n, StateAvailable, "")
		f.must(err)
		f.clock.Advance(time.Millisecond)
	}
}

func (f *fixture) enqueue(q, caller string, mod ...func(*EnqueueRequest)) ContactView {
	f.t.Helper()
	req := EnqueueRequest{Channel: ChannelVoice, Queue: q, Caller: Caller{ID: caller, Name: caller}}
	for _, m := range mod {
		m(&req)
	}
	c, _, err := f.r.Enqueue(req)
	if err != nil {
		f.t.Fatalf("Enqueue(%s, %s) = %v", q, caller, err)
	}
	f.clock.Advance(time.Millisecond)
	return c
}

func chat(r *EnqueueRequest) { r.Channel = ChannelChat }

func (f *fixture) contact(id string) ContactView {
	f.t.Helper()
	c, err := f.r.Contact(id)
	f.must(err)
	return c
}

// offeredTo is the agent a contact is offered to ("" if none).
func (f *fixture) offeredTo(id string) string {
	f.t.Helper()
	c := f.contact(id)
	if c.Status != StatusOffered {
		return ""
	}
	return c.Agent
}

func (f *fixture) accept(id string) string {
	f.t.Helper()
	c := f.contact(id)
	if c.Status != StatusOffered {
		f.t.Fatalf("contact %s is %s, want offered", id, c.Status)
	}
	_, err := f.r.Accept(c.Agent, c.OfferID)
	f.must(err)
	return c.Agent
}

func (f *fixture) advance(d time.Duration) []Event {
	f.t.Helper()
	f.clock.Advance(d)
	evs, err := f.r.Tick()
	f.must(err)
	return evs
}

func (f *fixture) state(name string) AgentState {
	f.t.Helper()
	a, err := f.r.Agent(name)
	f.must(err)
	return a.State
}

func hasEvent(evs []Event, typ EventType, contactID string) bool {
	for _, e := range evs {
		if e.Type == typ && (contactID == "" || e.ContactID == contactID) {
			return true
		}
	}
	return false
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s = %v; want %v", what, err, target)
	}
}

// writerRows reads the rows as the writer holds them, published to readers
// or not: the open transaction's, else memdb's. The caller holds r.mu.
func writerRows(r *Router) *memdb.Txn {
	if r.open != nil {
		return r.open.Snapshot()
	}
	return r.db.Load().Txn(false)
}

// rows is writerRows for a caller that does not hold r.mu: a test's look
// at the writer's rows between calls that leaves the open transaction
// open, as no reader came.
func rows(r *Router) *memdb.Txn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return writerRows(r)
}
