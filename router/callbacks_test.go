package router

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestVirtualHoldKeepsThePlace(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	first := f.enqueue("q", "c1")
	second := f.enqueue("q", "c2", chat)
	third := f.enqueue("q", "c3")

	v, evs, err := f.r.RequestCallback(second.ID, CallbackRequest{Number: "01012345678"})
	f.must(err)
	if v.Channel != ChannelCallback || v.Status != StatusQueued || v.Position != 2 || v.CallbackNumber != "01012345678" {
		t.Fatalf("after the callback request: %+v; want a queued callback still second", v)
	}
	if !hasEvent(evs, EventCallbackRequested, second.ID) {
		t.Errorf("events lack callback_requested: %+v", evs)
	}
	if got := f.contact(third.ID); got.Position != 3 {
		t.Errorf("third caller moved to %d", got.Position)
	}
	f.online("a")
	f.accept(first.ID)
	_, err = f.r.End("a", first.ID, "", "")
	f.must(err)
	if got := f.offeredTo(second.ID); got != "a" {
		t.Errorf("the callback is offered to %q; want a in its kept place", got)
	}
}

// A chat that became a phone callback takes no more words from the
// citizen's chat, waiting or on the call; the agent's desk has no chat for it.
func TestCallbackChatTakesNoCitizenMessages(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	c := f.enqueue("q", "c1", chat)
	citizen := Party{Role: RoleCitizen}
	_, err := f.r.Say(citizen, c.ID, "before the callback")
	f.must(err)
	_, _, err = f.r.RequestCallback(c.ID, CallbackRequest{Number: "01012345678"})
	f.must(err)
	if _, err := f.r.Say(citizen, c.ID, "while waiting for the call"); !errors.Is(err, ErrConflict) {
		t.Errorf("citizen says while waiting for the callback: %v; want ErrConflict", err)
	}
	f.online("a")
	f.accept(c.ID)
	if _, err := f.r.Say(citizen, c.ID, "during the call"); !errors.Is(err, ErrConflict) {
		t.Errorf("citizen says during the callback: %v; want ErrConflict", err)
	}
	cs, err := f.r.Case(c.CaseID)
	f.must(err)
	var said []string
	for _, e := range cs.Events {
		if e.Type == CaseMessage {
			said = append(said, e.Text)
		}
	}
	if !slices.Equal(said, []string{"before the callback"}) {
		t.Errorf("messages in the case: %q; want only the one from before the callback", said)
	}
}

func TestCallbackRequestRules(t *testing.T) {
	noCallbacks := queue("plain", func(q *QueueConfig) { q.Channels = []Channel{ChannelVoice, ChannelChat} })
	f := newFixture(t, []QueueConfig{queue("q"), noCallbacks}, []AgentProfile{agent("a", "q")})
	plain := f.enqueue("plain", "c0")
	f.online("a")
	served := f.enqueue("q", "c1") // offered at once
	waiting := f.enqueue("q", "c2")
	cases := []struct {
		name    string
		contact string
		req     CallbackRequest
		want    error
	}{
		{"no number", waiting.ID, CallbackRequest{}, ErrInvalid},
		{"bad number", waiting.ID, CallbackRequest{Number: "call me"}, ErrInvalid},
		{"queue without callbacks", plain.ID, CallbackRequest{Number: "0101234"}, ErrInvalid},
		{"not waiting", served.ID, CallbackRequest{Number: "0101234"}, ErrConflict},
		{"unknown contact", "nope", CallbackRequest{Number: "0101234"}, ErrNotFound},
		{"not a slot", waiting.ID, CallbackRequest{Number: "0101234", At: t0.Add(7 * time.Minute)}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.r.RequestCallback(tc.contact, tc.req)
			wantErr(t, tc.name, err, tc.want)
		})
	}
	if got := f.contact(waiting.ID); got.Channel != ChannelVoice || got.CallbackNumber != "" {
		t.Errorf("a refused request changed the contact: %+v", got)
	}
}

func TestCallbackSlotsFollowStaffing(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
	slots, err := f.r.CallbackSlots("q", 5*time.Minute)
	f.must(err)
	if len(slots) != 7 {
		t.Fatalf("%d slots; want the 7 half hours starting 09:30-12:30", len(slots))
	}
	// 09:00 now, 15 minutes' lead: the first slot is 09:30.
	if want := t0.Add(30 * time.Minute); !slots[0].Start.Equal(want) || !slots[0].End.Equal(want.Add(30*time.Minute)) {
		t.Errorf("first slot %v-%v; want from %v", slots[0].Start, slots[0].End, want)
	}
	if slots[0].Capacity != 0 {
		t.Errorf("capacity with nobody logged in = %d; want 0", slots[0].Capacity)
	}
	f.online("a", "b")
	slots, err = f.r.CallbackSlots("q", 5*time.Minute)
	f.must(err)
	// 2 agents × 30 min / 5 min × 25 % = 3.
	if slots[0].Capacity != 3 {
		t.Errorf("capacity with two agents = %d; want 3", slots[0].Capacity)
	}
	slots, err = f.r.CallbackSlots("q", 10*time.Minute)
	f.must(err)
	if slots[0].Capacity != 1 {
		t.Errorf("capacity with a 10-minute handle time = %d; want 1", slots[0].Capacity)
	}
	_, err = f.r.SetState("b", StateOffline, "")
	f.must(err)
	slots, err = f.r.CallbackSlots("q", 5*time.Minute)
	f.must(err)
	if slots[0].Capacity != 1 {
		t.Errorf("capacity after b logged off = %d; want 1", slots[0].Capacity)
	}
}

func TestSlotCapacityAndOneBookingPerCaller(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q"), queue("r")},
		[]AgentProfile{agent("a", "q", "r"), agent("b", "q", "r")})
	f.online("a", "b")
	_, err := f.r.SetState("a", StateBreak, "lunch") // logged in, not taking contacts
	f.must(err)
	_, err = f.r.SetState("b", StateBreak, "lunch")
	f.must(err)
	slot := t0.Add(30 * time.Minute)
	book := func(q, caller string, at time.Time) (ContactView, error) {
		v, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelCallback, Queue: q, Caller: Caller{ID: caller},
			CallbackNumber: "0101234", CallbackAt: at, HandleTime: 5 * time.Minute})
		return v, err
	}
	var booked []ContactView
	for _, caller := range []string{"c1", "c2", "c3"} {
		v, err := book("q", caller, slot)
		f.must(err)
		if v.Status != StatusScheduled || !v.Due.Equal(slot) || !v.Slot {
			t.Fatalf("booking of %s: %+v; want scheduled for %v", caller, v, slot)
		}
		booked = append(booked, v)
	}
	if _, err := book("q", "c4", slot); !errors.Is(err, ErrConflict) {
		t.Errorf("a fourth booking in a slot of 3 = %v; want conflict", err)
	}
	if _, err := book("q", "c4", slot.Add(30*time.Minute)); err != nil {
		t.Errorf("the next slot refused: %v", err)
	}
	var be *BookingError
	if _, err := book("r", "c1", slot.Add(time.Hour)); !errors.As(err, &be) || be.ContactID != booked[0].ID {
		t.Errorf("a second booking by c1 in another queue = %v; want a BookingError naming %s", err, booked[0].ID)
	}
	slots, err := f.r.CallbackSlots("q", 5*time.Minute)
	f.must(err)
	if slots[0].Booked != 3 || slots[0].Free() != 0 || slots[1].Booked != 1 {
		t.Errorf("slots after booking: %+v", slots[:2])
	}
	// A booked callback waits out of line until its slot, then goes first.
	f.enqueue("q", "walk-in")
	if p := f.contact(booked[0].ID).Position; p != 0 {
		t.Errorf("a scheduled callback has position %d; want none", p)
	}
	f.online("a")
	_, err = f.r.SetState("a", StateBreak, "")
	f.must(err)
	evs := f.advance(30 * time.Minute)
	if !hasEvent(evs, EventCallbackDue, booked[0].ID) {
		t.Fatalf("no callback_due at the slot: %+v", evs)
	}
	if got := f.contact(booked[0].ID); got.Status != StatusQueued || got.Position != 1 || !got.EnqueuedAt.Equal(slot) {
		t.Errorf("at its slot the booking is %+v; want queued first, enqueued at %v", got, slot)
	}
	// Ending a booking frees its place for the caller.
	_, err = f.r.Abandon(booked[1].ID)
	f.must(err)
	if _, err := book("r", "c2", slot.Add(time.Hour)); err != nil {
		t.Errorf("c2 rebooking after leaving: %v", err)
	}
}

func TestUnansweredCallbackIsRetriedThenClosed(t *testing.T) {
	q := queue("q", func(q *QueueConfig) { q.CallbackRetries = 1; q.CallbackRetryAfter = 10 * time.Minute })
	f := newFixture(t, []QueueConfig{q}, []AgentProfile{agent("a", "q")})
	f.online("a")
	c := f.enqueue("q", "c1", func(r *EnqueueRequest) { r.Channel = ChannelCallback; r.CallbackNumber = "0101234" })
	f.accept(c.ID)

	_, err := f.r.CallbackResult("", c.ID, "maybe")
	wantErr(t, "an unknown result", err, ErrInvalid)
	_, err = f.r.CallbackResult("b", c.ID, CallbackNoAnswer)
	wantErr(t, "another agent's report", err, ErrNotFound)

	evs, err := f.r.CallbackResult("", c.ID, CallbackNoAnswer)
	f.must(err)
	if !hasEvent(evs, EventRequeued, c.ID) {
		t.Errorf("no requeued event for the retry: %+v", evs)
	}
	got := f.contact(c.ID)
	if got.Status != StatusScheduled || got.Attempts != 1 || !got.Due.Equal(f.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("after no answer: %+v; want scheduled 10m later with one attempt", got)
	}
	if f.state("a") != StateAvailable {
		t.Errorf("agent a is %s after the failed call; want available", f.state("a"))
	}
	cs, err := f.r.Case(c.CaseID)
	f.must(err)
	if len(cs.Legs) != 2 || cs.Legs[0].Disposition != CallbackNoAnswer || cs.Legs[0].Agent != "a" {
		t.Errorf("legs after one failed call: %+v", cs.Legs)
	}

	f.advance(10 * time.Minute)
	f.accept(c.ID)
	evs, err = f.r.CallbackResult("a", c.ID, CallbackBusy)
	f.must(err)
	var ended *Event
	for i := range evs {
		if evs[i].Type == EventEnded && evs[i].ContactID == c.ID {
			ended = &evs[i]
		}
	}
	if ended == nil || ended.Reason != "callback_failed" || ended.Text != CallbackBusy {
		t.Errorf("after the last retry: %+v; want it ended as callback_failed (busy)", ended)
	}
	if !hasEvent(evs, EventCaseClosed, "") {
		t.Errorf("the case did not close: %+v", evs)
	}
}

func TestAnsweredCallbackIsNoted(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.online("a")
	c := f.enqueue("q", "c1", func(r *EnqueueRequest) { r.Channel = ChannelCallback; r.CallbackNumber = "0101234" })
	_, err := f.r.CallbackResult("", c.ID, CallbackAnswered)
	wantErr(t, "a result before anyone accepted", err, ErrConflict)
	f.accept(c.ID)
	_, err = f.r.CallbackResult("", c.ID, CallbackAnswered)
	f.must(err)
	cs, err := f.r.Case(c.CaseID)
	f.must(err)
	last := cs.Events[len(cs.Events)-1]
	if last.Type != CaseCallbackAttempt || last.Data["result"] != CallbackAnswered || last.Actor != "gateway" {
		t.Errorf("last case event %+v; want the answered attempt", last)
	}
	if got := f.contact(c.ID); got.Status != StatusAssigned {
		t.Errorf("an answered callback is %s; want still assigned", got.Status)
	}
}

func TestSecondLineCallbackCarriesTheCase(t *testing.T) {
	f, c := transferFixture(t)
	f.online("b")
	_, _, err := f.r.EndWithCallback("a", c.ID, FollowUp{Queue: "two.tax"})
	wantErr(t, "a callback without a number", err, ErrInvalid)
	_, _, err = f.r.EndWithCallback("a", c.ID, FollowUp{Queue: "nope", Number: "0101234"})
	wantErr(t, "a callback to no queue", err, ErrInvalid)

	leg, evs, err := f.r.EndWithCallback("a", c.ID, FollowUp{Queue: "two.tax", Number: "0101234",
		Note: "call back about the refund", Summary: "needs the tax office"})
	f.must(err)
	first := f.contact(c.ID)
	if first.Status != StatusEnded || first.Disposition != "callback_filed" {
		t.Errorf("first contact %s/%s; want ended/callback_filed", first.Status, first.Disposition)
	}
	if leg.Channel != ChannelCallback || leg.Queue != "two.tax" || leg.CallbackNumber != "0101234" || leg.CaseID != c.CaseID {
		t.Errorf("the filed callback %+v", leg)
	}
	offer := offerEvent(evs, leg.ID)
	if offer == nil || offer.Agent != "b" {
		t.Fatalf("no offer of the callback to b: %+v", evs)
	}
	if n := offer.Case.TransferNote; n == nil || n.Text != "call back about the refund" {
		t.Errorf("the offer's note %+v; want the callback note first", n)
	}
	var said, noted bool
	for _, e := range offer.Case.Events {
		said = said || e.Text == "I was charged twice"
		noted = noted || e.Text == "double charge confirmed"
	}
	if !said || !noted {
		t.Errorf("the offered case lacks the citizen's words or the note: %+v", offer.Case.Events)
	}
}

// A queue holding only scheduled callbacks or interpreter legs is not
// empty: removing it would strand them.
func TestRemoveQueueCountsEveryLiveContact(t *testing.T) {
	interp := queue("interp", func(q *QueueConfig) { q.Kind, q.Channels = QueueInterpreter, []Channel{ChannelChat} })
	f := newFixture(t, []QueueConfig{queue("q"), queue("r"), interp}, []AgentProfile{agent("a", "q"), agent("b", "r")})
	f.online("b")
	_, err := f.r.SetState("b", StateBreak, "") // logged in: slots have capacity
	f.must(err)
	slots, err := f.r.CallbackSlots("r", time.Minute)
	f.must(err)
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelCallback, Queue: "r", Caller: Caller{ID: "c1"},
		CallbackNumber: "0101234", CallbackAt: slots[0].Start, HandleTime: time.Minute})
	f.must(err)
	_, err = f.r.RemoveQueue("r")
	wantErr(t, "removing a queue with a booked callback", err, ErrConflict)

	f.online("a")
	c := f.enqueue("q", "c2", chat)
	f.accept(c.ID)
	_, _, err = f.r.Interpret("a", c.ID, "en", "")
	f.must(err)
	_, err = f.r.RemoveQueue("interp")
	wantErr(t, "removing an interpreter queue with a waiting request", err, ErrConflict)
}
