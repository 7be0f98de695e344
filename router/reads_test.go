package router

import (
	"reflect"
	"slices"
	"testing"
)

// Agents lists every agent the router knows, in username order, and a
// removed one no more.
func TestAgentsListsEveryAgent(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("lee", "q"), agent("kim", "q"), agent("park", "q")})
	got, err := f.r.Agents()
	if err != nil || !slices.Equal(got, []string{"kim", "lee", "park"}) {
		t.Fatalf("Agents() = %v, %v; want kim, lee, park", got, err)
	}
	if _, err := f.r.RemoveAgent("lee"); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.r.Agents(); !slices.Equal(got, []string{"kim", "park"}) {
		t.Errorf("after removing lee, Agents() = %v; want kim, park", got)
	}
}

// A timeline entry's Data is one map shared by the timeline, the event
// that announced the entry and every view of the case, not a copy per
// view: entries never change once appended, and copying them was a
// sizeable share of a routed contact's garbage.
func TestTimelineDataIsSharedNotCopied(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	c, evs, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: "c1"}})
	if err != nil {
		t.Fatal(err)
	}
	var announced map[string]string
	for _, e := range evs {
		if e.CaseEvent != nil && e.CaseEvent.Type == CaseContactCreated {
			announced = e.CaseEvent.Data
		}
	}
	if announced["contact_id"] != c.ID {
		t.Fatalf("contact_created entry's Data = %v; want contact_id %s", announced, c.ID)
	}
	v1, err := f.r.Case(c.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := f.r.Case(c.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(v1.Events) == 0 || len(v2.Events) == 0 {
		t.Fatalf("case views have no timeline: %v, %v", v1.Events, v2.Events)
	}
	same := func(a, b map[string]string) bool {
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	if !same(v1.Events[0].Data, v2.Events[0].Data) || !same(v1.Events[0].Data, announced) {
		t.Errorf("the contact_created entry's Data is copied per view; want one shared map")
	}
	// The views' slices are their own: reordering one leaves the others.
	v1.Events[0].Seq = 99
	if v3, _ := f.r.Case(c.CaseID); v3.Events[0].Seq == 99 {
		t.Errorf("changing a view's timeline slice changed the case")
	}
}

// A write call reads each queue row from memdb once and keeps it for the
// call, and a queue the call writes (round robin's RRLast, an upsert) is
// read anew after that.
func TestWriterQueueReadsOnceAndForgetsWrites(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, nil)
	_, err := f.r.write(func(w *writer) error {
		first, err := w.queue("q")
		if err != nil {
			return err
		}
		if again, _ := w.queue("q"); again != first {
			t.Errorf("second read of q in one call is another row; want the call's copy")
		}
		changed := &queueRow{QueueConfig: first.QueueConfig.Clone()}
		changed.Name = "renamed"
		if err := w.putQueue(changed); err != nil {
			return err
		}
		if got, _ := w.queue("q"); got.Name != "renamed" {
			t.Errorf("after putQueue, queue(q).Name = %q; want renamed", got.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A write call reads a stored contact, agent or case from memdb once and
// keeps it for the call; a row the call changes is read as changed after
// that, also once its change is flushed to the transaction.
func TestWriterReadsRowsOnceAndForgetsChanges(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("kim", "q")})
	c, _, err := f.r.Enqueue(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: "c1"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.r.write(func(w *writer) error {
		if _, err := w.contact(c.ID); err != nil {
			return err
		}
		if _, err := w.agent("kim"); err != nil {
			return err
		}
		if _, err := w.getCase(c.CaseID); err != nil {
			return err
		}
		if n := testing.AllocsPerRun(10, func() {
			_, _ = w.contact(c.ID)
			_, _ = w.agent("kim")
			_, _ = w.getCase(c.CaseID)
		}); n != 0 {
			t.Errorf("reading rows the call read before allocates %.0f times; want 0 (kept for the call)", n)
		}
		old, _ := w.contact(c.ID)
		n := old.copy()
		n.Priority = old.Priority + 1
		if err := w.putContact(n); err != nil {
			return err
		}
		w.tx() // flushes the change: the call's version is in the transaction now
		if got, _ := w.contact(c.ID); got.Priority != n.Priority {
			t.Errorf("after a flushed change, contact priority = %d; want %d", got.Priority, n.Priority)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
