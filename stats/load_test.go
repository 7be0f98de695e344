package stats

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"tellonce/router"
	"tellonce/sql/sqltest"
	"tellonce/transcripts"
)

// journalDesk is a desk whose router writes to a real case log on b, as
// the server's does, until the test ends.
func journalDesk(t *testing.T, b sqltest.Backend) *desk {
	t.Helper()
	j := transcripts.NewJournal(b.DB, transcripts.Options{Log: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return newDesk(t, j, j)
}

func TestLoadRebuildsToday(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := journalDesk(t, b)
		// Yesterday's contact must not count today.
		d.queue(queueCfg(general, 20))
		d.agent(agentIn("a0", general))
		d.clock.Set(day0.Add(-10 * time.Hour)) // 23:00 KST the day before
		d.online("a0")
		old := d.enqueue(general, "Y", router.ChannelVoice)
		d.accept(old)
		d.clock.Advance(time.Minute)
		d.end(old)
		d.do(d.r.SetState("a0", router.StateOffline, ""))
		d.clock.Set(day0)

		script(d)
		live, liveAgents := d.read()
		checkToday(t, byQueue(live), wantToday)

		// A restart: a new Stats on the same router reads the day back.
		st := d.newStats()
		if err := st.Load(context.Background(), b.DB); err != nil {
			t.Fatalf("Load: %v", err)
		}
		loaded, loadedAgents := st.Queues(), st.Agents()
		checkToday(t, byQueue(loaded), wantToday)
		checkAgentsToday(t, byAgent(loadedAgents), wantAgents)
		for i := range live {
			if a, b := todayString(live[i].Today), todayString(loaded[i].Today); a != b {
				t.Errorf("queue %s: live today\n  %s\nloaded\n  %s", live[i].Queue, a, b)
			}
		}
		if len(liveAgents) != len(loadedAgents) {
			t.Errorf("loaded %d agents; want %d", len(loadedAgents), len(liveAgents))
		}
		// The estimator learnt today's handle times again: from the 180 s
		// prior, 60, 30 and 108 s with weights 1/4, 1/5, 1/6 give 123 s.
		if got := byQueue(loaded)[general].Model.HandleS; got != 123 {
			t.Errorf("loaded handle time %.1fs; want 123.0s", got)
		}
	})
}

func TestLoadKeepsRequeuedLegs(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := journalDesk(t, b)
		d.queue(queueCfg(general, 20))
		d.agent(agentIn("a1", general))
		d.agent(agentIn("a2", general))
		d.online("a1")
		c := d.enqueue(general, "A", router.ChannelVoice)
		d.at("09:00:04")
		d.accept(c)
		// a1's console drops; after the grace the contact goes back to the
		// head of the line: a second leg, answered by a2 after 6 s.
		d.at("09:01:00")
		d.do(d.r.Disconnect("a1"))
		d.clock.Advance(router.DefaultReconnectGrace)
		d.do(d.r.Tick())
		d.clock.Advance(6 * time.Second)
		d.online("a2")
		d.accept(c)
		d.clock.Advance(30 * time.Second)
		d.end(c)

		want := map[string]QueueToday{general: {
			Offered: 2, Answered: 2, AnsweredWithinThreshold: 2, Handled: 1,
			ASAS: ptr(5.0), AHTS: ptr(30.0), ServiceLevelPct: ptr(100.0), SLA: SLA{20, 80},
			CasesClosed: 1, CitizenWaitAvgS: ptr(10.0),
		}}
		live, _ := d.read()
		checkToday(t, byQueue(live), want)
		st := d.newStats()
		if err := st.Load(context.Background(), b.DB); err != nil {
			t.Fatalf("Load: %v", err)
		}
		checkToday(t, byQueue(st.Queues()), want)
	})
}

// A new leader routes before its statistics are rebuilt: what Observe is
// given between Hold and Apply is counted after the day's log, once, and
// until Apply the day reads as empty rather than half counted.
func TestHeldEventsCountOnceAfterApply(t *testing.T) {
	sqltest.Each(t, func(t *testing.T, b sqltest.Backend) {
		d := journalDesk(t, b)
		d.queue(queueCfg(general, 20))
		d.agent(agentIn("a1", general))
		d.online("a1")
		first := d.enqueue(general, "A", router.ChannelVoice)
		d.accept(first)
		d.end(first)
		live := d.st

		// The takeover: the day is read, the journal goes on meanwhile.
		st := d.newStats()
		today, err := st.ReadToday(context.Background(), b.DB)
		if err != nil {
			t.Fatal(err)
		}
		st.Hold()
		d.st = st
		for _, caller := range []string{"B", "C"} {
			_, evs, err := d.r.Enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Queue: general,
				Caller: router.Caller{ID: caller, Name: "Caller " + caller}})
			d.do(evs, err)
			live.Observe(evs)
		}
		before, _ := d.read()
		if q := byQueue(before)[general]; q.Today.Offered != 0 || q.Today.Handled != 0 {
			t.Errorf("before Apply the day reads %s; want it empty", todayString(q.Today))
		}

		if err := st.Apply(today); err != nil {
			t.Fatal(err)
		}
		d.clock.Advance(time.Second)
		want, got := byQueue(live.Queues())[general], byQueue(st.Queues())[general]
		if todayString(got.Today) != todayString(want.Today) || got.Today.Offered != 3 {
			t.Errorf("after Apply\n  %s\nwant, as counted live,\n  %s", todayString(got.Today), todayString(want.Today))
		}
	})
}
