package simulation

import (
	"math"
	"testing"
)

// With patience equal to the handle time every caller in the system leaves
// at the same rate, waiting or not, so the number present is Poisson(a),
// as in M/M/∞, and Lq = E[(N − c)⁺] is a plain sum: an exact check of
// the Erlang A chain.
func TestErlangAWithPatienceEqualToHandle(t *testing.T) {
	const agents, a, h = 3, 2.5, 100.0
	perHour := a / h * 3600
	var lq float64
	p := math.Exp(-a)
	for n := 0; n < 200; n++ {
		if n > agents {
			lq += float64(n-agents) * p
		}
		p *= a / float64(n+1)
	}
	lambda := perHour / 3600
	th := erlangA(agents, perHour, h, h)
	if th == nil || math.Abs(th.WaitS-lq/lambda) > 1e-9 || math.Abs(th.AbandonedPct-100*lq/h/lambda) > 1e-9 {
		t.Errorf("erlangA = %+v; want wait %.6f s, abandoned %.6f %%", th, lq/lambda, 100*lq/h/lambda)
	}
}

// Very long patience is Erlang C.
func TestErlangAApproachesErlangC(t *testing.T) {
	a, c := erlangA(10, 420, 60, 1e7), erlangCTheory(10, 420, 60)
	if a == nil || c == nil || math.Abs(a.WaitS-c.WaitS) > 0.01*c.WaitS {
		t.Errorf("Erlang A with endless patience %+v; Erlang C %+v", a, c)
	}
	if erlangCTheory(2, 120, 60) != nil {
		t.Errorf("Erlang C of an overloaded line; want none")
	}
}

func TestTheoryOnlyWhereTheModelHolds(t *testing.T) {
	q := Queue{ID: "q", Agents: 3, ArrivalsPerHour: []float64{60}, Handle: Dist{MeanS: 120}}
	one := func(q Queue) Scenario { return Scenario{Agencies: []Agency{{ID: "a", Queues: []Queue{q}}}} }
	if th := one(q).theoryFor([]Queue{q}, 3); th == nil || th.Model != "erlang-c" {
		t.Errorf("M/M/3: %+v; want erlang-c", th)
	}
	for name, mod := range map[string]func(*Queue){
		"hourly arrivals": func(q *Queue) { q.ArrivalsPerHour = []float64{60, 90} },
		"lognormal":       func(q *Queue) { q.Handle = Dist{Kind: DistLognormal, MeanS: 120, SDS: 60} },
		"wrap-up":         func(q *Queue) { q.WrapupS = 10 },
		"staffing":        func(q *Queue) { q.Agents, q.Staffing = 0, []int{3, 4} },
		"declines":        func(q *Queue) { q.DeclinePct = 5 },
		"misses":          func(q *Queue) { q.MissPct = 5 },
		"needs":           func(q *Queue) { q.Needs = []Need{{Skill: "lang:en", Level: 1, SharePct: 5}} },
		"callbacks":       func(q *Queue) { q.Callback = &Callback{AfterS: 60, AcceptPct: 50} },
		"transfer":        func(q *Queue) { q.Transfer = &Transfer{SharePct: 5, To: "other"} },
	} {
		m := q
		mod(&m)
		if th := one(m).theoryFor([]Queue{m}, 3); th != nil {
			t.Errorf("%s: %+v; want no theory", name, th)
		}
	}
	other := q
	other.ID, other.Handle.MeanS = "other", 300
	two := Scenario{Agencies: []Agency{{ID: "a", Queues: []Queue{q}}, {ID: "b", Queues: []Queue{other}}}}
	if th := two.theoryFor([]Queue{q, other}, 6); th != nil {
		t.Errorf("pool of two handle means: %+v; want no theory", th)
	}
	// A queue others transfer into, or a team answers, sees more than its
	// own callers and agents.
	into := two
	into.Agencies = []Agency{{ID: "a", Queues: []Queue{q}}, {ID: "b", Queues: []Queue{{ID: "other", Agents: 3,
		ArrivalsPerHour: []float64{60}, Handle: Dist{MeanS: 120}, Transfer: &Transfer{SharePct: 5, To: "q"}}}}}
	if th := into.theoryFor([]Queue{q}, 3); th != nil {
		t.Errorf("queue with transfers in: %+v; want no theory", th)
	}
	helped := one(q)
	helped.Agencies[0].Teams = []Team{{ID: "t", Agents: 1, Queues: map[string]int{"q": 1}}}
	if th := helped.theoryFor([]Queue{q}, 3); th != nil {
		t.Errorf("queue a team answers: %+v; want no theory", th)
	}
}

func TestEstimate(t *testing.T) {
	e := estimate([]float64{1, 2, 3, 4})
	// mean 2.5, sd √(5/3), t(3) = 3.182: half-width 3.182·1.291/2.
	if e.Mean != 2.5 || math.Abs(e.CI95-2.054) > 0.001 {
		t.Errorf("estimate = %+v; want 2.5 ± 2.054", e)
	}
	if !e.Contains(4.5) || e.Contains(4.6) {
		t.Errorf("%+v contains 4.5 but not 4.6", e)
	}
}
