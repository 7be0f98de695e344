package router

import (
	"testing"
	"time"
)

func TestEligibility(t *testing.T) {
	tests := []struct {
		name    string
		queue   QueueConfig
		agent   func(*AgentProfile)
		prep    func(f *fixture) // runs after the agent is online
		request func(*EnqueueRequest)
		want    bool
	}{
		{name: "member with no requirements", queue: queue("q"), want: true},
		{name: "not a member", queue: queue("q"), agent: func(p *AgentProfile) { p.Queues = map[string]int{"other": 1} }},
		{name: "queue skill missing", queue: queue("q", func(q *QueueConfig) { q.RequiredSkills = map[string]int{"topic:tax": 3} })},
		{name: "queue skill too low", queue: queue("q", func(q *QueueConfig) { q.RequiredSkills = map[string]int{"topic:tax": 3} }),
			agent: func(p *AgentProfile) { p.Skills["topic:tax"] = 2 }},
		{name: "queue skill at level", queue: queue("q", func(q *QueueConfig) { q.RequiredSkills = map[string]int{"topic:tax": 3} }),
			agent: func(p *AgentProfile) { p.Skills["topic:tax"] = 3 }, want: true},
		{name: "caller language is required", queue: queue("q"),
			request: func(r *EnqueueRequest) { r.Caller.Language = "en" }},
		{name: "caller language spoken", queue: queue("q"), agent: func(p *AgentProfile) { p.Skills["lang:en"] = 2 },
			request: func(r *EnqueueRequest) { r.Caller.Language = "en" }, want: true},
		{name: "contact skill", queue: queue("q"), request: func(r *EnqueueRequest) { r.Skills = map[string]int{"sign": 1} }},
		{name: "on break", queue: queue("q"), prep: func(f *fixture) { _, err := f.r.SetState("a", StateBreak, "lunch"); f.must(err) }},
		{name: "disconnected", queue: queue("q"), prep: func(f *fixture) { _, err := f.r.Disconnect("a"); f.must(err) }},
		{name: "voice busy blocks chat", queue: queue("q"), prep: func(f *fixture) { f.enqueue("q", "first") },
			request: chat},
		{name: "chat blocks voice", queue: queue("q"), prep: func(f *fixture) { f.enqueue("q", "first", chat) }},
		{name: "second chat within max", queue: queue("q"), agent: func(p *AgentProfile) { p.MaxChats = 2 },
			prep: func(f *fixture) { f.enqueue("q", "first", chat) }, request: chat, want: true},
		{name: "chat beyond max", queue: queue("q"), agent: func(p *AgentProfile) { p.MaxChats = 2 },
			prep: func(f *fixture) { f.enqueue("q", "first", chat); f.enqueue("q", "second", chat) }, request: chat},
		{name: "callback counts like voice", queue: queue("q"), prep: func(f *fixture) { f.enqueue("q", "first", chat) },
			request: func(r *EnqueueRequest) { r.Channel, r.CallbackNumber = ChannelCallback, "0212345678" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := agent("a", "q")
			if tt.agent != nil {
				tt.agent(&p)
			}
			f := newFixture(t, []QueueConfig{tt.queue}, []AgentProfile{p})
			f.online("a")
			if tt.prep != nil {
				tt.prep(f)
			}
			var mods []func(*EnqueueRequest)
			if tt.request != nil {
				mods = append(mods, tt.request)
			}
			c := f.enqueue("q", "caller", mods...)
			if got := f.offeredTo(c.ID) == "a"; got != tt.want {
				t.Errorf("offered to a = %v; want %v (contact %+v)", got, tt.want, f.contact(c.ID))
			}
		})
	}
}

func TestStrategies(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		agents   []AgentProfile
		prep     func(f *fixture)
		want     []string // who gets each successive chat contact
	}{
		{name: "longest idle", strategy: StrategyLongestIdle,
			agents: []AgentProfile{agent("a", "q"), agent("b", "q"), agent("c", "q")},
			want:   []string{"a", "b", "c"}},
		{name: "round robin rotates", strategy: StrategyRoundRobin,
			agents: []AgentProfile{chats(agent("b", "q"), 5), chats(agent("a", "q"), 5), chats(agent("c", "q"), 5)},
			want:   []string{"a", "b", "c", "a", "b"}},
		{name: "fewest contacts", strategy: StrategyFewestContacts,
			agents: []AgentProfile{chats(agent("a", "q"), 5), chats(agent("b", "q"), 5)},
			prep: func(f *fixture) {
				// a already holds two chats in another queue.
				for _, caller := range []string{"x1", "x2"} {
					c := f.enqueue("other", caller, chat)
					f.accept(c.ID)
				}
			},
			want: []string{"b", "b", "a", "b"}},
		{name: "best skill", strategy: StrategyBestSkill,
			agents: []AgentProfile{skill(agent("a", "q"), 2), skill(agent("b", "q"), 5), skill(agent("c", "q"), 3)},
			want:   []string{"b", "c", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := queue("q", func(q *QueueConfig) {
				q.Strategy = tt.strategy
				if tt.strategy == StrategyBestSkill {
					q.RequiredSkills = map[string]int{"topic:tax": 1}
				}
			})
			agents := tt.agents
			if tt.name == "fewest contacts" {
				agents[0].Queues["other"] = 1
			}
			f := newFixture(t, []QueueConfig{q, queue("other")}, agents)
			for _, a := range agents {
				f.online(a.Username)
			}
			if tt.prep != nil {
				tt.prep(f)
			}
			for i, want := range tt.want {
				c := f.enqueue("q", "caller"+string(rune('0'+i)), chat)
				got := f.offeredTo(c.ID)
				if got != want {
					t.Fatalf("contact %d offered to %q; want %q", i, got, want)
				}
				f.accept(c.ID)
			}
		})
	}
}

func chats(p AgentProfile, n int) AgentProfile { p.MaxChats = n; return p }

func skill(p AgentProfile, lvl int) AgentProfile { p.Skills["topic:tax"] = lvl; return p }

func TestBestSkillWidening(t *testing.T) {
	q := queue("q", func(q *QueueConfig) {
		q.Strategy, q.WidenAfter = StrategyBestSkill, 30*time.Second
		q.RequiredSkills = map[string]int{"topic:tax": 1}
	})
	f := newFixture(t, []QueueConfig{q}, []AgentProfile{skill(agent("expert", "q"), 5), skill(agent("novice", "q"), 1)})
	f.online("expert", "novice")
	busy := f.enqueue("q", "first")
	if got := f.offeredTo(busy.ID); got != "expert" {
		t.Fatalf("first contact offered to %q; want expert", got)
	}
	f.accept(busy.ID)
	c := f.enqueue("q", "second")
	if got := f.offeredTo(c.ID); got != "" {
		t.Fatalf("before widening offered to %q; want nobody (the expert is busy)", got)
	}
	f.advance(29 * time.Second)
	if got := f.offeredTo(c.ID); got != "" {
		t.Fatalf("at 29s offered to %q; want nobody", got)
	}
	f.advance(time.Second)
	if got := f.offeredTo(c.ID); got != "novice" {
		t.Fatalf("after widening offered to %q; want novice", got)
	}
}

func TestAgentGetsBestContactAcrossQueues(t *testing.T) {
	tests := []struct {
		name string
		// contacts in enqueue order: queue, priority
		contacts []struct {
			q    string
			prio int
		}
		want int // index of the contact the agent gets
	}{
		{name: "older case wins across queues", contacts: []struct {
			q    string
			prio int
		}{{"q2", 0}, {"q1", 0}}, want: 0},
		{name: "higher priority wins over age", contacts: []struct {
			q    string
			prio int
		}{{"q1", 0}, {"q2", 5}}, want: 1},
		{name: "queue looked at first does not matter", contacts: []struct {
			q    string
			prio int
		}{{"q1", 0}, {"q2", 0}}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, []QueueConfig{queue("q1"), queue("q2")}, []AgentProfile{agent("x", "q1", "q2")})
			var ids []string
			for i, c := range tt.contacts {
				prio := c.prio
				v := f.enqueue(c.q, "caller"+string(rune('a'+i)), func(r *EnqueueRequest) { r.Priority = prio })
				ids = append(ids, v.ID)
			}
			f.online("x")
			for i, id := range ids {
				got := f.offeredTo(id) == "x"
				if got != (i == tt.want) {
					t.Errorf("contact %d offered to x = %v; want %v", i, got, i == tt.want)
				}
			}
		})
	}
}

// An agent coming online picks up what waits in their second queue.
func TestAgentComingOnlineTakesWaitingContact(t *testing.T) {
	f := newFixture(t, []QueueConfig{queue("q1"), queue("q2")},
		[]AgentProfile{agent("x", "q1", "q2"), agent("y", "q2")})
	old := f.enqueue("q2", "old")
	f.online("x")
	if got := f.offeredTo(old.ID); got != "x" {
		t.Fatalf("old offered to %q; want x", got)
	}
}

func TestOverflowPolicies(t *testing.T) {
	tests := []struct {
		policy OverflowPolicy
		want   string // which contact y gets: "overflowed" or "own"
	}{
		{OverflowOwnFirst, "own"},
		{OverflowOldestFirst, "overflowed"},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			busy := queue("busy", func(q *QueueConfig) {
				q.Overflow = []OverflowRule{{After: 60 * time.Second, To: "general"}}
			})
			general := queue("general", func(q *QueueConfig) { q.OverflowPolicy = tt.policy })
			f := newFixture(t, []QueueConfig{busy, general}, []AgentProfile{agent("y", "general")})
			f.online("y")
			_, err := f.r.SetState("y", StateBreak, "")
			f.must(err)
			over := f.enqueue("busy", "surge")
			f.advance(30 * time.Second)
			own := f.enqueue("general", "local")
			f.advance(31 * time.Second) // the overflow rule fires while y is on break
			f.online("y")
			want := map[string]string{"own": own.ID, "overflowed": over.ID}[tt.want]
			other := map[string]string{"own": over.ID, "overflowed": own.ID}[tt.want]
			if got := f.offeredTo(want); got != "y" {
				t.Errorf("%s contact offered to %q; want y", tt.want, got)
			}
			if got := f.offeredTo(other); got != "" {
				t.Errorf("other contact offered to %q; want nobody", got)
			}
		})
	}
}

func TestOverflowedContactTakenWhenNoOwnWork(t *testing.T) {
	busy := queue("busy", func(q *QueueConfig) { q.Overflow = []OverflowRule{{After: time.Minute, To: "general"}} })
	f := newFixture(t, []QueueConfig{busy, queue("general")}, []AgentProfile{agent("y", "general")})
	f.online("y")
	c := f.enqueue("busy", "surge")
	f.advance(59 * time.Second)
	if got := f.offeredTo(c.ID); got != "" {
		t.Fatalf("at 59s offered to %q; want nobody", got)
	}
	f.advance(time.Second)
	if got := f.offeredTo(c.ID); got != "y" {
		t.Fatalf("after overflow offered to %q; want y", got)
	}
}

// An overflow rule with no delay pools the queues from the first second.
func TestOverflowWithoutDelay(t *testing.T) {
	src := queue("src", func(q *QueueConfig) { q.Overflow = []OverflowRule{{After: 0, To: "pool"}} })
	f := newFixture(t, []QueueConfig{src, queue("pool")}, []AgentProfile{agent("p", "pool")})
	f.online("p")
	c := f.enqueue("src", "c1")
	if got := f.offeredTo(c.ID); got != "p" {
		t.Errorf("contact offered to %q; want the pool's agent at once", got)
	}
	bad := queue("bad", func(q *QueueConfig) { q.Overflow = []OverflowRule{{After: -time.Second, To: "pool"}} })
	_, err := f.r.UpsertQueue(bad)
	wantErr(t, "a negative overflow delay", err, ErrInvalid)
}
