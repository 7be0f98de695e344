package simulation

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"tellonce/cases"
	"tellonce/router"
)

// World is one way of organising the scenario's agencies.
type World string

// The three worlds compared.
const (
	// WorldWritten is the scenario as written: one router, each queue's
	// overflow rules.
	WorldWritten World = "as-written"
	// WorldSilos is every agency a separate centre: no overflow.
	WorldSilos World = "separate"
	// WorldPooled is one queue that every agent answers.
	WorldPooled World = "pooled"
)

// Worlds in the order they are reported.
var Worlds = []World{WorldWritten, WorldSilos, WorldPooled}

const poolQueue = "pool"

// stream is one scenario queue's callers in a day.
type stream struct {
	q      Queue
	agency int
	queue  string // the router queue they call
	// Three random streams per queue, drawn in arrival order, so every
	// world of one replication sees the same callers.
	arrivals, handles, patience *rand.Rand
	wrapup                      time.Duration // counted into busy time
	foldWrapup                  bool          // pooled: wrap-up rides on the handle time
}

type dayCall struct {
	contact  string
	agent    string
	stream   int
	arrived  time.Duration
	handle   time.Duration
	patience time.Duration
	left     time.Duration // answered or hung up
	state    callState
}

// day is one replication of one world in progress.
type day struct {
	s Scenario
	virtualTime
	streams []stream
	calls   []dayCall
	byID    map[string]int
	agency  map[string]int // agent → agency index
	staff   []int          // agents per agency
	from    time.Duration
	to      time.Duration
	busy    []time.Duration // per agency, inside the window
}

// dayTally is what one replication measured, per scenario queue and per
// agency, and per agency and measured hour.
type dayTally struct {
	queues   []tally
	busy     []float64 // agent-seconds per agency in the window
	staff    []int
	windowS  float64
	hourly   [][]tally // [agency][hour]
	agencyOf []int     // queue → agency
}

// tally counts calls that arrived in the window.
type tally struct {
	Offered, Answered, Abandoned, Within, ByOther int
	WaitS, AnsweredWaitS                          float64
}

func (t *tally) add(o tally) {
	t.Offered += o.Offered
	t.Answered += o.Answered
	t.Abandoned += o.Abandoned
	t.Within += o.Within
	t.ByOther += o.ByOther
	t.WaitS += o.WaitS
	t.AnsweredWaitS += o.AnsweredWaitS
}

func newDay(s Scenario, w World, rep int, policy cases.OverflowPolicy) (*day, error) {
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
	d := &day{s: s, virtualTime: virtualTime{clock: clock, epoch: epoch, r: r}, byID: map[string]int{}, agency: map[string]int{},
		staff: make([]int, len(s.Agencies)), busy: make([]time.Duration, len(s.Agencies)),
		from: hours(s.WarmupH)}
	d.to = d.from + hours(s.HoursMeasured)
	seed := s.Seed + uint64(rep)
	var all []string
	for _, q := range s.queues() {
		all = append(all, q.ID)
	}
	if w == WorldPooled {
		if _, err := r.UpsertQueue(cases.QueueConfig{ID: poolQueue, Agency: "pool", Name: "Pooled",
			Channels: []cases.Channel{cases.ChannelVoice}, Wrapup: -1}); err != nil {
			return nil, fmt.Errorf("queue %s: %w", poolQueue, err)
		}
	}
	for ai, a := range s.Agencies {
		for _, q := range a.Queues {
			i := len(d.streams)
			st := stream{q: q, agency: ai, queue: q.ID, wrapup: secs(q.WrapupS),
				arrivals: rand.New(rand.NewPCG(seed, uint64(3*i+1))),
				handles:  rand.New(rand.NewPCG(seed, uint64(3*i+2))),
				patience: rand.New(rand.NewPCG(seed, uint64(3*i+3)))}
			home := q.ID
			if w == WorldPooled {
				st.queue, st.foldWrapup, home = poolQueue, true, poolQueue
			} else {
				qc := cases.QueueConfig{ID: q.ID, Agency: a.ID, Name: q.ID,
					Channels: []cases.Channel{cases.ChannelVoice}, Wrapup: routerWrapup(q.WrapupS),
					SLA:            cases.SLA{AnswerWithin: secs(q.SLAS)},
					OverflowPolicy: cases.OverflowPolicy(q.OverflowPolicy)}
				if policy != "" {
					qc.OverflowPolicy = policy
				}
				if w == WorldWritten && q.Overflow != nil {
					for _, to := range q.Overflow.To {
						targets := []string{to}
						if to == "*" {
							targets = all
						}
						for _, t := range targets {
							if t != q.ID {
								qc.Overflow = append(qc.Overflow, cases.OverflowRule{After: secs(q.Overflow.AfterS), To: t})
							}
						}
					}
				}
				if _, err := r.UpsertQueue(qc); err != nil {
					return nil, fmt.Errorf("queue %s: %w", q.ID, err)
				}
			}
			d.streams = append(d.streams, st)
			d.staff[ai] += q.Agents
			for n := range q.Agents {
				name := q.ID + ".agent" + strconv.Itoa(n+1)
				d.agency[name] = ai
				if _, err := r.UpsertAgent(cases.AgentProfile{Username: name, Name: name, Agency: a.ID,
					Queues: map[string]int{home: 1}}); err != nil {
					return nil, fmt.Errorf("agent %s: %w", name, err)
				}
				if _, _, err := r.Connect(name); err != nil {
					return nil, fmt.Errorf("connect %s: %w", name, err)
				}
				if _, err := r.SetState(name, cases.StateAvailable, ""); err != nil {
					return nil, fmt.Errorf("%s available: %w", name, err)
				}
			}
		}
	}
	for i := range d.streams {
		if t, ok := d.nextArrival(i, 0); ok {
			d.push(t, evArrive, i)
		}
	}
	return d, nil
}

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }
func secs(s float64) time.Duration  { return time.Duration(s * float64(time.Second)) }

// routerWrapup is the router's spelling of a wrap-up: its zero means the
// 10 s default, a negative value none.
func routerWrapup(s float64) time.Duration {
	if s == 0 {
		return -1
	}
	return secs(s)
}

// nextArrival is the first arrival of stream i after t: exponential gaps
// at the hour's rate, restarted at each hour's edge (memoryless, so this
// is exact for a rate that changes by the hour).
func (d *day) nextArrival(i int, t time.Duration) (time.Duration, bool) {
	st := &d.streams[i]
	for t < d.to {
		h := int(t / time.Hour)
		edge := time.Duration(h+1) * time.Hour
		rate := st.q.rate(h)
		if rate > 0 {
			gap := time.Duration(st.arrivals.ExpFloat64() / rate * float64(time.Hour))
			if t+gap < edge {
				return t + gap, true
			}
		}
		t = edge
	}
	return 0, false
}

// drawHandle draws one handle time from a distribution.
func drawHandle(r *rand.Rand, d Dist) time.Duration {
	mean := d.MeanS
	switch d.kind() {
	case DistFixed:
		return secs(mean)
	case DistLognormal:
		// The lognormal with this mean m and standard deviation s has
		// σ² = ln(1 + s²/m²) and μ = ln m − σ²/2.
		v := math.Log(1 + d.SDS*d.SDS/(mean*mean))
		return secs(math.Exp(math.Log(mean) - v/2 + math.Sqrt(v)*r.NormFloat64()))
	}
	return secs(r.ExpFloat64() * mean)
}

// run plays the day to its end: arrivals stop at the end of the window and
// every caller already there is answered or hangs up.
func (d *day) run(ctx context.Context) error {
	return d.play(ctx, d.take, d.handle, func() error {
		if len(d.byID) > MaxWaiting {
			return errOverloaded
		}
		return nil
	})
}

func (d *day) handle(ev event) error {
	switch ev.kind {
	case evArrive:
		if t, ok := d.nextArrival(ev.call, d.now); ok {
			d.push(t, evArrive, ev.call)
		}
		return d.arrive(ev.call)
	case evEnd:
		c := &d.calls[ev.call]
		c.state = done
		if err := d.take(d.r.End(c.agent, c.contact, "completed", "")); err != nil {
			return fmt.Errorf("end %s: %w", c.contact, err)
		}
	case evAbandon:
		c := &d.calls[ev.call]
		if c.state != waiting {
			return nil
		}
		c.state, c.left = abandoned, d.now
		delete(d.byID, c.contact)
		if err := d.take(d.r.Abandon(c.contact)); err != nil {
			return fmt.Errorf("abandon %s: %w", c.contact, err)
		}
	}
	return nil
}

func (d *day) arrive(i int) error {
	st := &d.streams[i]
	c := dayCall{stream: i, arrived: d.now, handle: drawHandle(st.handles, st.q.Handle)}
	if st.foldWrapup {
		c.handle += st.wrapup
	}
	// Drawn for every caller so the streams line up whatever the patience.
	p := st.patience.ExpFloat64()
	if st.q.PatienceS > 0 {
		c.patience = max(time.Duration(p*st.q.PatienceS*float64(time.Second)), 1)
	}
	k := len(d.calls)
	d.calls = append(d.calls, c)
	view, evs, err := d.r.Enqueue(router.EnqueueRequest{Channel: cases.ChannelVoice, Queue: st.queue,
		Caller: cases.Caller{ID: "caller" + strconv.Itoa(k+1)}})
	if err != nil {
		return fmt.Errorf("enqueue caller %d in %s: %w", k+1, st.queue, err)
	}
	d.calls[k].contact = view.ID
	d.byID[view.ID] = k
	if c.patience > 0 {
		d.push(d.now+c.patience, evAbandon, k)
	}
	return d.take(evs, nil)
}

// take accepts every offer at once.
func (d *day) take(evs []cases.Event, err error) error {
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.Type != cases.EventOffered {
			continue
		}
		k, ok := d.byID[e.ContactID]
		if !ok {
			return fmt.Errorf("offer of unknown contact %s", e.ContactID)
		}
		delete(d.byID, e.ContactID)
		c := &d.calls[k]
		c.agent, c.left, c.state = e.Agent, d.now, talking
		st := d.streams[c.stream]
		work := c.handle
		if !st.foldWrapup {
			work += st.wrapup
		}
		d.busy[d.agency[e.Agent]] += overlap(d.now, d.now+work, d.from, d.to)
		d.push(d.now+c.handle, evEnd, k)
		if err := d.take(d.r.Accept(e.Agent, e.OfferID)); err != nil {
			return fmt.Errorf("accept %s: %w", e.OfferID, err)
		}
	}
	return nil
}

// tally sums the day up.
func (d *day) tally() dayTally {
	hoursN := int(math.Ceil(d.s.HoursMeasured))
	t := dayTally{queues: make([]tally, len(d.streams)), staff: d.staff,
		windowS: (d.to - d.from).Seconds(), hourly: make([][]tally, len(d.s.Agencies))}
	for i := range t.hourly {
		t.hourly[i] = make([]tally, hoursN)
	}
	for _, st := range d.streams {
		t.agencyOf = append(t.agencyOf, st.agency)
	}
	for _, b := range d.busy {
		t.busy = append(t.busy, b.Seconds())
	}
	for _, c := range d.calls {
		if c.arrived < d.from || c.arrived >= d.to {
			continue
		}
		st := d.streams[c.stream]
		var one tally
		one.Offered = 1
		wait := (c.left - c.arrived).Seconds()
		one.WaitS = wait
		if c.state == abandoned {
			one.Abandoned = 1
		} else {
			one.Answered, one.AnsweredWaitS = 1, wait
			if wait <= st.q.SLAS {
				one.Within = 1
			}
			if d.agency[c.agent] != st.agency {
				one.ByOther = 1
			}
		}
		t.queues[c.stream].add(one)
		t.hourly[st.agency][int((c.arrived-d.from)/time.Hour)].add(one)
	}
	return t
}
