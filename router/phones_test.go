package router

import (
	"testing"
	"time"
)

// An agent's phone that does not take a call is a missed offer: the call
// goes back to the head of its line (ahead of calls that came later, with
// its case's age), the agent goes not_ready and is not offered it again,
// and the timeline says how it was missed.
func TestConnectFailedRequeuesAtHeadAndAgentNotReady(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("kim", "q"), agent("lee", "q")})
	f.online("kim")
	first := f.enqueue("q", "c1")
	f.accept(first.ID)
	later := f.enqueue("q", "c2") // waits: kim is busy, lee offline

	evs, err := f.r.ConnectFailed(first.ID, ConnectNoAnswer)
	f.must(err)
	if !hasEvent(evs, EventRequeued, first.ID) {
		t.Errorf("events %v; want requeued", evs)
	}
	if s := f.state("kim"); s != StateNotReady {
		t.Errorf("kim is %s; want not_ready", s)
	}
	c := f.contact(first.ID)
	if c.Status != StatusQueued || !c.Head || c.Position != 1 || !c.CaseCreatedAt.Equal(first.CaseCreatedAt) {
		t.Errorf("contact = %s head %v position %d age %v; want queued first in line with its age", c.Status, c.Head, c.Position, c.CaseCreatedAt)
	}
	if p := f.contact(later.ID).Position; p != 2 {
		t.Errorf("the later call is at %d; want 2", p)
	}
	cs, err := f.r.Case(first.CaseID)
	f.must(err)
	last := cs.Events[len(cs.Events)-1]
	if last.Type != CaseRequeued || last.Data["disposition"] != DispositionMissed || last.Data["result"] != ConnectNoAnswer || last.Data["agent"] != "kim" {
		t.Errorf("last timeline entry = %+v; want requeued, missed, no_answer, kim", last)
	}
	if l := cs.Legs[len(cs.Legs)-2]; l.Agent != "kim" || l.Disposition != DispositionMissed {
		t.Errorf("kim's leg = %+v; want ended missed", l)
	}

	// The next agent gets it, and kim, back and available, does not take
	// it from them (she is remembered as having missed it).
	f.online("lee")
	if to := f.offeredTo(first.ID); to != "lee" {
		t.Errorf("the missed call is offered to %q; want lee", to)
	}
	row, err := getContact(rows(f.r), first.ID)
	f.must(err)
	if len(row.Declined) != 1 || row.Declined[0] != "kim" {
		t.Errorf("declined = %v; want kim", row.Declined)
	}
}

func TestConnectFailedRefusals(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("kim", "q")})
	c := f.enqueue("q", "c1")
	_, err := f.r.ConnectFailed(c.ID, ConnectBusy)
	wantErr(t, "ConnectFailed(queued)", err, ErrConflict)
	_, err = f.r.ConnectFailed(c.ID, "rejected")
	wantErr(t, "ConnectFailed(bad result)", err, ErrInvalid)
	_, err = f.r.ConnectFailed("ct-nope", ConnectBusy)
	wantErr(t, "ConnectFailed(unknown)", err, ErrNotFound)
	f.online("kim")
	if f.offeredTo(c.ID) != "kim" {
		t.Fatal("not offered")
	}
	_, err = f.r.ConnectFailed(c.ID, ConnectFailed)
	wantErr(t, "ConnectFailed(offered)", err, ErrConflict)
	if c := f.contact(c.ID); c.Status != StatusOffered {
		t.Errorf("a refused connect_failed changed the contact to %s", c.Status)
	}
}

// The agent's phone hanging up ends the call as the agent's end would:
// completed, the agent wraps up, the timeline says agent_hangup.
func TestAgentHangupEndsAsTheDeskWould(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) { q.Wrapup = 30 * time.Second })},
		[]AgentProfile{agent("kim", "q")})
	f.online("kim")
	c := f.enqueue("q", "c1")
	_, err := f.r.AgentHangup(c.ID)
	wantErr(t, "AgentHangup(offered)", err, ErrConflict)
	f.accept(c.ID)
	evs, err := f.r.AgentHangup(c.ID)
	f.must(err)
	var ended *Event
	for i := range evs {
		if evs[i].Type == EventEnded && evs[i].ContactID == c.ID {
			ended = &evs[i]
		}
	}
	if ended == nil || ended.Reason != "completed" || ended.Actor != "agent:kim" || ended.Data["reason"] != EndAgentHangup {
		t.Fatalf("ended event = %+v; want completed by agent:kim, reason agent_hangup", ended)
	}
	if ended.CaseEvent == nil || ended.CaseEvent.Data["reason"] != EndAgentHangup || ended.CaseEvent.Data["disposition"] != "completed" {
		t.Errorf("timeline entry = %+v; want ended completed, reason agent_hangup", ended.CaseEvent)
	}
	if s := f.state("kim"); s != StateWrapup {
		t.Errorf("kim is %s; want wrapup", s)
	}
	_, err = f.r.AgentHangup(c.ID)
	wantErr(t, "AgentHangup(closed)", err, ErrNotFound)
}

// A caller hanging up while waiting abandons the call; during the call it
// ends it, answered and handled: disposition caller_hangup.
func TestCallerHangupAbandonsWaitingEndsCall(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("kim", "q")})
	waiting := f.enqueue("q", "c1")
	evs, err := f.r.CallerHangup(waiting.ID)
	f.must(err)
	if !hasEvent(evs, EventAbandoned, waiting.ID) {
		t.Errorf("hangup while waiting: events %v; want abandoned", evs)
	}
	f.online("kim")
	call := f.enqueue("q", "c2")
	f.accept(call.ID)
	evs, err = f.r.CallerHangup(call.ID)
	f.must(err)
	if hasEvent(evs, EventAbandoned, call.ID) || !hasEvent(evs, EventEnded, call.ID) {
		t.Fatalf("hangup during the call: events %v; want ended, not abandoned", evs)
	}
	for _, e := range evs {
		if e.Type == EventEnded && (e.Contact.Disposition != EndCallerHangup || e.Data["reason"] != EndCallerHangup ||
			e.Actor != "citizen:c2") {
			t.Errorf("ended event = %+v; want disposition caller_hangup by the citizen", e)
		}
	}
}

func TestRecordingJoinsTheTimeline(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("kim", "q")})
	c := f.enqueue("q", "c1")
	rec := Recording{File: "rec/2026/ct1-agent.wav", Seconds: 95, StartedAt: t0}
	_, err := f.r.Record(c.ID, "gateway:gw", rec)
	wantErr(t, "Record(unanswered)", err, ErrConflict)
	f.online("kim")
	f.accept(c.ID)
	for _, bad := range []struct {
		field string
		rec   Recording
	}{
		{"file", Recording{Seconds: 1, StartedAt: t0}},
		{"file", Recording{File: "a\nb", Seconds: 1, StartedAt: t0}},
		{"file", Recording{File: string(make([]byte, 513)), Seconds: 1, StartedAt: t0}},
		{"seconds", Recording{File: "f", Seconds: 86401, StartedAt: t0}},
		{"seconds", Recording{File: "f", Seconds: -1, StartedAt: t0}},
		{"started_at", Recording{File: "f", Seconds: 1}},
	} {
		_, err := f.r.Record(c.ID, "gateway:gw", bad.rec)
		wantErr(t, "Record("+bad.field+")", err, ErrInvalid)
	}
	evs, err := f.r.Record(c.ID, "gateway:gw", rec)
	f.must(err)
	if !hasEvent(evs, EventRecording, c.ID) {
		t.Fatalf("events %v; want recording", evs)
	}
	cs, err := f.r.Case(c.CaseID)
	f.must(err)
	e := cs.Events[len(cs.Events)-1]
	if e.Type != CaseRecording || e.Actor != "gateway:gw" || e.Data["file"] != rec.File || e.Data["seconds"] != "95" ||
		e.Data["started_at"] != "2024-03-01T09:00:00Z" || e.Data["contact_id"] != c.ID {
		t.Errorf("timeline entry = %+v", e)
	}
}

func TestAgentPhoneInView(t *testing.T) {
	p := agent("kim", "q")
	p.Phone = "sip:kim@pbx.example"
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{p})
	a, err := f.r.Agent("kim")
	f.must(err)
	if a.Phone != p.Phone {
		t.Errorf("agent view phone = %q; want %q", a.Phone, p.Phone)
	}
	p.Phone = string(make([]byte, 257))
	_, err = f.r.UpsertAgent(p)
	wantErr(t, "UpsertAgent(long phone)", err, ErrInvalid)
}

// A recording holds a whole leg, also what was said before an interpreter
// joined: the interpreter sees its entry only when the agent shared the
// history.
func TestInterpreterSeesRecordingOnlyWithHistory(t *testing.T) {
	for _, share := range []bool{false, true} {
		f, c := interpreterFixture(t)
		f.online("i-vi")
		f.must(errOf(f.r.Record(c.ID, "gateway:gw", Recording{File: "rec/leg.wav", Seconds: 10, StartedAt: t0})))
		leg, evs, err := f.r.InterpretWith("a", c.ID, InterpretRequest{Language: "vi", ShareHistory: share})
		f.must(err)
		_, err = f.r.Accept("i-vi", offerEvent(evs, leg.ID).OfferID)
		f.must(err)
		view, err := f.r.InterpreterCase(leg.ID)
		f.must(err)
		seen := false
		for _, e := range view.Events {
			seen = seen || e.Type == CaseRecording
		}
		if seen != share {
			t.Errorf("share=%v: the interpreter sees the recording = %v", share, seen)
		}
	}
}
