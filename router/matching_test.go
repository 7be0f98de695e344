package router

import "testing"

// Each call that changes a case writes its row to memdb once, however many
// times it changed it (a leg, the agents, a timeline entry).
func TestACallWritesItsCaseOnce(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q")}, []AgentProfile{agent("a", "q")})
	f.online("a")
	writes := func(call func()) uint64 {
		f.r.mu.Lock()
		before := f.r.caseWrites
		f.r.mu.Unlock()
		call()
		f.r.mu.Lock()
		defer f.r.mu.Unlock()
		return f.r.caseWrites - before
	}
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
