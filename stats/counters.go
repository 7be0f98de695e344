package stats

import (
	"math"
	"time"

	"tellonce/cases"
)

// Dispositions the counters look for.
const (
	dispTransferred = "transferred"
	dispAbandoned   = "abandoned"
	dispRequeued    = "requeued"
)

// maxBucket is the largest wait, in whole seconds, the service level
// histograms keep apart: the largest SLA threshold a queue may have. Longer
// waits share the last bucket, which is never within a threshold.
const maxBucket = 3600

// queueDay is one queue's counters for the current day.
type queueDay struct {
	offered, offeredChat int
	answered             int
	answerWait           float64 // seconds, summed over answered legs
	// answeredAt and abandonedAt count legs by their wait in whole seconds
	// rounded up (index b holds waits in (b−1, b]), so the service level
	// can be worked out for whatever threshold the queue has when read.
	answeredAt  []int32
	abandoned   int
	abandonedAt []int32
	transIn     int
	transOut    int
	handled     int
	handle      float64 // seconds, summed over handled legs
	// Cases that closed today with this queue as their last one.
	casesClosed, transferredCases int
	citizenWait, transferredWait  float64 // seconds
}

// count adds one wait to a histogram.
func count(h []int32, wait time.Duration) []int32 {
	b := min(ceilSeconds(max(wait, 0)), maxBucket+1)
	if b >= len(h) {
		h = append(h, make([]int32, b+1-len(h))...)
	}
	h[b]++
	return h
}

// upTo sums a histogram's buckets 0..t.
func upTo(h []int32, t int) int {
	n := 0
	for b := 0; b <= t && b < len(h); b++ {
		n += int(h[b])
	}
	return n
}

// agentDay is one agent's counters for the current day.
type agentDay struct {
	handled int
	handle  float64 // seconds
}

// day holds the counters of one calendar day in the configured location.
type day struct {
	start, end time.Time
	queues     map[string]*queueDay
	agents     map[string]*agentDay
	// history holds each queue's samples of the day, a minute apart (see
	// record); it goes with the day, so it starts again at midnight.
	history map[string][]sample
	// saved is, by queue, the minute of the last sample in the database
	// (see SaveHistory); a queue without one has none there.
	saved map[string]int32
}

func newDay(t time.Time, loc *time.Location) *day {
	y, m, d := t.In(loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	return &day{start: start, end: start.AddDate(0, 0, 1),
		queues: map[string]*queueDay{}, agents: map[string]*agentDay{}}
}

func (d *day) queue(id string) *queueDay {
	q := d.queues[id]
	if q == nil {
		q = &queueDay{}
		d.queues[id] = q
	}
	return q
}

func (d *day) agent(username string) *agentDay {
	a := d.agents[username]
	if a == nil {
		a = &agentDay{}
		d.agents[username] = a
	}
	return a
}

// decayed is a sum whose terms fade exponentially with time constant tau:
// added at t0 with weight 1, a term weighs e^{−(t−t0)/tau} at t.
type decayed struct {
	v  float64
	at time.Time
}

func (d *decayed) add(x float64, at time.Time, tau time.Duration) {
	d.v = d.value(at, tau) + x
	if at.After(d.at) {
		d.at = at
	}
}

func (d decayed) value(at time.Time, tau time.Duration) float64 {
	if d.v == 0 || !at.After(d.at) {
		return d.v
	}
	return d.v * math.Exp(-at.Sub(d.at).Seconds()/tau.Seconds())
}

// model is what the estimator learns about one queue from its events; it
// is not reset at midnight.
type model struct {
	arrivals decayed // contacts entering the line
	chat     decayed // of which chats
	// handle is the exponentially weighted mean handle time in seconds,
	// started at the prior; handleN counts observations for the weight.
	handle  float64
	handleN float64
	// abandons and waited (seconds in line, of legs that left it) give the
	// abandonment rate per waiting contact: abandons / waited.
	abandons decayed
	waited   decayed
}

// tracker is the agent state a snapshot of the router cannot give: since
// when the agent has shown their current state (busy and wrap-up have no
// time of their own in the router).
type tracker struct {
	state cases.AgentState
	since time.Time
}

// counters is everything Observe and Load change, guarded by Stats.mu.
type counters struct {
	today  *day
	models map[string]*model
	agents map[string]*tracker // the agents we know of
	// previous is the day before today while samples of it may still be
	// unsaved, when the history is being saved (saving): SaveHistory
	// writes them after midnight and lets it go.
	previous *day
	saving   bool
}

func (s *Stats) model(queue string) *model {
	m := s.c.models[queue]
	if m == nil {
		m = &model{handle: s.cfg.PriorHandle.Seconds()}
		s.c.models[queue] = m
	}
	return m
}

// dayAt returns the counters of the day t falls in, moving to a new day
// when t is past the current one; nil when t is before it (a late event
// of a day already closed).
func (s *Stats) dayAt(t time.Time) *day {
	if s.c.today == nil || !t.Before(s.c.today.end) {
		if s.c.saving && s.c.today != nil {
			s.c.previous = s.c.today
		}
		s.c.today = newDay(t, s.cfg.Location)
	}
	if t.Before(s.c.today.start) {
		return nil
	}
	return s.c.today
}

// The facts the counters are made of. Observe derives them from router
// events and Load from SQL rows, so that both count the same way.

// arrival: a leg entered queue's line at at (a new contact, a transfer's
// new leg, or a contact re-queued after its agent was lost).
func (s *Stats) arrival(queue string, ch cases.Channel, at time.Time) {
	m := s.model(queue)
	m.arrivals.add(1, at, s.cfg.ArrivalWindow)
	if ch == cases.ChannelChat {
		m.chat.add(1, at, s.cfg.ArrivalWindow)
	}
	if d := s.dayAt(at); d != nil {
		q := d.queue(queue)
		q.offered++
		if ch == cases.ChannelChat {
			q.offeredChat++
		}
	}
}

// answered: a leg of queue waited wait and was accepted at at.
func (s *Stats) answered(queue string, wait time.Duration, at time.Time) {
	m := s.model(queue)
	m.waited.add(wait.Seconds(), at, s.cfg.PatienceWindow)
	if d := s.dayAt(at); d != nil {
		q := d.queue(queue)
		q.answered++
		q.answerWait += wait.Seconds()
		q.answeredAt = count(q.answeredAt, wait)
	}
}

// abandoned: the citizen left queue's line at at after waiting wait.
func (s *Stats) abandoned(queue string, wait time.Duration, at time.Time) {
	m := s.model(queue)
	m.waited.add(wait.Seconds(), at, s.cfg.PatienceWindow)
	m.abandons.add(1, at, s.cfg.PatienceWindow)
	if d := s.dayAt(at); d != nil {
		q := d.queue(queue)
		q.abandoned++
		q.abandonedAt = count(q.abandonedAt, wait)
	}
}

// handled: agent finished a leg of queue at at after handling it for
// handle (answer to end).
func (s *Stats) handled(queue, agent string, handle time.Duration, at time.Time) {
	m := s.model(queue)
	m.handleN++
	w := max(1/(m.handleN+priorWeight), s.cfg.HandleWeight)
	m.handle += w * (handle.Seconds() - m.handle)
	if d := s.dayAt(at); d != nil {
		q := d.queue(queue)
		q.handled++
		q.handle += handle.Seconds()
		if agent != "" {
			a := d.agent(agent)
			a.handled++
			a.handle += handle.Seconds()
		}
	}
}

// priorWeight is how many observations the prior handle time counts as:
// the mean moves from the prior to the data as the first few contacts end.
const priorWeight = 3

func (s *Stats) transferredOut(queue string, at time.Time) {
	if d := s.dayAt(at); d != nil {
		d.queue(queue).transOut++
	}
}

func (s *Stats) transferredIn(queue string, at time.Time) {
	if d := s.dayAt(at); d != nil {
		d.queue(queue).transIn++
	}
}

func (s *Stats) caseClosed(c closedCase, at time.Time) {
	if d := s.dayAt(at); d != nil {
		q := d.queue(c.queue)
		q.casesClosed++
		q.citizenWait += c.wait.Seconds()
		if c.transferred {
			q.transferredCases++
			q.transferredWait += c.wait.Seconds()
		}
	}
}

// Observe takes committed router events, in commit order, and updates
// today's counters and the estimator's inputs. It is meant for the
// journal's Deliver path: it only takes Stats' own lock, briefly, and
// reads the router's lock-free snapshots; it never waits for I/O.
func (s *Stats) Observe(evs []cases.Event) {
	if len(evs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holding {
		s.held = append(s.held, evs...)
		return
	}
	s.observeAll(evs)
}

// observeAll counts evs; s.mu is held.
func (s *Stats) observeAll(evs []cases.Event) {
	var touched map[string]time.Time
	for i := range evs {
		e := &evs[i]
		s.observe(e)
		if e.Agent != "" {
			if touched == nil {
				touched = map[string]time.Time{}
			}
			touched[e.Agent] = e.At
		}
	}
	for username, at := range touched {
		s.trackAgent(username, at)
	}
}

func (s *Stats) observe(e *cases.Event) {
	c := e.Contact
	switch e.Type {
	case cases.EventContactCreated, cases.EventRequeued:
		if c != nil {
			s.arrival(c.Queue, c.Channel, e.At)
		}
	case cases.EventTransferred:
		switch {
		case c != nil: // the new leg
			s.arrival(c.Queue, c.Channel, e.At)
			if e.Reason == string(cases.TransferCold) {
				s.transferredIn(c.Queue, e.At)
			}
		case e.Reason == string(cases.TransferWarm): // a warm leg was accepted
			s.transferredIn(e.Data["queue"], e.At)
		}
	case cases.EventAccepted:
		if c != nil {
			s.answered(c.Queue, e.At.Sub(c.EnqueuedAt), e.At)
		}
	case cases.EventEnded, cases.EventAbandoned:
		if c != nil {
			s.ended(c.Queue, c.Agent, c.Disposition, c.EnqueuedAt, c.AnsweredAt, e.At)
		}
	case cases.EventCaseClosed:
		if e.Case != nil {
			if cc, ok := summarise(e.Case.Legs, e.At); ok {
				s.caseClosed(cc, e.At)
			}
		}
	case cases.EventAgentState:
		if e.AgentView != nil && e.Reason == "removed" {
			delete(s.c.agents, e.Agent)
		} else if s.c.agents[e.Agent] == nil {
			s.c.agents[e.Agent] = &tracker{}
		}
	}
}

// ended counts a leg that ended at at: handled when it had been answered
// (unless it went back to the line), abandoned when the citizen left it
// unanswered, transferred out when it ended in a transfer.
func (s *Stats) ended(queue, agent, disposition string, enqueued, answered, at time.Time) {
	switch {
	case !answered.IsZero() && disposition != dispRequeued:
		s.handled(queue, agent, at.Sub(answered), at)
	case answered.IsZero() && disposition == dispAbandoned:
		s.abandoned(queue, at.Sub(enqueued), at)
	}
	if disposition == dispTransferred {
		s.transferredOut(queue, at)
	}
}

// trackAgent notes when an agent's displayed state changed, reading the
// state from the router after events concerning them.
func (s *Stats) trackAgent(username string, at time.Time) {
	a, err := s.r.Agent(username)
	if err != nil {
		return // removed
	}
	t := s.c.agents[username]
	if t == nil {
		t = &tracker{}
		s.c.agents[username] = t
	}
	if t.state == a.State {
		return
	}
	first := t.state == ""
	t.state, t.since = a.State, at
	if first && a.State == a.Chosen && !a.StateSince.IsZero() {
		// First sight: the router knows since when a chosen state holds.
		t.since = a.StateSince
	}
}
