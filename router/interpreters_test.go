package router

import (
	"errors"
	"testing"
	"time"
)

// interpreterFixture: a serves gov.general; interpreter queues in two
// agencies: i-en (English) in interp.en, i-vi (Vietnamese) in lang.pool.
func interpreterFixture(t *testing.T) (*fixture, ContactView) {
	t.Helper()
	interp := func(id, agency string) QueueConfig {
		return queue(id, func(q *QueueConfig) {
			q.Agency, q.Kind, q.Channels = agency, QueueInterpreter, []Channel{ChannelChat, ChannelVoice}
		})
	}
	iEn := agent("i-en", "interp.en")
	iEn.Agency, iEn.Skills = "interp", map[string]int{"lang:en": 3}
	iVi := agent("i-vi", "lang.pool")
	iVi.Agency, iVi.Skills = "lang", map[string]int{"lang:vi": 3}
	f := newFixture(t, []QueueConfig{queue("gov.general"), interp("interp.en", "interp"), interp("lang.pool", "lang")},
		[]AgentProfile{agent("a", "gov.general"), iEn, iVi})
	f.online("a")
	c := f.enqueue("gov.general", "caller", chat)
	f.accept(c.ID)
	_, err := f.r.Say(AsCitizen(), c.ID, "xin chào")
	f.must(err)
	return f, c
}

func TestInterpreterJoinsFromAnyAgencyWithTheLanguage(t *testing.T) {
	f, c := interpreterFixture(t)
	f.online("i-en", "i-vi")
	leg, evs, err := f.r.Interpret("a", c.ID, "vi", "caller speaks Vietnamese")
	f.must(err)
	if leg.ConferenceOf != c.ID || leg.Queue != "interp.en" || leg.Channel != ChannelChat {
		t.Errorf("interpreter leg %+v; want a chat leg of %s in the first interpreter queue", leg, c.ID)
	}
	offer := offerEvent(evs, leg.ID)
	if offer == nil || offer.Agent != "i-vi" {
		t.Fatalf("the leg is not offered to the Vietnamese interpreter of the other agency: %+v", evs)
	}
	if n := offer.Case.TransferNote; n == nil || n.Text != "caller speaks Vietnamese" {
		t.Errorf("offer note %+v; want the request note first", n)
	}
	if !hasEvent(evs, EventInterpreter, c.ID) {
		t.Errorf("no interpreter event for the contact: %+v", evs)
	}
	if got := f.contact(c.ID); got.Interpreter != leg.ID {
		t.Errorf("contact's interpreter = %q; want %s", got.Interpreter, leg.ID)
	}
	_, _, err = f.r.Interpret("a", c.ID, "vi", "")
	wantErr(t, "a second interpreter", err, ErrConflict)

	_, err = f.r.Accept("i-vi", offer.OfferID)
	f.must(err)
	joined := false
	for _, e := range f.sink.events {
		joined = joined || (e.Type == EventInterpreter && e.Reason == InterpreterJoined && e.Agent == "a" && e.Data["interpreter"] == "i-vi")
	}
	if !joined {
		t.Errorf("agent a was not told the interpreter joined")
	}
	desk, err := f.r.Desk("i-vi")
	f.must(err)
	if len(desk.Contacts) != 1 || desk.Contacts[0].Case.ID != c.CaseID {
		t.Fatalf("the interpreter's desk %+v; want the case", desk.Contacts)
	}
	// Need to know: the earlier conversation was not shared.
	for _, e := range desk.Contacts[0].Case.Events {
		if e.Text == "xin chào" {
			t.Errorf("the interpreter sees the conversation from before they joined")
		}
	}
}

// An interpreter sees the request, the caller's language and the
// conversation from the moment they join — not notes, the caller's
// number, the context or other legs — and the earlier conversation only
// when the agent shares it. Their notes end with their leg.
func TestInterpreterNeedToKnow(t *testing.T) {
	for _, share := range []bool{false, true} {
		f, c := interpreterFixture(t)
		f.online("i-vi")
		f.must(errOf(f.r.Note("a", c.CaseID, "internal: tax arrears 3M")))
		leg, evs, err := f.r.InterpretWith("a", c.ID, InterpretRequest{Language: "vi", Note: "please interpret", ShareHistory: share})
		f.must(err)
		offer := offerEvent(evs, leg.ID)
		check := func(when string, cs *CaseView, wantTexts ...string) {
			t.Helper()
			got := map[string]bool{}
			for _, e := range cs.Events {
				got[e.Text] = true
				if e.Type == CaseNote || e.Type == CaseContactCreated {
					t.Errorf("share=%v %s: the interpreter sees %s %q", share, when, e.Type, e.Text)
				}
			}
			for _, w := range wantTexts {
				if !got[w] {
					t.Errorf("share=%v %s: the interpreter does not see %q in %+v", share, when, w, cs.Events)
				}
			}
			if got["xin chào"] != share {
				t.Errorf("share=%v %s: sees the earlier conversation = %v", share, when, got["xin chào"])
			}
			if cs.Caller.ID != "" || cs.Context.Summary != "" || len(cs.Legs) != 1 || cs.Caller.Name == "" {
				t.Errorf("share=%v %s: caller %+v, context %+v, legs %d; want the name only, no context, their own leg",
					share, when, cs.Caller, cs.Context, len(cs.Legs))
			}
		}
		check("in the offer", offer.Case, "please interpret")
		if oc := offer.Contact; oc == nil || oc.Caller.ID != "" || oc.Context.Summary != "" || oc.Caller.Name == "" {
			t.Errorf("share=%v: the offered leg carries caller %+v and context %+v; want the name, no number, no context",
				share, oc.Caller, oc.Context)
		}
		_, err = f.r.Accept("i-vi", offer.OfferID)
		f.must(err)
		f.clock.Advance(time.Second)
		f.must(errOf(f.r.Say(AsCitizen(), c.ID, "tôi cần giúp đỡ")))
		f.must(errOf(f.r.Note("a", c.CaseID, "internal: second note")))
		view, err := f.r.InterpreterCase(leg.ID)
		f.must(err)
		check("while joined", &view, "please interpret", "tôi cần giúp đỡ")
		f.must(errOf(f.r.Note("i-vi", c.CaseID, "interpreted fine")))

		f.must(errOf(f.r.ReleaseInterpreter("a", c.ID)))
		if _, err := f.r.InterpreterCase(leg.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("share=%v: the released interpreter's case read = %v; want not found", share, err)
		}
		_, err = f.r.Note("i-vi", c.CaseID, "one more thing")
		wantErr(t, "a note after release", err, ErrNotFound)
	}
}

func TestInterpreterConferenceVisibility(t *testing.T) {
	f, c := interpreterFixture(t)
	f.online("i-vi")
	leg, evs, err := f.r.Interpret("a", c.ID, "vi", "")
	f.must(err)
	_, err = f.r.Accept("i-vi", offerEvent(evs, leg.ID).OfferID)
	f.must(err)

	// Everyone's words reach everyone: each message names the
	// interpreter, so the fan-out can send it to their desk as well.
	for _, tc := range []struct {
		from      Party
		on        string
		wantActor string
	}{
		{AsCitizen(), c.ID, "citizen:caller"},
		{AsAgent("a"), c.ID, "agent:a"},
		{AsAgent("i-vi"), leg.ID, "agent:i-vi"},
	} {
		evs, err := f.r.Say(tc.from, tc.on, "hello")
		f.must(err)
		m := evs[0]
		if m.Type != EventMessage || m.ContactID != c.ID || m.Agent != "a" || m.Actor != tc.wantActor ||
			m.Data["interpreter"] != "i-vi" || m.Data["interpreter_contact_id"] != leg.ID {
			t.Errorf("%s says: %+v; want a message on %s for a and i-vi", tc.wantActor, m, c.ID)
		}
	}
	_, err = f.r.Note("i-vi", c.CaseID, "caller asks about residence permit")
	f.must(err)

	// The interpreter's leg ends separately; the contact goes on.
	evs, err = f.r.End("i-vi", leg.ID, "", "")
	f.must(err)
	left := false
	for _, e := range evs {
		left = left || (e.Type == EventInterpreter && e.Reason == InterpreterLeft && e.ContactID == c.ID)
	}
	if !left {
		t.Errorf("no interpreter-left event: %+v", evs)
	}
	if got := f.contact(c.ID); got.Status != StatusAssigned || got.Interpreter != "" {
		t.Errorf("contact after the interpreter left: %s, interpreter %q", got.Status, got.Interpreter)
	}
	evs, err = f.r.Say(AsCitizen(), c.ID, "thanks")
	f.must(err)
	if evs[0].Data["interpreter"] != "" {
		t.Errorf("a message after the interpreter left still goes to them: %+v", evs[0].Data)
	}
	cs, err := f.r.Case(c.CaseID)
	f.must(err)
	var il *Leg
	for i := range cs.Legs {
		if cs.Legs[i].ContactID == leg.ID {
			il = &cs.Legs[i]
		}
	}
	if il == nil || !il.Interpreter || il.Agent != "i-vi" || il.AnsweredAt.IsZero() || il.EndedAt.IsZero() {
		t.Errorf("the interpreter's leg in the case: %+v", il)
	}
}

func TestInterpreterLegEndsWithTheContact(t *testing.T) {
	f, c := interpreterFixture(t)
	f.online("i-vi")
	leg, evs, err := f.r.Interpret("a", c.ID, "vi", "")
	f.must(err)
	_, err = f.r.Accept("i-vi", offerEvent(evs, leg.ID).OfferID)
	f.must(err)
	evs, err = f.r.End("a", c.ID, "completed", "")
	f.must(err)
	if !hasEvent(evs, EventEnded, leg.ID) || !hasEvent(evs, EventCaseClosed, "") {
		t.Errorf("ending the contact did not end the interpreter leg and close the case: %+v", evs)
	}
}

func TestInterpreterRequestRules(t *testing.T) {
	f, c := interpreterFixture(t)
	_, _, err := f.r.Interpret("a", c.ID, "", "")
	wantErr(t, "no language and none known", err, ErrInvalid)
	_, _, err = f.r.Interpret("a", c.ID, "v i", "")
	wantErr(t, "a bad language", err, ErrInvalid)
	_, _, err = f.r.Interpret("i-en", c.ID, "vi", "")
	wantErr(t, "someone else's contact", err, ErrNotFound)
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "interp.en", Caller: Caller{ID: "x"}})
	wantErr(t, "a citizen in an interpreter queue", err, ErrInvalid)
	_, _, err = f.r.Transfer("a", c.ID, Target{Queue: "interp.en"}, TransferCold, "")
	wantErr(t, "a transfer to an interpreter queue", err, ErrInvalid)

	// Nobody with the language yet: the request waits and can be cancelled.
	leg, _, err := f.r.Interpret("a", c.ID, "vi", "")
	f.must(err)
	if leg.Status != StatusQueued {
		t.Fatalf("leg %s; want queued while no interpreter is free", leg.Status)
	}
	_, err = f.r.ReleaseInterpreter("a", c.ID)
	f.must(err)
	if got := f.contact(leg.ID); got.Status != StatusEnded || got.Disposition != "interpreter_released" {
		t.Errorf("cancelled leg %s/%s", got.Status, got.Disposition)
	}
	_, err = f.r.ReleaseInterpreter("a", c.ID)
	wantErr(t, "releasing no interpreter", err, ErrConflict)
}

func TestInterpreterNeverOfferedToTheRequester(t *testing.T) {
	interp := queue("gov.interp", func(q *QueueConfig) { q.Kind = QueueInterpreter; q.Channels = []Channel{ChannelChat} })
	a := agent("a", "gov.general", "gov.interp")
	a.Skills, a.MaxChats = map[string]int{"lang:en": 5}, 3
	b := agent("b", "gov.interp")
	b.Skills = map[string]int{"lang:en": 1}
	f := newFixture(t, []QueueConfig{queue("gov.general"), interp}, []AgentProfile{a, b})
	f.online("a")
	c := f.enqueue("gov.general", "caller", chat)
	f.accept(c.ID)
	leg, _, err := f.r.Interpret("a", c.ID, "en", "")
	f.must(err)
	if got := f.offeredTo(leg.ID); got != "" {
		t.Fatalf("the leg is offered to %q; want nobody (a asked for it)", got)
	}
	f.online("b")
	if got := f.offeredTo(leg.ID); got != "b" {
		t.Errorf("the leg is offered to %q; want b", got)
	}
}

func TestInterpreterLegSurvivesRestore(t *testing.T) {
	f, c := interpreterFixture(t)
	f.online("i-vi")
	leg, evs, err := f.r.Interpret("a", c.ID, "vi", "")
	f.must(err)
	_, err = f.r.Accept("i-vi", offerEvent(evs, leg.ID).OfferID)
	f.must(err)
	snap, err := f.r.Snapshot()
	f.must(err)
	r2, err := New(Config{Clock: f.clock, NewID: seqIDs()})
	f.must(err)
	f.must(r2.Restore(snap))
	main, err := r2.Contact(c.ID)
	f.must(err)
	if main.Interpreter != leg.ID {
		t.Errorf("restored contact's interpreter = %q; want %s", main.Interpreter, leg.ID)
	}
	_, _, err = r2.Connect("i-vi")
	f.must(err)
	evs, err = r2.Say(AsCitizen(), c.ID, "still there?")
	f.must(err)
	if evs[0].Data["interpreter"] != "i-vi" {
		t.Errorf("after a restore the interpreter no longer hears the contact: %+v", evs[0])
	}
}
