package stats

import (
	"math"
	"strconv"
	"testing"
	"time"

	"tellonce/router"
)

func TestErlangCTable(t *testing.T) {
	// Probability of waiting from the Erlang C formula, to six places
	// (computed independently, with exact rational arithmetic).
	tests := []struct {
		n    int
		a    float64
		want float64
	}{
		{1, 0.5, 0.5},
		{2, 1, 0.333333},
		{3, 2.5, 0.702247},
		{5, 3, 0.236152},
		{10, 8, 0.409180},
		{11, 10, 0.682118},
		{20, 15, 0.160429},
		{50, 45, 0.363864},
		{100, 90, 0.216940},
		{1000, 950, 0.068253}, // past where A^n/n! overflows a float64
		{5, 0, 0},
		{5, 5, 1}, // overloaded: everyone waits
		{5, 7, 1},
		{0, 1, 1},
	}
	for _, tt := range tests {
		if got := ErlangC(tt.n, tt.a); math.Abs(got-tt.want) > 5e-7 {
			t.Errorf("ErlangC(%d, %g) = %.6f; want %.6f", tt.n, tt.a, got, tt.want)
		}
	}
	// The mean wait: 10 agents, 8 erlangs, 3-minute calls: 0.40918 × 180 s / 2.
	if got, want := ErlangCWait(10, 8, 3*time.Minute), 36826*time.Millisecond; (got - want).Abs() > time.Millisecond {
		t.Errorf("ErlangCWait(10, 8, 3m) = %v; want %v", got, want)
	}
	if got := ErlangCWait(5, 5, time.Minute); got != time.Duration(math.MaxInt64) {
		t.Errorf("ErlangCWait(5, 5, 1m) = %v; want the maximum (overloaded)", got)
	}
	// Fractional servers lie between their whole neighbours.
	p, w := erlangCFrac(10.5, 8, 180)
	if lo, hi := ErlangC(11, 8), ErlangC(10, 8); p < lo || p > hi {
		t.Errorf("erlangCFrac(10.5, 8) p = %.4f; want between %.4f and %.4f", p, lo, hi)
	}
	if lo, hi := ErlangCWait(11, 8, 180*time.Second).Seconds(), ErlangCWait(10, 8, 180*time.Second).Seconds(); w < lo || w > hi {
		t.Errorf("erlangCFrac(10.5, 8) wait = %.1fs; want between %.1f and %.1f", w, lo, hi)
	}
}

func TestLightThresholds(t *testing.T) {
	sla := 20 * time.Second
	tests := []struct {
		estimate time.Duration
		staffed  bool
		want     string
	}{
		{0, true, LightGreen},
		{20 * time.Second, true, LightGreen}, // within means ≤
		{20*time.Second + time.Millisecond, true, LightYellow},
		{60 * time.Second, true, LightYellow}, // up to three times
		{61 * time.Second, true, LightRed},
		{0, false, LightRed}, // nobody staffed
	}
	for _, tt := range tests {
		if got := LightFor(tt.estimate, sla, tt.staffed); got != tt.want {
			t.Errorf("LightFor(%v, %v, staffed %v) = %s; want %s", tt.estimate, sla, tt.staffed, got, tt.want)
		}
	}
	for light, want := range map[string]string{LightGreen: "원활", LightYellow: "지연", LightRed: "혼잡"} {
		if got := Label(light); got != want {
			t.Errorf("Label(%s) = %s; want %s", light, got, want)
		}
	}
}

func TestPositionWait(t *testing.T) {
	// Without abandonment: k·h/n, the position-conditional Erlang C wait.
	for k := 1; k <= 50; k++ {
		if got, want := positionWait(k, 4, 120, 0), float64(k)*30; math.Abs(got-want) > 1e-9 {
			t.Fatalf("positionWait(%d, 4, 120, 0) = %g; want %g", k, got, want)
		}
	}
	// With abandonment: strictly increasing in k, below the no-abandonment
	// line, and the midpoint tail agrees with the plain sum.
	prev := 0.0
	for _, k := range []int{1, 2, 5, 10, 100, 127, 128, 129, 500, 5000} {
		got := positionWait(k, 4, 120, 1.0/300)
		if got <= prev {
			t.Errorf("positionWait(%d) = %g; not above the previous position's %g", k, got, prev)
		}
		if got > float64(k)*30 {
			t.Errorf("positionWait(%d) = %g; above the no-abandonment wait %g", k, got, float64(k)*30)
		}
		exact := 0.0
		for m := range k {
			exact += 1 / (4.0/120 + float64(m)/300)
		}
		if math.Abs(got-exact) > 1e-3*exact {
			t.Errorf("positionWait(%d) = %g; the exact sum is %g", k, got, exact)
		}
		prev = got
	}
}

func TestEstimateFromTheRouter(t *testing.T) {
	d := newDesk(t, nil, nil)
	d.queue(queueCfg(general, 20, func(q *router.QueueConfig) { q.Channels = []router.Channel{router.ChannelVoice} }))
	d.agent(agentIn("a1", general))
	d.agent(agentIn("a2", general))

	check := func(step, queue string, position, wantSecs int, wantLight string) {
		t.Helper()
		d.clock.Advance(time.Second)
		if secs, light := d.st.Estimate(queue, position); secs != wantSecs || light != wantLight {
			t.Errorf("%s: Estimate(%s, %d) = %d, %s; want %d, %s", step, queue, position, secs, light, wantSecs, wantLight)
		}
	}
	check("nobody staffed", general, 1, 3600, LightRed)
	if q := byQueue(d.st.Queues())[general]; q.EstimatedWaitS != nil || q.Light != LightRed || q.Label != "혼잡" {
		t.Errorf("nobody staffed: estimated_wait_s %s, light %s %s; want null, red 혼잡", numi(q.EstimatedWaitS), q.Light, q.Label)
	}
	d.online("a1", "a2")
	check("free agents, empty line", general, 0, 0, LightGreen)
	if q := byQueue(d.st.Queues())[general]; numi(q.EstimatedWaitS) != "0" {
		t.Errorf("free agents: estimated_wait_s %s; want 0", numi(q.EstimatedWaitS))
	}
	// Both busy, five waiting. No contact has ended yet, so the handle
	// time is the 3-minute prior: each position is 180 s / 2 agents.
	for i := range 7 {
		c := d.enqueue(general, "c"+strconv.Itoa(i), router.ChannelVoice)
		if i < 2 {
			d.accept(c)
		}
	}
	prev := -1
	for k := 1; k <= 5; k++ {
		d.clock.Advance(time.Second)
		secs, light := d.st.Estimate(general, k)
		if secs != 90*k || light != LightRed {
			t.Errorf("Estimate(%d) = %d, %s; want %d, red", k, secs, light, 90*k)
		}
		if secs <= prev {
			t.Errorf("Estimate(%d) = %d is not above position %d's %d", k, secs, k-1, prev)
		}
		prev = secs
	}
	q := byQueue(d.st.Queues())[general]
	if numi(q.EstimatedWaitS) != "540" || q.Model.Staffed != 2 || q.Model.Servers != 2 {
		t.Errorf("queue estimate %s with %d staffed, %.1f servers; want 540 (position 6), 2, 2",
			numi(q.EstimatedWaitS), q.Model.Staffed, q.Model.Servers)
	}
	check("an offered or assigned contact", general, 0, 0, LightRed)
	check("an unknown queue", "gov110.nowhere", 3, 0, LightGreen)
}

func TestEstimateCountsChatSlots(t *testing.T) {
	d := newDesk(t, nil, nil)
	chatOnly := func(q *router.QueueConfig) { q.Channels = []router.Channel{router.ChannelChat} }
	d.queue(queueCfg(general, 20, chatOnly))
	p := agentIn("a1", general)
	p.MaxChats = 3
	d.agent(p)
	d.online("a1")
	for i := range 5 { // three chats with a1, two waiting
		c := d.enqueue(general, "c"+strconv.Itoa(i), router.ChannelChat)
		if i < 3 {
			d.accept(c)
		}
	}
	d.clock.Advance(time.Second)
	if secs, _ := d.st.Estimate(general, 2); secs != 120 { // 2 × 180 s / 3 slots
		t.Errorf("Estimate(chat, 2) with 3 chat slots = %d; want 120", secs)
	}
}

func TestErlangCServiceLevel(t *testing.T) {
	tests := []struct {
		n               int
		a               float64
		service, within time.Duration
		want            float64
	}{
		// 100 calls in half an hour at 3 minutes: 10 erlangs.
		{11, 10, 3 * time.Minute, 20 * time.Second, 0.3896138117291533},
		{14, 10, 3 * time.Minute, 20 * time.Second, 0.8883500191794669},
		{14, 10, 3 * time.Minute, 0, 1 - 0.17413193359504983}, // answered at once
		{10, 10, 3 * time.Minute, 20 * time.Second, 0},        // overloaded
		{10, 12, 3 * time.Minute, 20 * time.Second, 0},
	}
	for _, tt := range tests {
		got := ErlangCServiceLevel(tt.n, tt.a, tt.service, tt.within)
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ErlangCServiceLevel(%d, %g, %s, %s) = %.12f; want %.12f", tt.n, tt.a,
				tt.service, tt.within, got, tt.want)
		}
	}
	// More agents never predict a lower level.
	prev := 0.0
	for n := 1; n <= 40; n++ {
		sl := ErlangCServiceLevel(n, 20, time.Minute, 15*time.Second)
		if sl < prev || sl > 1 {
			t.Fatalf("ErlangCServiceLevel(%d agents) = %g after %g; want non-decreasing in [0, 1]", n, sl, prev)
		}
		prev = sl
	}
}
