package simulation

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// quick is a short question for tests that compare runs with each other:
// 4.2 erlangs, two-minute calls so the warm-up is the one-hour minimum,
// about 240 calls a level.
func quick(agents int) Config {
	c := DefaultConfig(agents)
	c.ArrivalsPerHour, c.Handle, c.Wrapup, c.Patience, c.SLA, c.Hours = 120, 2*time.Minute, 5*time.Second, 2*time.Minute, 20*time.Second, 1
	return c
}

func run(t *testing.T, cfg Config) Report {
	t.Helper()
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Run(%+v): %v", cfg, err)
	}
	if len(rep.Levels) != cfg.Levels() {
		t.Fatalf("Run(%+v) gave %d levels; want %d", cfg, len(rep.Levels), cfg.Levels())
	}
	return rep
}

// Without patience and wrap-up the simulated centre is an M/M/c queue, so
// over a long run its service level must come close to Erlang C's. The
// run is deterministic; the tolerance is about three standard errors of
// the simulated level at that length (estimated from repeated runs with
// other seeds: about ±2.8 points at 3,400 calls).
func TestConvergesToErlangC(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig(10)
	cfg.ArrivalsPerHour, cfg.Handle, cfg.Wrapup, cfg.Patience, cfg.SLA = 420, time.Minute, 0, 0, 10*time.Second
	cfg.Hours, cfg.Seed = 40, 1 // about 17,000 calls
	tolerance := 4.0
	if raceEnabled {
		cfg.Hours, tolerance = 10, 7.5 // a quarter of the calls: twice the error
	}
	l := run(t, cfg).Levels[0]
	if l.Figures == nil {
		t.Fatalf("level %+v has no figures", l)
	}
	if l.Abandoned != 0 {
		t.Errorf("abandoned = %d with patience off; want 0", l.Abandoned)
	}
	if d := math.Abs(l.ServiceLevelPct - l.ErlangCServiceLevelPct); d > tolerance {
		t.Errorf("service level %.1f %% over %d calls; Erlang C says %.1f %%: %.1f points apart, want at most %.1f",
			l.ServiceLevelPct, l.Offered, l.ErlangCServiceLevelPct, d, tolerance)
	}
	// Occupancy is the carried load per agent: A/c = 70 %.
	if want := 100 * cfg.Erlangs() / 10; math.Abs(l.OccupancyPct-want) > 3 {
		t.Errorf("occupancy %.1f %%; want about %.1f %%", l.OccupancyPct, want)
	}
	t.Logf("%d calls: simulated %.1f %%, Erlang C %.1f %%, occupancy %.1f %%", l.Offered, l.ServiceLevelPct,
		l.ErlangCServiceLevelPct, l.OccupancyPct)
}

// Every level of a range sees the same callers, so adding an agent can
// only help them (FIFO waits fall pathwise with more servers); with
// patience that still holds on this run, figure by figure.
func TestMoreAgentsNeverWorse(t *testing.T) {
	t.Parallel()
	cfg := quick(3)
	cfg.MaxAgents = 8
	rep := run(t, cfg)
	for i := 1; i < len(rep.Levels); i++ {
		a, b := rep.Levels[i-1], rep.Levels[i]
		if a.Offered != b.Offered {
			t.Errorf("%d agents offered %d, %d agents %d; want the same callers", a.Agents, a.Offered, b.Agents, b.Offered)
		}
		if b.ServiceLevelPct < a.ServiceLevelPct || b.AbandonedPct > a.AbandonedPct || b.ASAS > a.ASAS {
			t.Errorf("%d agents: SL %.1f, abandoned %.1f, ASA %.1f; %d agents: SL %.1f, abandoned %.1f, ASA %.1f; want no worse",
				a.Agents, a.ServiceLevelPct, a.AbandonedPct, a.ASAS, b.Agents, b.ServiceLevelPct, b.AbandonedPct, b.ASAS)
		}
		if b.ErlangCServiceLevelPct < a.ErlangCServiceLevelPct {
			t.Errorf("Erlang C %.1f at %d agents after %.1f at %d", b.ErlangCServiceLevelPct, b.Agents,
				a.ErlangCServiceLevelPct, a.Agents)
		}
	}
	first, last := rep.Levels[0], rep.Levels[len(rep.Levels)-1]
	if !(last.ServiceLevelPct > first.ServiceLevelPct+20) {
		t.Errorf("service level %.1f %% at %d agents, %.1f %% at %d; want a clear rise", first.ServiceLevelPct,
			first.Agents, last.ServiceLevelPct, last.Agents)
	}
}

// Shorter patience, more callers hang up. The steps are wide enough that
// this holds for every seed tried (1-6), not only the one used here.
func TestAbandonmentRisesAsPatienceFalls(t *testing.T) {
	t.Parallel()
	prev := -1.0
	for _, patience := range []time.Duration{0, 20 * time.Minute, 4 * time.Minute, time.Minute, 15 * time.Second} {
		cfg := quick(5) // 4.2 erlangs on 5 agents: a line most of the time
		cfg.Patience, cfg.Hours = patience, 3
		l := run(t, cfg).Levels[0]
		if l.Figures == nil {
			t.Fatalf("patience %s: level %+v has no figures", patience, l)
		}
		if patience == 0 && l.Abandoned != 0 {
			t.Errorf("patience off: %d abandoned; want 0", l.Abandoned)
		}
		t.Logf("patience %s: abandoned %.1f %%", patience, l.AbandonedPct)
		if l.AbandonedPct <= prev && patience != 0 {
			t.Errorf("patience %s: abandoned %.1f %%; want more than %.1f %% at the longer patience", patience,
				l.AbandonedPct, prev)
		}
		prev = l.AbandonedPct
	}
}

func TestFiguresAddUp(t *testing.T) {
	t.Parallel()
	cfg := quick(3)
	cfg.MaxAgents = 6
	for _, l := range run(t, cfg).Levels {
		f := l.Figures
		switch {
		case f.Offered == 0:
			t.Errorf("%d agents: nothing offered", l.Agents)
		case f.Answered+f.Abandoned != f.Offered:
			t.Errorf("%d agents: answered %d + abandoned %d ≠ offered %d", l.Agents, f.Answered, f.Abandoned, f.Offered)
		case f.ServiceLevelPct > 100-f.AbandonedPct+0.1:
			t.Errorf("%d agents: service level %.1f %% with %.1f %% abandoned", l.Agents, f.ServiceLevelPct, f.AbandonedPct)
		case f.ASAS > f.LongestWaitS || f.P90WaitS > f.LongestWaitS:
			t.Errorf("%d agents: ASA %.1fs, 90%% %.1fs, longest %.1fs", l.Agents, f.ASAS, f.P90WaitS, f.LongestWaitS)
		case f.OccupancyPct <= 0 || f.OccupancyPct > 100:
			t.Errorf("%d agents: occupancy %.1f %%", l.Agents, f.OccupancyPct)
		case l.MeetsTarget != (f.ServiceLevelPct >= cfg.TargetPct):
			t.Errorf("%d agents: meets target %v at %.1f %%", l.Agents, l.MeetsTarget, f.ServiceLevelPct)
		}
	}
}

func TestSameSeedSameReport(t *testing.T) {
	t.Parallel()
	cfg := quick(5)
	cfg.MaxAgents = 6
	report := func(seed uint64) string {
		c := cfg
		c.Seed = seed
		var b bytes.Buffer
		if err := run(t, c).WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b, other := report(7), report(7), report(8)
	if a != b {
		t.Errorf("seed 7 twice gave different reports:\n%s\n%s", a, b)
	}
	if a == other {
		t.Errorf("seeds 7 and 8 gave the same report:\n%s", a)
	}
}

func TestOverloadedLevelHasNoFigures(t *testing.T) {
	cfg := quick(1)
	cfg.MaxAgents, cfg.Patience, cfg.maxWaiting = 2, 0, 30 // 4.2 erlangs on 1 or 2 agents, nobody leaves
	rep := run(t, cfg)
	for _, l := range rep.Levels {
		if !l.Overloaded || l.Figures != nil || l.MeetsTarget || l.ErlangCServiceLevelPct != 0 {
			t.Errorf("level %+v; want overloaded without figures, Erlang C 0", l)
		}
	}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"overloaded": true`) || strings.Contains(b.String(), `"offered"`) {
		t.Errorf("JSON of overloaded levels:\n%s\nwant overloaded and no offered", b.String())
	}
	b.Reset()
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "overloaded") || !strings.Contains(b.String(), "none in the range simulated") {
		t.Errorf("text of overloaded levels:\n%s", b.String())
	}
}

func TestRunReportsProgressAndStops(t *testing.T) {
	cfg := quick(3)
	cfg.MaxAgents = 5
	var got []Progress
	if _, err := Run(context.Background(), cfg, func(p Progress) { got = append(got, p) }); err != nil {
		t.Fatal(err)
	}
	want := []Progress{{3, 1, 3}, {4, 2, 3}, {5, 3, 3}}
	if len(got) != len(want) {
		t.Fatalf("progress %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("progress[%d] = %+v; want %+v", i, got[i], want[i])
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, cfg, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v; want context.Canceled", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string // in the error; empty: valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"range", func(c *Config) { c.MinAgents, c.MaxAgents = 8, 16 }, ""},
		{"no arrivals", func(c *Config) { c.ArrivalsPerHour = 0 }, "arrivals"},
		{"NaN arrivals", func(c *Config) { c.ArrivalsPerHour = math.NaN() }, "arrivals"},
		{"negative handle", func(c *Config) { c.Handle = -time.Minute }, "handle"},
		{"negative wrap-up", func(c *Config) { c.Wrapup = -time.Second }, "wrap-up"},
		{"negative patience", func(c *Config) { c.Patience = -time.Second }, "patience"},
		{"negative threshold", func(c *Config) { c.SLA = -time.Second }, "threshold"},
		{"target over 100", func(c *Config) { c.TargetPct = 101 }, "target"},
		{"no hours", func(c *Config) { c.Hours = 0 }, "hours"},
		{"no agents", func(c *Config) { c.MinAgents, c.MaxAgents = 0, 0 }, "at least 1"},
		{"backwards range", func(c *Config) { c.MinAgents, c.MaxAgents = 16, 8 }, "backwards"},
		{"too many agents", func(c *Config) { c.MinAgents, c.MaxAgents = MaxAgents+1, MaxAgents+1 }, "at most"},
		{"too many levels", func(c *Config) { c.MinAgents, c.MaxAgents = 1, MaxLevels+1 }, "levels"},
		{"too many calls", func(c *Config) { c.ArrivalsPerHour, c.Hours = 5000, 100 }, "calls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig(12)
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v; want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v; want an error about %q", err, tt.want)
			}
		})
	}
}

func TestWarmup(t *testing.T) {
	if got := DefaultConfig(1).Warmup(); got != time.Hour {
		t.Errorf("Warmup() with 5m calls = %s; want the 1h minimum", got)
	}
	c := DefaultConfig(1)
	c.Handle, c.Wrapup = 20*time.Minute, time.Minute
	if got := c.Warmup(); got != 210*time.Minute {
		t.Errorf("Warmup() with 20m calls and 1m wrap-up = %s; want ten service times, 3h30m", got)
	}
}

// Events come out of the heap by time, and events at one instant in the
// order they were pushed.
func TestEventHeapOrder(t *testing.T) {
	var v virtualTime
	ats := []time.Duration{5, 1, 3, 1, 9, 0, 3, 7, 1}
	for i, at := range ats {
		v.push(at, evArrive, i)
	}
	var got []int
	for len(v.events) > 0 {
		got = append(got, v.events.pop().call)
	}
	want := []int{5, 1, 3, 8, 2, 6, 0, 7, 4}
	if !slices.Equal(got, want) {
		t.Errorf("popped %v; want %v", got, want)
	}
}
