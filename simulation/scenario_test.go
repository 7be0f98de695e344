package simulation

import (
	"context"
	"strings"
	"testing"
)

// twoLines is a small scenario of two agencies whose lines are M/M/c
// queues: flat Poisson arrivals, exponential handle times of one mean, no
// wrap-up.
func twoLines(patienceS float64) Scenario {
	line := func(id string, agents int, perHour float64) Agency {
		return Agency{ID: id, Queues: []Queue{{ID: id + ".voice", Agents: agents, ArrivalsPerHour: []float64{perHour},
			Handle: Dist{MeanS: 120}, PatienceS: patienceS, SLAS: 20,
			Overflow: &Overflow{AfterS: 30, To: []string{"*"}}}}}
	}
	return Scenario{Name: "two-lines", WarmupH: 1, HoursMeasured: 4, Replications: 12, Seed: 1,
		Agencies: []Agency{line("a", 5, 120), line("b", 3, 60)}}
}

func runScenario(t *testing.T, s Scenario, opt Options) Comparison {
	t.Helper()
	c, err := RunScenario(context.Background(), s, opt, nil)
	if err != nil {
		t.Fatalf("RunScenario: %v", err)
	}
	return c
}

// The separate centres and the pooled centre are M/M/c queues (M/M/c+M
// with patience), so the simulated mean wait must agree with Erlang C (or
// Erlang A) within the confidence interval the simulation reports. The
// seed is fixed, so the test is deterministic; with other seeds an
// interval misses the theory about one time in twenty, as it should.
func TestWaitsAgreeWithErlang(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		patience float64
		model    string
	}{{"erlang-c", 0, "erlang-c"}, {"erlang-a", 300, "erlang-a"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := twoLines(tc.patience)
			if raceEnabled {
				s.HoursMeasured, s.Replications = 2, 8 // wider intervals, same check
			}
			c := runScenario(t, s, Options{Worlds: []World{WorldSilos, WorldPooled}})
			check := func(what string, th *Theory, m Metrics) {
				t.Helper()
				if th == nil || th.Model != tc.model {
					t.Fatalf("%s: theory %+v; want %s", what, th, tc.model)
				}
				// The interval is widened by a tenth of a second for the
				// rounding of the figures.
				if d := m.WaitS; !(Estimate{Mean: d.Mean, CI95: d.CI95 + 0.1}).Contains(th.WaitS) {
					t.Errorf("%s: simulated wait %.2f ± %.2f s; %s says %.2f s", what, d.Mean, d.CI95, th.Model, th.WaitS)
				}
				if tc.patience > 0 && !(Estimate{Mean: m.AbandonedPct.Mean, CI95: m.AbandonedPct.CI95 + 0.1}).Contains(th.AbandonedPct) {
					t.Errorf("%s: abandoned %.2f ± %.2f %%; Erlang A says %.2f %%", what, m.AbandonedPct.Mean,
						m.AbandonedPct.CI95, th.AbandonedPct)
				}
				t.Logf("%s: wait %.2f ± %.2f s, %s %.2f s", what, m.WaitS.Mean, m.WaitS.CI95, th.Model, th.WaitS)
			}
			silos, pooled := c.Worlds[0], c.Worlds[1]
			for i, a := range silos.Agencies {
				check("separate "+a.ID, a.Theory, a.Metrics)
				if a.Metrics.ByOtherPct.Mean != 0 {
					t.Errorf("separate %s: %.1f %% answered by another agency", a.ID, silos.Agencies[i].Metrics.ByOtherPct.Mean)
				}
			}
			check("pooled", pooled.Theory, pooled.Overall)
		})
	}
}

// Pooling helps: the unified router's overflow sits between the separate
// centres and the single pool, and only with overflow or pooling does one
// agency answer another's callers.
func TestOverflowSitsBetweenSilosAndPool(t *testing.T) {
	t.Parallel()
	s := twoLines(0)
	s.Replications, s.HoursMeasured = 3, 2
	c := runScenario(t, s, Options{})
	written, silos, pooled := c.Worlds[0].Overall, c.Worlds[1].Overall, c.Worlds[2].Overall
	if !(pooled.WaitS.Mean < written.WaitS.Mean && written.WaitS.Mean < silos.WaitS.Mean) {
		t.Errorf("waits: pooled %.1f, as written %.1f, separate %.1f; want them in that order",
			pooled.WaitS.Mean, written.WaitS.Mean, silos.WaitS.Mean)
	}
	if written.ByOtherPct.Mean <= 0 || silos.ByOtherPct.Mean != 0 {
		t.Errorf("answered by another agency: as written %.1f %%, separate %.1f %%", written.ByOtherPct.Mean, silos.ByOtherPct.Mean)
	}
	if written.Offered != silos.Offered || silos.Offered != pooled.Offered {
		t.Errorf("offered %g, %g, %g; want the same callers in every world", written.Offered, silos.Offered, pooled.Offered)
	}
}

// help-while-healthy: a reserve as large as every queue's crew keeps every
// agency home, as separate centres; a reserve of one lets them help, less
// than own-first does.
func TestHelpWhileHealthy(t *testing.T) {
	t.Parallel()
	s := twoLines(300)
	s.Replications, s.HoursMeasured = 2, 2
	worlds := []World{WorldWritten, WorldSilos}
	home := runScenario(t, s, Options{Policy: PolicyHelpWhileHealthy, HelpMinIdle: 5, Worlds: worlds})
	if home.Policy != PolicyHelpWhileHealthy || home.HelpMinIdle != 5 {
		t.Errorf("comparison says policy %q reserve %d", home.Policy, home.HelpMinIdle)
	}
	written, silos := home.Worlds[0].Overall, home.Worlds[1].Overall
	if written.ByOtherPct.Mean != 0 || written.WaitS != silos.WaitS {
		t.Errorf("reserve 5: by other agency %.1f %%, wait %+v; want 0 and the separate centres' %+v",
			written.ByOtherPct.Mean, written.WaitS, silos.WaitS)
	}
	one := runScenario(t, s, Options{Policy: PolicyHelpWhileHealthy, HelpMinIdle: 1, Worlds: worlds}).Worlds[0].Overall
	own := runScenario(t, s, Options{Policy: "own-first", Worlds: worlds}).Worlds[0].Overall
	if !(one.ByOtherPct.Mean > 0 && one.ByOtherPct.Mean < own.ByOtherPct.Mean) {
		t.Errorf("answered by another agency: reserve 1 %.1f %%, own-first %.1f %%; want some help, less than own-first",
			one.ByOtherPct.Mean, own.ByOtherPct.Mean)
	}
	for _, opt := range []Options{{Policy: PolicyHelpWhileHealthy}, {Policy: "own-first", HelpMinIdle: 2}} {
		if _, err := RunScenario(context.Background(), s, opt, nil); err == nil || !strings.Contains(err.Error(), "help_min_idle") {
			t.Errorf("%+v: %v; want an error naming help_min_idle", opt, err)
		}
	}
	// The file's own policy, per queue.
	s.Agencies[0].Queues[0].OverflowPolicy, s.Agencies[0].Queues[0].HelpMinIdle = PolicyHelpWhileHealthy, 5
	s.Agencies[1].Queues[0].OverflowPolicy, s.Agencies[1].Queues[0].HelpMinIdle = PolicyHelpWhileHealthy, 3
	if c := runScenario(t, s, Options{Worlds: worlds}); c.Worlds[0].Overall.ByOtherPct.Mean != 0 {
		t.Errorf("reserves of every crew in the file: %.1f %% answered by another agency; want 0", c.Worlds[0].Overall.ByOtherPct.Mean)
	}
}

func TestScenarioSameSeedSameResult(t *testing.T) {
	t.Parallel()
	s := twoLines(300)
	s.Replications, s.HoursMeasured = 2, 1
	a, b := runScenario(t, s, Options{Workers: 2}), runScenario(t, s, Options{Workers: 1})
	if a.Worlds[0].Overall != b.Worlds[0].Overall {
		t.Errorf("same seed: %+v and %+v", a.Worlds[0].Overall, b.Worlds[0].Overall)
	}
	s.Seed = 2
	if other := runScenario(t, s, Options{}); other.Worlds[0].Overall == a.Worlds[0].Overall {
		t.Errorf("seeds 1 and 2 gave the same figures")
	}
}

func TestShippedScenariosLoad(t *testing.T) {
	for _, name := range []string{"weekday-8", "weekday-8-patience", "weekday-8-transfers", "surge", "surge-protect"} {
		s, err := LoadScenario(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(s.Agencies) != 8 {
			t.Errorf("%s: %d agencies; want 8", name, len(s.Agencies))
		}
	}
	if _, err := LoadScenario("no-such-day"); err == nil || !strings.Contains(err.Error(), "weekday-8") {
		t.Errorf("LoadScenario(no-such-day) = %v; want an error listing the shipped ones", err)
	}
}

const validScenario = `
name: t
warmup_h: 1
hours: 2
replications: 3
agencies:
  - id: a
    queues:
      - id: a.voice
        agents: 2
        arrivals_per_hour: [30, 60]
        handle: {kind: lognormal, mean_s: 200, sd_s: 100}
        sla_s: 20
        overflow: {after_s: 30, to: [b.voice]}
  - id: b
    queues:
      - id: b.voice
        staffing: [1, 2, 1]
        decline_pct: 5
        miss_pct: 2
        arrivals_per_hour: [10]
        handle: {mean_s: 100}
        needs: [{skill: "lang:en", level: 1, share_pct: 10}]
        transfer: {share_pct: 10, to: a.voice, retell_s: 60}
        callback: {after_s: 120, accept_pct: 40}
    teams:
      - id: b.english
        staffing: [0, 1]
        queues: {b.voice: 1, a.voice: 2}
        skills: {"lang:en": 1}
        decline_pct: 1
        miss_pct: 1
`

func TestParseScenarioNamesTheField(t *testing.T) {
	if _, err := ParseScenario([]byte(validScenario)); err != nil {
		t.Fatalf("valid scenario: %v", err)
	}
	tests := []struct{ from, to, want string }{
		{"hours: 2", "hours: 0", "hours:"},
		{"warmup_h: 1", "warmup_h: -1", "warmup_h"},
		{"replications: 3", "replications: 1", "replications"},
		{"agents: 2", "agents: -2", "agencies[0].queues[0].agents"},
		{"[30, 60]", "[30, -1]", "agencies[0].queues[0].arrivals_per_hour[1]"},
		{"kind: lognormal", "kind: gamma", "agencies[0].queues[0].handle.kind"},
		{"mean_s: 100", "mean_s: 0", "agencies[1].queues[0].handle.mean_s"},
		{"sd_s: 100", "sd_s: 0", "agencies[0].queues[0].handle.sd_s"},
		{"sla_s: 20", "sla_s: -5", "agencies[0].queues[0].sla_s"},
		{"to: [b.voice]", "to: [c.voice]", "agencies[0].queues[0].overflow.to[0]"},
		{"to: [b.voice]", "to: []", "agencies[0].queues[0].overflow.to"},
		{"after_s: 30", "after_s: -30", "overflow.after_s"},
		{"id: b.voice", "id: a.voice", "agencies[1].queues[0].id"},
		{"sla_s: 20", "sla_s: 20\n        overflow_policy: newest-first", "overflow_policy"},
		{"sla_s: 20", "sla_s: 20\n        overflow_policy: help-while-healthy", "agencies[0].queues[0].help_min_idle"},
		{"sla_s: 20", "sla_s: 20\n        overflow_policy: help-while-healthy\n        help_min_idle: 10001", "agencies[0].queues[0].help_min_idle"},
		{"sla_s: 20", "sla_s: 20\n        help_min_idle: 2", "agencies[0].queues[0].help_min_idle"},
		{"sla_s: 20", "sla_seconds: 20", "sla_seconds"},
		{"[30, 60]", "[300000]", "calls"},
		{"staffing: [1, 2, 1]", "staffing: [1, -2, 1]", "agencies[1].queues[0].staffing[1]"},
		{"staffing: [1, 2, 1]", "agents: 1\n        staffing: [1, 2, 1]", "agencies[1].queues[0].staffing"},
		{"decline_pct: 5", "decline_pct: 100", "agencies[1].queues[0].decline_pct"},
		{"miss_pct: 2", "miss_pct: -2", "agencies[1].queues[0].miss_pct"},
		{"miss_pct: 2", "miss_pct: 95", "agencies[1].queues[0].miss_pct"},
		{`skill: "lang:en"`, `skill: ""`, "agencies[1].queues[0].needs[0].skill"},
		{"level: 1,", "level: 0,", "agencies[1].queues[0].needs[0].level"},
		{"share_pct: 10}]", "share_pct: 0}]", "agencies[1].queues[0].needs[0].share_pct"},
		{"share_pct: 10, to", "share_pct: 101, to", "agencies[1].queues[0].transfer.share_pct"},
		{"to: a.voice,", "to: b.voice,", "agencies[1].queues[0].transfer.to"},
		{"to: a.voice,", "to: x.voice,", "agencies[1].queues[0].transfer.to"},
		{"retell_s: 60", "retell_s: -1", "agencies[1].queues[0].transfer.retell_s"},
		{"after_s: 120", "after_s: 0", "agencies[1].queues[0].callback.after_s"},
		{"accept_pct: 40", "accept_pct: 140", "agencies[1].queues[0].callback.accept_pct"},
		{"id: b.english", "id: b.voice", "agencies[1].teams[0].id"},
		{"id: b.english", "id: ''", "agencies[1].teams[0].id"},
		{"staffing: [0, 1]", "staffing: [0, 1]\n        agents: 2", "agencies[1].teams[0].staffing"},
		{"a.voice: 2}", "c.voice: 2}", "agencies[1].teams[0].queues"},
		{"a.voice: 2}", "a.voice: 0}", "agencies[1].teams[0].queues"},
		{"queues: {b.voice: 1, a.voice: 2}", "queues: {}", "agencies[1].teams[0].queues"},
		{`skills: {"lang:en": 1}`, `skills: {"lang:en": 101}`, "agencies[1].teams[0].skills"},
		{"decline_pct: 1", "decline_pct: 100", "agencies[1].teams[0].decline_pct"},
		{"miss_pct: 1\n", "miss_pct: 100\n", "agencies[1].teams[0].miss_pct"},
	}
	for _, tt := range tests {
		in := strings.Replace(validScenario, tt.from, tt.to, 1)
		if _, err := ParseScenario([]byte(in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q → %q: error %v; want one naming %q", tt.from, tt.to, err, tt.want)
		}
	}
}

func FuzzParseScenario(f *testing.F) {
	f.Add([]byte(validScenario))
	f.Add([]byte(`{"hours": 1, "replications": 2, "agencies": []}`))
	f.Add([]byte("agencies: [{id: a, queues: [{id: q, agents: 1, arrivals_per_hour: [1], handle: {mean_s: 1}}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScenario(data)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("parsed scenario fails validation: %v", err)
		}
	})
}

// Every scenario feature at once runs in all three worlds, and the figures
// of each show up where they belong.
func TestEveryFeatureInEveryWorld(t *testing.T) {
	t.Parallel()
	s, err := ParseScenario([]byte(validScenario))
	if err != nil {
		t.Fatal(err)
	}
	c := runScenario(t, s, Options{})
	var text strings.Builder
	if err := c.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"citizen wait", "transferred", "callbacks", "called back after"} {
		if !strings.Contains(text.String(), col) {
			t.Errorf("text has no %q column:\n%s", col, text.String())
		}
	}
	for _, w := range c.Worlds {
		b := w.Queues[1].Metrics // b.voice: transfers out, callbacks
		if b.TransferredPct.Mean <= 0 || b.CitizenWaitS.Mean < b.WaitS.Mean {
			t.Errorf("%s: b.voice transferred %.1f %%, citizen wait %.1f s against its own %.1f s; want some, and at least as long",
				w.World, b.TransferredPct.Mean, b.CitizenWaitS.Mean, b.WaitS.Mean)
		}
		if w.Overall.OccupancyPct.Mean <= 0 || w.Overall.OccupancyPct.Mean > 110 {
			t.Errorf("%s: occupancy %.1f %%", w.World, w.Overall.OccupancyPct.Mean)
		}
		for _, u := range append(w.Agencies, w.Queues...) {
			if u.Theory != nil {
				t.Errorf("%s: %s has a %s figure; the model does not hold here", w.World, u.ID, u.Theory.Model)
			}
		}
	}
}
