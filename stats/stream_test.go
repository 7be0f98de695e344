package stats

import (
	"encoding/json"
	"testing"
	"time"

	"tellonce/router"
)

// recv takes what is waiting for a watcher without blocking: Tick sends
// synchronously, so everything sent is there.
func recv(w *Watcher) (updates []Update, closed bool) {
	for {
		select {
		case u, ok := <-w.C:
			if !ok {
				return updates, true
			}
			updates = append(updates, u)
		default:
			return updates, false
		}
	}
}

func TestStreamSharesOneComputation(t *testing.T) {
	d := newDesk(t, nil, nil)
	d.queue(queueCfg(general, 20))
	d.queue(queueCfg(tax, 30))
	var ws []*Watcher
	for range 500 {
		ws = append(ws, d.st.Subscribe("gov110"))
	}
	admin := d.st.Subscribe("")
	before := d.st.Computations()
	for _, w := range append(ws, admin) {
		if u, _ := recv(w); len(u) != 1 {
			t.Fatalf("a new watcher has %d updates waiting; want the current figures", len(u))
		}
	}

	d.enqueue(general, "A", router.ChannelVoice)
	d.clock.Advance(time.Second)
	d.st.Tick()
	d.st.Tick()
	if n := d.st.Computations() - before; n != 1 {
		t.Errorf("two ticks for 501 watchers computed %d times; want 1", n)
	}
	var first []Update
	for i, w := range ws {
		u, _ := recv(w)
		if len(u) != 1 {
			t.Fatalf("watcher %d got %d updates; want 1", i, len(u))
		}
		if i == 0 {
			first = u
		} else if &u[0].Data[0] != &first[0].Data[0] {
			t.Fatalf("watcher %d got its own encoding; want the shared one", i)
		}
	}
	var msg struct {
		Queues []QueueStats `json:"queues"`
	}
	if err := json.Unmarshal(first[0].Data, &msg); err != nil || len(msg.Queues) != 1 || msg.Queues[0].Waiting != 1 {
		t.Errorf("gov110 update = %s (%v); want gov110.general only, 1 waiting", first[0].Data, err)
	}
	if u, _ := recv(admin); len(u) != 1 || json.Unmarshal(u[0].Data, &msg) != nil || len(msg.Queues) != 2 {
		t.Errorf("admin's update has %d queues; want 2", len(msg.Queues))
	}
}

func TestStreamHeartbeatAndSlowWatchers(t *testing.T) {
	d := newDesk(t, nil, nil, func(c *Config) { c.WatcherBuffer = 3 })
	d.queue(queueCfg(general, 20))
	slow, fast := d.st.Subscribe(""), d.st.Subscribe("")
	recv(fast)

	// Nothing changes: no update, and a heartbeat once 15 s have passed.
	for i := 1; i <= 15; i++ {
		d.clock.Advance(time.Second)
		d.st.Tick()
		u, _ := recv(fast)
		switch {
		case i < 15 && len(u) != 0:
			t.Fatalf("%d s without change: %d updates; want none", i, len(u))
		case i == 15 && (len(u) != 1 || u[0].Data != nil):
			t.Fatalf("15 s without change: %v; want one heartbeat", u)
		}
	}
	// A waiting contact changes the figures every second. The slow
	// watcher holds the first figures and the heartbeat, with room for
	// one more update: the next is one too many, and it is dropped; the
	// fast one is not.
	d.enqueue(general, "A", router.ChannelVoice)
	for i := 1; i <= 3; i++ {
		d.clock.Advance(time.Second)
		d.st.Tick()
		if u, closed := recv(fast); len(u) != 1 || closed {
			t.Fatalf("tick %d: the fast watcher got %d updates (closed %v); want 1", i, len(u), closed)
		}
	}
	updates, closed := recv(slow)
	if !closed || len(updates) != 3 || d.st.Dropped() != 1 || d.st.Watchers() != 1 {
		t.Errorf("slow watcher: %d updates, closed %v; dropped %d, %d watchers left; want 3, closed, 1 dropped, 1 left",
			len(updates), closed, d.st.Dropped(), d.st.Watchers())
	}

	fast.Close()
	if _, closed := recv(fast); !closed {
		t.Error("Close left the watcher's channel open")
	}
	d.st.CloseWatchers()
	if _, closed := recv(d.st.Subscribe("")); !closed {
		t.Error("a watcher after CloseWatchers is open; want closed at once")
	}
}

func TestAgentsStateAndTimeInState(t *testing.T) {
	d := newDesk(t, nil, nil)
	d.queue(queueCfg(general, 20))
	d.agent(agentIn("a1", general))
	d.agent(agentIn("a2", general))
	st := d.newStats() // knows both agents from the router, before any event
	d.st = st
	d.at("09:00:00")
	d.online("a1")
	d.at("09:00:30")
	c := d.enqueue(general, "A", router.ChannelVoice) // offered: busy, without an agent_state event
	d.at("09:00:40")
	d.accept(c)
	d.at("09:01:10")

	agents := byAgent(st.Agents())
	tests := []struct {
		name, state string
		since       string
		inState     int
	}{
		{"a1", "busy", "09:00:30", 40},
		{"a2", "offline", "09:00:00", 70},
	}
	for _, tt := range tests {
		a := agents[tt.name]
		since := a.StateSince.In(Seoul).Format("15:04:05")
		if a.State != tt.state || since != tt.since || a.TimeInStateS != tt.inState {
			t.Errorf("%s: %s since %s (%d s); want %s since %s (%d s)", tt.name, a.State, since, a.TimeInStateS,
				tt.state, tt.since, tt.inState)
		}
	}
	if a := agents["a1"]; a.Voice != 1 || !a.Connected || len(a.Queues) != 1 || a.Queues[0] != general {
		t.Errorf("a1 = %+v; want one voice contact, connected, in %s", a, general)
	}
}
