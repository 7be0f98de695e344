package simulation

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"tellonce/cases"
	"tellonce/router"
)

// Progress is told before each staffing level starts.
type Progress struct {
	Agents int // the level about to run
	Index  int // its place in the run, from 1
	Total  int // levels in the run
}

// Run answers the question: one simulated run per staffing level, in
// order, each with the Erlang C prediction beside it. progress may be nil.
// It stops with ctx's error when ctx ends.
func Run(ctx context.Context, cfg Config, progress func(Progress)) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	rep := Report{Inputs: inputsOf(cfg)}
	for n := cfg.MinAgents; n <= cfg.MaxAgents; n++ {
		if progress != nil {
			progress(Progress{Agents: n, Index: n - cfg.MinAgents + 1, Total: cfg.Levels()})
		}
		lvl, err := runLevel(ctx, cfg, n)
		if err != nil {
			return Report{}, fmt.Errorf("%d agents: %w", n, err)
		}
		rep.add(cfg, lvl)
	}
	return rep, nil
}

// The simulation's own events; the router's timers (wrap-up ends) come
// from its NextDeadline.
type eventKind uint8

const (
	evArrive eventKind = iota
	evEnd
	evAbandon
	evShift // a staffing change at an hour's edge; call is the hour
)

type event struct {
	at   time.Duration // since the start of the run
	seq  uint64        // ties at one instant go in the order they were made
	kind eventKind
	call int
}

// eventHeap is a binary min-heap of events by time, then by seq. It is
// written out rather than built on container/heap, whose Push and Pop
// take and return an interface and so allocate for every event.
type eventHeap []event

func (h eventHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// pop takes the earliest event; the heap must not be empty.
func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && s.less(l, small) {
			small = l
		}
		if r := l + 1; r < n && s.less(r, small) {
			small = r
		}
		if small == i {
			break
		}
		s[i], s[small] = s[small], s[i]
		i = small
	}
	*h = s
	return top
}

// call is one caller's life.
type call struct {
	contact  string
	agent    string
	arrived  time.Duration
	handle   time.Duration // drawn at arrival, so every level sees the same
	patience time.Duration // 0: never hangs up
	answered time.Duration
	state    callState
}

type callState uint8

const (
	waiting callState = iota
	talking
	done // ended after talking
	abandoned
)

// simClock is the router's clock. The simulation drives the router from
// one goroutine, so it needs no lock.
type simClock struct{ now time.Time }

func (c *simClock) Now() time.Time { return c.now }

const (
	// epochUnix is where simulated time starts; any fixed instant keeps
	// runs reproducible (the router's ids and timers hang off its clock).
	epochUnix = 1772438400 // 2026-03-02 08:00 UTC
	simQueue  = "sim.line"
	simAgency = "sim"
)

// level is one staffing level's run in progress.
type level struct {
	cfg    Config
	agents int
	virtualTime

	// Three streams, drawn in arrival order, so a caller's arrival, handle
	// time and patience do not depend on the staffing level.
	arrivals, handles, patience *rand.Rand

	calls     []call
	byContact map[string]int
	from, to  time.Duration // the scored window
	busy      time.Duration // agent time on calls and wrap-up inside it
}

// errOverloaded stops a level whose waiting line passed MaxWaiting.
var errOverloaded = errors.New("waiting line passed the limit")

func runLevel(ctx context.Context, cfg Config, agents int) (Level, error) {
	l, err := newLevel(cfg, agents)
	if err != nil {
		return Level{}, err
	}
	err = l.loop(ctx)
	if errors.Is(err, errOverloaded) {
		return Level{Agents: agents, Overloaded: true}, nil
	}
	if err != nil {
		return Level{}, err
	}
	return Level{Agents: agents, Figures: l.figures()}, nil
}

func newLevel(cfg Config, agents int) (*level, error) {
	epoch := time.Unix(epochUnix, 0).UTC()
	clock := &simClock{now: epoch}
	ids := map[string]int{}
	r, err := router.New(router.Config{Clock: clock, NewID: func(kind string) string {
		ids[kind]++
		return kind + strconv.Itoa(ids[kind])
	}})
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	l := &level{cfg: cfg, agents: agents, virtualTime: virtualTime{clock: clock, epoch: epoch, r: r},
		arrivals:  rand.New(rand.NewPCG(cfg.Seed, 1)),
		handles:   rand.New(rand.NewPCG(cfg.Seed, 2)),
		patience:  rand.New(rand.NewPCG(cfg.Seed, 3)),
		byContact: map[string]int{},
		from:      cfg.Warmup(),
	}
	l.to = l.from + cfg.scored()
	wrapup := cfg.Wrapup
	if wrapup == 0 {
		wrapup = -1 // the router's "none"; its zero means the 10s default
	}
	if _, err := r.UpsertQueue(cases.QueueConfig{ID: simQueue, Agency: simAgency, Name: "Simulated line",
		Channels: []cases.Channel{cases.ChannelVoice}, Strategy: cases.StrategyLongestIdle,
		Wrapup: wrapup, SLA: cases.SLA{AnswerWithin: cfg.SLA, TargetPct: int(cfg.TargetPct)}}); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	for i := range agents {
		name := "agent" + strconv.Itoa(i+1)
		if _, err := r.UpsertAgent(cases.AgentProfile{Username: name, Name: name, Agency: simAgency,
			Queues: map[string]int{simQueue: 1}}); err != nil {
			return nil, fmt.Errorf("agent %s: %w", name, err)
		}
		if _, _, err := r.Connect(name); err != nil {
			return nil, fmt.Errorf("connect %s: %w", name, err)
		}
		if _, err := r.SetState(name, cases.StateAvailable, ""); err != nil {
			return nil, fmt.Errorf("%s available: %w", name, err)
		}
	}
	l.push(l.nextArrival(0), evArrive, 0)
	return l, nil
}

// loop runs the level to its end: arrivals stop at the end of the scored
// window, and every caller already there is answered or hangs up.
func (l *level) loop(ctx context.Context) error {
	return l.play(ctx, l.take, l.handle, func() error { return nil })
}

// nextArrival is the arrival after one at t: Poisson arrivals have
// exponential gaps.
func (l *level) nextArrival(t time.Duration) time.Duration {
	mean := float64(time.Hour) / l.cfg.ArrivalsPerHour
	return t + time.Duration(l.arrivals.ExpFloat64()*mean)
}

func (l *level) handle(ev event) error {
	switch ev.kind {
	case evArrive:
		if l.now >= l.to {
			return nil // the window closed: no more callers
		}
		l.push(l.nextArrival(l.now), evArrive, 0)
		return l.arrive()
	case evEnd:
		c := &l.calls[ev.call]
		c.state = done
		if err := l.take(l.r.End(c.agent, c.contact, "completed", "")); err != nil {
			return fmt.Errorf("end %s: %w", c.contact, err)
		}
	case evAbandon:
		c := &l.calls[ev.call]
		if c.state != waiting {
			return nil // answered before their patience ran out
		}
		c.state = abandoned
		if err := l.take(l.r.Abandon(c.contact)); err != nil {
			return fmt.Errorf("abandon %s: %w", c.contact, err)
		}
	}
	return nil
}

// arrive puts a new caller in line; the router may offer them at once.
func (l *level) arrive() error {
	c := call{arrived: l.now, handle: time.Duration(l.handles.ExpFloat64() * float64(l.cfg.Handle))}
	// Drawn for every caller, even with patience off, so the streams line
	// up the same way whatever the other inputs.
	p := l.patience.ExpFloat64()
	if l.cfg.Patience > 0 {
		c.patience = max(time.Duration(p*float64(l.cfg.Patience)), 1)
	}
	i := len(l.calls)
	l.calls = append(l.calls, c)
	view, evs, err := l.r.Enqueue(router.EnqueueRequest{Channel: cases.ChannelVoice, Queue: simQueue,
		Caller: cases.Caller{ID: "caller" + strconv.Itoa(i+1)}})
	if err != nil {
		return fmt.Errorf("enqueue caller %d: %w", i+1, err)
	}
	l.calls[i].contact = view.ID
	l.byContact[view.ID] = i
	if view.Position > l.cfg.waitingLimit() {
		return errOverloaded
	}
	if c.patience > 0 {
		l.push(l.now+c.patience, evAbandon, i)
	}
	return l.take(evs, nil)
}

// take has every offer in a change's events accepted at once: simulated
// agents never decline or let an offer time out.
func (l *level) take(evs []cases.Event, err error) error {
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.Type != cases.EventOffered {
			continue
		}
		i, ok := l.byContact[e.ContactID]
		if !ok {
			return fmt.Errorf("offer of unknown contact %s", e.ContactID)
		}
		c := &l.calls[i]
		c.agent, c.answered, c.state = e.Agent, l.now, talking
		l.busy += overlap(l.now, l.now+c.handle+l.cfg.Wrapup, l.from, l.to)
		l.push(l.now+c.handle, evEnd, i)
		if err := l.take(l.r.Accept(e.Agent, e.OfferID)); err != nil {
			return fmt.Errorf("accept %s: %w", e.OfferID, err)
		}
	}
	return nil
}

// overlap is how much of [a, b) lies in [from, to).
func overlap(a, b, from, to time.Duration) time.Duration {
	return max(min(b, to)-max(a, from), 0)
}

// virtualTime is a run's time: the router on a simulated clock and the
// heap of what the callers do next, played in time order.
type virtualTime struct {
	clock  *simClock
	epoch  time.Time
	r      *router.Router
	now    time.Duration
	events eventHeap
	seq    uint64
}

func (v *virtualTime) at(t time.Duration) {
	v.now = t
	v.clock.now = v.epoch.Add(t)
}

func (v *virtualTime) push(at time.Duration, kind eventKind, c int) {
	v.seq++
	v.events.push(event{at: at, seq: v.seq, kind: kind, call: c})
}

// play runs the router's timers and the callers' events in time order
// until none is left: take applies what a tick returns, handle one event,
// and after checks the run once each event is handled.
func (v *virtualTime) play(ctx context.Context, take func([]cases.Event, error) error,
	handle func(event) error, after func() error) error {
	ticked := false // the router ticked at the current instant
	for step := 0; ; step++ {
		if step%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		due, timer := v.r.NextDeadline()
		if timer && (len(v.events) == 0 || !due.After(v.epoch.Add(v.events[0].at))) {
			// A router timer first: a wrap-up ending at the same instant as
			// an arrival frees its agent before the caller comes in.
			if due.Before(v.clock.now) || (due.Equal(v.clock.now) && ticked) {
				// Tick handles everything due, so this would loop forever.
				return fmt.Errorf("router deadline %s did not move past %s", due, v.clock.now)
			}
			v.at(due.Sub(v.epoch))
			if err := take(v.r.Tick()); err != nil {
				return fmt.Errorf("tick: %w", err)
			}
			ticked = true
			continue
		}
		ticked = false
		if len(v.events) == 0 {
			return nil
		}
		ev := v.events.pop()
		v.at(ev.at)
		if err := handle(ev); err != nil {
			return err
		}
		if err := after(); err != nil {
			return err
		}
	}
}
