package router

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func withIdentity(id string) func(*EnqueueRequest) {
	return func(r *EnqueueRequest) { r.Identity = id }
}

// A chat's typed caller id is a label: it neither blocks a phone caller of
// that number nor is blocked by one; the identity is what holds a place.
func TestOnePlaceKeysOnIdentityNotTypedID(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) { q.Channels = []Channel{ChannelVoice, ChannelChat} })}, nil)
	phone := f.enqueue("q", "01012345678", withIdentity("tel:01012345678"))
	squat := f.enqueue("q", "01012345678", chat, withIdentity("chat:device-a"))
	if squat.ID == phone.ID {
		t.Fatal("the chat was given the phone caller's contact")
	}
	// The same device twice, or the same number twice, is one place.
	_, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "q", Caller: Caller{ID: "someone else"}, Identity: "chat:device-a"})
	var dup *DuplicateContactError
	if !errors.As(err, &dup) || dup.ContactID != squat.ID {
		t.Fatalf("second chat of one device = %v; want a duplicate naming %s", err, squat.ID)
	}
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: "01012345678"}, Identity: "tel:01012345678"})
	if !errors.As(err, &dup) || dup.ContactID != phone.ID {
		t.Fatalf("second call of one number = %v; want a duplicate naming %s", err, phone.ID)
	}
	// A chat that types the number first does not lock the phone out either.
	f.enqueue("q", "01099998888", chat, withIdentity("chat:device-b"))
	f.enqueue("q", "01099998888", withIdentity("tel:01099998888"))
}

// A case is continued by the identity that opened it or with proof; to
// anyone else it does not exist.
func TestCaseContinuationNeedsIdentityOrProof(t *testing.T) {
	f := newFixture(t, []QueueConfig{
		queue("q", func(q *QueueConfig) { q.Channels = []Channel{ChannelVoice, ChannelChat} }),
		queue("r", func(q *QueueConfig) { q.Channels = []Channel{ChannelVoice, ChannelChat} }),
	}, nil)
	victim := f.enqueue("q", "01012345678", withIdentity("tel:01012345678"))

	_, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "r", Caller: Caller{ID: "01012345678"},
		Identity: "chat:attacker", CaseID: victim.CaseID})
	wantErr(t, "a chat naming another's case", err, ErrNotFound)
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "r", Caller: Caller{ID: "x"},
		Identity: "chat:attacker", CaseID: "cs-does-not-exist"})
	wantErr(t, "a chat naming no case", err, ErrNotFound)
	cs, err := f.r.Case(victim.CaseID)
	f.must(err)
	if len(cs.Legs) != 1 {
		t.Fatalf("refused continuations left %d legs; want 1", len(cs.Legs))
	}

	// The same asserted number continues its case; so does proof.
	again := f.enqueue("r", "01012345678", withIdentity("tel:01012345678"), func(r *EnqueueRequest) { r.CaseID = victim.CaseID })
	if again.CaseID != victim.CaseID {
		t.Errorf("the same number's new call opened case %s; want %s", again.CaseID, victim.CaseID)
	}
	f.must(errOf(f.r.Abandon(again.ID)))
	proven := f.enqueue("r", "anything", chat, withIdentity("chat:phone-of-citizen"), func(r *EnqueueRequest) {
		r.CaseID, r.CaseProven = victim.CaseID, true
	})
	if proven.CaseID != victim.CaseID {
		t.Errorf("a proven continuation opened case %s; want %s", proven.CaseID, victim.CaseID)
	}
	if proven.Origin != proven.ID {
		t.Errorf("a continuation's origin is %s; want its own id %s (it is a chain of its own)", proven.Origin, proven.ID)
	}
}

// Legs a transfer or a second-line callback makes carry the citizen's
// chain and identity; an interpreter's leg belongs to nobody's chain.
func TestLegsCarryOriginAndIdentity(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q"), queue("r")}, []AgentProfile{agent("a", "q"), agent("b", "r")})
	f.online("a", "b")
	c := f.enqueue("q", "01012345678", withIdentity("tel:01012345678"))
	f.accept(c.ID)
	leg, _, err := f.r.Transfer("a", c.ID, Target{Queue: "r"}, TransferCold, "over to you")
	f.must(err)
	if leg.Origin != c.ID || leg.Identity != "tel:01012345678" {
		t.Fatalf("transferred leg origin %q identity %q; want %q and the caller's", leg.Origin, leg.Identity, c.ID)
	}
	f.accept(leg.ID)
	cb, _, err := f.r.EndWithCallback("b", leg.ID, FollowUp{Queue: "q", Number: "01012345678"})
	f.must(err)
	if cb.Origin != c.ID || cb.Identity != "tel:01012345678" {
		t.Fatalf("second-line callback origin %q identity %q; want %q and the caller's", cb.Origin, cb.Identity, c.ID)
	}
}

// A booked callback is one per identity: a chat that types a stranger's
// number does not meet the stranger's booking.
func TestBookingKeysOnIdentity(t *testing.T) {
	cb := func(q *QueueConfig) { q.Channels = []Channel{ChannelCallback} }
	f := newFixture(t, []QueueConfig{queue("q", cb), queue("r", cb)},
		[]AgentProfile{agent("a", "q", "r"), agent("b", "q", "r"), agent("c", "q", "r")})
	f.online("a", "b", "c")
	for _, a := range []string{"a", "b", "c"} { // logged in, not taking the line
		_, err := f.r.SetState(a, StateBreak, "")
		f.must(err)
	}
	slots, err := f.r.CallbackSlots("q", 5*time.Minute)
	f.must(err)
	book := func(identity string, queue string) error {
		_, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelCallback, Queue: queue, Caller: Caller{ID: "01012345678"},
			CallbackNumber: "01012345678", Identity: identity, CallbackAt: slots[0].Start, HandleTime: 5 * time.Minute})
		return err
	}
	f.must(book("tel:01012345678", "q"))
	if err := book("chat:stranger", "q"); err != nil {
		t.Fatalf("another identity booking for the same typed number = %v; want it booked", err)
	}
	var be *BookingError
	if err := book("tel:01012345678", "r"); !errors.As(err, &be) {
		t.Fatalf("a second booking of one identity = %v; want a BookingError", err)
	}
}

// The timeline names whoever ended a contact.
func TestAbandonByRecordsActor(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	c := f.enqueue("q", "01012345678")
	_, err := f.r.AbandonBy(c.ID, "nobody")
	wantErr(t, "an actor without a role", err, ErrInvalid)
	evs, err := f.r.AbandonBy(c.ID, "supervisor:sup.q")
	f.must(err)
	found := false
	for _, e := range evs {
		if e.CaseEvent != nil && e.CaseEvent.Type == CaseEnded {
			found = true
			if e.CaseEvent.Actor != "supervisor:sup.q" {
				t.Errorf("timeline: ended by %q; want supervisor:sup.q", e.CaseEvent.Actor)
			}
		}
	}
	if !found {
		t.Error("no ended entry in the timeline")
	}
}

// Ids are unguessable: 80 random bits after the time they were made, so
// a thousand ids made in one millisecond still differ in their last 16
// characters (the random bits alone).
func TestIDsAreUnguessable(t *testing.T) {
	seen := map[string]bool{}
	tails := map[string]bool{}
	for range 1000 {
		id := MakeID("ct", t0)
		if !strings.HasPrefix(id, "ct-") || len(id) != len("ct-")+26 {
			t.Fatalf("MakeID = %q; want ct- and 26 characters", id)
		}
		if err := checkID("id", id); err != nil {
			t.Fatalf("MakeID %q is not a valid id: %v", id, err)
		}
		if seen[id] || tails[id[len(id)-16:]] {
			t.Fatalf("MakeID repeated %q, or its random part", id)
		}
		seen[id], tails[id[len(id)-16:]] = true, true
	}
}

// Ids made close together share their leading characters, which is what
// keeps go-memdb's trees and SQL indexes local, and sort in the order
// they were made.
func TestIDsBeginWithTheTimeTheyWereMade(t *testing.T) {
	a, b := MakeID("ct", t0), MakeID("ct", t0)
	if a[:len("ct-")+9] != b[:len("ct-")+9] {
		t.Errorf("ids of one instant %q and %q do not share the time's 9 characters", a, b)
	}
	prev := MakeID("ct", t0)
	for _, d := range []time.Duration{time.Millisecond, time.Second, time.Hour, 24 * time.Hour, 365 * 24 * time.Hour} {
		next := MakeID("ct", t0.Add(d))
		if next <= prev {
			t.Errorf("id made %s later (%q) does not sort after %q", d, next, prev)
		}
		prev = next
	}
	if id := MakeID("cs", time.Unix(-5, 0)); !strings.HasPrefix(id, "cs-222222222") {
		t.Errorf("an id made before 1970 = %q; want the time clamped to zero", id)
	}

	// The router's default stamps the call's time, not the machine's.
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	f.r.newID = nil
	f.clock.Set(t0.Add(90 * 24 * time.Hour))
	c := f.enqueue("q", "01012345678")
	want := MakeID("ct", f.clock.Now())
	if c.ID[:len("ct-")+9] != want[:len("ct-")+9] || c.ID == want {
		t.Errorf("default contact id %q; want the time of %q and its own random part", c.ID, want)
	}
	if cv, err := f.r.Case(c.CaseID); err != nil || !strings.HasPrefix(cv.ID, "cs-"+want[len("ct-"):len("ct-")+9]) {
		t.Errorf("default case id %q (%v); want cs- and the time of %q", c.CaseID, err, want)
	}
}

func errOf(_ []Event, err error) error { return err }

func errOf3(_ ContactView, _ []Event, err error) error { return err }

// A note carries its author's agency.
func TestNoteCarriesItsAgency(t *testing.T) {
	a := agent("a", "q")
	a.Agency = "gov110"
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{a})
	f.online("a")
	c := f.enqueue("q", "01012345678")
	f.accept(c.ID)
	evs, err := f.r.Note("a", c.CaseID, "internal")
	f.must(err)
	if e := evs[0].CaseEvent; e == nil || e.Data["agency"] != "gov110" {
		t.Errorf("note entry %+v; want agency gov110", e)
	}
}

// A retry of the same request (same identity, same key) gets its contact
// back; another key, or another identity with the key, does not.
func TestIdempotentEnqueue(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) { q.Channels = []Channel{ChannelChat} })}, nil)
	req := EnqueueRequest{Channel: ChannelChat, Queue: "q", Caller: Caller{ID: "x"}, Identity: "chat:a", IdempotencyKey: "k1"}
	first, evs, err := f.r.Enqueue(req)
	f.must(err)
	again, evs2, err := f.r.Enqueue(req)
	f.must(err)
	if again.ID != first.ID || again.Position != 1 || len(evs2) != 0 || len(evs) == 0 {
		t.Errorf("retry = %s at %d with %d events; want %s at 1 and no change", again.ID, again.Position, len(evs2), first.ID)
	}
	req.IdempotencyKey = "k2"
	var dup *DuplicateContactError
	if _, _, err := f.r.Enqueue(req); !errors.As(err, &dup) {
		t.Errorf("another key = %v; want the duplicate", err)
	}
	req.IdempotencyKey, req.Identity = "k1", "chat:b"
	if other, _, err := f.r.Enqueue(req); err != nil || other.ID == first.ID {
		t.Errorf("another identity with the key = %v, %v; want a contact of its own", other.ID, err)
	}
	req.IdempotencyKey = "bad key"
	wantErr(t, "a key with a space", errOf3(f.r.Enqueue(req)), ErrInvalid)
}

// A waiting chat whose citizen is gone leaves as "absent"; one an agent
// holds is not taken from them.
func TestLeaveAbsent(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) { q.Channels = []Channel{ChannelChat} })},
		[]AgentProfile{agent("a", "q")})
	c := f.enqueue("q", "x", chat)
	evs, err := f.r.LeaveAbsent(c.ID)
	f.must(err)
	found := false
	for _, e := range evs {
		if e.Type == EventAbandoned && e.ContactID == c.ID {
			found = e.Reason == "absent" && e.Actor == "router"
		}
	}
	if !found {
		t.Errorf("events %+v; want the contact abandoned, reason absent, by the router", evs)
	}
	f.online("a")
	held := f.enqueue("q", "y", chat)
	f.accept(held.ID)
	_, err = f.r.LeaveAbsent(held.ID)
	wantErr(t, "an absent citizen's assigned chat", err, ErrConflict)
}
