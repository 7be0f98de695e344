package stats

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/router"
)

// day0 is the test day: Monday 2 March 2026, 09:00 in Seoul.
var day0 = time.Date(2026, 3, 2, 9, 0, 0, 0, Seoul)

// seqIDs makes deterministic ids: ct1, ct2, cs1, of1...
func seqIDs() func(string) string {
	var mu sync.Mutex
	n := map[string]int{}
	return func(kind string) string {
		mu.Lock()
		defer mu.Unlock()
		n[kind]++
		return kind + strconv.Itoa(n[kind])
	}
}

// durable is what the desk waits on after each change (a journal), or nil.
type durable interface {
	Wait(ctx context.Context, seq uint64) error
}

// desk is a router and a Stats fed with every change's events, as the
// server feeds them (after the change is durable, when there is a store).
type desk struct {
	t     testing.TB
	clock *clocktest.Clock
	r     *router.Router
	st    *Stats
	store durable
}

// morningStart is the start of the history tests' morning: a1 of general
// online, a computation at 09:00:00, then at 09:00:10 two calls, A (offered
// to a1) and B (waits), and at 09:00:15 a1 answers A. It returns B.
func (d *desk) morningStart() string {
	d.t.Helper()
	d.queue(queueCfg(general, 20))
	d.agent(agentIn("a1", general))
	d.online("a1")
	d.at("09:00:00")
	d.st.Queues()
	d.at("09:00:10")
	a := d.enqueue(general, "A", router.ChannelVoice) // offered to a1
	b := d.enqueue(general, "B", router.ChannelVoice) // waits
	d.at("09:00:15")
	d.accept(a) // within the threshold
	return b
}

func newDesk(t testing.TB, sink router.Sink, store durable, opts ...func(*Config)) *desk {
	t.Helper()
	clock := clocktest.New(day0)
	r, err := router.New(router.Config{Clock: clock, Sink: sink, NewID: seqIDs()})
	if err != nil {
		t.Fatal(err)
	}
	d := &desk{t: t, clock: clock, r: r, store: store}
	d.st = d.newStats(opts...)
	return d
}

// newStats makes another Stats on the desk's router and clock.
func (d *desk) newStats(opts ...func(*Config)) *Stats {
	d.t.Helper()
	cfg := Config{Router: d.r, Clock: d.clock}
	for _, o := range opts {
		o(&cfg)
	}
	st, err := New(cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	return st
}

// do observes a change's events once they are durable.
func (d *desk) do(evs []router.Event, err error) []router.Event {
	d.t.Helper()
	if err != nil {
		d.t.Fatal(err)
	}
	if d.store != nil && len(evs) > 0 {
		if err := d.store.Wait(context.Background(), evs[len(evs)-1].Seq); err != nil {
			d.t.Fatalf("Wait: %v", err)
		}
	}
	d.st.Observe(evs)
	return evs
}

// at sets the clock to a time of the test day, "15:04:05" in Seoul.
func (d *desk) at(clock string) {
	d.t.Helper()
	tod, err := time.Parse("15:04:05", clock)
	if err != nil {
		d.t.Fatal(err)
	}
	d.clock.Set(time.Date(day0.Year(), day0.Month(), day0.Day(), tod.Hour(), tod.Minute(), tod.Second(), 0, Seoul))
}

func (d *desk) queue(q router.QueueConfig) { d.t.Helper(); d.do(d.r.UpsertQueue(q)) }

func (d *desk) agent(p router.AgentProfile) { d.t.Helper(); d.do(d.r.UpsertAgent(p)) }

func (d *desk) online(names ...string) {
	d.t.Helper()
	for _, n := range names {
		_, evs, err := d.r.Connect(n)
		d.do(evs, err)
		d.do(d.r.SetState(n, router.StateAvailable, ""))
	}
}

func (d *desk) enqueue(queue, caller string, ch router.Channel) string {
	d.t.Helper()
	c, evs, err := d.r.Enqueue(router.EnqueueRequest{Channel: ch, Queue: queue,
		Caller: router.Caller{ID: caller, Name: "Caller " + caller}})
	d.do(evs, err)
	return c.ID
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
func (d *desk) accept(id string) {
	d.t.Helper()
	c := d.contact(id)
	if c.Status != router.StatusOffered {
		d.t.Fatalf("contact %s is %s; want offered", id, c.Status)
	}
	d.do(d.r.Accept(c.Agent, c.OfferID))
}

func (d *desk) end(id string) {
	d.t.Helper()
	c := d.contact(id)
	d.do(d.r.End(c.Agent, id, "completed", ""))
}

func (d *desk) abandon(id string) { d.t.Helper(); d.do(d.r.Abandon(id)) }

// transfer moves an assigned contact to queue and returns the new leg.
func (d *desk) transfer(id, queue string, mode router.TransferMode) string {
	d.t.Helper()
	c := d.contact(id)
	leg, evs, err := d.r.Transfer(c.Agent, id, router.Target{Queue: queue}, mode, "please help")
	d.do(evs, err)
	return leg.ID
}

// read returns the figures after the clock moved on by one Interval, so
// that they are computed afresh.
func (d *desk) read() ([]QueueStats, []AgentStats) {
	d.clock.Advance(time.Second)
	return d.st.Queues(), d.st.Agents()
}

func queueCfg(id string, slaS int, mod ...func(*router.QueueConfig)) router.QueueConfig {
	agency, _, _ := strings.Cut(id, ".")
	q := router.QueueConfig{ID: id, Agency: agency, Name: "Queue " + id, Wrapup: -1,
		Channels: []router.Channel{router.ChannelVoice, router.ChannelChat},
		SLA:      router.SLA{AnswerWithin: time.Duration(slaS) * time.Second, TargetPct: 80}}
	for _, m := range mod {
		m(&q)
	}
	return q
}

func agentIn(name string, queues ...string) router.AgentProfile {
	agency, _, _ := strings.Cut(queues[0], ".")
	p := router.AgentProfile{Username: name, Name: "Agent " + name, Agency: agency,
		Queues: map[string]int{}, MaxChats: 1}
	for _, q := range queues {
		p.Queues[q] = 1
	}
	return p
}

func byQueue(qs []QueueStats) map[string]QueueStats {
	m := map[string]QueueStats{}
	for _, q := range qs {
		m[q.Queue] = q
	}
	return m
}

func byAgent(as []AgentStats) map[string]AgentStats {
	m := map[string]AgentStats{}
	for _, a := range as {
		m[a.Username] = a
	}
	return m
}

// num shows an optional figure.
func num(p *float64) string {
	if p == nil {
		return "null"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64)
}

func numi(p *int) string {
	if p == nil {
		return "null"
	}
	return strconv.Itoa(*p)
}

// formatFields shows name, value pairs on one line.
func formatFields(kv ...any) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%v=%v", kv[i], kv[i+1])
	}
	return b.String()
}
