package router

import (
	"errors"
	"testing"
	"time"
)

func TestOfferTimeoutGoesToNextAgentAndNotReady(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) { q.OfferTimeout = 15 * time.Second })},
		[]AgentProfile{agent("a", "q"), agent("b", "q")})
	f.online("a", "b")
	c := f.enqueue("q", "caller")
	if got := f.offeredTo(c.ID); got != "a" {
		t.Fatalf("offered to %q; want a", got)
	}
	first := f.contact(c.ID).OfferID
	if evs := f.advance(14 * time.Second); len(evs) != 0 {
		t.Fatalf("at 14s Tick() produced %d events; want none", len(evs))
	}
	evs := f.advance(time.Second)
	if !hasEvent(evs, EventOfferTimeout, c.ID) {
		t.Errorf("Tick() events lack offer_timeout: %+v", evs)
	}
	if got := f.offeredTo(c.ID); got != "b" {
		t.Errorf("after timeout offered to %q; want b", got)
	}
	if got := f.state("a"); got != StateNotReady {
		t.Errorf("a state = %s; want not_ready", got)
	}
	if _, err := f.r.Accept("a", first); !errors.Is(err, ErrNotFound) {
		t.Errorf("Accept(a, expired offer) = %v; want ErrNotFound", err)
	}
	// not_ready until a chooses available.
	c2 := f.enqueue("q", "other")
	if got := f.offeredTo(c2.ID); got != "" {
		t.Errorf("second contact offered to %q while a is not_ready and b is busy; want nobody", got)
	}
	_, err := f.r.SetState("a", StateAvailable, "back")
	f.must(err)
	if got := f.offeredTo(c2.ID); got != "a" {
		t.Errorf("second contact offered to %q; want a once available", got)
	}
}

func TestAcceptAfterExpiryBeforeTickIsConflict(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.online("a")
	c := f.enqueue("q", "caller")
	f.clock.Advance(DefaultOfferTimeout)
	_, err := f.r.Accept("a", f.contact(c.ID).OfferID)
	wantErr(t, "Accept(after expiry)", err, ErrConflict)
}

func TestAcceptByOtherAgentIsNotFound(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
	f.online("a")
	c := f.enqueue("q", "caller")
	_, err := f.r.Accept("b", f.contact(c.ID).OfferID)
	wantErr(t, "Accept(b, a's offer)", err, ErrNotFound)
	_, err = f.r.Decline("b", f.contact(c.ID).OfferID, "")
	wantErr(t, "Decline(b, a's offer)", err, ErrNotFound)
}

func TestDecline(t *testing.T) {
	t.Run("goes to the next agent", func(t *testing.T) {
		f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
		f.online("a", "b")
		c := f.enqueue("q", "caller")
		evs, err := f.r.Decline("a", f.contact(c.ID).OfferID, "not my topic")
		f.must(err)
		if !hasEvent(evs, EventDeclined, c.ID) {
			t.Errorf("Decline events lack declined: %+v", evs)
		}
		if got := f.offeredTo(c.ID); got != "b" {
			t.Fatalf("after decline offered to %q; want b", got)
		}
		if got := f.state("a"); got != StateAvailable {
			t.Errorf("a state = %s; want available (a decline is not a timeout)", got)
		}
		// b declines too: with nobody else left, the contact goes round again.
		_, err = f.r.Decline("b", f.contact(c.ID).OfferID, "")
		f.must(err)
		if got := f.offeredTo(c.ID); got != "a" {
			t.Errorf("after both declined offered to %q; want a again", got)
		}
	})
	t.Run("decliner is passed over while someone else may take it", func(t *testing.T) {
		f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
		f.online("a", "b")
		hold := f.enqueue("q", "first") // b takes this one below
		c := f.enqueue("q", "caller")
		if f.offeredTo(hold.ID) != "a" || f.offeredTo(c.ID) != "b" {
			t.Fatalf("setup: offers %q, %q", f.offeredTo(hold.ID), f.offeredTo(c.ID))
		}
		f.accept(hold.ID)
		_, err := f.r.Decline("b", f.contact(c.ID).OfferID, "")
		f.must(err)
		// a is busy; b is free but declined; a is an undeclined candidate.
		if got := f.offeredTo(c.ID); got != "" {
			t.Fatalf("offered to %q; want nobody until a is free", got)
		}
		_, err = f.r.End("a", hold.ID, "resolved", "")
		f.must(err)
		if got := f.offeredTo(c.ID); got != "a" {
			t.Errorf("after a is free offered to %q; want a", got)
		}
	})
	t.Run("only agent gets it again", func(t *testing.T) {
		f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
		f.online("a")
		c := f.enqueue("q", "caller")
		_, err := f.r.Decline("a", f.contact(c.ID).OfferID, "")
		f.must(err)
		if got := f.offeredTo(c.ID); got != "a" {
			t.Errorf("offered to %q; want a (the contact must not starve)", got)
		}
	})
}

func TestWrapup(t *testing.T) {
	t.Run("voice blocks the agent until wrap-up ends", func(t *testing.T) {
		q := queue("q", func(q *QueueConfig) { q.Wrapup = 0 }) // the default, 10s
		f := newFixture(t, []QueueConfig{q}, []AgentProfile{agent("a", "q")})
		f.online("a")
		c := f.enqueue("q", "one")
		f.accept(c.ID)
		if got := f.state("a"); got != StateBusy {
			t.Errorf("state on a call = %s; want busy", got)
		}
		_, err := f.r.End("a", c.ID, "resolved", "told them")
		f.must(err)
		if got := f.state("a"); got != StateWrapup {
			t.Errorf("state after end = %s; want wrapup", got)
		}
		next := f.enqueue("q", "two")
		f.advance(9 * time.Second)
		if got := f.offeredTo(next.ID); got != "" {
			t.Fatalf("during wrap-up offered to %q; want nobody", got)
		}
		f.advance(time.Second)
		if got := f.offeredTo(next.ID); got != "a" {
			t.Errorf("after wrap-up offered to %q; want a", got)
		}
	})
	t.Run("chat wrap-up holds one slot only", func(t *testing.T) {
		q := queue("q", func(q *QueueConfig) { q.Wrapup = 10 * time.Second })
		f := newFixture(t, []QueueConfig{q}, []AgentProfile{chats(agent("a", "q"), 2)})
		f.online("a")
		c1 := f.enqueue("q", "one", chat)
		c2 := f.enqueue("q", "two", chat)
		f.accept(c1.ID)
		f.accept(c2.ID)
		_, err := f.r.End("a", c1.ID, "resolved", "")
		f.must(err)
		if got := f.state("a"); got != StateBusy {
			t.Errorf("state with one chat and one wrap-up = %s; want busy", got)
		}
		// The agent keeps chatting on c2.
		_, err = f.r.Say(AsAgent("a"), c2.ID, "still here")
		f.must(err)
		c3 := f.enqueue("q", "three", chat)
		if got := f.offeredTo(c3.ID); got != "" {
			t.Fatalf("with both slots used offered to %q; want nobody", got)
		}
		f.advance(10 * time.Second)
		if got := f.offeredTo(c3.ID); got != "a" {
			t.Errorf("after the slot's wrap-up offered to %q; want a", got)
		}
	})
}

func TestRemoveQueueWithLiveContactsIsConflict(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	c := f.enqueue("q", "caller")
	_, err := f.r.RemoveQueue("q")
	wantErr(t, "RemoveQueue(q)", err, ErrConflict)
	_, err = f.r.Abandon(c.ID)
	f.must(err)
	_, err = f.r.RemoveQueue("q")
	f.must(err)
	_, err = f.r.Queue("q")
	wantErr(t, "Queue(q) after remove", err, ErrNotFound)
}

// A contact passed over by its decliner goes to them once the other
// candidate leaves, without waiting for any other change.
func TestDeclinerTakesContactWhenOtherCandidateLeaves(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("x", "q"), agent("w", "q")})
	f.online("w", "x")
	a := f.enqueue("q", "first")
	f.accept(a.ID) // w
	b := f.enqueue("q", "second")
	if got := f.offeredTo(b.ID); got != "x" {
		t.Fatalf("setup: b offered to %q; want x", got)
	}
	_, err := f.r.Decline("x", f.contact(b.ID).OfferID, "")
	f.must(err)
	if got := f.offeredTo(b.ID); got != "" {
		t.Fatalf("b offered to %q; want nobody while w may take it", got)
	}
	_, err = f.r.Disconnect("w")
	f.must(err)
	if got := f.offeredTo(b.ID); got != "x" {
		t.Errorf("after w left, b offered to %q; want x", got)
	}
}

// An offered event names the agent's own agency, which is not the
// contact's when the agent serves another agency's queue.
func TestOfferedEventCarriesTheAgentsAgency(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("two.tax", func(q *QueueConfig) { q.Agency = "two" })},
		[]AgentProfile{agent("a", "two.tax")})
	f.online("a")
	c, evs, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "two.tax", Caller: Caller{ID: "caller"}})
	f.must(err)
	offer := offerEvent(evs, c.ID)
	if offer == nil {
		t.Fatalf("Enqueue events lack the offer: %+v", evs)
	}
	if offer.Agent != "a" || offer.AgentAgency != "gov" {
		t.Errorf("offer to %q of agency %q; want a of gov", offer.Agent, offer.AgentAgency)
	}
	if offer.Contact == nil || offer.Contact.Agency != "two" {
		t.Errorf("offered contact %+v; want one of agency two", offer.Contact)
	}
}
