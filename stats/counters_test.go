package stats

import (
	"testing"
	"time"

	"tellonce/router"
)

const (
	general = "gov110.general" // SLA 20 s
	tax     = "nts126.tax"     // SLA 30 s
)

// script plays the day the counters are checked against, on a desk whose
// router has no contacts yet. Every wait, handle time and closing is
// chosen so that each definition of the package doc is met once:
//
//	c1  general  answered after 5 s (within), handled 60 s
//	c2  general  answered after 60 s (late), handled 30 s, cold transfer to tax
//	c2' tax      answered after 10 s, handled 100 s; case B waited 60+10 s
//	c3  general  abandoned after 5 s (before the threshold)
//	c4  general  answered after 2 s, handled 108 s, warm transfer to tax
//	c4' tax      answered after 10 s (while c4 talked), handled 60 s; case D waited 2 s
//	c5  general  abandoned after 40 s (after the threshold)
//	c6  general  offered to a1 at the end, not answered yet
func script(d *desk) {
	d.t.Helper()
	d.queue(queueCfg(general, 20))
	d.queue(queueCfg(tax, 30))
	d.agent(agentIn("a1", general))
	d.agent(agentIn("a2", tax))
	d.online("a1", "a2")

	c1 := d.enqueue(general, "A", router.ChannelVoice) // offered to a1
	d.at("09:00:05")
	d.accept(c1)
	d.at("09:00:10")
	c2 := d.enqueue(general, "B", router.ChannelVoice)
	d.at("09:00:40")
	c3 := d.enqueue(general, "C", router.ChannelChat)
	d.at("09:00:45")
	d.abandon(c3)
	d.at("09:01:05")
	d.end(c1) // c2 goes to a1
	d.at("09:01:10")
	d.accept(c2)
	d.at("09:01:40")
	c2b := d.transfer(c2, tax, router.TransferCold) // offered to a2
	d.at("09:01:50")
	d.accept(c2b)
	d.at("09:02:00")
	c4 := d.enqueue(general, "D", router.ChannelVoice)
	d.at("09:02:02")
	d.accept(c4)
	d.at("09:02:20")
	c5 := d.enqueue(general, "E", router.ChannelVoice)
	d.at("09:03:00")
	d.abandon(c5)
	d.at("09:03:30")
	d.end(c2b)
	d.at("09:03:40")
	c4b := d.transfer(c4, tax, router.TransferWarm) // offered to a2
	d.at("09:03:50")
	d.accept(c4b) // c4 ends transferred
	d.at("09:04:50")
	d.end(c4b)
	d.at("09:05:00")
	d.enqueue(general, "F", router.ChannelVoice) // a1 is free: offered
	d.at("09:05:10")
}

// wantToday is what script leaves in today's counters.
var wantToday = map[string]QueueToday{
	general: {
		Offered: 6, Answered: 3, AnsweredWithinThreshold: 2, Abandoned: 2, AbandonedBeforeThreshold: 1,
		Transferred: 2, TransferredOut: 2, Handled: 3,
		ASAS: ptr(22.3), AHTS: ptr(66.0), ServiceLevelPct: ptr(50.0), SLA: SLA{AnswerWithinS: 20, TargetPct: 80},
		CasesClosed: 3, CitizenWaitAvgS: ptr(16.7),
	},
	tax: {
		Offered: 2, Answered: 2, AnsweredWithinThreshold: 2, TransferredIn: 2, Handled: 2,
		ASAS: ptr(10.0), AHTS: ptr(80.0), ServiceLevelPct: ptr(100.0), SLA: SLA{AnswerWithinS: 30, TargetPct: 80},
		CasesClosed: 2, CitizenWaitAvgS: ptr(36.0), TransferredCases: 2, TransferredCitizenWaitAvgS: ptr(36.0),
	},
}

var wantAgents = map[string]AgentDay{
	"a1": {Handled: 3, AHTS: ptr(66.0)},
	"a2": {Handled: 2, AHTS: ptr(80.0)},
}

func TestCountersFromEvents(t *testing.T) {
	d := newDesk(t, nil, nil)
	script(d)
	queues, agents := d.read()
	checkToday(t, byQueue(queues), wantToday)
	checkAgentsToday(t, byAgent(agents), wantAgents)
}

func checkToday(t *testing.T, got map[string]QueueStats, want map[string]QueueToday) {
	t.Helper()
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("no statistics for queue %s", id)
			continue
		}
		if s, ws := todayString(g.Today), todayString(w); s != ws {
			t.Errorf("queue %s today =\n  %s\nwant\n  %s", id, s, ws)
		}
	}
}

func checkAgentsToday(t *testing.T, got map[string]AgentStats, want map[string]AgentDay) {
	t.Helper()
	for name, w := range want {
		g := got[name].Today
		if g.Handled != w.Handled || num(g.AHTS) != num(w.AHTS) {
			t.Errorf("agent %s today = {handled %d, aht %s}; want {handled %d, aht %s}",
				name, g.Handled, num(g.AHTS), w.Handled, num(w.AHTS))
		}
	}
}

func todayString(q QueueToday) string {
	return formatFields(
		"offered", q.Offered, "answered", q.Answered, "within", q.AnsweredWithinThreshold,
		"abandoned", q.Abandoned, "abandoned_before", q.AbandonedBeforeThreshold,
		"transferred", q.Transferred, "in", q.TransferredIn, "out", q.TransferredOut, "handled", q.Handled,
		"asa", num(q.ASAS), "aht", num(q.AHTS), "sl", num(q.ServiceLevelPct), "sla", q.SLA,
		"cases", q.CasesClosed, "case_wait", num(q.CitizenWaitAvgS),
		"transferred_cases", q.TransferredCases, "transferred_wait", num(q.TransferredCitizenWaitAvgS))
}

func TestCitizenWait(t *testing.T) {
	at := func(s int) time.Time { return day0.Add(time.Duration(s) * time.Second) }
	leg := func(enq, ans, end int, disp string) router.Leg {
		l := router.Leg{EnqueuedAt: at(enq), Disposition: disp}
		if ans >= 0 {
			l.AnsweredAt = at(ans)
		}
		if end >= 0 {
			l.EndedAt = at(end)
		}
		return l
	}
	tests := []struct {
		name string
		legs []router.Leg
		now  int
		want int
	}{
		{"answered", []router.Leg{leg(0, 30, 90, "completed")}, 100, 30},
		{"still waiting", []router.Leg{leg(0, -1, -1, "")}, 45, 45},
		{"abandoned", []router.Leg{leg(0, -1, 20, "abandoned")}, 100, 20},
		{"cold transfer adds the next wait", []router.Leg{leg(0, 10, 60, "transferred"), leg(60, 100, 200, "completed")}, 300, 50},
		{"cold transfer still waiting", []router.Leg{leg(0, 10, 60, "transferred"), leg(60, -1, -1, "")}, 75, 25},
		{"warm transfer waits with an agent", []router.Leg{leg(0, 5, 80, "transferred"), leg(50, 80, 120, "completed")}, 200, 5},
		{"failed warm transfer", []router.Leg{leg(0, 5, 200, "completed"), leg(50, -1, 110, "transfer_declined")}, 300, 5},
		{"re-queued after the agent was lost", []router.Leg{leg(0, 10, 70, "requeued"), leg(70, 85, -1, "")}, 100, 25},
		{"no legs", nil, 10, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CitizenWait(tt.legs, at(tt.now)); got != time.Duration(tt.want)*time.Second {
				t.Errorf("CitizenWait = %v; want %ds", got, tt.want)
			}
		})
	}
}

func TestDayRolloverAtMidnightSeoul(t *testing.T) {
	d := newDesk(t, nil, nil)
	d.queue(queueCfg(general, 20))
	d.agent(agentIn("a1", general))
	d.online("a1")
	late := time.Date(2026, 3, 2, 23, 59, 50, 0, Seoul)
	d.clock.Set(late)
	c1 := d.enqueue(general, "A", router.ChannelVoice)
	d.clock.Set(late.Add(2 * time.Second))
	d.accept(c1)
	d.clock.Set(late.Add(4 * time.Second))
	d.end(c1)
	c2 := d.enqueue(general, "B", router.ChannelVoice) // 23:59:54
	d.clock.Set(late.Add(6 * time.Second))
	c3 := d.enqueue(general, "C", router.ChannelVoice) // 23:59:56, waits behind c2

	tests := []struct {
		name string
		at   time.Time
		act  func()
		want QueueToday
	}{
		{"before midnight", late.Add(8 * time.Second), nil,
			QueueToday{Offered: 3, Answered: 1, AnsweredWithinThreshold: 1, Handled: 1, ASAS: ptr(2.0), AHTS: ptr(2.0),
				ServiceLevelPct: ptr(100.0), SLA: SLA{20, 80}, CasesClosed: 1, CitizenWaitAvgS: ptr(2.0)}},
		// 00:00:00 KST is 15:00 UTC: the new day starts empty, even with
		// no event to tell.
		{"at midnight", time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC), nil,
			QueueToday{SLA: SLA{20, 80}}},
		{"an answer after midnight counts on the new day", late.Add(13 * time.Second), func() { d.accept(c2) },
			QueueToday{Answered: 1, AnsweredWithinThreshold: 1, ASAS: ptr(9.0), ServiceLevelPct: ptr(100.0), SLA: SLA{20, 80}}},
		{"and so does an abandon", late.Add(20 * time.Second), func() { d.abandon(c3) },
			QueueToday{Answered: 1, AnsweredWithinThreshold: 1, Abandoned: 1, AbandonedBeforeThreshold: 1,
				ASAS: ptr(9.0), ServiceLevelPct: ptr(100.0), SLA: SLA{20, 80}, CasesClosed: 1, CitizenWaitAvgS: ptr(14.0)}},
	}
	for _, tt := range tests {
		d.clock.Set(tt.at)
		if tt.act != nil {
			tt.act()
		}
		d.clock.Advance(time.Second)
		got := byQueue(d.st.Queues())[general].Today
		if s, w := todayString(got), todayString(tt.want); s != w {
			t.Errorf("%s: today =\n  %s\nwant\n  %s", tt.name, s, w)
		}
	}
}

func TestDayInAnotherLocation(t *testing.T) {
	// With UTC days, 23:59:50 KST (14:59:50 UTC) and 00:00:10 KST are the
	// same day.
	d := newDesk(t, nil, nil, func(c *Config) { c.Location = time.UTC })
	d.queue(queueCfg(general, 20))
	d.clock.Set(time.Date(2026, 3, 2, 23, 59, 50, 0, Seoul))
	d.enqueue(general, "A", router.ChannelVoice)
	d.clock.Set(time.Date(2026, 3, 3, 0, 0, 10, 0, Seoul))
	d.enqueue(general, "B", router.ChannelVoice)
	if got := byQueue(d.st.Queues())[general].Today.Offered; got != 2 {
		t.Errorf("offered across KST midnight with UTC days = %d; want 2", got)
	}
}

func TestServiceLevelFollowsTheThreshold(t *testing.T) {
	// Waits are kept by the second, so a changed threshold re-reads the
	// whole day: 5 s, 15 s and 25 s answers, one 12 s abandon.
	d := newDesk(t, nil, nil)
	d.queue(queueCfg(general, 20))
	d.agent(agentIn("a1", general))
	for i, w := range []int{5, 15, 25} {
		d.at("09:00:00")
		d.clock.Advance(time.Duration(i) * time.Minute)
		c := d.enqueue(general, string(rune('A'+i)), router.ChannelVoice)
		d.clock.Advance(time.Duration(w) * time.Second)
		if i == 0 {
			d.online("a1")
		} else {
			d.do(d.r.SetState("a1", router.StateAvailable, ""))
		}
		d.accept(c)
		d.end(c)
		d.do(d.r.SetState("a1", router.StateBreak, ""))
	}
	d.at("09:10:00")
	c := d.enqueue(general, "Z", router.ChannelVoice)
	d.clock.Advance(12 * time.Second)
	d.abandon(c)

	tests := []struct {
		threshold int
		within    int
		early     int
		sl        float64
	}{
		{4, 0, 0, 0},          // 0 of 3 answered + 1 late abandon
		{5, 1, 0, 25},         // exactly at the threshold is within
		{12, 1, 1, 100.0 / 3}, // the 12 s abandon moves out of the denominator
		{20, 2, 1, 66.7},
		{25, 3, 1, 100},
	}
	for _, tt := range tests {
		d.queue(queueCfg(general, tt.threshold))
		d.clock.Advance(time.Second)
		got := byQueue(d.st.Queues())[general].Today
		if got.AnsweredWithinThreshold != tt.within || got.AbandonedBeforeThreshold != tt.early ||
			num(got.ServiceLevelPct) != num(ptr(round1(tt.sl))) {
			t.Errorf("threshold %ds: within %d, abandoned before %d, service level %s; want %d, %d, %.1f",
				tt.threshold, got.AnsweredWithinThreshold, got.AbandonedBeforeThreshold, num(got.ServiceLevelPct),
				tt.within, tt.early, tt.sl)
		}
	}
}
