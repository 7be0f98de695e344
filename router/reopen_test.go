package router

import (
	"slices"
	"testing"
	"time"
)

// A closed case the API layer brings back from the log (Reopen) opens
// again whole — legs, timeline, the agents who may note it — with a
// reopened entry and the new contact as a new leg; the proof rule of any
// continuation still holds. A case too old to reopen is linked instead.
func TestReopenAndLink(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) { q.Channels = []Channel{ChannelVoice, ChannelChat} })},
		[]AgentProfile{agent("a", "q")})
	f.online("a")
	first := f.enqueue("q", "01012345678", withIdentity("tel:01012345678"))
	f.accept(first.ID)
	f.must(errOf(f.r.Note("a", first.CaseID, "서류 보완")))
	snap, err := f.r.Snapshot()
	f.must(err)
	var closed CaseSnapshot
	for _, c := range snap.Cases {
		if c.ID == first.CaseID {
			closed = c
		}
	}
	closed.Identity, closed.Contacts = "tel:01012345678", nil
	f.must(errOf(f.r.End("a", first.ID, "resolved", "")))
	if _, err := f.r.Case(first.CaseID); err == nil {
		t.Fatal("the case is still live after its only contact ended")
	}

	// Another identity without proof: not found, nothing reopened.
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "q", Caller: Caller{ID: "x"},
		Identity: "chat:someone", CaseID: first.CaseID, Reopen: &closed})
	wantErr(t, "another identity reopening", err, ErrNotFound)
	if _, err := f.r.Case(first.CaseID); err == nil {
		t.Fatal("a refused reopening left the case in the router")
	}

	again := f.enqueue("q", "01012345678", withIdentity("tel:01012345678"), func(r *EnqueueRequest) {
		r.CaseID, r.Reopen = first.CaseID, &closed
	})
	if again.CaseID != first.CaseID {
		t.Fatalf("reopening opened case %s; want %s", again.CaseID, first.CaseID)
	}
	cs, err := f.r.Case(first.CaseID)
	f.must(err)
	var types []string
	for _, e := range cs.Events {
		types = append(types, e.Type)
	}
	want := []string{CaseContactCreated, CaseAssigned, CaseNote, CaseReopened, CaseContactCreated}
	if len(cs.Legs) != 2 || cs.Legs[1].ContactID != again.ID || !slices.Equal(types, want) {
		t.Errorf("reopened case: %d legs, timeline %v; want 2 legs and %v", len(cs.Legs), types, want)
	}
	// The agent of the earlier leg may still note the case.
	f.must(errOf(f.r.Note("a", first.CaseID, "다시 열린 사례 확인")))

	// Linking: a new case naming the old one on its first entry.
	f.must(errOf(f.r.Abandon(again.ID)))
	f.clock.Advance(time.Minute)
	linked := f.enqueue("q", "01012345678", withIdentity("tel:01012345678"), func(r *EnqueueRequest) {
		r.PreviousCaseID = first.CaseID
	})
	lc, err := f.r.Case(linked.CaseID)
	f.must(err)
	if linked.CaseID == first.CaseID || lc.PreviousCaseID != first.CaseID || lc.Events[0].Data["previous_case_id"] != first.CaseID {
		t.Errorf("linked case %+v; want a new case naming %s", lc, first.CaseID)
	}
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: "1"},
		CaseID: linked.CaseID, PreviousCaseID: first.CaseID})
	wantErr(t, "a link on a continued case", err, ErrInvalid)
}

// History travels with a new case to its views; more than MaxHistory is
// refused.
func TestHistoryTravelsWithTheCase(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	past := []PastCase{{ID: "cs-1", Agencies: []string{"gov110"}, Summary: "여권"}}
	c := f.enqueue("q", "01012345678", func(r *EnqueueRequest) { r.History = past })
	cs, err := f.r.Case(c.CaseID)
	f.must(err)
	if len(cs.History) != 1 || cs.History[0].ID != "cs-1" {
		t.Errorf("case history = %+v; want %+v", cs.History, past)
	}
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: "2"},
		History: make([]PastCase, MaxHistory+1)})
	wantErr(t, "too much history", err, ErrInvalid)
}
