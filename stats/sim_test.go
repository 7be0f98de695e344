package stats

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"tellonce/router"
)

// The simulation drives a real router and a real Stats with a fake clock:
// Poisson arrivals, exponential handle times, n agents who accept every
// offer at once and take no wrap-up, and optionally exponential patience.
// Each contact is told Estimate(queue, its position) when it arrives (0
// when it is offered at once); its realised wait is arrival → answer.
// Contacts that abandon have no realised wait and are left out of the
// error figures (they are counted apart).

type simParams struct {
	name     string
	agents   int
	handle   time.Duration // mean
	rho      float64       // offered load per agent
	patience time.Duration // mean; 0: nobody abandons
	contacts int
	warmup   int // first contacts not scored (the handle time's prior fades)
	seed     uint64
}

type simResult struct {
	scored, queued, abandoned int
	meanWait                  float64 // realised, seconds
	mae, bias                 float64 // of Estimate
	maeQueued, biasQueued     float64 // of Estimate, contacts that had to queue
	maeErlangC, biasErlangC   float64 // of the plain Erlang C mean wait, same for all
	maeOracle, biasOracle     float64 // position estimate with the true handle time
}

type simEvent struct {
	at    time.Duration
	kind  int // simArrive, simEnd, simAbandon
	id    string
	agent string
}

const (
	simArrive = iota
	simEnd
	simAbandon
)

type simHeap []simEvent

func (h simHeap) Len() int { return len(h) }
func (h simHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].kind < h[j].kind
}
func (h simHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *simHeap) Push(x any)   { *h = append(*h, x.(simEvent)) }
func (h *simHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type simContact struct {
	arrived    time.Duration
	estimate   float64 // seconds
	oracle     float64
	queued     bool
	answered   time.Duration
	isAnswered bool
	abandoned  bool
}

// simRun is one simulation in progress.
type simRun struct {
	t        testing.TB
	p        simParams
	d        *desk
	rng      *rand.Rand
	start    time.Time
	now      time.Duration
	events   simHeap
	contacts map[string]*simContact
	order    []string
	arrivals int
}

const simQueue = "sim.line"

func simulate(t testing.TB, p simParams) simResult {
	d := newDesk(t, nil, nil)
	d.queue(queueCfg(simQueue, 20, func(q *router.QueueConfig) { q.Channels = []router.Channel{router.ChannelVoice} }))
	names := make([]string, p.agents)
	for i := range names {
		names[i] = "agent" + strconv.Itoa(i)
		d.agent(agentIn(names[i], simQueue))
	}
	d.online(names...)
	s := &simRun{t: t, p: p, d: d, start: d.clock.Now(), contacts: map[string]*simContact{},
		rng: rand.New(rand.NewPCG(p.seed, p.seed^0x9e3779b97f4a7c15))}
	h := p.handle.Seconds()
	lambda := p.rho * float64(p.agents) / h
	interArrival := time.Duration(float64(time.Second) / lambda)

	heap.Push(&s.events, simEvent{at: s.exp(interArrival), kind: simArrive})
	for s.events.Len() > 0 {
		ev := heap.Pop(&s.events).(simEvent)
		s.now = ev.at
		d.clock.Set(s.start.Add(s.now))
		switch ev.kind {
		case simArrive:
			if s.arrivals+1 < p.contacts {
				heap.Push(&s.events, simEvent{at: s.now + s.exp(interArrival), kind: simArrive})
			}
			s.arrive()
		case simEnd:
			s.take(s.d.r.End(ev.agent, ev.id, "completed", ""))
		case simAbandon:
			if c := s.contacts[ev.id]; !c.isAnswered {
				c.abandoned = true
				s.take(s.d.r.Abandon(ev.id))
			}
		}
	}
	return score(p, s.order, s.contacts, ErlangCWait(p.agents, lambda*h, p.handle).Seconds())
}

func (s *simRun) exp(mean time.Duration) time.Duration {
	return time.Duration(s.rng.ExpFloat64() * float64(mean))
}

// arrive enqueues a new contact and tells it its estimate.
func (s *simRun) arrive() {
	s.arrivals++
	c := &simContact{arrived: s.now}
	view, evs, err := s.d.r.Enqueue(router.EnqueueRequest{Channel: router.ChannelVoice, Queue: simQueue,
		Caller: router.Caller{ID: "caller" + strconv.Itoa(s.arrivals)}})
	if err != nil {
		s.t.Fatal(err)
	}
	s.contacts[view.ID] = c
	s.order = append(s.order, view.ID)
	if view.Position > 0 {
		c.queued = true
		secs, _ := s.d.st.Estimate(simQueue, view.Position)
		c.estimate = float64(secs)
		c.oracle = float64(view.Position) * s.p.handle.Seconds() / float64(s.p.agents)
		if s.p.patience > 0 {
			heap.Push(&s.events, simEvent{at: s.now + s.exp(s.p.patience), kind: simAbandon, id: view.ID})
		}
	}
	s.take(evs, nil)
}

// take observes a change's events and has every offer in them accepted at
// once, starting its call.
func (s *simRun) take(evs []router.Event, err error) {
	if err != nil {
		s.t.Fatal(err)
	}
	s.d.st.Observe(evs)
	for _, e := range evs {
		if e.Type != router.EventOffered {
			continue
		}
		c := s.contacts[e.ContactID]
		c.answered, c.isAnswered = s.now, true
		s.take(s.d.r.Accept(e.Agent, e.OfferID))
		heap.Push(&s.events, simEvent{at: s.now + s.exp(s.p.handle), kind: simEnd, id: e.ContactID, agent: e.Agent})
	}
}

// score compares each scored contact's estimate with its realised wait.
func score(p simParams, order []string, contacts map[string]*simContact, erlangC float64) simResult {
	var r simResult
	for i, id := range order {
		c := contacts[id]
		if c.abandoned {
			r.abandoned++
			continue
		}
		if i < p.warmup {
			continue
		}
		wait := (c.answered - c.arrived).Seconds()
		r.scored++
		r.meanWait += wait
		r.mae += math.Abs(c.estimate - wait)
		r.bias += c.estimate - wait
		r.maeErlangC += math.Abs(erlangC - wait)
		r.biasErlangC += erlangC - wait
		r.maeOracle += math.Abs(c.oracle - wait)
		r.biasOracle += c.oracle - wait
		if c.queued {
			r.queued++
			r.maeQueued += math.Abs(c.estimate - wait)
			r.biasQueued += c.estimate - wait
		}
	}
	n := float64(r.scored)
	r.meanWait /= n
	r.mae /= n
	r.bias /= n
	r.maeErlangC /= n
	r.biasErlangC /= n
	r.maeOracle /= n
	r.biasOracle /= n
	if r.queued > 0 {
		r.maeQueued /= float64(r.queued)
		r.biasQueued /= float64(r.queued)
	}
	return r
}

// simScenarios are the simulations of BENCHMARKS.md.
var simScenarios = []simParams{
	{name: "5 agents, 3 min, load 0.85", agents: 5, handle: 3 * time.Minute, rho: 0.85, contacts: 6000, warmup: 500, seed: 1},
	{name: "20 agents, 4 min, load 0.95", agents: 20, handle: 4 * time.Minute, rho: 0.95, contacts: 10000, warmup: 1000, seed: 2},
	{name: "10 agents, 2 min, load 0.9, patience 5 min", agents: 10, handle: 2 * time.Minute, rho: 0.9,
		patience: 5 * time.Minute, contacts: 8000, warmup: 800, seed: 3},
	{name: "10 agents, 2 min, load 1.1, patience 3 min", agents: 10, handle: 2 * time.Minute, rho: 1.1,
		patience: 3 * time.Minute, contacts: 8000, warmup: 800, seed: 4},
}

// The bounds the estimate must keep, as fractions of the mean realised
// wait (see BENCHMARKS.md for the figures they are set against): the bias
// within ±15 %, the mean absolute error within 75 %, and the estimate
// never worse than the plain Erlang C mean.
const (
	maxBias = 0.15
	maxMAE  = 0.75
)

func TestEstimateAgainstSimulation(t *testing.T) {
	t.Logf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", "scenario", "scored", "queued", "abandoned",
		"mean wait", "MAE", "bias", "MAE queued", "bias queued", "MAE true h", "MAE Erlang C")
	for _, p := range simScenarios {
		if raceEnabled {
			p.contacts, p.warmup = p.contacts/4, p.warmup/4
		}
		r := simulate(t, p)
		erlang := "overloaded"
		if r.maeErlangC < 1e6 {
			erlang = fmt.Sprintf("%.1f s", r.maeErlangC)
		}
		t.Logf("| %s | %d | %d | %d | %.1f s | %.1f s | %+.1f s | %.1f s | %+.1f s | %.1f s (%+.1f) | %s |", p.name,
			r.scored, r.queued, r.abandoned, r.meanWait, r.mae, r.bias, r.maeQueued, r.biasQueued,
			r.maeOracle, r.biasOracle, erlang)
		if math.Abs(r.bias) > maxBias*r.meanWait {
			t.Errorf("%s: bias %+.1fs beyond ±%.0f%% of the mean wait %.1fs", p.name, r.bias, 100*maxBias, r.meanWait)
		}
		if r.mae > maxMAE*r.meanWait {
			t.Errorf("%s: mean absolute error %.1fs beyond %.0f%% of the mean wait %.1fs", p.name, r.mae, 100*maxMAE, r.meanWait)
		}
		if r.mae > r.maeErlangC {
			t.Errorf("%s: mean absolute error %.1fs worse than plain Erlang C's %.1fs", p.name, r.mae, r.maeErlangC)
		}
	}
}

// simString is one scenario's line, for debugging.
func (r simResult) String() string {
	return fmt.Sprintf("scored %d queued %d abandoned %d mean %.1f mae %.1f bias %+.1f", r.scored, r.queued,
		r.abandoned, r.meanWait, r.mae, r.bias)
}
