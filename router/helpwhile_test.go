package router

import (
	"fmt"
	"testing"
)

// helpFixture: a surging queue overflowing at once into home, whose agents
// h1, h2 and h3 keep minIdle of them free before they help.
func helpFixture(t *testing.T, policy OverflowPolicy, minIdle int) *fixture {
	surge := queue("surge", func(q *QueueConfig) { q.Overflow = []OverflowRule{{After: 0, To: "home"}} })
	home := queue("home", func(q *QueueConfig) { q.OverflowPolicy, q.HelpWhile.MinIdle = policy, minIdle })
	return newFixture(t, []QueueConfig{surge, home},
		[]AgentProfile{agent("h1", "home"), agent("h2", "home"), agent("h3", "home")})
}

// An agency at its reserve does not take a surging agency's caller; one
// agent more free and it does, keeping the reserve free.
func TestHelpWhileReserve(t *testing.T) {
	for _, policy := range []OverflowPolicy{OverflowOwnFirst, OverflowOldestFirst} {
		t.Run(string(policy), func(t *testing.T) {
			f := helpFixture(t, policy, 1)
			f.online("h1")
			c1 := f.enqueue("surge", "s1")
			if got := f.offeredTo(c1.ID); got != "" {
				t.Fatalf("at the reserve (1 free, reserve 1) the surging caller went to %q; want nobody", got)
			}
			f.online("h2") // 2 free: above the reserve
			if got := f.offeredTo(c1.ID); got != "h1" {
				t.Fatalf("above the reserve the surging caller went to %q; want h1 (longest idle)", got)
			}
			f.accept(c1.ID)
			c2 := f.enqueue("surge", "s2")
			if got := f.offeredTo(c2.ID); got != "" {
				t.Fatalf("back at the reserve the second caller went to %q; want nobody", got)
			}
			own := f.enqueue("home", "local")
			if got := f.offeredTo(own.ID); got != "h2" {
				t.Fatalf("the home caller went to %q; want h2: the reserve is for them", got)
			}
			f.accept(own.ID)
			// h1 ends the surging call: 1 free again, still at the reserve.
			_, err := f.r.End("h1", c1.ID, "resolved", "")
			f.must(err)
			if got := f.offeredTo(c2.ID); got != "" {
				t.Fatalf("with 1 free the second caller went to %q; want nobody", got)
			}
			// h2 ends too: 2 free, and the waiting caller is taken at once.
			_, err = f.r.End("h2", own.ID, "resolved", "")
			f.must(err)
			if got := f.offeredTo(c2.ID); got == "" {
				t.Fatalf("above the reserve again the second caller still waits")
			}
		})
	}
}

// Without a reserve the same agency helps with its last free agent.
func TestHelpWhileNoReserve(t *testing.T) {
	f := helpFixture(t, OverflowOwnFirst, 0)
	f.online("h1")
	c := f.enqueue("surge", "s1")
	if got := f.offeredTo(c.ID); got != "h1" {
		t.Fatalf("without a reserve the surging caller went to %q; want h1", got)
	}
}

// When an agent frees and lifts the queue above its reserve but cannot take
// the overflowed caller themselves, another free agent who can gets it.
func TestHelpWhileRecheckOnFree(t *testing.T) {
	surge := queue("surge", func(q *QueueConfig) {
		q.Overflow = []OverflowRule{{After: 0, To: "home"}}
		q.RequiredSkills = map[string]int{"lang:en": 1}
	})
	home := queue("home", func(q *QueueConfig) { q.HelpWhile.MinIdle = 1 })
	speaker := agent("en", "home")
	speaker.Skills["lang:en"] = 1
	f := newFixture(t, []QueueConfig{surge, home}, []AgentProfile{agent("ko", "home"), speaker})
	f.online("ko", "en")
	busy := f.enqueue("home", "local")
	if got := f.offeredTo(busy.ID); got != "ko" {
		t.Fatalf("home caller went to %q; want ko", got)
	}
	f.accept(busy.ID)
	c := f.enqueue("surge", "s1")
	if got := f.offeredTo(c.ID); got != "" {
		t.Fatalf("at the reserve the caller went to %q; want nobody", got)
	}
	_, err := f.r.End("ko", busy.ID, "resolved", "")
	f.must(err)
	if got := f.offeredTo(c.ID); got != "en" {
		t.Fatalf("after ko freed the caller went to %q; want en", got)
	}
}

// Lowering the reserve re-places the callers it held back.
func TestHelpWhileLoweredReserve(t *testing.T) {
	f := helpFixture(t, OverflowOwnFirst, 2)
	f.online("h1", "h2")
	c := f.enqueue("surge", "s1")
	if got := f.offeredTo(c.ID); got != "" {
		t.Fatalf("at the reserve the caller went to %q; want nobody", got)
	}
	home := queue("home", func(q *QueueConfig) { q.HelpWhile.MinIdle = 1 })
	_, err := f.r.UpsertQueue(home)
	f.must(err)
	if got := f.offeredTo(c.ID); got != "h1" {
		t.Fatalf("after the reserve fell to 1 the caller went to %q; want h1", got)
	}
}

// The reserve counts the agents free for the contact's channel: an agent on
// a call is not free for another call.
func TestHelpWhileCountsTheChannel(t *testing.T) {
	f := helpFixture(t, OverflowOwnFirst, 1)
	f.online("h1", "h2")
	own := f.enqueue("home", "local")
	f.accept(own.ID)
	c := f.enqueue("surge", "s1")
	if got := f.offeredTo(c.ID); got != "" {
		t.Fatalf("with one free agent the caller went to %q; want nobody", got)
	}
	f.online("h3")
	if got := f.offeredTo(c.ID); got == "" {
		t.Fatalf("with two free agents the caller still waits")
	}
}

func TestHelpWhileValidation(t *testing.T) {
	f := newFixture(t, nil, nil)
	for _, n := range []int{-1, 10001} {
		_, err := f.r.UpsertQueue(queue("q", func(q *QueueConfig) { q.HelpWhile.MinIdle = n }))
		wantErr(t, fmt.Sprint("min_idle ", n), err, ErrInvalid)
	}
	_, err := f.r.UpsertQueue(queue("q", func(q *QueueConfig) { q.HelpWhile.MinIdle = 3 }))
	f.must(err)
}
