package router

import (
	"errors"
	"testing"
	"time"
)

func TestReconnectGrace(t *testing.T) {
	setup := func(t *testing.T) (*fixture, ContactView, ContactView) {
		f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
		f.online("a")
		c := f.enqueue("q", "caller", func(r *EnqueueRequest) {
			r.Context = ContactContext{Summary: "lost passport", IVR: []string{"1", "3"}}
		})
		f.accept(c.ID)
		_, err := f.r.Say(AsCitizen(), c.ID, "hello")
		f.must(err)
		// Waiting with a higher priority: still behind the re-queued contact.
		waiting := f.enqueue("q", "urgent", func(r *EnqueueRequest) { r.Priority = 5 })
		_, err = f.r.Disconnect("a")
		f.must(err)
		return f, c, waiting
	}
	t.Run("within grace the agent keeps the contact", func(t *testing.T) {
		f, c, _ := setup(t)
		f.advance(29 * time.Second)
		desk, _, err := f.r.Connect("a")
		f.must(err)
		if len(desk.Contacts) != 1 || desk.Contacts[0].Contact.ID != c.ID {
			t.Fatalf("Connect desk = %+v; want contact %s", desk.Contacts, c.ID)
		}
		f.advance(time.Hour)
		if got := f.contact(c.ID); got.Status != StatusAssigned || got.Agent != "a" {
			t.Errorf("after reconnect contact = %s/%s; want assigned/a", got.Status, got.Agent)
		}
	})
	t.Run("after grace the contact returns to the head", func(t *testing.T) {
		f, c, waiting := setup(t)
		f.advance(29 * time.Second)
		if got := f.contact(c.ID).Status; got != StatusAssigned {
			t.Fatalf("at 29s status = %s; want assigned", got)
		}
		evs := f.advance(time.Second)
		if !hasEvent(evs, EventRequeued, c.ID) {
			t.Errorf("grace end events lack requeued: %+v", evs)
		}
		if got := f.state("a"); got != StateOffline {
			t.Errorf("a = %s; want offline", got)
		}
		got := f.contact(c.ID)
		if got.Status != StatusQueued || got.Position != 1 {
			t.Errorf("requeued contact status %s position %d; want queued at 1", got.Status, got.Position)
		}
		if p, _ := f.r.Position(waiting.ID); p != 2 {
			t.Errorf("the contact that waited before is at %d; want 2", p)
		}
		cs, err := f.r.Case(c.CaseID)
		f.must(err)
		if cs.Context.Summary != "lost passport" || len(cs.Context.IVR) != 2 || !hasCaseEvent(cs, CaseMessage, "hello") {
			t.Errorf("case lost context: %+v", cs)
		}
		if n := len(cs.Legs); n != 2 || cs.Legs[0].Agent != "a" || cs.Legs[0].Disposition != "requeued" {
			t.Errorf("legs = %+v; want a's leg ended requeued plus a new one", cs.Legs)
		}
	})
}

func hasCaseEvent(cs CaseView, typ, text string) bool {
	for _, e := range cs.Events {
		if e.Type == typ && (text == "" || e.Text == text) {
			return true
		}
	}
	return false
}

func TestSetState(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
	_, err := f.r.SetState("a", StateAvailable, "")
	wantErr(t, "SetState(available) while disconnected", err, ErrConflict)
	_, err = f.r.SetState("a", StateBusy, "")
	wantErr(t, "SetState(busy)", err, ErrInvalid)
	_, err = f.r.SetState("nobody", StateOffline, "")
	wantErr(t, "SetState(unknown agent)", err, ErrNotFound)
	f.online("a", "b")
	c := f.enqueue("q", "caller")
	// Break revokes the pending offer: the contact goes to b.
	evs, err := f.r.SetState("a", StateBreak, "coffee")
	f.must(err)
	if !hasEvent(evs, EventOfferRevoked, c.ID) || f.offeredTo(c.ID) != "b" {
		t.Errorf("break: revoked=%v, offered to %q; want revoked and b", hasEvent(evs, EventOfferRevoked, c.ID), f.offeredTo(c.ID))
	}
	f.accept(c.ID)
	_, err = f.r.SetState("b", StateOffline, "")
	wantErr(t, "SetState(offline) with an assigned contact", err, ErrConflict)
}

func TestQueueSnapshot(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q"), agent("c", "q")})
	f.online("a", "b")
	c := f.enqueue("q", "one")
	f.accept(c.ID)
	f.enqueue("q", "two") // offered to b
	f.enqueue("q", "three")
	f.clock.Advance(5 * time.Second)
	s, err := f.r.QueueSnapshot("q")
	f.must(err)
	if s.Waiting != 1 || s.LongestWait < 5*time.Second {
		t.Errorf("snapshot waiting %d longest %s; want 1, >= 5s", s.Waiting, s.LongestWait)
	}
	want := map[AgentState]int{StateBusy: 2, StateOffline: 1}
	for st, n := range want {
		if s.Agents[st] != n {
			t.Errorf("agents[%s] = %d; want %d (all %v)", st, s.Agents[st], n, s.Agents)
		}
	}
}

// TestProfileChangesMoveMembership changes an agent's queues, removes and
// adds them back, checking after each step that the membership rows, the
// held lists and the matching state agree with the rows, and that routing,
// the queue's staff count and the desk follow the new membership.
func TestProfileChangesMoveMembership(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q1"), queue("q2")}, []AgentProfile{agent("kim", "q1")})
	check := func(step string) {
		t.Helper()
		checkLines(t, f.r, rows(f.r), true)
		if t.Failed() {
			t.Fatalf("after %s", step)
		}
	}
	f.online("kim")
	c := f.enqueue("q2", "caller")
	if got := f.offeredTo(c.ID); got != "" {
		t.Fatalf("q2's contact offered to %q before kim joined q2", got)
	}
	check("enqueue")

	_, err := f.r.UpsertAgent(agent("kim", "q1", "q2"))
	f.must(err)
	check("join q2")
	if got := f.offeredTo(c.ID); got != "kim" {
		t.Fatalf("q2's contact offered to %q after kim joined q2; want kim", got)
	}
	f.accept(c.ID)
	check("accept")
	desk, err := f.r.Desk("kim")
	f.must(err)
	if len(desk.Contacts) != 1 || desk.Contacts[0].Contact.ID != c.ID {
		t.Fatalf("kim's desk holds %+v; want contact %s", desk.Contacts, c.ID)
	}
	if _, err := f.r.RemoveAgent("kim"); !errors.Is(err, ErrConflict) {
		t.Fatalf("RemoveAgent while holding a contact: %v; want a conflict", err)
	}
	check("refused removal")

	_, err = f.r.UpsertAgent(agent("kim", "q1"))
	f.must(err)
	check("leave q2")
	for q, want := range map[string]int{"q1": 1, "q2": 0} {
		s, err := f.r.QueueSnapshot(q)
		f.must(err)
		if n := s.Agents[StateBusy]; n != want {
			t.Errorf("%s counts %d busy agents; want %d", q, n, want)
		}
	}
	_, err = f.r.End("kim", c.ID, "resolved", "")
	f.must(err)
	check("end")

	_, err = f.r.RemoveAgent("kim")
	f.must(err)
	check("remove")
	s, err := f.r.QueueSnapshot("q1")
	f.must(err)
	if len(s.Agents) != 0 {
		t.Errorf("q1 counts %v after kim left; want nobody", s.Agents)
	}
	_, err = f.r.UpsertAgent(agent("kim", "q2"))
	f.must(err)
	check("come back in q2")
	f.online("kim")
	c2 := f.enqueue("q2", "caller2")
	if got := f.offeredTo(c2.ID); got != "kim" {
		t.Fatalf("q2's contact offered to %q after kim came back; want kim", got)
	}
	check("offer after coming back")
}
