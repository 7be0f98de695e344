package stats

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // Asia/Seoul must resolve on hosts without a zoneinfo database

	"github.com/prometheus/client_golang/prometheus"

	"tellonce/cases"
)

// Clock tells the time; a router.Clock does.
type Clock interface{ Now() time.Time }

// Live is the live state Stats reads: the router's lock-free snapshots.
// *router.Router implements it; naming it here keeps stats on the shared
// vocabulary rather than on the router itself.
type Live interface {
	// Agents lists every agent's username.
	Agents() ([]string, error)
	Queues() []cases.QueueConfig
	QueueSnapshot(id string) (cases.QueueStats, error)
	Agent(username string) (cases.AgentView, error)
	Case(id string) (cases.CaseView, error)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Config configures Stats; zero fields take the defaults noted.
type Config struct {
	// Router is read for live snapshots. Required.
	Router Live
	// Clock defaults to the system clock.
	Clock Clock
	// Location fixes where a day starts and ends for the "today" counters
	// (default Asia/Seoul: midnight KST).
	Location *time.Location
	// Registry, when set, gets the Prometheus gauges.
	Registry *prometheus.Registry
	// Interval is the shortest time between two computations of the live
	// figures, and the period of Run (default 1s).
	Interval time.Duration
	// Heartbeat is how often a stream with nothing new gets a heartbeat
	// (default 15s).
	Heartbeat time.Duration
	// WatcherBuffer is how many updates may wait for one stream watcher
	// before it is dropped as too slow (default 8).
	WatcherBuffer int
	// ArrivalWindow is the time constant of the arrival rate's moving
	// average (default 5 minutes).
	ArrivalWindow time.Duration
	// PriorHandle is the handle time assumed before a queue has any
	// (default 3 minutes); HandleWeight is the weight of each new handle
	// time in its moving average once the prior has faded (default 0.02,
	// about the last 50 contacts).
	PriorHandle  time.Duration
	HandleWeight float64
	// PatienceWindow is the time constant of the abandonment rate's moving
	// average (default 30 minutes).
	PatienceWindow time.Duration
	// MaxEstimate caps every estimate; it is also the estimate given when
	// nobody staffs a queue (default 1 hour).
	MaxEstimate time.Duration
	// HistoryRetention is how long RunHistory keeps saved samples of the
	// history in the database (default 8 days: today and the same weekday
	// a week before, whole).
	HistoryRetention time.Duration
	// Log defaults to a discarding logger.
	Log *slog.Logger
}

// Seoul is the default Location: the day of the counters starts at
// midnight KST.
var Seoul = mustLocation("Asia/Seoul", 9*60*60)

func mustLocation(name string, offset int) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone(name, offset) // Korea keeps no daylight saving
	}
	return loc
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Location == nil {
		c.Location = Seoul
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.WatcherBuffer <= 0 {
		c.WatcherBuffer = 8
	}
	if c.ArrivalWindow <= 0 {
		c.ArrivalWindow = 5 * time.Minute
	}
	if c.PriorHandle <= 0 {
		c.PriorHandle = 3 * time.Minute
	}
	if c.HandleWeight <= 0 || c.HandleWeight > 1 {
		c.HandleWeight = 0.02
	}
	if c.PatienceWindow <= 0 {
		c.PatienceWindow = 30 * time.Minute
	}
	if c.MaxEstimate <= 0 {
		c.MaxEstimate = time.Hour
	}
	if c.HistoryRetention <= 0 {
		c.HistoryRetention = DefaultHistoryRetention
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Stats keeps live statistics and wait estimates: see the package doc.
type Stats struct {
	cfg   Config
	r     Live
	clock Clock

	mu sync.Mutex // guards c, holding and held
	c  counters
	// holding is set from Hold until Apply: what the journal delivers
	// meanwhile waits in held, to be counted after the day's log.
	holding bool
	held    []cases.Event

	view         atomic.Pointer[view]
	computeMu    sync.Mutex // one computation at a time
	computations atomic.Int64

	status statusCache
	stream stream
	// sampledC tells RunHistory that record took new samples; it holds at
	// most one signal, so sampling never waits for the writer.
	sampledC chan struct{}
}

// New makes Stats for a router. Make it after the router has been
// restored, so that it knows every agent; then Load today's counters.
func New(cfg Config) (*Stats, error) {
	if cfg.Router == nil {
		return nil, errors.New("stats: Router is required")
	}
	cfg = cfg.withDefaults()
	s := &Stats{cfg: cfg, r: cfg.Router, clock: cfg.Clock, sampledC: make(chan struct{}, 1)}
	s.c = counters{models: map[string]*model{}, agents: map[string]*tracker{}}
	s.stream.init()
	if err := s.learnAgents(); err != nil {
		return nil, err
	}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(collector{s}); err != nil {
			return nil, fmt.Errorf("stats: register metrics: %w", err)
		}
	}
	return s, nil
}

// learnAgents adds every agent the router has to the ones we report; after
// that, agent_state events tell of agents who connect.
func (s *Stats) learnAgents() error {
	names, err := s.r.Agents()
	if err != nil {
		return fmt.Errorf("stats: read the router's agents: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if s.c.agents[n] == nil {
			s.c.agents[n] = &tracker{}
		}
	}
	return nil
}

// Computations counts how often the live figures were computed (for tests
// and diagnostics: it grows at most once per Interval).
func (s *Stats) Computations() int64 { return s.computations.Load() }

// current returns the live figures, computing them afresh when the last
// computation is an Interval old. Readers that find another computation
// in progress take the previous figures rather than wait.
func (s *Stats) current() *view {
	now := s.clock.Now()
	v := s.view.Load()
	if v.fresh(now, s.cfg.Interval) {
		return v
	}
	if v != nil {
		if !s.computeMu.TryLock() {
			return v
		}
	} else {
		s.computeMu.Lock()
	}
	defer s.computeMu.Unlock()
	if v = s.view.Load(); v.fresh(now, s.cfg.Interval) {
		return v
	}
	v = s.compute(now)
	s.view.Store(v)
	s.computations.Add(1)
	return v
}

// Queues returns the live statistics of every queue, by id.
func (s *Stats) Queues() []QueueStats {
	return append([]QueueStats(nil), s.current().queues...)
}

// Agents returns the live statistics of every agent, by username.
func (s *Stats) Agents() []AgentStats {
	return append([]AgentStats(nil), s.current().agents...)
}

// Estimate implements agents.Estimator: the expected wait in seconds of
// the contact at position (from 1) in queue's line, and the queue's
// traffic light. Position 0 (a contact being offered or already with an
// agent) has no wait left: 0 and the queue's light. An unknown queue gets
// 0 and green, as if no estimator were configured. The answer comes from
// figures computed at most once per Interval; only the position is live.
func (s *Stats) Estimate(queue string, position int) (int, string) {
	e, ok := s.current().est[queue]
	if !ok {
		return 0, LightGreen
	}
	if position <= 0 {
		return 0, e.light
	}
	return ceilSeconds(e.waitAt(position, s.cfg.MaxEstimate)), e.light
}

// CaseWait is the citizen's total wait so far across every leg of an open
// case (see CitizenWait). Closed cases have left the router; their waits
// are in the day's counters (Today.CitizenWaitAvgS) and can be worked out
// from their legs with CitizenWait.
func (s *Stats) CaseWait(caseID string) (time.Duration, error) {
	cs, err := s.r.Case(caseID)
	if err != nil {
		return 0, fmt.Errorf("case wait: %w", err)
	}
	return CitizenWait(cs.Legs, s.clock.Now()), nil
}
