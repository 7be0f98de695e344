package agents

import (
	"testing"
	"time"

	"tellonce/clocktest"
	"tellonce/router"
)

// A waiting chat whose citizen's page went away keeps its place for
// ChatAbsent, then leaves the line as "absent"; a citizen who comes back
// in time keeps it; one an agent holds is the agent's.
func TestAbsentChatLeavesTheLine(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ChatAbsent = time.Minute })
	gone := func(cit *client) {
		t.Helper()
		_ = cit.ws.Close()
		<-cit.done
	}
	hubSays := func(what string, cond func() bool) {
		t.Helper()
		clocktest.Eventually(t, what, waitFor, func() bool {
			e.hub.mu.Lock()
			defer e.hub.mu.Unlock()
			return cond()
		})
	}
	t0 := time.Now()

	// Gone for good: out of the line once the minute has passed.
	left := e.enqueue(router.EnqueueRequest{Caller: caller("absent-1")})
	gone(e.dial("/citizen/" + left.ID))
	hubSays("absence noted", func() bool { _, ok := e.hub.absent[left.ID]; return ok })
	e.hub.expireAbsent(t0.Add(30 * time.Second))
	if c, _ := e.r.Peek(left.ID); c.Status != router.StatusQueued {
		t.Fatalf("after 30 s away the chat is %s; want still queued", c.Status)
	}
	e.hub.expireAbsent(time.Now().Add(2 * time.Minute))
	if c, err := e.r.Peek(left.ID); err == nil && c.Status != router.StatusEnded {
		t.Errorf("after the absence limit the chat is %s; want it out of the line", c.Status)
	}
	if _, err := e.r.Case(left.CaseID); err == nil {
		t.Error("the absent citizen's case is still open")
	}

	// Back in time: the place is kept.
	back := e.enqueue(router.EnqueueRequest{Caller: caller("absent-2")})
	gone(e.dial("/citizen/" + back.ID))
	hubSays("absence noted", func() bool { _, ok := e.hub.absent[back.ID]; return ok })
	again := e.dial("/citizen/" + back.ID)
	again.expectNext("queued")
	hubSays("absence forgotten", func() bool { _, ok := e.hub.absent[back.ID]; return !ok })
	e.hub.expireAbsent(time.Now().Add(time.Hour))
	if c, _ := e.r.Peek(back.ID); c.Status != router.StatusQueued {
		t.Errorf("a citizen who came back is %s; want still queued", c.Status)
	}
}
