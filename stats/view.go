package stats

import (
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"tellonce/cases"
)

// QueueStats is one queue's live statistics, as GET /v1/stats/queues and
// the stream show them.
type QueueStats struct {
	Queue        string `json:"queue"`
	Agency       string `json:"agency"`
	Name         string `json:"name"`
	Waiting      int    `json:"waiting"`
	LongestWaitS int    `json:"longest_wait_s"`
	// EstimatedWaitS is the expected wait of a contact arriving now; null
	// when nobody staffs the queue.
	EstimatedWaitS *int   `json:"estimated_wait_s"`
	Light          string `json:"light"`
	Label          string `json:"label"`
	// OpensAt is when a closed queue (light "closed") next opens; absent
	// when it is open or never opens.
	OpensAt *time.Time  `json:"opens_at,omitempty"`
	Agents  AgentCounts `json:"agents"`
	// LabelEn is Label in English; only a closed queue has it.
	LabelEn string     `json:"label_en,omitempty"`
	Today   QueueToday `json:"today"`
	Model   Model      `json:"model"`
}

// AgentCounts counts a queue's member agents by displayed state.
type AgentCounts struct {
	Available int `json:"available"`
	Busy      int `json:"busy"`
	Wrapup    int `json:"wrapup"`
	Break     int `json:"break"`
	Offline   int `json:"offline"`
	NotReady  int `json:"not_ready"`
}

// QueueToday is a queue's counters since midnight (see the package doc for
// the exact definitions). Averages and the service level are null until
// there is something to average.
type QueueToday struct {
	Offered                  int `json:"offered"`
	Answered                 int `json:"answered"`
	AnsweredWithinThreshold  int `json:"answered_within_threshold"`
	Abandoned                int `json:"abandoned"`
	AbandonedBeforeThreshold int `json:"abandoned_before_threshold"`
	// Transferred is TransferredOut, under the contract's name.
	Transferred     int      `json:"transferred"`
	TransferredIn   int      `json:"transferred_in"`
	TransferredOut  int      `json:"transferred_out"`
	Handled         int      `json:"handled"`
	ASAS            *float64 `json:"asa_s"`
	AHTS            *float64 `json:"aht_s"`
	ServiceLevelPct *float64 `json:"service_level_pct"`
	SLA             SLA      `json:"sla"`
	// Cases that closed today with this queue as their last.
	CasesClosed                int      `json:"cases_closed"`
	CitizenWaitAvgS            *float64 `json:"citizen_wait_avg_s"`
	TransferredCases           int      `json:"transferred_cases"`
	TransferredCitizenWaitAvgS *float64 `json:"transferred_citizen_wait_avg_s"`
}

// SLA is the queue's service level target the figures are measured
// against.
type SLA struct {
	AnswerWithinS int `json:"answer_within_s"`
	TargetPct     int `json:"target_pct"`
}

// Model is what the estimate of a queue was made from.
type Model struct {
	ArrivalsPerHour float64 `json:"arrivals_per_hour"`
	HandleS         float64 `json:"handle_s"`
	WrapupS         float64 `json:"wrapup_s"`
	// Staffed counts the agents working the queue (available, busy or
	// wrapping up); Servers is their capacity for it, in contacts at once
	// (chat slots, shared with their other queues by load).
	Staffed int     `json:"staffed"`
	Servers float64 `json:"servers"`
	// LoadErlangs is arrivals × (handle + wrap-up); PWait and ErlangCWaitS
	// are the Erlang C probability of waiting and mean wait at that load
	// (null wait: overloaded).
	LoadErlangs         float64  `json:"load_erlangs"`
	PWait               float64  `json:"p_wait"`
	ErlangCWaitS        *float64 `json:"erlang_c_wait_s"`
	AbandonsPerHourEach float64  `json:"abandons_per_hour_each"`
}

// AgentStats is one agent's live statistics, as GET /v1/stats/agents
// shows them.
type AgentStats struct {
	Username     string    `json:"username"`
	Name         string    `json:"name"`
	Agency       string    `json:"agency"`
	State        string    `json:"state"`
	Reason       string    `json:"reason,omitempty"`
	Connected    bool      `json:"connected"`
	StateSince   time.Time `json:"state_since"`
	TimeInStateS int       `json:"time_in_state_s"`
	Voice        int       `json:"voice"`
	Chats        int       `json:"chats"`
	MaxChats     int       `json:"max_chats"`
	Queues       []string  `json:"queues"`
	Today        AgentDay  `json:"today"`
}

// AgentDay is an agent's counters since midnight.
type AgentDay struct {
	Handled int      `json:"handled"`
	AHTS    *float64 `json:"aht_s"`
}

// view is one computation of the live figures, shared by every reader
// until the next; nothing in it changes after it is stored.
type view struct {
	at     time.Time
	queues []QueueStats
	agents []AgentStats
	est    map[string]queueEst

	encMu sync.Mutex
	enc   map[string][]byte // the stream's queue list, by agency ("" = all)
}

func (v *view) fresh(now time.Time, interval time.Duration) bool {
	return v != nil && !now.Before(v.at) && now.Sub(v.at) < interval
}

// queueEst is what Estimate needs of a queue, worked out once per view.
type queueEst struct {
	servers float64 // capacity in contacts at once
	service float64 // seconds per contact and server: handle + wrap-up
	theta   float64 // abandonments per second per waiting contact
	staffed int
	light   string
}

// waitAt is the expected wait of the contact at position k, capped.
func (e queueEst) waitAt(k int, maxWait time.Duration) time.Duration {
	if e.staffed == 0 {
		return maxWait
	}
	return min(seconds(positionWait(k, e.servers, e.service, e.theta)), maxWait)
}

// compute works out the live figures at now from router snapshots and the
// counters.
func (s *Stats) compute(now time.Time) *view {
	cfgs := s.r.Queues()
	snaps := make(map[string]cases.QueueStats, len(cfgs))
	for _, q := range cfgs {
		if snap, err := s.r.QueueSnapshot(q.ID); err == nil {
			snaps[q.ID] = snap
		}
	}
	agents := s.agentViews()

	s.mu.Lock()
	defer s.mu.Unlock()
	v := &view{at: now, est: make(map[string]queueEst, len(cfgs))}
	today := s.dayAt(now)
	if today == nil { // the clock went back past midnight
		today = newDay(now, s.cfg.Location)
	}
	in := s.inputs(cfgs, agents, now)
	for _, q := range cfgs {
		qs, e := s.queueStats(q, in[q.ID], snaps[q.ID], today.queues[q.ID])
		closedAt(&qs, q.Hours, now)
		v.queues = append(v.queues, qs)
		v.est[q.ID] = e
	}
	sort.Slice(v.queues, func(i, j int) bool { return v.queues[i].Queue < v.queues[j].Queue })
	// Until Apply has counted the day, a sample would record it as empty.
	if !s.holding && today.record(now, v.queues) {
		s.sampled()
	}
	v.agents = s.agentStats(agents, today, now)
	return v
}

// queueStats makes one queue's figures and what Estimate needs of it.
func (s *Stats) queueStats(q cases.QueueConfig, x *input, snap cases.QueueStats, d *queueDay) (QueueStats, queueEst) {
	threshold := q.SLA.AnswerWithin
	if threshold <= 0 {
		threshold = defaultSLA
	}
	e := queueEst{servers: x.servers, service: x.handle + x.wrap, theta: x.theta, staffed: x.staffed}
	var arrival time.Duration // the wait of a contact arriving now
	if snap.Waiting > 0 || !x.free {
		arrival = e.waitAt(snap.Waiting+1, s.cfg.MaxEstimate)
	}
	e.light = LightFor(arrival, threshold, x.staffed > 0)
	qs := QueueStats{
		Queue: q.ID, Agency: q.Agency, Name: q.Name, Waiting: snap.Waiting,
		LongestWaitS: int(snap.LongestWait / time.Second),
		Light:        e.light, Label: Label(e.light), Agents: agentCounts(snap.Agents),
		Today: queueToday(d, q.SLA, threshold),
		Model: Model{
			ArrivalsPerHour: round1(x.rate * 3600), HandleS: round1(x.handle), WrapupS: round1(x.wrap),
			Staffed: x.staffed, Servers: round1(x.servers), LoadErlangs: round2(x.load),
			AbandonsPerHourEach: round2(x.theta * 3600),
		},
	}
	if x.staffed > 0 {
		qs.EstimatedWaitS = ptr(ceilSeconds(arrival))
	}
	p, w := erlangCFrac(x.servers, x.load, x.handle+x.wrap)
	qs.Model.PWait = round2(p)
	if !math.IsInf(w, 1) {
		qs.Model.ErlangCWaitS = ptr(round1(w))
	}
	return qs, e
}

// closedAt marks qs closed when its hours say so at now: the light and
// its words change, the estimate goes (nobody new may join); the figures
// of who still waits stay.
func closedAt(qs *QueueStats, hours cases.Hours, now time.Time) {
	if hours == nil || hours.Open(now) {
		return
	}
	next, ok := hours.NextOpen(now)
	if ok {
		at := next.UTC()
		qs.OpensAt = &at
	}
	qs.Light, qs.EstimatedWaitS = LightClosed, nil
	qs.Label = ClosedLabel("ko", now, next, hours.Location())
	qs.LabelEn = ClosedLabel("en", now, next, hours.Location())
}

// defaultSLA is the threshold of a queue without one (the directory's
// default).
const defaultSLA = 20 * time.Second

// agentViews reads the live state of every agent we know of.
func (s *Stats) agentViews() []cases.AgentView {
	s.mu.Lock()
	names := make([]string, 0, len(s.c.agents))
	for u := range s.c.agents {
		names = append(names, u)
	}
	s.mu.Unlock()
	slices.Sort(names)
	out := make([]cases.AgentView, 0, len(names))
	for _, u := range names {
		if a, err := s.r.Agent(u); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// agentStats builds the agents' figures; it holds s.mu.
func (s *Stats) agentStats(agents []cases.AgentView, today *day, now time.Time) []AgentStats {
	out := make([]AgentStats, 0, len(agents))
	for _, a := range agents {
		t := s.c.agents[a.Username]
		if t == nil {
			continue // removed meanwhile
		}
		if t.state != a.State {
			// A change no event told us of (yet): count from now.
			first := t.state == ""
			t.state, t.since = a.State, now
			if first && a.State == a.Chosen && !a.StateSince.IsZero() {
				t.since = a.StateSince
			}
		}
		st := AgentStats{
			Username: a.Username, Name: a.Name, Agency: a.Agency, State: string(a.State),
			Reason: a.Reason, Connected: a.Connected, StateSince: t.since.UTC(),
			TimeInStateS: int(max(now.Sub(t.since), 0) / time.Second),
			Voice:        a.Voice, Chats: a.Chats, MaxChats: a.MaxChats, Queues: sortedKeys(a.Queues),
		}
		if d := today.agents[a.Username]; d != nil {
			st.Today.Handled = d.handled
			st.Today.AHTS = avg(d.handle, d.handled)
		}
		out = append(out, st)
	}
	return out
}

func queueToday(d *queueDay, sla cases.SLA, threshold time.Duration) QueueToday {
	out := QueueToday{SLA: SLA{AnswerWithinS: int(threshold / time.Second), TargetPct: sla.TargetPct}}
	if d == nil {
		return out
	}
	t := int(threshold / time.Second)
	out.Offered, out.Answered, out.Abandoned = d.offered, d.answered, d.abandoned
	out.AnsweredWithinThreshold = upTo(d.answeredAt, t)
	out.AbandonedBeforeThreshold = upTo(d.abandonedAt, t)
	out.TransferredIn, out.TransferredOut, out.Transferred = d.transIn, d.transOut, d.transOut
	out.Handled = d.handled
	out.ASAS = avg(d.answerWait, d.answered)
	out.AHTS = avg(d.handle, d.handled)
	if denom := d.answered + d.abandoned - out.AbandonedBeforeThreshold; denom > 0 {
		out.ServiceLevelPct = ptr(round1(100 * float64(out.AnsweredWithinThreshold) / float64(denom)))
	}
	out.CasesClosed, out.TransferredCases = d.casesClosed, d.transferredCases
	out.CitizenWaitAvgS = avg(d.citizenWait, d.casesClosed)
	out.TransferredCitizenWaitAvgS = avg(d.transferredWait, d.transferredCases)
	return out
}

func agentCounts(m map[cases.AgentState]int) AgentCounts {
	return AgentCounts{
		Available: m[cases.StateAvailable], Busy: m[cases.StateBusy], Wrapup: m[cases.StateWrapup],
		Break: m[cases.StateBreak], Offline: m[cases.StateOffline], NotReady: m[cases.StateNotReady],
	}
}

func avg(sum float64, n int) *float64 {
	if n == 0 {
		return nil
	}
	return ptr(round1(sum / float64(n)))
}

func ptr[T any](v T) *T { return &v }

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round2(x float64) float64 { return math.Round(x*100) / 100 }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
