package router

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRestoreKeepsOrderAndHoldsAssignedContacts(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
	f.online("a")
	held := f.enqueue("q", "held")
	f.accept(held.ID)
	_, err := f.r.Say(AsCitizen(), held.ID, "before the restart")
	f.must(err)
	var line []string
	for i, caller := range []string{"w1", "w2", "w3", "w4"} {
		prio := 0
		if i == 2 {
			prio = 3 // w3 goes first
		}
		line = append(line, f.enqueue("q", caller, func(r *EnqueueRequest) { r.Priority = prio }).ID)
	}
	want := []string{line[2], line[0], line[1], line[3]}
	snap, err := f.r.Snapshot()
	f.must(err)

	// A new process: a fresh router restored from the snapshot.
	g := newFixture(t, nil, nil)
	g.clock.Set(f.clock.Now())
	f.must(g.r.Restore(snap))
	if got := g.contact(held.ID); got.Status != StatusAssigned || got.Agent != "a" {
		t.Fatalf("restored held contact %s/%s; want assigned to a", got.Status, got.Agent)
	}
	cs, err := g.r.Case(held.CaseID)
	f.must(err)
	if !hasCaseEvent(cs, CaseMessage, "before the restart") {
		t.Errorf("restored case lost its timeline: %+v", cs.Events)
	}
	for i, id := range want {
		if p, _ := g.r.Position(id); p != i+1 {
			t.Errorf("restored Position(%s) = %d; want %d", id, p, i+1)
		}
	}
	// b takes the line in its original order.
	g.online("b")
	for _, id := range want {
		if got := g.offeredTo(id); got != "b" {
			t.Fatalf("contact %s offered to %q; want b (original order)", id, got)
		}
		_, err := g.r.End(g.accept(id), id, "resolved", "")
		f.must(err)
	}
	// a never comes back: after the grace the held contact returns to the head.
	g.advance(DefaultReconnectGrace)
	if got := g.contact(held.ID); got.Status != StatusOffered || got.Agent != "b" {
		t.Errorf("after grace held contact %s/%s; want offered to b", got.Status, got.Agent)
	}
}

func TestRestoreRejectsUnknownQueue(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	c := f.enqueue("q", "x")
	err := f.r.Restore(Snapshot{Cases: []CaseSnapshot{{ID: "cs9", Caller: Caller{ID: "y"},
		Contacts: []ContactSnapshot{{ID: "ct9", Queue: "gone", Channel: ChannelVoice, Status: StatusQueued}}}}})
	wantErr(t, "Restore(contact in unknown queue)", err, ErrNotFound)
	// A failed restore changes nothing.
	if got := f.contact(c.ID); got.Status != StatusQueued {
		t.Errorf("after failed Restore contact = %s; want queued", got.Status)
	}
}

func TestRunDrivesTimers(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.online("a")
	c := f.enqueue("q", "caller")
	f.sink.ch = make(chan Event, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	f.clock.Advance(DefaultOfferTimeout)
	f.r.Wake()
	deadline := time.After(10 * time.Second) // a guard, not a wait: the event comes at once
	for got := false; !got; {
		select {
		case e := <-f.sink.ch:
			got = e.Type == EventOfferTimeout && e.ContactID == c.ID
		case <-deadline:
			t.Fatal("Run did not process the due offer")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v; want context.Canceled", err)
	}
}

func TestNextDeadline(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	if _, ok := f.r.NextDeadline(); ok {
		t.Errorf("NextDeadline on an idle router reports a deadline")
	}
	f.online("a")
	f.enqueue("q", "caller")
	due, ok := f.r.NextDeadline()
	if want := f.clock.Now().Add(DefaultOfferTimeout - time.Millisecond); !ok || !due.Equal(want) {
		t.Errorf("NextDeadline() = %s, %v; want %s", due, ok, want)
	}
}
