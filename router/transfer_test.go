package router

import (
	"testing"
	"time"
)

// transferFixture: a serves q1 (agency one), b and c serve q2 (agency two).
func transferFixture(t *testing.T) (*fixture, ContactView) {
	q1 := queue("one.general", func(q *QueueConfig) { q.Agency = "one" })
	q2 := queue("two.tax", func(q *QueueConfig) { q.Agency = "two" })
	f := newFixture(t, []QueueConfig{q1, q2},
		[]AgentProfile{agent("a", "one.general"), agent("b", "two.tax"), agent("c", "two.tax")})
	f.online("a")
	c := f.enqueue("one.general", "caller", func(r *EnqueueRequest) {
		r.Context = ContactContext{Summary: "refund", IVR: []string{"2"}}
	})
	f.accept(c.ID)
	for _, step := range []func() ([]Event, error){
		func() ([]Event, error) { return f.r.Say(AsCitizen(), c.ID, "I was charged twice") },
		func() ([]Event, error) { return f.r.Say(AsAgent("a"), c.ID, "let me check") },
		func() ([]Event, error) { return f.r.Note("a", c.CaseID, "double charge confirmed") },
	} {
		_, err := step()
		f.must(err)
	}
	return f, c
}

func offerEvent(evs []Event, contactID string) *Event {
	for i := range evs {
		if evs[i].Type == EventOffered && evs[i].ContactID == contactID {
			return &evs[i]
		}
	}
	return nil
}

func TestColdTransferCarriesWholeCase(t *testing.T) {
	f, c := transferFixture(t)
	f.online("b")
	leg, evs, err := f.r.Transfer("a", c.ID, Target{Queue: "two.tax"}, TransferCold, "refund owed, card ends 1234")
	f.must(err)
	if got := f.contact(c.ID); got.Status != StatusEnded || got.Disposition != "transferred" {
		t.Errorf("first leg %s/%s; want ended/transferred", got.Status, got.Disposition)
	}
	if !hasEvent(evs, EventTransferred, c.ID) {
		t.Errorf("Transfer events lack transferred: %+v", evs)
	}
	offer := offerEvent(evs, leg.ID)
	if offer == nil || offer.Agent != "b" {
		t.Fatalf("Transfer events lack the offer to b: %+v", evs)
	}
	cs := offer.Case
	if cs.TransferNote == nil || cs.TransferNote.Text != "refund owed, card ends 1234" {
		t.Errorf("offer TransferNote = %+v", cs.TransferNote)
	}
	if cs.Events[0].Type != CaseTransfer || cs.Events[0].Text != "refund owed, card ends 1234" {
		t.Errorf("offer case events start with %+v; want the transfer note", cs.Events[0])
	}
	for _, text := range []string{"I was charged twice", "let me check", "double charge confirmed"} {
		if !hasCaseEventText(*cs, text) {
			t.Errorf("offer case lacks %q", text)
		}
	}
	if len(cs.Legs) != 2 {
		t.Fatalf("offer case legs = %+v; want 2", cs.Legs)
	}
	first := cs.Legs[0]
	if first.Agent != "a" || first.Agency != "one" || first.Disposition != "transferred" ||
		first.AnsweredAt.IsZero() || first.EndedAt.IsZero() {
		t.Errorf("first leg = %+v", first)
	}
	if cs.Context.Summary != "refund" || cs.Caller.ID != "caller" {
		t.Errorf("offer case lost caller context: %+v", cs)
	}
	// b, the receiving agent, may note the case; and so may a, who served it.
	f.accept(leg.ID)
	_, err = f.r.Note("b", c.CaseID, "refunded")
	f.must(err)
	_, err = f.r.Note("a", c.CaseID, "thanks")
	f.must(err)
}

func hasCaseEventText(cs CaseView, text string) bool {
	for _, e := range cs.Events {
		if e.Text == text {
			return true
		}
	}
	return false
}

func TestTransferKeepsCaseAge(t *testing.T) {
	f, c := transferFixture(t) // the case began before anyone below
	f.clock.Advance(time.Minute)
	waiting := f.enqueue("two.tax", "later-caller")
	leg, _, err := f.r.Transfer("a", c.ID, Target{Queue: "two.tax"}, TransferCold, "")
	f.must(err)
	if leg.Position != 1 {
		t.Errorf("transferred leg position = %d; want 1 (its case is older)", leg.Position)
	}
	if p, _ := f.r.Position(waiting.ID); p != 2 {
		t.Errorf("later caller position = %d; want 2", p)
	}
}

func TestWarmTransfer(t *testing.T) {
	t.Run("accept ends the first leg", func(t *testing.T) {
		f, c := transferFixture(t)
		f.online("b")
		leg, _, err := f.r.Transfer("a", c.ID, Target{Queue: "two.tax"}, TransferWarm, "over to you")
		f.must(err)
		if got := f.contact(c.ID); got.Status != StatusAssigned || got.Agent != "a" {
			t.Fatalf("during warm transfer first leg %s/%s; want assigned to a", got.Status, got.Agent)
		}
		// a is still on the contact.
		_, err = f.r.Say(AsAgent("a"), c.ID, "connecting you")
		f.must(err)
		evs, err := f.r.Accept("b", f.contact(leg.ID).OfferID)
		f.must(err)
		if got := f.contact(c.ID); got.Status != StatusEnded || got.Disposition != "transferred" {
			t.Errorf("after accept first leg %s/%s; want ended/transferred", got.Status, got.Disposition)
		}
		if !hasEvent(evs, EventTransferred, c.ID) {
			t.Errorf("accept events lack transferred for a: %+v", evs)
		}
		if got := f.contact(leg.ID); got.Status != StatusAssigned || got.Agent != "b" {
			t.Errorf("new leg %s/%s; want assigned to b", got.Status, got.Agent)
		}
	})
	failures := []struct {
		name string
		fail func(f *fixture, leg ContactView) []Event
		bOut AgentState
	}{
		{"decline", func(f *fixture, leg ContactView) []Event {
			evs, err := f.r.Decline("b", f.contact(leg.ID).OfferID, "busy")
			f.must(err)
			return evs
		}, StateAvailable},
		{"offer timeout", func(f *fixture, leg ContactView) []Event {
			return f.advance(DefaultOfferTimeout)
		}, StateNotReady},
	}
	for _, tt := range failures {
		t.Run(tt.name+" keeps the first agent", func(t *testing.T) {
			f, c := transferFixture(t)
			f.online("b")
			leg, _, err := f.r.Transfer("a", c.ID, Target{Queue: "two.tax"}, TransferWarm, "")
			f.must(err)
			evs := tt.fail(f, leg)
			var told bool
			for _, e := range evs {
				told = told || e.Type == EventTransferFailed && e.Agent == "a" && e.ContactID == c.ID
			}
			if !told {
				t.Errorf("a was not told: %+v", evs)
			}
			if got := f.contact(c.ID); got.Status != StatusAssigned || got.Agent != "a" {
				t.Errorf("first leg %s/%s; want still assigned to a", got.Status, got.Agent)
			}
			if got := f.contact(leg.ID); got.Status != StatusEnded {
				t.Errorf("warm leg %s; want ended", got.Status)
			}
			if got := f.state("b"); got != tt.bOut {
				t.Errorf("b = %s; want %s", got, tt.bOut)
			}
			// a can try again.
			_, _, err = f.r.Transfer("a", c.ID, Target{Queue: "two.tax"}, TransferCold, "")
			f.must(err)
		})
	}
	t.Run("nobody accepts in time", func(t *testing.T) {
		f, c := transferFixture(t) // nobody in two.tax is online
		leg, _, err := f.r.Transfer("a", c.ID, Target{Queue: "two.tax"}, TransferWarm, "")
		f.must(err)
		evs := f.advance(DefaultWarmWait)
		if !hasEvent(evs, EventTransferFailed, c.ID) || f.contact(leg.ID).Status != StatusEnded {
			t.Errorf("after WarmWait: events %+v, leg %s", evs, f.contact(leg.ID).Status)
		}
	})
}

func TestDirectAgentTransfer(t *testing.T) {
	t.Run("held for the named agent", func(t *testing.T) {
		f, c := transferFixture(t)
		f.online("c", "b") // c is idle longer
		leg, _, err := f.r.Transfer("a", c.ID, Target{Agent: "b"}, TransferCold, "for you")
		f.must(err)
		if got := f.offeredTo(leg.ID); got != "b" {
			t.Errorf("offered to %q; want b", got)
		}
	})
	t.Run("falls back to the agent's first queue", func(t *testing.T) {
		f, c := transferFixture(t)
		f.online("b", "c")
		_, err := f.r.SetState("b", StateBreak, "")
		f.must(err)
		leg, _, err := f.r.Transfer("a", c.ID, Target{Agent: "b"}, TransferCold, "")
		f.must(err)
		if leg.Queue != "two.tax" || f.offeredTo(leg.ID) != "" {
			t.Fatalf("leg in %s offered to %q; want two.tax, held for b", leg.Queue, f.offeredTo(leg.ID))
		}
		f.advance(DefaultDirectWait)
		if got := f.offeredTo(leg.ID); got != "c" {
			t.Errorf("after DirectWait offered to %q; want c", got)
		}
	})
	t.Run("not held for an offline agent", func(t *testing.T) {
		f, c := transferFixture(t)
		f.online("c")
		leg, _, err := f.r.Transfer("a", c.ID, Target{Agent: "b"}, TransferCold, "")
		f.must(err)
		if got := f.offeredTo(leg.ID); got != "c" {
			t.Errorf("offered to %q; want c at once", got)
		}
	})
}

func TestTransferErrors(t *testing.T) {
	f, c := transferFixture(t)
	tests := []struct {
		name string
		to   Target
		mode TransferMode
		want error
	}{
		{"both targets", Target{Queue: "two.tax", Agent: "b"}, TransferCold, ErrInvalid},
		{"no target", Target{}, TransferCold, ErrInvalid},
		{"bad mode", Target{Queue: "two.tax"}, "lukewarm", ErrInvalid},
		{"unknown queue", Target{Queue: "nope"}, TransferCold, ErrNotFound},
		{"unknown agent", Target{Agent: "nobody"}, TransferCold, ErrNotFound},
		{"to self", Target{Agent: "a"}, TransferCold, ErrInvalid},
	}
	for _, tt := range tests {
		_, _, err := f.r.Transfer("a", c.ID, tt.to, tt.mode, "")
		wantErr(t, "Transfer("+tt.name+")", err, tt.want)
	}
	_, _, err := f.r.Transfer("a", c.ID, Target{Queue: "two.tax"}, TransferWarm, "")
	f.must(err)
	_, _, err = f.r.Transfer("a", c.ID, Target{Queue: "two.tax"}, TransferWarm, "")
	wantErr(t, "second warm Transfer while one is pending", err, ErrConflict)
}
