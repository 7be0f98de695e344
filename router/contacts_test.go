package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
)

func TestDuplicateCaller(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q"), queue("other")}, nil)
	first := f.enqueue("q", "010-1234")
	_, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "q", Caller: Caller{ID: "010-1234"}})
	var dup *DuplicateContactError
	if !errors.As(err, &dup) || dup.ContactID != first.ID || !errors.Is(err, ErrConflict) {
		t.Fatalf("second Enqueue = %v; want DuplicateContactError for %s wrapping ErrConflict", err, first.ID)
	}
	if n, _ := f.r.QueueSnapshot("q"); n.Waiting != 1 {
		t.Errorf("waiting = %d; want 1 (no second place)", n.Waiting)
	}
	f.enqueue("other", "010-1234") // another queue is fine
	_, err = f.r.Abandon(first.ID)
	f.must(err)
	f.enqueue("q", "010-1234") // after the first ended
}

func TestPositions(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	a := f.enqueue("q", "a")
	b := f.enqueue("q", "b", chat)
	c := f.enqueue("q", "c", func(r *EnqueueRequest) { r.Priority = 5 })
	want := map[string]int{c.ID: 1, a.ID: 2, b.ID: 3}
	for id, pos := range want {
		if got, _ := f.r.Position(id); got != pos {
			t.Errorf("Position(%s) = %d; want %d", id, got, pos)
		}
	}
	line, err := f.r.Waiting("q")
	f.must(err)
	if len(line) != 3 || line[0].ID != c.ID || line[1].ID != a.ID || line[2].ID != b.ID {
		t.Errorf("Waiting(q) = %v; want c, a, b", line)
	}
	if a.Position != 1 || b.Position != 2 {
		t.Errorf("Enqueue positions = %d, %d; want 1, 2", a.Position, b.Position)
	}
	// Positions answers for several at once, in the same order across the
	// voice and chat lines, and leaves out what does not wait there.
	got, err := f.r.Positions("q", []string{a.ID, b.ID, c.ID, "ct-none"})
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("Positions = %v (%v); want %v", got, err, want)
	}
	if _, err := f.r.Positions("nowhere", []string{a.ID}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Positions of an unknown queue: %v; want ErrNotFound", err)
	}
	// Peek is Contact without the count.
	peek, err := f.r.Peek(b.ID)
	full, _ := f.r.Contact(b.ID)
	if err != nil || peek.Position != 0 || peek.Status != StatusQueued || peek.Queue != "q" {
		t.Errorf("Peek = %+v (%v); want b queued in q, position not counted", peek, err)
	}
	full.Position = 0
	if !reflect.DeepEqual(peek, full) {
		t.Errorf("Peek = %+v; want Contact without the position %+v", peek, full)
	}
	if _, err := f.r.Peek("ct-none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Peek of an unknown contact: %v; want ErrNotFound", err)
	}
}

// A long line of both classes: places near either end and in the middle
// agree with the line's order, on a snapshot and inside a write.
func TestPositionsInALongLine(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	n := 6*nearPlaces + 7
	for i := range n {
		switch {
		case i%3 == 0:
			f.enqueue("q", fmt.Sprint("c", i), chat)
		case i%50 == 0:
			f.enqueue("q", fmt.Sprint("c", i), func(r *EnqueueRequest) { r.Priority = 3 })
		default:
			f.enqueue("q", fmt.Sprint("c", i))
		}
	}
	line, err := f.r.Waiting("q")
	f.must(err)
	if len(line) != n {
		t.Fatalf("%d waiting; want %d", len(line), n)
	}
	for _, i := range []int{0, 1, n / 2, n - nearPlaces - 2, n - nearPlaces, n - nearPlaces + 1, n - 2, n - 1} {
		id := line[i].ID
		if got, err := f.r.Position(id); err != nil || got != i+1 {
			t.Errorf("Position of the %dth = %d (%v); want %d", i+1, got, err, i+1)
		}
		if v, err := f.r.Contact(id); err != nil || v.Position != i+1 {
			t.Errorf("Contact(%dth).Position = %d (%v); want %d", i+1, v.Position, err, i+1)
		}
		var inWrite int
		_, err := f.r.write(func(w *writer) error {
			c, err := getContact(w.txn, id)
			if err == nil {
				inWrite, err = w.position(c)
			}
			return err
		})
		f.must(err)
		if inWrite != i+1 {
			t.Errorf("position of the %dth inside a write = %d; want %d", i+1, inWrite, i+1)
		}
	}
	// NearPosition answers near either end and gives up in the middle.
	for _, i := range []int{0, 1, 5, nearPlaces - 1, n - nearPlaces, n - 6, n - 2, n - 1} {
		if got, ok, err := f.r.NearPosition(line[i].ID); err != nil || !ok || got != i+1 {
			t.Errorf("NearPosition of the %dth = %d, %t (%v); want %d", i+1, got, ok, err, i+1)
		}
	}
	for _, i := range []int{nearPlaces, n / 2, n - nearPlaces - 1} {
		if got, ok, err := f.r.NearPosition(line[i].ID); err != nil || ok {
			t.Errorf("NearPosition of the %dth = %d, %t (%v); want it to give up", i+1, got, ok, err)
		}
	}
	if _, _, err := f.r.NearPosition("ct-none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("NearPosition of an unknown contact: %v; want ErrNotFound", err)
	}
}

func TestCaseClosesAndLeavesMemdb(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.online("a")
	c := f.enqueue("q", "caller")
	f.accept(c.ID)
	_, err := f.r.Say(AsAgent("a"), c.ID, "how can I help")
	f.must(err)
	evs, err := f.r.End("a", c.ID, "resolved", "explained the form")
	f.must(err)
	var closed *Event
	for i := range evs {
		if evs[i].Type == EventCaseClosed {
			closed = &evs[i]
		}
	}
	if closed == nil || closed.Case == nil {
		t.Fatalf("End events lack case_closed with the case: %+v", evs)
	}
	if cs := closed.Case; cs.Status != "closed" || len(cs.Legs) != 1 || cs.Legs[0].Disposition != "resolved" ||
		!hasCaseEvent(*cs, CaseMessage, "how can I help") || !hasCaseEvent(*cs, CaseEnded, "explained the form") {
		t.Errorf("closed case = %+v", cs)
	}
	_, err = f.r.Case(c.CaseID)
	wantErr(t, "Case after close", err, ErrNotFound)
	_, err = f.r.Contact(c.ID)
	wantErr(t, "Contact after close", err, ErrNotFound)
	assertEmpty(t, f.r)
}

// assertEmpty checks that no contact, case, event, offer or contact timer is
// left in memdb.
func assertEmpty(t *testing.T, r *Router) {
	t.Helper()
	txn := rows(r)
	for _, table := range []string{tableContacts, tableCases} {
		it, err := txn.Get(table, indexID)
		if err != nil {
			t.Fatal(err)
		}
		if raw := it.Next(); raw != nil {
			t.Errorf("table %s still holds %+v", table, raw)
		}
	}
}

func TestMessagesAndAuthorization(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
	f.online("a")
	c := f.enqueue("q", "caller")
	_, err := f.r.Say(AsAgent("a"), c.ID, "too early")
	wantErr(t, "Say before accept", err, ErrConflict)
	f.accept(c.ID)
	for _, step := range []struct {
		name string
		do   func() ([]Event, error)
		want error
	}{
		{"agent says", func() ([]Event, error) { return f.r.Say(AsAgent("a"), c.ID, "hello") }, nil},
		{"citizen says", func() ([]Event, error) { return f.r.Say(AsCitizen(), c.ID, "hi") }, nil},
		{"gateway transcript", func() ([]Event, error) { return f.r.Transcript(c.ID, RoleCitizen, "my card") }, nil},
		{"assigned agent notes", func() ([]Event, error) { return f.r.Note("a", c.CaseID, "check id") }, nil},
		{"other agent says", func() ([]Event, error) { return f.r.Say(AsAgent("b"), c.ID, "hi") }, ErrNotFound},
		{"other agent notes", func() ([]Event, error) { return f.r.Note("b", c.CaseID, "x") }, ErrNotFound},
		{"other agent ends", func() ([]Event, error) { return f.r.End("b", c.ID, "resolved", "") }, ErrNotFound},
		{"other agent transfers", func() ([]Event, error) {
			_, evs, err := f.r.Transfer("b", c.ID, Target{Queue: "q"}, TransferCold, "")
			return evs, err
		}, ErrNotFound},
		{"empty text", func() ([]Event, error) { return f.r.Say(AsAgent("a"), c.ID, "") }, ErrInvalid},
		{"unknown contact", func() ([]Event, error) { return f.r.Say(AsCitizen(), "nope", "x") }, ErrNotFound},
	} {
		_, err := step.do()
		if step.want == nil && err != nil || step.want != nil && !errors.Is(err, step.want) {
			t.Errorf("%s: err = %v; want %v", step.name, err, step.want)
		}
	}
	cs, err := f.r.Case(c.CaseID)
	f.must(err)
	var last int64
	for _, e := range cs.Events {
		if e.Seq != last+1 {
			t.Errorf("case seq %d after %d; want consecutive", e.Seq, last)
		}
		last = e.Seq
	}
	for _, typ := range []string{CaseContactCreated, CaseAssigned, CaseMessage, CaseTranscript, CaseNote} {
		if !hasCaseEvent(cs, typ, "") {
			t.Errorf("case timeline lacks %s: %+v", typ, cs.Events)
		}
	}
}

func TestSinkGetsEventsInOrder(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.sink.events = nil
	f.online("a")
	c := f.enqueue("q", "caller")
	f.accept(c.ID)
	var last uint64
	for _, e := range f.sink.events {
		if e.Seq <= last {
			t.Fatalf("sink event seq %d after %d", e.Seq, last)
		}
		last = e.Seq
	}
	if !hasEvent(f.sink.events, EventContactCreated, c.ID) || !hasEvent(f.sink.events, EventOffered, c.ID) ||
		!hasEvent(f.sink.events, EventAccepted, c.ID) {
		t.Errorf("sink lacks created/offered/accepted: %+v", f.sink.events)
	}
}

func TestReadsAreCopies(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) { q.RequiredSkills = map[string]int{"x": 1} })}, nil)
	c := f.enqueue("q", "caller", func(r *EnqueueRequest) { r.Context.IVR = []string{"1"} })
	c.Skills["x"] = 99
	c.Context.IVR[0] = "changed"
	q, _ := f.r.Queue("q")
	q.RequiredSkills["x"] = 99
	again := f.contact(c.ID)
	if again.Skills["x"] != 1 || again.Context.IVR[0] != "1" {
		t.Errorf("changing a view changed the store: %+v", again)
	}
	if q2, _ := f.r.Queue("q"); q2.RequiredSkills["x"] != 1 {
		t.Errorf("changing a queue view changed the store")
	}
}

func TestStickyAgent(t *testing.T) {
	// A returning caller (same case) prefers the agent who served them.
	setup := func(t *testing.T) (*fixture, ContactView) {
		f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
		f.online("a", "b")
		first := f.enqueue("q", "caller")
		if f.accept(first.ID) != "a" {
			t.Fatal("setup: a should take the first contact")
		}
		hold := f.enqueue("q", "other") // keeps the case open: a second leg below
		f.accept(hold.ID)               // b
		_, err := f.r.End("b", hold.ID, "resolved", "")
		f.must(err)
		// The caller's first contact is still live: they call back on another line.
		return f, first
	}
	returning := func(f *fixture, first ContactView) ContactView {
		return f.enqueue("q2", "caller", func(r *EnqueueRequest) { r.CaseID = first.CaseID })
	}
	t.Run("waits briefly for the last agent", func(t *testing.T) {
		f, first := setup(t)
		f.must(upsert(f, queue("q2"), agent("a", "q", "q2"), agent("b", "q", "q2")))
		c := returning(f, first) // a is busy with the first contact; b is free
		if got := f.offeredTo(c.ID); got != "" {
			t.Fatalf("offered to %q; want held for a", got)
		}
		_, err := f.r.End("a", first.ID, "resolved", "")
		f.must(err)
		if got := f.offeredTo(c.ID); got != "a" {
			t.Errorf("after a is free offered to %q; want a", got)
		}
	})
	t.Run("bounded wait", func(t *testing.T) {
		f, first := setup(t)
		f.must(upsert(f, queue("q2"), agent("a", "q", "q2"), agent("b", "q", "q2")))
		c := returning(f, first)
		f.advance(DefaultStickyWait)
		if got := f.offeredTo(c.ID); got != "b" {
			t.Errorf("after the sticky wait offered to %q; want b", got)
		}
	})
	t.Run("never held for an offline agent", func(t *testing.T) {
		f, first := setup(t)
		f.must(upsert(f, queue("q2"), agent("a", "q", "q2"), agent("b", "q", "q2")))
		_, err := f.r.Disconnect("a")
		f.must(err)
		c := returning(f, first)
		if got := f.offeredTo(c.ID); got != "b" {
			t.Errorf("offered to %q; want b at once", got)
		}
	})
	t.Run("a free last agent gets it over a longer-idle one", func(t *testing.T) {
		f := newFixture(t, []QueueConfig{queue("q"), queue("q2"), queue("elsewhere")},
			[]AgentProfile{agent("a", "q", "q2"), agent("b", "q2")})
		f.online("b", "a") // b is idle longer
		c1 := f.enqueue("q", "caller")
		if f.accept(c1.ID) != "a" {
			t.Fatal("setup: a should take c1")
		}
		// a hands the case on; it stays open, waiting elsewhere, and a is free.
		_, _, err := f.r.Transfer("a", c1.ID, Target{Queue: "elsewhere"}, TransferCold, "")
		f.must(err)
		c2 := f.enqueue("q2", "caller", func(r *EnqueueRequest) { r.CaseID = c1.CaseID })
		if got := f.offeredTo(c2.ID); got != "a" {
			t.Errorf("returning contact offered to %q; want a, who served the case", got)
		}
	})
}

func upsert(f *fixture, q QueueConfig, agents ...AgentProfile) error {
	if _, err := f.r.UpsertQueue(q); err != nil {
		return err
	}
	for _, a := range agents {
		if _, err := f.r.UpsertAgent(a); err != nil {
			return err
		}
	}
	return nil
}

func TestEnqueueErrors(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) {
		q.Channels = []Channel{ChannelChat}
		q.MaxWaiting = 1
	})}, nil)
	_, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "nope", Caller: Caller{ID: "x"}})
	wantErr(t, "Enqueue(unknown queue)", err, ErrNotFound)
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: "x"}})
	wantErr(t, "Enqueue(voice into a chat queue)", err, ErrInvalid)
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "q", Caller: Caller{ID: "z"}, CaseID: "cs404"})
	wantErr(t, "Enqueue(unknown case)", err, ErrNotFound)
	f.enqueue("q", "x", chat)
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "q", Caller: Caller{ID: "y"}})
	wantErr(t, "Enqueue(full queue)", err, ErrUnavailable)
	var fe *FieldError
	_, _, err = f.r.Enqueue(EnqueueRequest{Channel: "fax", Queue: "q", Caller: Caller{ID: "z"}})
	if !errors.As(err, &fe) || fe.Field != "channel" {
		t.Errorf("Enqueue(fax) = %v; want a FieldError on channel", err)
	}
}

func TestLiveCalls(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.online("a")
	v := f.enqueue("q", "voice")
	f.accept(v.ID)
	cb := f.enqueue("q", "cb", func(r *EnqueueRequest) { r.Channel, r.CallbackNumber = ChannelCallback, "+821012345678" })
	f.enqueue("q", "chat", chat)
	lastSeq := func() uint64 {
		f.sink.mu.Lock()
		defer f.sink.mu.Unlock()
		return f.sink.events[len(f.sink.events)-1].Seq
	}

	calls, seq, err := f.r.LiveCalls()
	f.must(err)
	if seq != lastSeq() {
		t.Errorf("LiveCalls seq = %d; want the last event's %d", seq, lastSeq())
	}
	if len(calls) != 2 || calls[0].ID != v.ID || calls[1].ID != cb.ID ||
		calls[0].Status != StatusAssigned || calls[0].Agent != "a" ||
		calls[1].Status != StatusQueued || calls[1].CallbackNumber != "+821012345678" {
		t.Fatalf("LiveCalls = %+v; want %s assigned to a, then callback %s queued", calls, v.ID, cb.ID)
	}

	_, err = f.r.End("a", v.ID, "resolved", "")
	f.must(err)
	calls, seq, err = f.r.LiveCalls()
	f.must(err)
	if seq != lastSeq() || len(calls) != 1 || calls[0].ID != cb.ID {
		t.Errorf("after End: LiveCalls = %+v, seq %d (last %d); want only %s", calls, seq, lastSeq(), cb.ID)
	}
}

// Resident registration numbers are masked as they enter the router, in
// every form a citizen types or speech-to-text writes, so no live frame,
// read or stored row ever holds one: the caller's id and name, the
// context's summary, IVR path and attribute keys and values, messages,
// speech-to-text, notes, interpreter and transfer notes, callback notes,
// end summaries and dispositions.
func TestResidentNumbersMaskedOnEntry(t *testing.T) {
	for _, form := range []struct{ name, rrn, masked, back string }{
		{"hyphen", "900101-1234567", "900101-1******", "234567"},
		{"spoken dash", "900101 - 1234567", "900101 - 1******", "234567"},
		{"en dash", "900101–1234567", "900101–1******", "234567"},
		{"em dash", "900101—1234567", "900101—1******", "234567"},
		{"minus sign", "900101−1234567", "900101−1******", "234567"},
		{"full-width hyphen", "900101－1234567", "900101－1******", "234567"},
		{"dot", "900101.1234567", "900101.1******", "234567"},
		{"underscore", "900101_1234567", "900101_1******", "234567"},
		{"slash", "900101/1234567", "900101/1******", "234567"},
		{"one run", "9001011234567", "9001011******", "234567"},
		{"full-width digits", "９００１０１－１２３４５６７", "９００１０１－１＊＊＊＊＊＊", "２３４５６７"},
		{"spoken digits", "구공공일공일 다시 일이삼사오육칠", "구공공일공일 다시 일＊＊＊＊＊＊", "이삼사오육칠"},
	} {
		t.Run(form.name, func(t *testing.T) {
			rrn := form.rrn
			iEn := agent("i-en", "interp.en")
			iEn.Agency, iEn.Skills = "interp", map[string]int{"lang:en": 3}
			f := newFixture(t, []QueueConfig{queue("q"), queue("q2"), queue("interp.en", func(q *QueueConfig) {
				q.Agency, q.Kind, q.Channels = "interp", QueueInterpreter, []Channel{ChannelChat, ChannelVoice}
			})}, []AgentProfile{agent("a", "q"), agent("b", "q2"), iEn})
			f.online("a", "b", "i-en")
			c, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelChat, Queue: "q",
				Caller: Caller{ID: "id " + rrn, Name: "홍 " + rrn},
				Context: ContactContext{Summary: "my number " + rrn, IVR: []string{rrn},
					Attributes: map[string]string{"rrn": rrn, rrn: "as a key"}}})
			f.must(err)
			f.accept(c.ID)
			_, err = f.r.Say(AsCitizen(), c.ID, "it is "+rrn)
			f.must(err)
			_, err = f.r.Say(AsAgent("a"), c.ID, "you said "+rrn)
			f.must(err)
			_, err = f.r.Transcript(c.ID, RoleCitizen, "주민번호는 "+rrn+" 입니다")
			f.must(err)
			_, err = f.r.Note("a", c.CaseID, rrn)
			f.must(err)
			leg, _, err := f.r.Interpret("a", c.ID, "en", "interpreter, note "+rrn)
			f.must(err)
			f.accept(leg.ID)
			next, _, err := f.r.Transfer("a", c.ID, Target{Queue: "q2"}, TransferCold, "transfer note "+rrn)
			f.must(err)
			f.accept(next.ID)
			cs, err := f.r.Case(c.CaseID)
			f.must(err)
			if cs.Caller.ID != "id "+form.masked || cs.Caller.Name != "홍 "+form.masked ||
				cs.Context.Attributes[form.masked] != "as a key" || cs.Context.Attributes["rrn"] != form.masked {
				t.Errorf("case caller %+v, attributes %v; want the number masked everywhere", cs.Caller, cs.Context.Attributes)
			}
			cb, _, err := f.r.EndWithCallback("b", next.ID, FollowUp{Queue: "q", Number: "0299998888",
				Note: "call back, " + rrn, Summary: "summary " + rrn})
			f.must(err)
			f.accept(cb.ID)
			_, err = f.r.End("a", cb.ID, "done "+rrn, "end summary "+rrn)
			f.must(err)

			// Everything the router said or holds: every event (with the
			// contact and case views they carry) and the case as read
			// before it closed.
			seen := []any{cs}
			f.sink.mu.Lock()
			for _, e := range f.sink.events {
				seen = append(seen, e)
			}
			f.sink.mu.Unlock()
			all, err := json.Marshal(seen)
			f.must(err)
			if strings.Contains(string(all), form.back) {
				i := strings.Index(string(all), form.back)
				t.Errorf("the router holds the number in clear: …%s…", all[max(0, i-120):min(len(all), i+60)])
			}
			for _, want := range []string{"id " + form.masked, "done " + form.masked, "end summary " + form.masked,
				"call back, " + form.masked, "interpreter, note " + form.masked, "caller:id " + form.masked} {
				if !strings.Contains(string(all), want) {
					t.Errorf("nothing the router holds says %q", want)
				}
			}
		})
	}
}

// A contact the agent held until it ended is a conflict for them, not
// something that does not exist; for everyone else it stays not found.
func TestEndedContactIsAConflictForWhoHeldIt(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q"), queue("r")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
	f.online("a")
	c := f.enqueue("q", "caller")
	f.accept(c.ID)
	_, _, err := f.r.Transfer("a", c.ID, Target{Queue: "r"}, TransferCold, "")
	f.must(err) // c ends; its case stays open with the new leg
	_, err = f.r.Say(AsAgent("a"), c.ID, "still there?")
	wantErr(t, "Say by who held it", err, ErrConflict)
	_, err = f.r.End("a", c.ID, "resolved", "")
	wantErr(t, "End by who held it", err, ErrConflict)
	_, err = f.r.Say(AsAgent("b"), c.ID, "hi")
	wantErr(t, "Say by another agent", err, ErrNotFound)
}

// A note on a case the agent never handled reads exactly as one on a case
// that does not exist.
func TestNoteOnSomeoneElsesCaseReadsAsUnknown(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
	f.online("a")
	c := f.enqueue("q", "caller")
	f.accept(c.ID)
	_, theirs := f.r.Note("b", c.CaseID, "x")
	_, unknown := f.r.Note("b", "cs-unknown", "x")
	wantErr(t, "Note on someone else's case", theirs, ErrNotFound)
	if got, want := strings.ReplaceAll(theirs.Error(), c.CaseID, "ID"), strings.ReplaceAll(unknown.Error(), "cs-unknown", "ID"); got != want {
		t.Errorf("note on someone else's case: %q; on an unknown case: %q", got, want)
	}
}

// Speech is the agent's only once they answered: while the contact is only
// offered to them, an agent's transcript segment is refused.
func TestAgentTranscriptNeedsAnAnsweringAgent(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.online("a")
	c := f.enqueue("q", "caller")
	if f.offeredTo(c.ID) != "a" {
		t.Fatalf("contact not offered to a")
	}
	_, err := f.r.Transcript(c.ID, RoleAgent, "안녕하세요")
	wantErr(t, "agent's transcript while offered", err, ErrConflict)
	if cs, err := f.r.Case(c.CaseID); err != nil || hasCaseEvent(cs, CaseTranscript, "") {
		t.Errorf("the refused transcript is in the case (%v): %+v", err, cs.Events)
	}
	f.accept(c.ID)
	_, err = f.r.Transcript(c.ID, RoleAgent, "안녕하세요")
	f.must(err)
}
