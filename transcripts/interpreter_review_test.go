package transcripts

import (
	"context"
	"slices"
	"testing"

	"tellonce/router"
	"tellonce/sql/sqltest"
)

// An interpreter leg gives the interpreting agency only the part it
// interpreted, in review as live: the request with its note and the
// conversation while its interpreter was on — not the earlier
// conversation, the notes, the context or the caller's number; and no
// part in search. The interpreter agent keeps none. A request nobody
// answered gives nobody anything.
func TestInterpreterPartInReview(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		w := newWorld(t, b, Retention{})
		w.setup([]router.QueueConfig{agencyQueue("lang.pool", func(q *router.QueueConfig) { q.Kind = router.QueueInterpreter })},
			[]router.AgentProfile{{Username: "nam", Name: "Nam", Agency: "lang", Queues: map[string]int{"lang.pool": 1},
				Skills: map[string]int{"lang:vi": 3}, MaxChats: 2}})

		c := w.open("gov110.general", "체류 기간 연장 문의 010-2222-3333")
		w.say(c, "before the interpreter")
		w.ack(w.r.Note("kim", c.CaseID, "internal: visa overstay"))

		// A request cancelled before anyone joined.
		_, evs, err := w.r.Interpret("kim", c.ID, "vi", "cancelled one")
		w.ack(evs, err)
		w.ack(w.r.ReleaseInterpreter("kim", c.ID))

		// A request nam answers.
		w.online("nam")
		leg, evs, err := w.r.Interpret("kim", c.ID, "vi", "please interpret")
		w.ack(evs, err)
		w.accept(leg.ID)
		w.ack(w.r.Say(router.AsCitizen(), c.ID, "while interpreted"))
		w.ack(w.r.Say(router.AsAgent("nam"), leg.ID, "interpreted words"))
		w.ack(w.r.ReleaseInterpreter("kim", c.ID))
		w.ack(w.r.Say(router.AsCitizen(), c.ID, "after the interpreter"))
		w.end(w.contact(c.ID), "resolved", "")

		tl, err := w.rv.Timeline(context.Background(), c.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tl.Events {
			if e.Type == "note" && e.Agency != "gov110" {
				t.Errorf("kim's note reads as agency %q; want gov110", e.Agency)
			}
		}
		for _, s := range []Scope{{Agency: "lang"}, {Agent: "nam"}} {
			if tl.Allowed(s) {
				t.Errorf("%+v may read the whole case", s)
			}
		}
		if !tl.Allowed(Scope{Agency: "gov110"}) || !tl.Allowed(Scope{Agent: "kim"}) {
			t.Error("the case's own agency and agent may not read it")
		}
		if _, ok := tl.InterpreterPart(Scope{Agent: "nam"}); ok {
			t.Error("the interpreter keeps a part of the case after their leg")
		}
		part, ok := tl.InterpreterPart(Scope{Agency: "lang"})
		if !ok {
			t.Fatal("the interpreting agency has no part to review")
		}
		var texts []string
		for _, e := range part.Events {
			texts = append(texts, e.Text)
			if e.Type == "note" {
				t.Errorf("the part carries a note: %+v", e)
			}
		}
		want := []string{"please interpret", "while interpreted", "interpreted words"}
		if !slices.Equal(texts, want) {
			t.Errorf("the interpreting agency reviews %q; want %q", texts, want)
		}
		if part.Caller.ID != "" || part.Context.Summary != "" || len(part.Legs) != 1 || !part.Legs[0].Interpreter {
			t.Errorf("part caller %+v context %+v legs %+v; want no number, no context, the interpreter's leg", part.Caller, part.Context, part.Legs)
		}
		// Search: the interpreting agency and the interpreter find nothing.
		for _, s := range []Scope{{Agency: "lang"}, {Agent: "nam"}} {
			if got := w.search(s, Filter{}); len(got) != 0 {
				t.Errorf("search as %+v found %v; want nothing", s, got)
			}
		}
		if got := w.search(Scope{Agency: "gov110"}, Filter{}); !slices.Contains(got, c.CaseID) {
			t.Errorf("search as gov110 found %v; want %s", got, c.CaseID)
		}
	})
}
