package transcripts

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"tellonce/clocktest"
	"tellonce/router"
	tsql "tellonce/sql"
	"tellonce/sql/sqltest"
)

// mixedState is what buildMixedState leaves behind, by role.
type mixedState struct {
	queues []router.QueueConfig
	agents []router.AgentProfile
	// ids by the names the scenario gives them
	ids map[string]router.ContactView
}

// buildMixedState drives the router into every kind of live contact:
// queued in three queues with different priorities, one re-queued to the
// head after its agent was lost, one offered, one assigned with a pending
// warm transfer, one transferred to another agency, and a closed case.
func buildMixedState(d *desk) mixedState {
	d.t.Helper()
	s := mixedState{
		queues: []router.QueueConfig{
			agencyQueue("gov110.general", func(q *router.QueueConfig) { q.OfferTimeout = router.DefaultOfferTimeout * 6 }),
			agencyQueue("tax126.general"),
			agencyQueue("imm1345.chat"),
		},
		agents: []router.AgentProfile{
			agentIn("kim", "gov110", "gov110.general"), agentIn("choi", "gov110", "gov110.general"),
			agentIn("lee", "tax126", "tax126.general"), agentIn("park", "imm1345", "imm1345.chat"),
		},
		ids: map[string]router.ContactView{},
	}
	d.setup(s.queues, s.agents)
	in := func(queue string, prio int, mod ...func(*router.EnqueueRequest)) func(*router.EnqueueRequest) {
		return func(r *router.EnqueueRequest) {
			r.Queue, r.Priority = queue, prio
			for _, m := range mod {
				m(r)
			}
		}
	}
	chat := func(r *router.EnqueueRequest) { r.Channel = router.ChannelChat }
	add := func(name string, c router.ContactView) { s.ids[name] = c }

	// lee holds A1.
	d.online("lee")
	add("A1", d.enqueue(caller("a1", in("tax126.general", 0), func(r *router.EnqueueRequest) {
		r.Context = router.ContactContext{Summary: "연말정산", IVR: []string{"2"}}
	})))
	d.accept(s.ids["A1"].ID)
	d.ack(d.r.Say(router.AsCitizen(), s.ids["A1"].ID, "공제 항목이 궁금합니다"))
	d.ack(d.r.Note("lee", s.ids["A1"].CaseID, "needs immigration status"))

	// park takes T1 and sends it to the tax line, then takes a break.
	d.online("park")
	add("T1", d.enqueue(caller("t1", in("imm1345.chat", 0, chat))))
	d.accept(s.ids["T1"].ID)
	c, evs, err := d.r.Transfer("park", s.ids["T1"].ID, router.Target{Queue: "tax126.general"},
		router.TransferCold, "visa is fine; tax question")
	d.ack(evs, err)
	add("T1b", c)
	d.ack(d.r.SetState("park", router.StateBreak, "lunch"))

	// choi takes R1; kim is offered O1.
	d.online("choi")
	add("R1", d.enqueue(caller("r1", in("gov110.general", 0))))
	d.accept(s.ids["R1"].ID)
	d.online("kim")
	add("O1", d.enqueue(caller("o1", in("gov110.general", 0))))

	add("W1", d.enqueue(caller("w1", in("gov110.general", 0))))
	add("W2", d.enqueue(caller("w2", in("gov110.general", 5))))
	add("W3", d.enqueue(caller("w3", in("gov110.general", 0, chat))))
	add("X1", d.enqueue(caller("x1", in("tax126.general", 2))))
	add("X2", d.enqueue(caller("x2", in("tax126.general", 0, chat))))
	add("Y1", d.enqueue(caller("y1", in("imm1345.chat", 0, chat))))
	add("Y2", d.enqueue(caller("y2", in("imm1345.chat", 1, chat, func(r *router.EnqueueRequest) {
		r.Caller.Language = "en"
		r.Skills = map[string]int{"topic:visa": 2}
	}))))

	// Z1's caller leaves: its case closes.
	add("Z1", d.enqueue(caller("z1", in("imm1345.chat", 0, chat))))
	d.ack(d.r.Abandon(s.ids["Z1"].ID))

	// lee starts a warm transfer of A1 that nobody has taken yet.
	c, evs, err = d.r.Transfer("lee", s.ids["A1"].ID, router.Target{Queue: "imm1345.chat"},
		router.TransferWarm, "please confirm the visa type")
	d.ack(evs, err)
	add("WL", c)

	// choi's console drops for good: R1 goes back to the head of its line.
	d.ack(d.r.Disconnect("choi"))
	d.clock.Advance(router.DefaultReconnectGrace)
	d.ack(d.r.Tick())
	if got := d.contact(s.ids["R1"].ID); got.Status != router.StatusQueued || !got.Head {
		d.t.Fatalf("R1 after the grace = %s (head %v); want queued at the head", got.Status, got.Head)
	}
	return s
}

// A router rebuilt from the case log has the same lines in the same order,
// the same contacts and cases, and holds assigned contacts for their agent.
func TestLoadRestoresTheRouter(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		a := newDesk(t, b.DB, "", nil)
		start(t, a.j)
		s := buildMixedState(a)
		name := map[string]string{}
		for n, c := range s.ids {
			name[c.ID] = n
		}

		// A new process on the same database.
		br, _, cases := restart(t, b.DB, a.clock, s, "b-")

		// The offered contact returns to its line; everything else is as it was.
		wantLines := map[string][]string{
			"gov110.general": {"R1", "W2", "O1", "W1", "W3"},
			"tax126.general": {"X1", "T1b", "X2"},
			"imm1345.chat":   {"Y2", "WL", "Y1"},
		}
		for queue, want := range wantLines {
			line, err := br.Waiting(queue)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range line {
				got = append(got, name[c.ID])
				wantView := a.contact(c.ID)
				if name[c.ID] == "O1" {
					wantView.Status, wantView.Agent, wantView.OfferID = router.StatusQueued, "", ""
				}
				wantView.Position, c.Position = 0, 0
				if !reflect.DeepEqual(c, wantView) {
					t.Errorf("restored %s:\n%+v\nwant\n%+v", name[c.ID], c, wantView)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("restored Waiting(%s) = %v; want %v", queue, got, want)
			}
		}

		for _, n := range []string{"A1", "R1", "T1b", "WL", "W1"} {
			want, err := a.r.Case(s.ids[n].CaseID)
			if err != nil {
				t.Fatal(err)
			}
			got, err := br.Case(s.ids[n].CaseID)
			if err != nil {
				t.Fatalf("restored Case of %s: %v", n, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("restored case of %s:\n%+v\nwant\n%+v", n, got, want)
			}
		}

		// The assigned contact is held for lee, who gets it back on connect.
		got, err := br.Contact(s.ids["A1"].ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := a.contact(s.ids["A1"].ID); !reflect.DeepEqual(got, want) {
			t.Errorf("restored A1:\n%+v\nwant\n%+v", got, want)
		}
		desk, _, err := br.Connect("lee")
		if err != nil {
			t.Fatal(err)
		}
		if len(desk.Contacts) != 1 || desk.Contacts[0].Contact.ID != s.ids["A1"].ID {
			t.Errorf("lee's desk after restore = %+v; want A1", desk.Contacts)
		}

		// The closed case stays in SQL only.
		if _, err := br.Case(s.ids["Z1"].CaseID); !errors.Is(err, router.ErrNotFound) {
			t.Errorf("restored Case(closed) = %v; want ErrNotFound", err)
		}
		for _, cs := range cases {
			if cs.ID == s.ids["Z1"].CaseID {
				t.Errorf("Load() returned the closed case %s", cs.ID)
			}
		}
		if len(cases) != len(s.ids)-3 { // T1b and WL share a case; Z1's is closed
			t.Errorf("Load() returned %d cases; want %d", len(cases), len(s.ids)-3)
		}
	})
}

// restart is a new process on db: a fresh journal, and a router restored
// from what it loads.
func restart(t *testing.T, db *tsql.DB, clock *clocktest.Clock, s mixedState, idPrefix string) (*router.Router, *Journal, []router.CaseSnapshot) {
	t.Helper()
	j := NewJournal(db, Options{Log: quiet})
	cases, err := j.Load(context.Background())
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	r, err := router.New(router.Config{Clock: clock, Sink: j, NewID: seqIDs(idPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(router.Snapshot{Queues: s.queues, Agents: s.agents, Cases: cases}); err != nil {
		t.Fatalf("Restore(Load()) = %v", err)
	}
	return r, j, cases
}

// After a restart, an agent who never comes back loses their contact to
// the head of the line: the leg they held is kept (from the committed row,
// since the new process never saw it assigned), and a second restart
// restores the case as the first restored router had it.
func TestRequeueAfterRestartKeepsTheEarlierLeg(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		a := newDesk(t, b.DB, "", nil)
		start(t, a.j)
		s := buildMixedState(a)
		a1 := s.ids["A1"]

		br, bj, _ := restart(t, b.DB, a.clock, s, "b-")
		start(t, bj)
		// lee never reconnects.
		a.clock.Advance(router.DefaultReconnectGrace)
		evs, err := br.Tick()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(evs, func(e router.Event) bool {
			return e.Type == router.EventRequeued && e.ContactID == a1.ID
		}) {
			t.Fatalf("Tick after the grace did not re-queue A1: %+v", evs)
		}
		if err := bj.Wait(context.Background(), evs[len(evs)-1].Seq); err != nil {
			t.Fatal(err)
		}
		want, err := br.Case(a1.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(want.Legs); n < 2 || want.Legs[0].Agent != "lee" || want.Legs[0].Disposition != "requeued" {
			t.Fatalf("A1's case after the grace has legs %+v; want lee's leg ended as requeued", want.Legs)
		}

		cr, _, _ := restart(t, b.DB, a.clock, s, "c-")
		got, err := cr.Case(a1.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("case of A1 after the second restart:\n%+v\nwant\n%+v", got, want)
		}
		gotC, err := cr.Contact(a1.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantC, err := br.Contact(a1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if gotC.Position, wantC.Position = 0, 0; !reflect.DeepEqual(gotC, wantC) {
			t.Errorf("A1 after the second restart:\n%+v\nwant\n%+v", gotC, wantC)
		}
		if !gotC.Head || gotC.Status != router.StatusQueued {
			t.Errorf("A1 after the second restart is %s (head %v); want queued at the head", gotC.Status, gotC.Head)
		}
	})
}

// Callbacks and interpreters survive a restart: a booked callback waits for
// its slot, an unanswered one for its retry with the failed leg kept, and
// an interpreter's leg stays joined to its contact.
func TestLoadRestoresCallbacksAndInterpreters(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		a := newDesk(t, b.DB, "", nil)
		start(t, a.j)
		nam := agentIn("nam", "interp", "interp.pool")
		nam.Skills["lang:vi"] = 4
		s := mixedState{
			queues: []router.QueueConfig{
				agencyQueue("gov110.general", func(q *router.QueueConfig) { q.CallbackRetries = 2 }),
				agencyQueue("interp.pool", func(q *router.QueueConfig) {
					q.Kind, q.Channels = router.QueueInterpreter, []router.Channel{router.ChannelChat, router.ChannelVoice}
				}),
			},
			agents: []router.AgentProfile{agentIn("kim", "gov110", "gov110.general"), nam},
			ids:    map[string]router.ContactView{},
		}
		a.setup(s.queues, s.agents)
		a.online("kim")
		_, err := a.r.SetState("kim", router.StateBreak, "")
		if err != nil {
			t.Fatal(err)
		}
		slots, err := a.r.CallbackSlots("gov110.general", 0)
		if err != nil || len(slots) == 0 {
			t.Fatalf("CallbackSlots = %v, %v", slots, err)
		}
		s.ids["B1"] = a.enqueue(caller("b1", func(r *router.EnqueueRequest) {
			r.Channel, r.CallbackNumber, r.CallbackAt = router.ChannelCallback, "0212345678", slots[1].Start
		}))

		a.ack(a.r.SetState("kim", router.StateAvailable, ""))
		c1 := a.enqueue(caller("c1", func(r *router.EnqueueRequest) {
			r.Channel, r.CallbackNumber = router.ChannelCallback, "0212345679"
		}))
		a.accept(c1.ID)
		a.ack(a.r.CallbackResult("", c1.ID, router.CallbackNoAnswer))
		s.ids["C1"] = c1

		i1 := a.enqueue(caller("i1", func(r *router.EnqueueRequest) {
			r.Channel = router.ChannelChat
		}))
		a.accept(i1.ID)
		a.online("nam")
		leg, evs, err := a.r.Interpret("kim", i1.ID, "vi", "Vietnamese, please")
		a.ack(evs, err)
		a.accept(leg.ID)
		s.ids["I1"], s.ids["IL"] = i1, leg

		br, _, _ := restart(t, b.DB, a.clock, s, "b-")
		for _, n := range []string{"B1", "C1", "I1", "IL"} {
			want := a.contact(s.ids[n].ID)
			got, err := br.Contact(s.ids[n].ID)
			if err != nil {
				t.Fatalf("restored %s: %v", n, err)
			}
			want.OfferID, got.OfferID = "", ""
			if !reflect.DeepEqual(got, want) {
				t.Errorf("restored %s:\n%+v\nwant\n%+v", n, got, want)
			}
			wantCase, err := a.r.Case(s.ids[n].CaseID)
			if err != nil {
				t.Fatal(err)
			}
			gotCase, err := br.Case(s.ids[n].CaseID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotCase, wantCase) {
				t.Errorf("restored case of %s:\n%+v\nwant\n%+v", n, gotCase, wantCase)
			}
		}
		if got := a.contact(s.ids["C1"].ID); got.Status != router.StatusScheduled || got.Attempts != 1 {
			t.Errorf("C1 before the restart: %+v; want scheduled after one attempt", got)
		}
		// Messages on the restored contact still reach the interpreter.
		if _, _, err := br.Connect("kim"); err != nil {
			t.Fatal(err)
		}
		evs, err = br.Say(router.AsCitizen(), i1.ID, "còn đó không?")
		if err != nil {
			t.Fatal(err)
		}
		if evs[0].Data["interpreter"] != "nam" {
			t.Errorf("after the restart the interpreter is not on the contact: %+v", evs[0])
		}
	})
}
