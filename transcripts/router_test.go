package transcripts

import (
	"context"
	"strings"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/router"
	tsql "tellonce/sql"
)

// desk is a router wired to a journal as a handler sees it: every change is
// acknowledged only after Wait, as the web layer does before answering.
type desk struct {
	t     *testing.T
	r     *router.Router
	j     *Journal
	clock *clocktest.Clock
}

func newDesk(t *testing.T, db *tsql.DB, idPrefix string, d *delivered) *desk {
	t.Helper()
	opts := Options{Log: quiet}
	if d != nil {
		opts.Deliver = d.deliver
	}
	j := NewJournal(db, opts)
	clock := clocktest.New(t0)
	r, err := router.New(router.Config{Clock: clock, Sink: j, NewID: seqIDs(idPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	return &desk{t: t, r: r, j: j, clock: clock}
}

// ack waits until the events of one change are durable, as a handler does
// before it answers.
func (d *desk) ack(evs []router.Event, err error) []router.Event {
	d.t.Helper()
	if err != nil {
		d.t.Fatal(err)
	}
	if len(evs) > 0 {
		if err := d.j.Wait(context.Background(), evs[len(evs)-1].Seq); err != nil {
			d.t.Fatalf("Wait(%d) = %v", evs[len(evs)-1].Seq, err)
		}
	}
	d.clock.Advance(time.Millisecond)
	return evs
}

func (d *desk) setup(queues []router.QueueConfig, agents []router.AgentProfile) {
	d.t.Helper()
	for _, q := range queues {
		d.ack(d.r.UpsertQueue(q))
	}
	for _, a := range agents {
		d.ack(d.r.UpsertAgent(a))
	}
}

func (d *desk) online(names ...string) {
	d.t.Helper()
	for _, n := range names {
		_, evs, err := d.r.Connect(n)
		d.ack(evs, err)
		d.ack(d.r.SetState(n, router.StateAvailable, ""))
	}
}

func (d *desk) enqueue(req router.EnqueueRequest) router.ContactView {
	d.t.Helper()
	c, evs, err := d.r.Enqueue(req)
	d.ack(evs, err)
	return c
}

func (d *desk) contact(id string) router.ContactView {
	d.t.Helper()
	c, err := d.r.Contact(id)
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

// accept has the agent the contact is offered to accept it.
func (d *desk) accept(id string) string {
	d.t.Helper()
	c := d.contact(id)
	if c.Status != router.StatusOffered {
		d.t.Fatalf("contact %s is %s; want offered", id, c.Status)
	}
	d.ack(d.r.Accept(c.Agent, c.OfferID))
	return c.Agent
}

func agencyQueue(id string, mod ...func(*router.QueueConfig)) router.QueueConfig {
	agency, _, _ := strings.Cut(id, ".")
	q := router.QueueConfig{ID: id, Agency: agency, Name: id, Wrapup: -1,
		Channels: []router.Channel{router.ChannelVoice, router.ChannelChat, router.ChannelCallback}}
	for _, m := range mod {
		m(&q)
	}
	return q
}

func agentIn(name, agency string, queues ...string) router.AgentProfile {
	p := router.AgentProfile{Username: name, Name: name, Agency: agency, Queues: map[string]int{},
		Skills: map[string]int{"lang:ko": 5}, MaxChats: 2}
	for _, q := range queues {
		p.Queues[q] = 1
	}
	return p
}

func caller(id string, mod ...func(*router.EnqueueRequest)) router.EnqueueRequest {
	req := router.EnqueueRequest{Channel: router.ChannelVoice, Queue: "gov110.general",
		Caller: router.Caller{ID: id, Name: "Caller " + id, Language: "ko"}}
	for _, m := range mod {
		m(&req)
	}
	return req
}
