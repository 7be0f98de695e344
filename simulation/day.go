package simulation

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
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
	// Random streams per queue, drawn in arrival order, so every world of
	// one replication sees the same callers: arrivals, handle times,
	// patience, and the rest of a caller's traits (needs, transfer,
	// callback), a fixed number of draws per caller.
	arrivals, handles, patience, traits *rand.Rand
	wrapup                              time.Duration // counted into busy time
	foldWrapup                          bool          // pooled: wrap-up rides on the handle time
	// to is the stream index of the queue a transfer goes on to, or -1.
	to int
}

type dayCall struct {
	contact  string
	caseID   string
	agent    string
	stream   int
	arrived  time.Duration
	handle   time.Duration
	patience time.Duration
	left     time.Duration // answered, hung up, or (callbacks) asked to be called back
	reached  time.Duration // an agent took the call (callbacks: called back)
	state    callState
	callback bool
	needs    map[string]int // skills this caller needs
	// A first leg that goes on to another queue: the second leg's handle
	// time and patience, drawn at arrival; next is its index once made.
	transfer           bool
	handle2, patience2 time.Duration
	next, first        int // -1 when none; first is the citizen's first leg
}

// day is one replication of one world in progress.
type day struct {
	s Scenario
	w World
	virtualTime
	streams []stream
	crews   []crew
	habits  []*rand.Rand // per crew: accept, decline or miss
	calls   []dayCall
	byID    map[string]int
	crewOf  map[string]int // agent → crew
	members [][]string     // crew → its agents, in order
	on      []int          // crew → agents on shift now
	from    time.Duration
	to      time.Duration
	busy    []time.Duration // per agency, inside the window
	staffed []float64       // per agency, agent-seconds on shift inside the window
	// Offers declined and let time out, all day.
	declined, missed int
}

// dayTally is what one replication measured, per scenario queue and per
// agency, and per agency and measured hour.
type dayTally struct {
	queues   []tally
	busy     []float64 // agent-seconds per agency in the window
	staffed  []float64 // agent-seconds on shift per agency in the window
	windowS  float64
	hourly   [][]tally // [agency][hour]
	agencyOf []int     // queue → agency
}

// tally counts calls that arrived in the window: legs where they waited,
// citizens where they first called.
type tally struct {
	Offered, Answered, Abandoned, Within, ByOther int
	WaitS, AnsweredWaitS                          float64
	Callbacks                                     int
	CallbackWaitS                                 float64 // asked to reached, answered callbacks
	Citizens, Transferred                         int
	CitizenWaitS                                  float64 // over every leg
}

func (t *tally) add(o tally) {
	t.Offered += o.Offered
	t.Answered += o.Answered
	t.Abandoned += o.Abandoned
	t.Within += o.Within
	t.ByOther += o.ByOther
	t.WaitS += o.WaitS
	t.AnsweredWaitS += o.AnsweredWaitS
	t.Callbacks += o.Callbacks
	t.CallbackWaitS += o.CallbackWaitS
	t.Citizens += o.Citizens
	t.Transferred += o.Transferred
	t.CitizenWaitS += o.CitizenWaitS
}

// callbackNumber is every simulated caller's number: the router only
// checks its form.
const callbackNumber = "01000000000"

func newDay(s Scenario, w World, rep int) (*day, error) {
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
	d := &day{s: s, w: w, virtualTime: virtualTime{clock: clock, epoch: epoch, r: r}, byID: map[string]int{},
		crewOf: map[string]int{}, busy: make([]time.Duration, len(s.Agencies)),
		staffed: make([]float64, len(s.Agencies)), from: hours(s.WarmupH)}
	d.to = d.from + hours(s.HoursMeasured)
	seed := s.Seed + uint64(rep)
	var all []string
	index := map[string]int{}
	for i, q := range s.queues() {
		all = append(all, q.ID)
		index[q.ID] = i
	}
	voice := []cases.Channel{cases.ChannelVoice, cases.ChannelCallback}
	if w == WorldPooled {
		if _, err := r.UpsertQueue(cases.QueueConfig{ID: poolQueue, Agency: "pool", Name: "Pooled",
			Channels: voice, Wrapup: -1}); err != nil {
			return nil, fmt.Errorf("queue %s: %w", poolQueue, err)
		}
	}
	for ai, a := range s.Agencies {
		for _, q := range a.Queues {
			i := len(d.streams)
			st := stream{q: q, agency: ai, queue: q.ID, wrapup: secs(q.WrapupS), to: -1,
				arrivals: rand.New(rand.NewPCG(seed, uint64(3*i+1))),
				handles:  rand.New(rand.NewPCG(seed, uint64(3*i+2))),
				patience: rand.New(rand.NewPCG(seed, uint64(3*i+3))),
				traits:   rand.New(rand.NewPCG(seed, 1<<32+uint64(i)))}
			if q.Transfer != nil {
				st.to = index[q.Transfer.To]
			}
			if w == WorldPooled {
				st.queue, st.foldWrapup = poolQueue, true
			} else {
				qc := cases.QueueConfig{ID: q.ID, Agency: a.ID, Name: q.ID,
					Channels: voice, Wrapup: routerWrapup(q.WrapupS),
					SLA: cases.SLA{AnswerWithin: secs(q.SLAS)}}
				qc.OverflowPolicy, qc.HelpWhile = routerPolicy(q.OverflowPolicy, q.HelpMinIdle)
				if q.Callback != nil {
					qc.CallbackAfter = secs(q.Callback.AfterS)
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
		}
	}
	d.crews = s.crews()
	d.members = make([][]string, len(d.crews))
	d.on = make([]int, len(d.crews))
	for ci, c := range d.crews {
		d.habits = append(d.habits, rand.New(rand.NewPCG(seed, 1<<33+uint64(ci))))
		queues := c.queues
		if w == WorldSilos {
			// Separate centres: a team answers only its own agency's lines.
			queues = map[string]int{}
			for q, l := range c.queues {
				if d.streams[index[q]].agency == c.agency {
					queues[q] = l
				}
			}
		}
		if w == WorldPooled {
			queues = map[string]int{poolQueue: slices.Max(slices.Collect(maps.Values(c.queues)))}
		}
		for n := range c.most() {
			name := c.id + ".agent" + strconv.Itoa(n+1)
			d.crewOf[name] = ci
			d.members[ci] = append(d.members[ci], name)
			if _, err := r.UpsertAgent(cases.AgentProfile{Username: name, Name: name, Agency: s.Agencies[c.agency].ID,
				Queues: queues, Skills: c.skills}); err != nil {
				return nil, fmt.Errorf("agent %s: %w", name, err)
			}
			if _, _, err := r.Connect(name); err != nil {
				return nil, fmt.Errorf("connect %s: %w", name, err)
			}
			if _, err := r.SetState(name, cases.StateBreak, "off_shift"); err != nil {
				return nil, fmt.Errorf("%s off shift: %w", name, err)
			}
		}
		// Agent-seconds on shift inside the window, hour by hour.
		for h := 0; time.Duration(h)*time.Hour < d.to; h++ {
			d.staffed[c.agency] += float64(c.on(h)) * overlap(time.Duration(h)*time.Hour, time.Duration(h+1)*time.Hour, d.from, d.to).Seconds()
		}
	}
	if err := d.shift(0); err != nil {
		return nil, err
	}
	for h := 1; time.Duration(h)*time.Hour < d.to; h++ {
		d.push(time.Duration(h)*time.Hour, evShift, h)
	}
	for i := range d.streams {
		if t, ok := d.nextArrival(i, 0); ok {
			d.push(t, evArrive, i)
		}
	}
	return d, nil
}

// shift brings each crew to its staffing of hour h: agents who leave go on
// a break, finishing any call they are on; agents who come are available.
// The same agents (the first of each crew) are on shift in every world.
func (d *day) shift(h int) error {
	for ci, c := range d.crews {
		want := c.on(h)
		for d.on[ci] < want {
			name := d.members[ci][d.on[ci]]
			d.on[ci]++
			if err := d.take(d.r.SetState(name, cases.StateAvailable, "")); err != nil {
				return fmt.Errorf("%s on shift: %w", name, err)
			}
		}
		for d.on[ci] > want {
			d.on[ci]--
			name := d.members[ci][d.on[ci]]
			if err := d.take(d.r.SetState(name, cases.StateBreak, "off_shift")); err != nil {
				return fmt.Errorf("%s off shift: %w", name, err)
			}
		}
	}
	return nil
}

// onShift says whether an agent is among their crew's agents on shift.
func (d *day) onShift(agent string) bool {
	ci := d.crewOf[agent]
	return slices.Index(d.members[ci], agent) < d.on[ci]
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
// every caller already there is answered or hangs up. A caller still
// waiting when nothing else can happen (no agent on shift is left to
// answer them) is counted as hanging up then.
func (d *day) run(ctx context.Context) error {
	err := d.play(ctx, d.take, d.handle, func() error {
		if len(d.byID) > MaxWaiting {
			return errOverloaded
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range d.byID {
		c := &d.calls[k]
		c.state, c.left = abandoned, d.now
	}
	return nil
}

func (d *day) handle(ev event) error {
	switch ev.kind {
	case evArrive:
		if t, ok := d.nextArrival(ev.call, d.now); ok {
			d.push(t, evArrive, ev.call)
		}
		return d.arrive(ev.call)
	case evShift:
		return d.shift(ev.call)
	case evEnd:
		c := &d.calls[ev.call]
		c.state = done
		if c.transfer && c.next < 0 {
			return d.transfer(ev.call)
		}
		if err := d.take(d.r.End(c.agent, c.contact, "completed", "")); err != nil {
			return fmt.Errorf("end %s: %w", c.contact, err)
		}
	case evAbandon:
		c := &d.calls[ev.call]
		if c.state != waiting || c.callback {
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
	c := dayCall{stream: i, arrived: d.now, handle: drawHandle(st.handles, st.q.Handle), next: -1, first: len(d.calls)}
	if st.foldWrapup {
		c.handle += st.wrapup
	}
	// Drawn for every caller so the streams line up whatever the patience.
	c.patience = patienceOf(st.patience.ExpFloat64(), st.q.PatienceS)
	// The rest of the caller, a fixed number of draws whatever they say.
	var skills map[string]int
	for _, n := range st.q.Needs {
		if st.traits.Float64()*100 < n.SharePct {
			if skills == nil {
				skills = map[string]int{}
			}
			skills[n.Skill] = max(skills[n.Skill], n.Level)
		}
	}
	transferDraw, callbackDraw := st.traits.Float64(), st.traits.Float64()
	if st.to >= 0 {
		to := &d.streams[st.to]
		c.transfer = transferDraw*100 < st.q.Transfer.SharePct
		c.handle2 = drawHandle(st.traits, to.q.Handle)
		if to.foldWrapup {
			c.handle2 += to.wrapup
		}
		c.patience2 = patienceOf(st.traits.ExpFloat64(), to.q.PatienceS)
	}
	c.needs = skills
	k := len(d.calls)
	d.calls = append(d.calls, c)
	if err := d.enqueue(k, skills); err != nil {
		return err
	}
	if cb := st.q.Callback; cb != nil && d.calls[k].state == waiting && callbackDraw*100 < cb.AcceptPct {
		return d.offerCallback(k, cb)
	}
	return nil
}

// patienceOf scales an exponential draw to a mean patience; 0: none.
func patienceOf(draw, meanS float64) time.Duration {
	if meanS <= 0 {
		return 0
	}
	return max(time.Duration(draw*meanS*float64(time.Second)), 1)
}

// enqueue puts call k in its stream's line.
func (d *day) enqueue(k int, skills map[string]int) error {
	c := &d.calls[k]
	st := d.streams[c.stream]
	view, evs, err := d.r.Enqueue(router.EnqueueRequest{Channel: cases.ChannelVoice, Queue: st.queue,
		Caller: cases.Caller{ID: "caller" + strconv.Itoa(c.first+1)}, Skills: skills})
	if err != nil {
		return fmt.Errorf("enqueue caller %d in %s: %w", c.first+1, st.queue, err)
	}
	c.contact, c.caseID = view.ID, view.CaseID
	d.byID[view.ID] = k
	if c.patience > 0 {
		d.push(d.now+c.patience, evAbandon, k)
	}
	return d.take(evs, nil)
}

// offerCallback asks a caller who was not answered at once whether they
// want a callback, when the estimated wait passes the queue's threshold.
// The estimate is the position-conditional wait of Erlang C: position ×
// mean handle time ÷ agents on shift who answer the line.
func (d *day) offerCallback(k int, cb *Callback) error {
	c := &d.calls[k]
	st := d.streams[c.stream]
	pos, err := d.r.Position(c.contact)
	if err != nil {
		return fmt.Errorf("position of %s: %w", c.contact, err)
	}
	agents := 0
	for ci, cr := range d.crews {
		if _, ok := cr.queues[st.q.ID]; ok || d.w == WorldPooled {
			agents += d.on[ci]
		}
	}
	mean := st.q.Handle.MeanS + st.wrapup.Seconds()
	if agents > 0 && float64(pos)*mean/float64(agents) <= cb.AfterS {
		return nil
	}
	c.callback, c.left = true, d.now
	_, evs, err := d.r.RequestCallback(c.contact, router.CallbackRequest{Number: callbackNumber})
	if err != nil {
		return fmt.Errorf("callback for %s: %w", c.contact, err)
	}
	return d.take(evs, nil)
}

// transfer sends call k, whose first leg just ended, on to its stream's
// transfer queue: on one router as a cold transfer of the case, between
// separate centres as a new call that starts from the back of the line
// and takes retell_s longer.
func (d *day) transfer(k int) error {
	c := d.calls[k]
	st := d.streams[c.stream]
	next := dayCall{stream: st.to, arrived: d.now, handle: c.handle2, patience: c.patience2, next: -1, first: k}
	n := len(d.calls)
	d.calls[k].next = n
	d.calls = append(d.calls, next)
	if d.w == WorldSilos {
		d.calls[n].handle += secs(st.q.Transfer.RetellS)
		if err := d.take(d.r.End(c.agent, c.contact, "completed", "")); err != nil {
			return fmt.Errorf("end %s: %w", c.contact, err)
		}
		return d.enqueue(n, nil)
	}
	view, evs, err := d.r.Transfer(c.agent, c.contact, router.Target{Queue: d.streams[st.to].queue}, router.TransferCold, "")
	if err != nil {
		return fmt.Errorf("transfer %s: %w", c.contact, err)
	}
	d.calls[n].contact, d.calls[n].caseID = view.ID, view.CaseID
	d.byID[view.ID] = n
	if next.patience > 0 {
		d.push(d.now+next.patience, evAbandon, n)
	}
	return d.take(evs, nil)
}

// take applies what a change returned: each offer is accepted, declined
// or let time out as the agent's crew does; an agent whose offer timed out
// is made available again (if still on shift).
func (d *day) take(evs []cases.Event, err error) error {
	if err != nil {
		return err
	}
	for _, e := range evs {
		switch e.Type {
		case cases.EventOfferTimeout:
			if d.onShift(e.Agent) {
				if err := d.take(d.r.SetState(e.Agent, cases.StateAvailable, "")); err != nil {
					return fmt.Errorf("%s back after a missed offer: %w", e.Agent, err)
				}
			}
			continue
		case cases.EventOffered:
		default:
			continue
		}
		k, ok := d.byID[e.ContactID]
		if !ok {
			return fmt.Errorf("offer of unknown contact %s", e.ContactID)
		}
		cr := d.crews[d.crewOf[e.Agent]]
		if cr.decline > 0 || cr.miss > 0 {
			x := d.habits[d.crewOf[e.Agent]].Float64()
			switch {
			case x < cr.decline:
				d.declined++
				if err := d.take(d.r.Decline(e.Agent, e.OfferID, "simulated")); err != nil {
					return fmt.Errorf("decline %s: %w", e.OfferID, err)
				}
				continue
			case x < cr.decline+cr.miss:
				d.missed++
				continue // the router's offer timer ends it
			}
		}
		delete(d.byID, e.ContactID)
		c := &d.calls[k]
		c.agent, c.reached, c.state = e.Agent, d.now, talking
		if !c.callback {
			c.left = d.now
		}
		st := d.streams[c.stream]
		work := c.handle
		if !st.foldWrapup {
			work += st.wrapup
		}
		d.busy[d.crews[d.crewOf[e.Agent]].agency] += overlap(d.now, d.now+work, d.from, d.to)
		d.push(d.now+c.handle, evEnd, k)
		if err := d.take(d.r.Accept(e.Agent, e.OfferID)); err != nil {
			return fmt.Errorf("accept %s: %w", e.OfferID, err)
		}
		if c.callback {
			if err := d.take(d.r.CallbackResult(e.Agent, c.contact, router.CallbackAnswered)); err != nil {
				return fmt.Errorf("callback %s: %w", c.contact, err)
			}
		}
	}
	return nil
}

// tally sums the day up: each leg in the queue it waited in, each citizen
// (their legs together) in the queue they first called.
func (d *day) tally() dayTally {
	hoursN := int(math.Ceil(d.s.HoursMeasured))
	t := dayTally{queues: make([]tally, len(d.streams)), staffed: d.staffed,
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
	for k, c := range d.calls {
		first := d.calls[c.first]
		if first.arrived < d.from || first.arrived >= d.to {
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
			if (c.reached - c.arrived).Seconds() <= st.q.SLAS {
				one.Within = 1
			}
			if d.crews[d.crewOf[c.agent]].agency != st.agency {
				one.ByOther = 1
			}
			if c.callback {
				one.Callbacks, one.CallbackWaitS = 1, (c.reached - c.arrived).Seconds()
			}
		}
		if c.first == k {
			one.Citizens, one.CitizenWaitS = 1, wait
			if c.next >= 0 {
				one.Transferred = 1
				one.CitizenWaitS += (d.calls[c.next].left - d.calls[c.next].arrived).Seconds()
			}
			// The citizen's figures belong to the queue they called.
			citizen := tally{Citizens: one.Citizens, Transferred: one.Transferred, CitizenWaitS: one.CitizenWaitS}
			one.Citizens, one.Transferred, one.CitizenWaitS = 0, 0, 0
			t.queues[c.stream].add(citizen)
		}
		t.queues[c.stream].add(one)
		t.hourly[st.agency][min(int((c.arrived-d.from)/time.Hour), hoursN-1)].add(one)
	}
	return t
}
