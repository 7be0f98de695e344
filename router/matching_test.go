package router

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// Each call that changes a case writes its row to memdb once, however many
// times it changed it (a leg, the agents, a timeline entry).
func TestACallWritesItsCaseOnce(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.online("a")
	writes := func(call func()) uint64 { return f.countDuring(&f.r.caseWrites, call) }
	var c ContactView
	if n := writes(func() { c = f.enqueue("q", "caller") }); n != 1 {
		t.Errorf("enqueue (new case, offered at once) wrote the case %d times; want 1", n)
	}
	if n := writes(func() { f.accept(c.ID) }); n != 1 {
		t.Errorf("accept (leg, agents, timeline) wrote the case %d times; want 1", n)
	}
	if n := writes(func() {
		_, err := f.r.Say(AsAgent("a"), c.ID, "hello")
		f.must(err)
	}); n != 1 {
		t.Errorf("a message wrote the case %d times; want 1", n)
	}
}

// The calls of a routed contact, and an agent's reconnect, read through
// the call's own view only. None flushes its rows to memdb before its end
// to read them back through the transaction: that writes them twice and,
// in a write group, makes the calls after it copy their radix paths again.
func TestRoutingCallsReadWithoutFlushing(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.online("a")
	none := func(what string, call func()) {
		t.Helper()
		if n := f.countDuring(&f.r.midFlushes, call); n != 0 {
			t.Errorf("%s flushed its rows %d times before its end; want none", what, n)
		}
	}
	var first, second ContactView
	none("an enqueue offered at once", func() { first = f.enqueue("q", "first") })
	none("an accept", func() { f.accept(first.ID) })
	none("a message", func() {
		_, err := f.r.Say(AsAgent("a"), first.ID, "hello")
		f.must(err)
	})
	none("an enqueue that waits", func() { second = f.enqueue("q", "second") })
	_, err := f.r.Disconnect("a")
	f.must(err)
	none("a reconnect within the grace", func() {
		desk, _, err := f.r.Connect("a")
		f.must(err)
		if len(desk.Contacts) != 1 || desk.Contacts[0].Contact.ID != first.ID {
			t.Errorf("reconnected desk holds %+v; want the call %s", desk.Contacts, first.ID)
		}
	})
	none("an end that offers the next", func() {
		_, err := f.r.End("a", first.ID, "resolved", "")
		f.must(err)
	})
	if c := f.contact(second.ID); c.Status != StatusOffered {
		t.Errorf("the waiting contact is %s after the end; want offered", c.Status)
	}
}

// countDuring is how much one of the router's counters (guarded by its
// mu) grew while call ran.
func (f *fixture) countDuring(counter *uint64, call func()) uint64 {
	f.r.mu.Lock()
	before := *counter
	f.r.mu.Unlock()
	call()
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	return *counter - before
}

// A call that fails after changing lines, free sets, offers, callers'
// places and timers leaves the matching state exactly as it was, and the
// calls grouped with it still commit theirs.
func TestFailedCallLeavesTheMatchingStateAsItWas(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q", func(q *QueueConfig) {
		q.Overflow = []OverflowRule{{After: time.Minute, To: "r"}}
	}), queue("r")}, []AgentProfile{agent("a", "q"), agent("b", "q")})
	f.online("a")
	first := f.enqueue("q", "first") // offered to a
	f.enqueue("q", "second")         // waits, with an overflow timer
	if first.ID != "ct1" {
		t.Fatalf("first contact %s; want ct1", first.ID)
	}
	state := func() string {
		f.r.mu.Lock()
		defer f.r.mu.Unlock()
		m := f.r.match
		var b strings.Builder
		for _, k := range slices.SortedFunc(maps.Keys(m.lines), func(x, y lineKey) int { return strings.Compare(x.queue+string(x.class), y.queue+string(y.class)) }) {
			for _, c := range m.lines[k].Items() {
				fmt.Fprintf(&b, "line %s/%s %s %p\n", k.queue, k.class, c.ID, c)
			}
		}
		for k, tr := range m.free {
			for _, a := range tr.Items() {
				fmt.Fprintf(&b, "free %s/%s %s %p\n", k.queue, k.class, a.Username, a)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(m.offers)) {
			fmt.Fprintf(&b, "offer %s %+v\n", id, *m.offers[id])
		}
		for k, c := range m.callers {
			fmt.Fprintf(&b, "caller %s/%s %s\n", k.queue, k.identity, c.ID)
		}
		for _, id := range slices.Sorted(maps.Keys(m.timers)) {
			fmt.Fprintf(&b, "timer %s %p\n", id, m.timers[id])
		}
		lines := strings.Split(b.String(), "\n")
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	before := state()
	boom := errors.New("boom")
	_, err := f.r.write(func(w *writer) error {
		if err := w.acceptTxn("a", offerEvent(f.sink.events, first.ID).OfferID); err != nil {
			return err
		}
		if _, err := w.enqueueTxn(EnqueueRequest{Channel: ChannelVoice, Queue: "q", Caller: Caller{ID: "third"}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("the failing call: %v; want boom", err)
	}
	if after := state(); after != before {
		t.Errorf("the failed call left a trace in the matching state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	checkInvariants(t, f.r, map[string]bool{"ct1": true, "ct2": true})
	// The router goes on: b comes online and takes the waiting contact.
	f.online("b")
	if got := f.offeredTo("ct2"); got != "b" {
		t.Errorf("after the failed call ct2 was offered to %q; want b", got)
	}
	checkInvariants(t, f.r, map[string]bool{"ct1": true, "ct2": true})
}
